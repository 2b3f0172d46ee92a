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
  bytes_ -= e.charge;  // e.charge stays, for Restore
}

void ContainerCache::Bind(Entry& e, const std::string& stored) {
  e.where = &stored;
  e.data = stored.data();
  e.size = stored.size();
  CopyHead(stored, e.head);
  CopyTail(stored, e.tail);
}

void ContainerCache::Drop(List::iterator it, bool write_back) {
  if (it->dirty) {
    // A taken dirty entry has no object to write: its write saves the key
    // or restores it before anything drops it (Trim skips it).
    if (write_back && it->valid && write_back_) {
      ++stats_.write_backs;
      write_back_(it->key, it->object);
    }
    it->dirty = false;
    --dirty_;
  }
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
  const bool bound = stored != nullptr && Matches(*it, *stored);
  if (!bound || !it->valid) {
    if (count && stored != nullptr) ++stats_.misses;
    // A taken dirty entry waits for its write (Restore or Supersede).
    if (bound && it->dirty) return nullptr;
    // Stale (the key changed or left behind the owner's back: a dirty entry
    // then lost its value with the store's, see Discard) or taken.
    Drop(it, /*write_back=*/false);
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
  e->has_digest = false;
  Invalidate(*e);
  return out;
}

const Object* ContainerCache::Find(std::string_view key, const std::string* stored) {
  Entry* e = Lookup(key, stored, /*count=*/false);
  return e == nullptr ? nullptr : &e->object;
}

std::optional<uint64_t> ContainerCache::Digest(std::string_view key, const std::string* stored,
                                               const DigestFn& compute) {
  Entry* e = Lookup(key, stored, /*count=*/false);
  if (e == nullptr) return std::nullopt;
  if (!e->has_digest) {
    e->digest = compute(e->object);
    e->has_digest = true;
  }
  return e->digest;
}

ContainerCache::Entry& ContainerCache::Put(std::string_view key, Object object,
                                           const std::string& stored, size_t charge) {
  auto found = index_.find(key);
  List::iterator it;
  if (found != index_.end()) {
    it = found->second;
    Invalidate(*it);
    if (it->dirty) {
      it->dirty = false;
      --dirty_;
    }
    lru_.splice(lru_.begin(), lru_, it);
  } else {
    lru_.emplace_front();
    it = lru_.begin();
    it->key.assign(key);
    index_.emplace(std::string_view(it->key), it);
  }
  Entry& e = *it;
  e.object = std::move(object);
  e.has_digest = false;
  e.superseded = false;
  e.valid = true;
  Bind(e, stored);
  e.charge = charge;
  e.base = {};
  ++valid_;
  bytes_ += charge;
  return e;
}

void ContainerCache::Insert(std::string_view key, Object object, const std::string& stored) {
  const size_t charge = Charge(key, stored.size());
  if (options_.max_keys == 0 || charge > options_.max_bytes) {
    Erase(key);
    return;
  }
  Entry& e = Put(key, std::move(object), stored, charge);
  e.base.elements = Elements(e.object);
  Trim();
}

void ContainerCache::InsertDirty(std::string_view key, Object object, const std::string& stored,
                                 Base base, size_t estimated_size) {
  Entry& e = Put(key, std::move(object), stored, Charge(key, estimated_size));
  e.dirty = true;
  ++dirty_;
  e.base = base;
  Trim();
}

std::optional<ContainerCache::Base> ContainerCache::Supersede(std::string_view key,
                                                              const std::string& stored) {
  auto found = index_.find(key);
  if (found == index_.end()) return std::nullopt;
  Entry& e = *found->second;
  std::optional<Base> base;
  if (Matches(e, stored)) base = e.base;
  // The node stays for the write's Insert or InsertDirty, which reuses it
  // (no allocation, no index change); meanwhile it answers nothing and
  // cannot be restored, and a lookup or Trim drops it like a taken entry.
  if (e.dirty) {
    e.dirty = false;
    --dirty_;
  }
  Invalidate(e);
  e.object = Object();
  e.superseded = true;
  return base;
}

const Object* ContainerCache::Dirty(std::string_view key) const {
  auto found = index_.find(key);
  if (found == index_.end() || !found->second->valid || !found->second->dirty) return nullptr;
  return &found->second->object;
}

void ContainerCache::MarkClean(std::string_view key, const std::string& stored) {
  auto found = index_.find(key);
  if (found == index_.end()) return;
  Entry& e = *found->second;
  if (!e.valid || !e.dirty) return;
  ++stats_.write_backs;
  e.dirty = false;
  --dirty_;
  Bind(e, stored);
  bytes_ -= e.charge;
  e.charge = Charge(key, stored.size());
  bytes_ += e.charge;
  e.base.elements = Elements(e.object);
  e.base.lazy_writes = 0;
}

bool ContainerCache::Restore(std::string_view key, Object object) {
  auto found = index_.find(key);
  if (found == index_.end() || found->second->valid || found->second->superseded) return false;
  Entry& e = *found->second;
  e.object = std::move(object);
  e.has_digest = false;
  e.valid = true;
  ++valid_;
  bytes_ += e.charge;
  return true;
}

size_t ContainerCache::Elements(const Object& object) {
  size_t n = 0;
  for (const auto& sibling : object.siblings()) {
    const Version& v = sibling.value;
    if (v.kind == VersionKind::kHash) n += v.hash.Size();
    if (v.kind == VersionKind::kSet) n += v.set.Size();
    if (v.kind == VersionKind::kZset) n += v.zset.Size();
  }
  return n;
}

void ContainerCache::Erase(std::string_view key) {
  auto found = index_.find(key);
  if (found != index_.end()) Drop(found->second, /*write_back=*/true);
}

void ContainerCache::Discard(std::string_view key) {
  auto found = index_.find(key);
  if (found != index_.end()) Drop(found->second, /*write_back=*/false);
}

void ContainerCache::Clear() {
  index_.clear();
  lru_.clear();
  valid_ = 0;
  bytes_ = 0;
  dirty_ = 0;
}

void ContainerCache::Trim() {
  // Taken entries count as keys too (a map node each) until refreshed; a
  // taken dirty one is skipped (see Drop).
  auto it = lru_.end();
  while (it != lru_.begin() && (lru_.size() > options_.max_keys || bytes_ > options_.max_bytes)) {
    --it;
    if (it->dirty && !it->valid) continue;
    it = std::next(it);
    Drop(std::prev(it), /*write_back=*/true);
  }
}

}  // namespace shoal::storage
