// Store's stale values (storage/store.h "Stale values"): the owner keeps a
// key's newest value and the store writes it back, by asking the owner,
// before anything hands the bytes out.
//
// Accounting: a stale entry is charged the value bytes of the size the owner
// estimated (MarkStale) instead of its old bytes, so that used_bytes() and
// the memory figure built on it move with every write as they would if each
// write stored its bytes at once.

#include <cassert>

#include "storage/dict.h"
#include "storage/store.h"

namespace shoal::storage {

bool Store::IsStale(const DictEntry& entry) {
  return (entry.access & DictEntry::kStaleBit) != 0;
}

bool Store::MarkStale(std::string_view key, int64_t expire_at_ms, int64_t now_ms,
                      size_t estimated_size) {
  assert(stale_owner_ != nullptr);
  if (stale_owner_ == nullptr) return false;
  DictEntry* e = FindLive(key, now_ms, Touch::kYes);
  if (e == nullptr) return false;
  const size_t charged = ChargedValueBytes(estimated_size);
  auto [it, inserted] = stale_.try_emplace(e, charged);
  const size_t before = inserted ? ChargedValueBytes(e->value.size()) : it->second;
  it->second = charged;
  entry_bytes_ = entry_bytes_ > before ? entry_bytes_ - before : 0;
  entry_bytes_ += charged;
  e->access |= DictEntry::kStaleBit;
  SetExpiry(e, expire_at_ms);
  return true;
}

void Store::Unstale(DictEntry* entry) {
  auto it = stale_.find(entry);
  assert(it != stale_.end());
  if (it != stale_.end()) {
    entry_bytes_ = entry_bytes_ > it->second ? entry_bytes_ - it->second : 0;
    entry_bytes_ += ChargedValueBytes(entry->value.size());
    stale_.erase(it);
  }
  entry->access &= ~DictEntry::kStaleBit;
}

void Store::WriteBackEntry(DictEntry* entry) {
  std::string value = stale_owner_->EncodeStale(entry->key());
  Unstale(entry);
  ReplaceValue(entry, std::move(value));
  stale_owner_->WroteBack(entry->key(), entry->value);
}

const std::string* Store::GetStale(std::string_view key, int64_t now_ms, bool touch, bool* stale) {
  DictEntry* e = FindLive(key, now_ms, touch ? Touch::kYes : Touch::kNo);
  if (e == nullptr) return nullptr;
  *stale = IsStale(*e);
  return &e->value;
}

const std::string* Store::WriteBack(std::string_view key, int64_t now_ms) {
  DictEntry* e = FindLive(key, now_ms, Touch::kNo);
  if (e == nullptr) return nullptr;
  if (IsStale(*e)) WriteBackEntry(e);
  return &e->value;
}

void Store::WriteBack(std::string_view key, std::string value) {
  DictEntry* e = dict_->Find(key);
  if (e == nullptr || !IsStale(*e)) return;
  Unstale(e);
  ReplaceValue(e, std::move(value));
}

void Store::WriteBackAll() const {
  if (stale_.empty()) return;
  // The one const_cast of the store: see the declaration.
  const_cast<Store*>(this)->WriteBackEverything();
}

void Store::WriteBackEverything() {
  while (!stale_.empty()) WriteBackEntry(stale_.begin()->first);
}

}  // namespace shoal::storage
