#include "storage/store.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <utility>

#include "storage/dict.h"

namespace shoal::storage {

namespace {

// Keys sampled per round of active expiry (Redis's
// ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP).
constexpr size_t kExpireSampleSize = 20;
// RandomKey() gives up sampling after this many expired picks and walks the
// table instead.
constexpr int kRandomKeyTries = 100;
// Pool refills EvictUntil() tries for one victim. Two always suffice (the
// second starts from an empty pool, so its samples all enter it and are
// valid); the cap only guards against a broken invariant.
constexpr int kMaxPoolRefills = 4;
// Characters libstdc++'s std::string holds without a heap buffer.
constexpr size_t kInlineStringChars = 15;

// The jemalloc size class that holds n bytes: 8, then steps of 16 up to 128,
// then four classes per doubling (160, 192, 224, 256, 320, ...).
size_t AllocSize(size_t n) {
  if (n <= 8) return 8;
  if (n <= 128) return (n + 15) & ~size_t{15};
  const size_t lg = std::bit_width(n - 1) - 1;  // floor(log2(n - 1))
  const size_t spacing = size_t{1} << (lg - 2);
  return (n + spacing - 1) & ~(spacing - 1);
}

// Heap bytes a value of `size` characters is charged. Charged by size, not
// capacity, so that NoteResize(old, new) keeps the counter exact.
size_t ValueBytes(size_t size) {
  return size > kInlineStringChars ? AllocSize(size + 1) : 0;
}

size_t EntryBytes(size_t key_size) {
  return AllocSize(DictEntry::AllocationSize(key_size));
}

bool IsExpired(const DictEntry& e, int64_t now_ms) {
  return e.expire_at_ms != 0 && e.expire_at_ms <= now_ms;
}

// Removes slot `slot` of an index of entries by moving the last one into it
// (O(1)); `slot_of` is the field of DictEntry that holds an entry's slot.
// Gives memory back once the index is mostly empty (amortized O(1)).
void SwapRemove(std::vector<DictEntry*>* index, uint32_t slot, uint32_t DictEntry::*slot_of) {
  DictEntry* last = index->back();
  (*index)[slot] = last;
  last->*slot_of = slot;
  index->pop_back();
  if (index->empty()) {
    std::vector<DictEntry*>().swap(*index);
  } else if (index->capacity() > 64 && index->size() < index->capacity() / 4) {
    index->shrink_to_fit();
  }
}

// Subtracts without wrapping: a caller that forgets a NoteResize() makes the
// count approximate, never huge.
void SubtractClamped(size_t* counter, size_t n) {
  *counter = *counter > n ? *counter - n : 0;
}

}  // namespace

size_t Store::ChargedValueBytes(size_t size) {
  return ValueBytes(size);
}

Store::Store() : dict_(std::make_unique<Dict>()) {}

bool Store::Expired(const DictEntry& e, int64_t now_ms) const {
  return !keep_expired_ && IsExpired(e, now_ms);
}

Store::~Store() = default;

DictEntry* Store::FindLive(std::string_view key, int64_t now_ms, Touch touch) {
  NoteTime(now_ms);
  DictEntry* e = dict_->Find(key);
  if (e == nullptr) return nullptr;
  if (Expired(*e, now_ms)) {
    Remove(e);
    ++stats_.expired_keys;
    return nullptr;
  }
  if (touch == Touch::kYes) TouchEntry(e, now_ms);
  return e;
}

void Store::TouchEntry(DictEntry* entry, int64_t now_ms) {
  // Only the LFU path consumes randomness; skip the PRNG step otherwise.
  const uint64_t random = IsLfu(eviction_.policy) ? SplitMix64(&access_random_state_) : 0;
  const uint32_t flags = entry->access & ~kAccessMask;
  entry->access = flags | TouchedAccessMeta(entry->access & kAccessMask, eviction_, now_ms, random);
}

void Store::Remove(DictEntry* entry) {
  [[maybe_unused]] DictEntry* unlinked = dict_->Unlink(entry->key());
  assert(unlinked == entry);
  Drop(entry);
}

void Store::Drop(DictEntry* entry) {
  if (IsStale(*entry)) {
    Unstale(entry);
    stale_owner_->Discarded(entry->key());
  }
  SetExpiry(entry, 0);
  UnindexPartition(entry);
  SubtractClamped(&entry_bytes_, EntryBytes(entry->key_size) + ValueBytes(entry->value.size()));
  Release(entry->value);
  DictEntry::Free(entry);
}

void Store::SetExpiry(DictEntry* entry, int64_t expire_at_ms) {
  if (expire_at_ms != 0) {
    if (entry->expire_at_ms == 0) {
      entry->expiry_index = static_cast<uint32_t>(expires_.size());
      expires_.push_back(entry);
    }
    entry->expire_at_ms = expire_at_ms;
    return;
  }
  if (entry->expire_at_ms == 0) return;
  SwapRemove(&expires_, entry->expiry_index, &DictEntry::expiry_index);
  entry->expire_at_ms = 0;
}

uint32_t Store::PartitionOf(std::string_view key) const {
  const uint32_t n = partitions();
  const uint32_t p = partitioner_.partition_of(key);
  assert(p < n);
  return p < n ? p : p % n;  // a broken partitioner must not corrupt memory
}

void Store::IndexPartition(DictEntry* entry) {
  if (partition_index_.empty()) return;
  std::vector<DictEntry*>& index = partition_index_[PartitionOf(entry->key())];
  const size_t capacity = index.capacity();
  entry->partition_slot = static_cast<uint32_t>(index.size());
  index.push_back(entry);
  partition_bytes_ += (index.capacity() - capacity) * sizeof(DictEntry*);
}

void Store::UnindexPartition(DictEntry* entry) {
  if (partition_index_.empty()) return;
  std::vector<DictEntry*>& index = partition_index_[PartitionOf(entry->key())];
  assert(entry->partition_slot < index.size() && index[entry->partition_slot] == entry);
  const size_t capacity = index.capacity();
  SwapRemove(&index, entry->partition_slot, &DictEntry::partition_slot);
  SubtractClamped(&partition_bytes_, (capacity - index.capacity()) * sizeof(DictEntry*));
}

void Store::SetPartitioner(Partitioner partitioner) {
  std::vector<std::vector<DictEntry*>>().swap(partition_index_);
  partition_bytes_ = 0;
  if (partitioner.partitions == 0 || !partitioner.partition_of) {
    partitioner_ = {};
    return;
  }
  partitioner_ = std::move(partitioner);
  partition_index_.resize(partitioner_.partitions);
  partition_bytes_ = partition_index_.capacity() * sizeof(partition_index_[0]);
  dict_->ForEachMutable([this](DictEntry& e) { IndexPartition(&e); });
}

size_t Store::PartitionSize(uint32_t partition) const {
  return partition < partitions() ? partition_index_[partition].size() : 0;
}

void Store::ForEachInPartition(uint32_t partition, int64_t now_ms,
                               const std::function<void(const EntryView&)>& fn) const {
  if (partition >= partitions()) return;
  WriteBackAll();
  for (const DictEntry* e : partition_index_[partition]) {
    if (Expired(*e, now_ms)) continue;
    fn(EntryView{e->key(), e->value, e->expire_at_ms});
  }
}

uint64_t Store::ScanPartition(uint32_t partition, uint64_t bound, size_t count, int64_t now_ms,
                              const std::function<void(const EntryView&)>& fn) const {
  if (partition >= partitions()) return 0;
  WriteBackAll();
  const std::vector<DictEntry*>& entries = partition_index_[partition];
  uint64_t i = std::min<uint64_t>(bound, entries.size());
  for (size_t seen = 0; i > 0 && seen < std::max<size_t>(count, 1); ++seen) {
    const DictEntry* e = entries[--i];
    if (Expired(*e, now_ms)) continue;
    fn(EntryView{e->key(), e->value, e->expire_at_ms});
  }
  return i;
}

void Store::ReplaceValue(DictEntry* entry, std::string value) {
  if (IsStale(*entry)) {
    Unstale(entry);
    stale_owner_->Discarded(entry->key());
  }
  SubtractClamped(&entry_bytes_, ValueBytes(entry->value.size()));
  Release(entry->value);
  entry->value = std::move(value);
  entry_bytes_ += ValueBytes(entry->value.size());
}

const std::string* Store::Get(std::string_view key, int64_t now_ms) {
  DictEntry* e = FindLive(key, now_ms, Touch::kYes);
  if (e == nullptr) {
    ++stats_.keyspace_misses;
    return nullptr;
  }
  ++stats_.keyspace_hits;
  if (IsStale(*e)) WriteBackEntry(e);
  return &e->value;
}

const std::string* Store::Peek(std::string_view key, int64_t now_ms) {
  DictEntry* e = FindLive(key, now_ms, Touch::kNo);
  if (e == nullptr) return nullptr;
  if (IsStale(*e)) WriteBackEntry(e);
  return &e->value;
}

std::string* Store::GetMutable(std::string_view key, int64_t now_ms) {
  DictEntry* e = FindLive(key, now_ms, Touch::kYes);
  if (e == nullptr) return nullptr;
  if (IsStale(*e)) WriteBackEntry(e);
  return &e->value;
}

void Store::NoteResize(size_t old_size, size_t new_size) {
  SubtractClamped(&entry_bytes_, ValueBytes(old_size));
  entry_bytes_ += ValueBytes(new_size);
}

bool Store::Exists(std::string_view key, int64_t now_ms) {
  return FindLive(key, now_ms, Touch::kNo) != nullptr;
}

void Store::Set(std::string_view key, std::string value, int64_t expire_at_ms, int64_t now_ms) {
  NoteTime(now_ms);
  bool inserted = false;
  DictEntry* e = dict_->FindOrInsert(key, &inserted);
  if (inserted) {
    entry_bytes_ += EntryBytes(key.size());
    e->access = NewAccessMeta(eviction_, now_ms);
    IndexPartition(e);
  } else {
    TouchEntry(e, now_ms);
  }
  ReplaceValue(e, std::move(value));
  SetExpiry(e, expire_at_ms);
}

void Store::Set(std::string_view key, std::string value, int64_t expire_at_ms) {
  Set(key, std::move(value), expire_at_ms, latest_now_ms_);
}

void Store::SetKeepTtl(std::string_view key, std::string value, int64_t now_ms) {
  if (DictEntry* e = FindLive(key, now_ms, Touch::kYes)) {
    ReplaceValue(e, std::move(value));
    return;
  }
  Set(key, std::move(value), 0, now_ms);
}

bool Store::Delete(std::string_view key, int64_t now_ms) {
  NoteTime(now_ms);
  DictEntry* e = dict_->Unlink(key);
  if (e == nullptr) return false;
  const bool live = !Expired(*e, now_ms);
  if (!live) ++stats_.expired_keys;
  Drop(e);
  return live;
}

std::optional<int64_t> Store::GetExpireAt(std::string_view key, int64_t now_ms) {
  DictEntry* e = FindLive(key, now_ms, Touch::kNo);
  if (e == nullptr) return std::nullopt;
  return e->expire_at_ms;
}

bool Store::SetExpireAt(std::string_view key, int64_t expire_at_ms, int64_t now_ms) {
  DictEntry* e = FindLive(key, now_ms, Touch::kYes);
  if (e == nullptr) return false;
  if (expire_at_ms <= now_ms) {
    // Redis's EXPIRE with a past time deletes the key as a DEL would; it is
    // not counted as an expired key.
    Remove(e);
    return true;
  }
  SetExpiry(e, expire_at_ms);
  return true;
}

bool Store::Persist(std::string_view key, int64_t now_ms) {
  DictEntry* e = FindLive(key, now_ms, Touch::kYes);
  if (e == nullptr || e->expire_at_ms == 0) return false;
  SetExpiry(e, 0);
  return true;
}

size_t Store::size() const {
  return dict_->size();
}

size_t Store::expires_size() const {
  return expires_.size();
}

uint64_t Store::Scan(uint64_t cursor, size_t count, int64_t now_ms,
                     const std::function<void(const EntryView&)>& fn) const {
  // As Redis's scanGenericCommand: step until `count` entries were seen,
  // visiting at most 10x count buckets so that a sparse table cannot make
  // one call arbitrarily long.
  count = std::max<size_t>(count, 1);
  WriteBackAll();
  size_t seen = 0;
  size_t steps_left = count * 10;
  auto visit = [&](const DictEntry& e) {
    ++seen;
    if (Expired(e, now_ms)) return;
    fn(EntryView{e.key(), e.value, e.expire_at_ms});
  };
  do {
    cursor = dict_->Scan(cursor, visit);
  } while (cursor != 0 && seen < count && --steps_left > 0);
  return cursor;
}

void Store::ForEach(int64_t now_ms, const std::function<void(const EntryView&)>& fn) const {
  WriteBackAll();
  dict_->ForEach([&](const DictEntry& e) {
    if (Expired(e, now_ms)) return;
    fn(EntryView{e.key(), e.value, e.expire_at_ms});
  });
}

std::optional<std::string> Store::RandomKey(int64_t now_ms, uint64_t random) {
  NoteTime(now_ms);
  uint64_t state = random;
  // As Redis's dbRandomKey: expired picks are deleted on the way.
  for (int tries = 0; tries < kRandomKeyTries; ++tries) {
    DictEntry* e = dict_->RandomEntry(SplitMix64(&state));
    if (e == nullptr) return std::nullopt;
    if (!Expired(*e, now_ms)) return std::string(e->key());
    Remove(e);
    ++stats_.expired_keys;
  }
  // Nearly everything sampled was expired: walk the table for a live key.
  std::optional<std::string> found;
  uint64_t cursor = 0;
  do {
    cursor = dict_->Scan(cursor, [&](const DictEntry& e) {
      if (!found && !Expired(e, now_ms)) found.emplace(e.key());
    });
  } while (cursor != 0 && !found);
  return found;
}

size_t Store::ActiveExpireCycle(int64_t now_ms, size_t max_samples, uint64_t random,
                                std::vector<std::string>* expired_keys) {
  NoteTime(now_ms);
  assert(!keep_expired_ || expired_keys != nullptr);
  uint64_t state = random;
  size_t sampled = 0;
  size_t deleted = 0;
  int64_t ttl_sum = 0;
  int64_t ttl_samples = 0;
  if (expires_.empty()) avg_ttl_ms_ = 0;
  while (!expires_.empty() && sampled < max_samples) {
    const size_t round = std::min({kExpireSampleSize, max_samples - sampled, expires_.size()});
    size_t expired = 0;
    for (size_t i = 0; i < round && !expires_.empty(); ++i) {
      DictEntry* e = expires_[SplitMix64(&state) % expires_.size()];
      ++sampled;
      if (!IsExpired(*e, now_ms)) {
        ttl_sum += e->expire_at_ms - now_ms;
        ++ttl_samples;
      }
      if (IsExpired(*e, now_ms)) {
        if (keep_expired_ && expired_keys != nullptr) {
          // Handed to the owner, which keeps the version's remains.
          SetExpiry(e, 0);
          expired_keys->emplace_back(e->key());
        } else {
          Remove(e);
        }
        ++expired;
      }
    }
    deleted += expired;
    // Another round only while more than 25% of this one had expired: the
    // expired share of the keyspace is probably still high.
    if (expired * 4 <= round) break;
  }
  if (ttl_samples > 0) {
    // INFO keyspace's avg_ttl as Redis's activeExpireCycle keeps it: a
    // running average, this cycle's sample weighing 2%.
    const int64_t avg = ttl_sum / ttl_samples;
    if (avg_ttl_ms_ == 0) avg_ttl_ms_ = avg;
    avg_ttl_ms_ = (avg_ttl_ms_ / 50) * 49 + avg / 50;
  }
  stats_.expired_keys += deleted;
  return deleted;
}

bool Store::RehashStep(size_t buckets) {
  return dict_->RehashStep(buckets);
}

void Store::Clear() {
  // Big values go to the releaser too: FLUSHALL of a 512 MB value must not
  // stall the loop, and a value something still reads (a pinned GET reply,
  // a log write) must not be freed under it.
  for (const auto& [entry, charged] : stale_) stale_owner_->Discarded(entry->key());
  stale_.clear();
  if (release_) dict_->ForEachMutable([this](DictEntry& e) { Release(e.value); });
  dict_->Clear();
  pool_.Clear();
  std::vector<DictEntry*>().swap(expires_);
  for (std::vector<DictEntry*>& index : partition_index_) std::vector<DictEntry*>().swap(index);
  partition_bytes_ = partition_index_.capacity() * sizeof(partition_index_[0]);
  entry_bytes_ = 0;
}

size_t Store::used_bytes() const {
  return entry_bytes_ + dict_->bucket_bytes() + expires_.capacity() * sizeof(DictEntry*) +
         partition_bytes_;
}

void Store::SetEvictionConfig(const EvictionConfig& config) {
  eviction_ = config;
  pool_.Clear();
}

void Store::SetEvictionPolicy(EvictionPolicy policy, size_t samples) {
  EvictionConfig config = eviction_;
  config.policy = policy;
  config.samples = samples;
  SetEvictionConfig(config);
}

void Store::SetEvictionObserver(std::function<void(std::string_view key)> observer) {
  eviction_observer_ = std::move(observer);
}

std::optional<uint64_t> Store::IdleTimeMs(std::string_view key, int64_t now_ms) {
  DictEntry* e = FindLive(key, now_ms, Touch::kNo);
  if (e == nullptr) return std::nullopt;
  return LruIdleMs(e->access, now_ms);
}

std::optional<uint8_t> Store::LfuFrequency(std::string_view key, int64_t now_ms) {
  DictEntry* e = FindLive(key, now_ms, Touch::kNo);
  if (e == nullptr) return std::nullopt;
  return LfuDecayedCounter(e->access, now_ms, eviction_.lfu_decay_time);
}

Result<size_t> Store::EvictUntil(size_t maxmemory, int64_t now_ms, uint64_t random,
                                 const std::function<size_t()>& measure) {
  NoteTime(now_ms);
  auto used = [&] { return measure ? measure() : used_bytes(); };
  if (used() <= maxmemory) return size_t{0};
  const Status oom(Code::kOutOfMemory, "maxmemory reached and nothing can be evicted");
  if (eviction_.policy == EvictionPolicy::kNoEviction) return oom;

  uint64_t state = random;
  size_t evicted = 0;
  for (size_t round = 0; round < eviction_.max_evictions_per_call; ++round) {
    DictEntry* victim = PickVictim(now_ms, &state);
    if (victim == nullptr) return oom;
    if (Expired(*victim, now_ms)) {
      Remove(victim);
      ++stats_.expired_keys;
    } else {
      Evict(victim);
      ++evicted;
    }
    if (used() <= maxmemory) break;
  }
  // Under the limit, or stopped by the bound while still freeing memory.
  return evicted;
}

DictEntry* Store::PickVictim(int64_t now_ms, uint64_t* random_state) {
  const bool volatile_only = IsVolatile(eviction_.policy);
  if (!UsesPool(eviction_.policy)) {
    if (volatile_only) {
      if (expires_.empty()) return nullptr;
      return expires_[SplitMix64(random_state) % expires_.size()];
    }
    return dict_->RandomEntry(SplitMix64(random_state));
  }
  std::string key;
  for (int refill = 0; refill < kMaxPoolRefills; ++refill) {
    if (!FillPool(now_ms, random_state)) return nullptr;
    while (pool_.PopBest(&key)) {
      // The pool holds names: the key may be gone, or (volatile-*) may have
      // lost its TTL, since it was offered.
      DictEntry* e = dict_->Find(key);
      if (e != nullptr && (!volatile_only || e->expire_at_ms != 0)) return e;
    }
  }
  return nullptr;
}

bool Store::FillPool(int64_t now_ms, uint64_t* random_state) {
  const size_t samples = std::max<size_t>(eviction_.samples, 1);
  if (IsVolatile(eviction_.policy)) {
    if (expires_.empty()) return false;
    // The TTL index is a flat array: uniform samples in O(1).
    for (size_t i = 0; i < samples; ++i) {
      const DictEntry* e = expires_[SplitMix64(random_state) % expires_.size()];
      pool_.Offer(e->key(), EvictionScore(eviction_, e->access, e->expire_at_ms, now_ms));
    }
    return true;
  }
  if (dict_->size() == 0) return false;
  sample_buffer_.resize(samples);
  size_t got = dict_->SampleEntries(SplitMix64(random_state), samples, sample_buffer_.data());
  if (got == 0) {
    // A sparse stretch of buckets: fall back to one uniform pick so that a
    // non-empty keyspace always yields a candidate.
    sample_buffer_[0] = dict_->RandomEntry(SplitMix64(random_state));
    got = 1;
  }
  for (size_t i = 0; i < got; ++i) {
    const DictEntry* e = sample_buffer_[i];
    pool_.Offer(e->key(), EvictionScore(eviction_, e->access, e->expire_at_ms, now_ms));
  }
  return true;
}

void Store::Evict(DictEntry* entry) {
  [[maybe_unused]] DictEntry* unlinked = dict_->Unlink(entry->key());
  assert(unlinked == entry);
  if (eviction_observer_) eviction_observer_(entry->key());
  Drop(entry);
  ++stats_.evicted_keys;
}

}  // namespace shoal::storage
