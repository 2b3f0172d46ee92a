// Keyspace's lazy encoding (storage/keyspace.h "Lazy encoding"): the cached
// object lookup every read starts from, the decision to leave a write's
// encoding for later, and the store's calls for stale values.

#include <cstdio>
#include <cstdlib>

#include "storage/keyspace.h"

namespace shoal::storage {

Keyspace::~Keyspace() {
  FlushPending();
  store_.WriteBackAll();
  store_.SetStaleValueOwner(nullptr);
}

Keyspace::Stored Keyspace::Lookup(std::string_view key, int64_t now_ms, bool touch) {
  bool stale = false;
  const std::string* bytes = store_.GetStale(key, now_ms, touch, &stale);
  if (bytes == nullptr) return {};
  Stored out;
  if (cache_.size() > 0) out.cached = cache_.Find(key, bytes);
  if (stale) {
    if (out.cached != nullptr) return out;  // the bytes are not its encoding
    bytes = store_.WriteBack(key, now_ms);  // the pending save's object
  }
  out.bytes = bytes;
  return out;
}

bool Keyspace::SaveLazily(std::string_view key, const Object& out, int64_t expire_at_ms,
                          int64_t now_ms, size_t delta_size) {
  const ContainerCacheOptions& cache = options_.container_cache;
  if (!cache.write_back || cache.max_keys == 0 || out.Size() == 0) return false;
  for (const auto& sibling : out.siblings()) {
    if (!sibling.value.IsContainer()) return false;
  }
  bool stale = false;
  const std::string* stored = store_.GetStale(key, now_ms, /*touch=*/false, &stale);
  if (stored == nullptr) return false;
  // The entry is superseded whichever way this write goes. Without one
  // made from these bytes (a miss decoded them), nothing tells how big
  // the object will encode: this write encodes.
  const std::optional<ContainerCache::Base> base = cache_.Supersede(key, *stored);
  if (!base || base->elements == 0 || base->lazy_writes >= cache.max_lazy_writes) return false;
  // The stored bytes scaled by the element count: exact while elements are
  // overwritten with values of the same size (see max_lazy_writes).
  const size_t elements = ContainerCache::Elements(out);
  const size_t estimate =
      static_cast<size_t>(static_cast<double>(stored->size()) * static_cast<double>(elements) /
                          static_cast<double>(base->elements)) +
      1;
  if (ContainerCache::Charge(key, estimate) > cache.max_bytes) return false;
  // Save's rule for publishing a delta (below half the encoding), weighed
  // against the estimate: a delta that would not be kept makes the change
  // publish the whole object, which this save encodes then.
  if (delta_size > 0 && delta_size * 2 >= estimate) return false;
  if (!store_.MarkStale(key, expire_at_ms, now_ms, estimate)) return false;
  pending_ = &out;
  pending_key_ = key;
  pending_base_ = {base->elements, base->lazy_writes + 1};
  pending_estimate_ = estimate;
  return true;
}

void Keyspace::FlushPending() {
  if (pending_ == nullptr) return;
  const Object* object = pending_;
  pending_ = nullptr;
  store_.WriteBack(pending_key_, object->Encode());
}

std::string Keyspace::EncodeStale(std::string_view key) {
  if (pending_ != nullptr && key == pending_key_) return pending_->Encode();
  if (const Object* dirty = cache_.Dirty(key)) return dirty->Encode();
  // A stale value nobody holds: the invariant is broken and the bytes are
  // lost. Storing anything would hide it.
  std::fprintf(stderr, "shoal: no object for the stale value of a key (keyspace invariant)\n");
  std::abort();
}

void Keyspace::WroteBack(std::string_view key, const std::string& value) {
  if (pending_ != nullptr && key == pending_key_) {
    pending_ = nullptr;  // Save caches it as an eager save would
    return;
  }
  cache_.MarkClean(key, value);
}

void Keyspace::Discarded(std::string_view key) {
  if (pending_ != nullptr && key == pending_key_) pending_ = nullptr;
  cache_.Discard(key);
}

}  // namespace shoal::storage
