#include "storage/container_cache.h"

#include <algorithm>
#include <cstring>

namespace shoal::storage {

namespace {

// The first (or last) kFingerprintBytes bytes of `s`, zero-padded.
void CopyHead(const std::string& s, char* out) {
  std::memset(out, 0, ContainerCache::kFingerprintBytes);
  std::memcpy(out, s.data(), std::min(s.size(), ContainerCache::kFingerprintBytes));
}
void CopyTail(const std::string& s, char* out) {
  std::memset(out, 0, ContainerCache::kFingerprintBytes);
  const size_t n = std::min(s.size(), ContainerCache::kFingerprintBytes);
  std::memcpy(out, s.data() + s.size() - n, n);
}

}  // namespace

void ContainerCache::set_options(const ContainerCacheOptions& options) {
  options_ = options;
  Trim();
}

bool ContainerCache::Matches(const Entry& e, const std::string& stored) const {
  if (&stored != e.where || stored.data() != e.data || stored.size() != e.size) return false;
  char head[kFingerprintBytes];
  char tail[kFingerprintBytes];
  CopyHead(stored, head);
  CopyTail(stored, tail);
  return std::memcmp(head, e.head, kFingerprintBytes) == 0 &&
         std::memcmp(tail, e.tail, kFingerprintBytes) == 0;
}

void ContainerCache::Invalidate(Entry& e) {
  if (!e.valid) return;
  e.valid = false;
  --valid_;
  bytes_ -= e.charge;
  e.charge = 0;
  e.where = nullptr;
  e.data = nullptr;
}

void ContainerCache::Drop(List::iterator it) {
  Invalidate(*it);
  index_.erase(std::string_view(it->key));
  lru_.erase(it);
}

ContainerCache::Entry* ContainerCache::Lookup(std::string_view key, const std::string* stored,
                                              bool count) {
  auto found = index_.find(key);
  if (found == index_.end()) {
    if (count && stored != nullptr) ++stats_.misses;
    return nullptr;
  }
  List::iterator it = found->second;
  if (stored == nullptr || !it->valid || !Matches(*it, *stored)) {
    // Stale (the key changed or left behind the owner's back) or taken.
    if (count && stored != nullptr) ++stats_.misses;
    Drop(it);
    return nullptr;
  }
  if (count) ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it);
  return &*it;
}

std::optional<Object> ContainerCache::Take(std::string_view key, const std::string* stored) {
  Entry* e = Lookup(key, stored, /*count=*/true);
  if (e == nullptr) return std::nullopt;
  std::optional<Object> out(std::move(e->object));
  e->object = Object();
  Invalidate(*e);
  return out;
}

const Object* ContainerCache::Find(std::string_view key, const std::string* stored) {
  Entry* e = Lookup(key, stored, /*count=*/false);
  return e == nullptr ? nullptr : &e->object;
}

void ContainerCache::Insert(std::string_view key, Object object, const std::string& stored) {
  const size_t charge = Charge(key, stored.size());
  if (options_.max_keys == 0 || charge > options_.max_bytes) {
    Erase(key);
    return;
  }
  auto found = index_.find(key);
  List::iterator it;
  if (found != index_.end()) {
    it = found->second;
    Invalidate(*it);
    lru_.splice(lru_.begin(), lru_, it);
  } else {
    lru_.emplace_front();
    it = lru_.begin();
    it->key.assign(key);
    index_.emplace(std::string_view(it->key), it);
  }
  Entry& e = *it;
  e.object = std::move(object);
  e.valid = true;
  e.where = &stored;
  e.data = stored.data();
  e.size = stored.size();
  CopyHead(stored, e.head);
  CopyTail(stored, e.tail);
  e.charge = charge;
  ++valid_;
  bytes_ += charge;
  Trim();
}

void ContainerCache::Erase(std::string_view key) {
  auto found = index_.find(key);
  if (found != index_.end()) Drop(found->second);
}

void ContainerCache::Clear() {
  index_.clear();
  lru_.clear();
  valid_ = 0;
  bytes_ = 0;
}

void ContainerCache::Trim() {
  // Taken entries count as keys too (a map node each) until refreshed.
  while (!lru_.empty() && (lru_.size() > options_.max_keys || bytes_ > options_.max_bytes)) {
    Drop(std::prev(lru_.end()));
  }
}

}  // namespace shoal::storage
