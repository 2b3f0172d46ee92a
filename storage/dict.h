#pragma once
// Dict: the keyspace hash table, modelled on Redis's src/dict.c.
//
// - Power-of-two bucket arrays with chaining. Two tables exist while an
//   incremental rehash is in progress: entries move from table 0 to table 1
//   one bucket at a time, on every Find/FindOrInsert/Unlink/RandomEntry call
//   and in explicit RehashStep() calls (the server cron), so no single call
//   pays for a whole resize.
// - Grows (to the next power of two above the entry count) when entries >=
//   buckets; shrinks (to the smallest power of two >= entries, at least 4)
//   when entries fall below 10% of the buckets. A resize never starts while
//   another one is in progress.
// - Keys are hashed with XXH3_64bits under a seed fixed at construction.
// - Scan() is Redis's dictScan: a reverse-binary cursor that returns every
//   entry present for a whole iteration at least once, whatever the table
//   does between calls (grow, shrink, rehash).
//
// Each entry is ONE allocation: the DictEntry header followed by the key
// bytes. The Dict owns its entries; Unlink() hands one back to the caller,
// who frees it with DictEntry::Free().
//
// Not thread safe.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace shoal::storage {

// One key of the keyspace. Layout (64 bytes + key): a 16-byte key fills
// jemalloc's 80-byte size class exactly.
struct DictEntry {
  DictEntry* next = nullptr;  // bucket chain
  int64_t expire_at_ms = 0;   // 0 = no expiry
  std::string value;
  uint32_t expiry_index = 0;  // position in the owner's TTL index, if expire_at_ms != 0
  uint32_t key_size = 0;
  // Low 24 bits: the owner's access metadata for eviction (an LRU clock or
  // an LFU counter, storage/eviction.h). Bit 31: kStaleBit (the owner's
  // "value is stale" flag, storage/store.h). Bits 24-30: unused, kept zero.
  // These 4 bytes took the header from 56 to 64 bytes: keys of 9 to 16 bytes
  // stay in the 80-byte class, 1-8 and 17-24 byte keys moved up one class
  // (+16 bytes).
  uint32_t access = 0;
  static constexpr uint32_t kStaleBit = uint32_t{1} << 31;
  // Position in the owner's index of the key's partition, when the owner
  // indexes partitions. It sits in what was padding: free.
  uint32_t partition_slot = 0;
  // The key bytes follow the header in the same allocation.

  std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }

  // Allocates an entry holding a copy of `key` and an empty value.
  static DictEntry* Create(std::string_view key);
  // Destroys and frees an entry made by Create().
  static void Free(DictEntry* entry);
  // Bytes of the entry's own allocation (header + key), excluding the value's
  // heap buffer.
  static size_t AllocationSize(size_t key_size) { return sizeof(DictEntry) + key_size; }
};

// SplitMix64: a tiny deterministic PRNG step, used to derive many random
// numbers from one caller-supplied seed.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Dict {
 public:
  static constexpr uint64_t kDefaultSeed = 0x5eed0a17c0ffee01ULL;
  static constexpr size_t kMinSize = 4;          // smallest bucket array
  static constexpr size_t kMinFillPercent = 10;  // shrink below this load

  explicit Dict(uint64_t seed = kDefaultSeed);
  ~Dict();
  Dict(const Dict&) = delete;
  Dict& operator=(const Dict&) = delete;

  // The entry for `key`, or nullptr. Moves a rehash one bucket forward.
  DictEntry* Find(std::string_view key);

  // The entry for `key`; creates one with an empty value (expire_at_ms 0) if
  // absent, setting *inserted accordingly. May start a grow.
  DictEntry* FindOrInsert(std::string_view key, bool* inserted);

  // Removes `key` from the table and returns its entry (now owned by the
  // caller, free with DictEntry::Free), or nullptr if absent. May start a
  // shrink.
  DictEntry* Unlink(std::string_view key);

  // Removes and frees `key`'s entry. True if it was present.
  bool Erase(std::string_view key);

  // A random entry (nullptr if empty), as Redis's dictGetRandomKey: a random
  // non-empty bucket, then a random entry of its chain. `random` seeds the
  // choice. Moves a rehash one bucket forward.
  DictEntry* RandomEntry(uint64_t random);

  // Up to `count` entries for eviction sampling, as Redis's dictGetSomeKeys:
  // walks consecutive buckets from a random one (jumping elsewhere after a
  // run of empty buckets), which is cheaper than `count` RandomEntry() calls
  // and random enough because hashing scatters keys. Stores them in out[]
  // (room for `count`), returns how many: at most size(), possibly fewer
  // than asked (it visits at most 10 * count buckets), and in a sparse
  // table the same entry may come twice (after a jump). Moves a rehash
  // forward by up to `count` buckets.
  size_t SampleEntries(uint64_t random, size_t count, DictEntry** out);

  // One dictScan step: calls fn for every entry of the bucket(s) the cursor
  // designates and returns the next cursor (0 = iteration complete). fn must
  // not modify the Dict.
  uint64_t Scan(uint64_t cursor, const std::function<void(const DictEntry&)>& fn) const;

  // Calls fn for every entry. fn must not modify the Dict.
  void ForEach(const std::function<void(const DictEntry&)>& fn) const;
  // The same, for an owner that rebuilds an index of its entries: fn may
  // change an entry's fields other than `next` and the key, not the Dict.
  void ForEachMutable(const std::function<void(DictEntry&)>& fn);

  // Moves the incremental rehash forward by up to `buckets` non-empty
  // buckets (visiting at most 10x as many empty ones). Starts a shrink if one
  // is due. Returns true if rehashing work remains.
  bool RehashStep(size_t buckets);

  // Frees every entry and the tables.
  void Clear();

  size_t size() const { return tables_[0].used + tables_[1].used; }
  bool rehashing() const { return rehash_index_ >= 0; }
  // Total buckets across both tables.
  size_t buckets() const { return tables_[0].size + tables_[1].size; }
  // Bytes held by the bucket arrays.
  size_t bucket_bytes() const { return buckets() * sizeof(DictEntry*); }
  uint64_t Hash(std::string_view key) const;

 private:
  struct Table {
    std::unique_ptr<DictEntry*[]> buckets;
    size_t size = 0;  // 0 or a power of two
    size_t used = 0;
    size_t mask() const { return size - 1; }
  };

  DictEntry* FindWithHash(std::string_view key, uint64_t hash) const;
  void RehashStepIfNeeded();
  void ExpandIfNeeded();
  void ShrinkIfNeeded();
  // Starts a rehash into a new table of `size` buckets (a power of two).
  void StartResize(size_t size);
  static void FreeChains(Table* table);

  Table tables_[2];
  // Next bucket of table 0 to move; -1 when not rehashing.
  int64_t rehash_index_ = -1;
  uint64_t seed_;
};

}  // namespace shoal::storage
