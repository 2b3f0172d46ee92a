#pragma once
// ContainerCache: a bounded, least-recently-used set of decoded container
// objects (hashes, sets, sorted sets), each exactly the Object its key's
// stored bytes decode to, so that a write to a container written recently
// skips decoding the whole container (storage/keyspace.h: Modify) and
// destroying the decoded copy afterwards.
//
// Validity: an entry records which buffer it was made from — the address
// of the store's value string, its data pointer and size, and its first and
// last kFingerprintBytes bytes — and is used only while the store's value
// for the key is still that buffer (Find/Take are given the store's current
// value). The owner (the Keyspace, the store's only writer) refreshes or
// erases the entry on every save of the key and clears it on a flush; the
// check catches what happens behind its back: eviction, lazy and active
// expiry, a delete while replaying the log. The store never edits a value
// in place, and a replaced value is a new buffer allocated before the old
// one is freed, so the data pointer changes with every replacement of a
// heap-allocated value; a short value lives inside the string and is
// compared whole (it fits in the fingerprint).
//
// Bounds: at most max_keys entries and max_bytes estimated bytes (see
// Charge); the least recently used entries go first. An object whose
// estimate alone exceeds max_bytes is not kept. max_keys == 0 disables the
// cache. The memory is the process's like any other (jemalloc counts it in
// used_memory).
//
// Pure logic: no store, no clock. Not thread safe.

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "storage/object.h"

namespace shoal::storage {

struct ContainerCacheOptions {
  // 1024 keys: the containers a workload writes over and over are its hot
  // set (the benches write 100 or 3); a key written once in a while gains
  // nothing from the cache, and each entry costs a map node and a key.
  size_t max_keys = 1024;
  // 64 MiB: enough for a few big containers (a 100,000-field hash is about
  // 10 MiB encoded, ~40 MiB decoded), where skipping the decode pays most,
  // yet small beside the datasets a cache server holds.
  size_t max_bytes = 64u << 20;
};

struct ContainerCacheStats {
  uint64_t hits = 0;    // Take() answered from the cache
  uint64_t misses = 0;  // Take() of a stored key without a valid entry
};

class ContainerCache {
 public:
  explicit ContainerCache(ContainerCacheOptions options = {}) : options_(options) {}
  ContainerCache(const ContainerCache&) = delete;
  ContainerCache& operator=(const ContainerCache&) = delete;

  // Changes the bounds, dropping entries past them.
  void set_options(const ContainerCacheOptions& options);
  const ContainerCacheOptions& options() const { return options_; }

  // The cached object of `key` if `stored` (the store's current value of
  // the key, nullptr if absent) is the buffer it was made from: moved out
  // (the entry no longer answers until the next Insert). nullopt otherwise;
  // a stale entry is dropped. Counts a hit or a miss (no miss when `stored`
  // is nullptr: an absent key has nothing to decode).
  std::optional<Object> Take(std::string_view key, const std::string* stored);
  // As Take, without taking (nor counting): a view of the cached object,
  // valid until the next call that changes the cache.
  const Object* Find(std::string_view key, const std::string* stored);

  // Remembers `object` for `key`, decoded from (or encoded to) `stored`,
  // the string now held in the store, replacing any entry of the key. The
  // entry becomes the most recently used; older ones are dropped past the
  // bounds.
  void Insert(std::string_view key, Object object, const std::string& stored);
  // Forgets `key`'s entry, if any.
  void Erase(std::string_view key);
  // Forgets every entry.
  void Clear();

  // Entries that can answer (taken ones excluded), and their estimate.
  size_t size() const { return valid_; }
  size_t bytes() const { return bytes_; }
  const ContainerCacheStats& stats() const { return stats_; }

  // What an entry is counted as: its key, a fixed overhead, and four times
  // the encoded size — a decoded element is its name and value in their
  // own strings plus an entry, an atom vector and the atoms (a hash field
  // with a 64-byte value encodes to ~90 bytes and decodes to ~300).
  static size_t Charge(std::string_view key, size_t encoded_size) {
    return key.size() + 128 + 4 * encoded_size;
  }
  static constexpr size_t kFingerprintBytes = 16;

 private:
  struct Entry {
    std::string key;
    Object object;
    bool valid = false;  // false once taken
    const std::string* where = nullptr;
    const char* data = nullptr;
    size_t size = 0;
    char head[kFingerprintBytes] = {};
    char tail[kFingerprintBytes] = {};
    size_t charge = 0;
  };
  using List = std::list<Entry>;  // most recently used first

  // The valid entry of `key` made from `stored`, moved to the front; drops
  // a stale one. Counts a hit or miss if `count`.
  Entry* Lookup(std::string_view key, const std::string* stored, bool count);
  bool Matches(const Entry& e, const std::string& stored) const;
  void Invalidate(Entry& e);
  void Drop(List::iterator it);
  void Trim();

  ContainerCacheOptions options_;
  List lru_;
  std::unordered_map<std::string_view, List::iterator> index_;  // views into lru_'s keys
  size_t valid_ = 0;
  size_t bytes_ = 0;
  ContainerCacheStats stats_;
};

}  // namespace shoal::storage
