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
// Dirty entries (write-back, storage/keyspace.h "Lazy encoding"): an entry
// may hold a newer object than its store value's bytes, which the store
// then keeps marked stale (storage/store.h "Stale values"): the entry is the
// key's only current copy. Invariant: an entry is dirty exactly while its
// key's store value is stale (the keyspace's one pending save aside). So a
// dirty entry is never dropped without being written back (Erase, Trim:
// through the write-back function, set_write_back) unless the store let go
// of the stale value (Discard: the key was overwritten, deleted, expired or
// evicted) or everything goes (Clear, with the store's Clear). Its binding
// (the buffer it was made from) is the stale buffer, which the store keeps
// untouched while stale. A taken dirty entry (Take) keeps its binding until
// the write that took it saves the key or gives it back (Restore).
//
// Bounds: at most max_keys entries and max_bytes estimated bytes (see
// Charge); the least recently used entries go first. An object whose
// estimate alone exceeds max_bytes is not kept. A dirty entry is charged
// for the size its encoding is estimated at (InsertDirty). max_keys == 0 disables the
// cache. The memory is the process's like any other (jemalloc counts it in
// used_memory).
//
// Pure logic: no store, no clock. Not thread safe.

#include <cstddef>
#include <cstdint>
#include <functional>
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
  // Write-back: a container write whose key is cached leaves the encoding
  // for later (storage/keyspace.h "Lazy encoding"). Off: every write
  // encodes, as before.
  bool write_back = true;
  // A key written this many times in a row without being encoded is
  // encoded at its next write: bounds how far a dirty entry's size estimate
  // can drift (it scales with the element count, not with value sizes), at
  // 1/256 of an encoding per write (an encoding of a 100-field hash costs
  // about four one-field writes). The estimate is what this cache's byte
  // bound and the store's used bytes count between memory samples;
  // maxmemory reads the allocator's figure at each sample
  // (server/server_memory.cc), which the drift does not touch.
  uint32_t max_lazy_writes = 256;
};

struct ContainerCacheStats {
  uint64_t hits = 0;         // Take() answered from the cache
  uint64_t misses = 0;       // Take() of a stored key without a valid entry
  uint64_t write_backs = 0;  // dirty entries encoded (a reader, or dropped)
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
  // compute(the object Find would give), remembered in its entry until
  // the entry's object changes, so that repeated calls between two writes
  // compute once. nullopt if Find would give nothing.
  using DigestFn = std::function<std::optional<uint64_t>(const Object&)>;
  std::optional<uint64_t> Digest(std::string_view key, const std::string* stored,
                                 const DigestFn& compute);

  // Remembers `object` for `key`, decoded from (or encoded to) `stored`,
  // the string now held in the store, replacing any entry of the key. The
  // entry becomes the most recently used; older ones are dropped past the
  // bounds.
  void Insert(std::string_view key, Object object, const std::string& stored);
  // Forgets `key`'s entry, if any; a dirty one is written back first.
  void Erase(std::string_view key);
  // Forgets `key`'s entry without writing it back: the store no longer
  // holds the value it stands for.
  void Discard(std::string_view key);
  // Forgets every entry, dirty ones unwritten (the store is cleared too).
  void Clear();

  // --- dirty entries -----------------------------------------------------

  // What an entry knows of the bytes its key's store value holds: how many
  // elements (Elements) the object they encode had, and how many writes
  // left them stale in a row.
  struct Base {
    size_t elements = 0;
    uint32_t lazy_writes = 0;
  };
  // Called with a dirty entry's key and object before it is dropped (Erase,
  // Trim): the owner encodes the object into the store.
  using WriteBack = std::function<void(std::string_view key, const Object& object)>;
  void set_write_back(WriteBack fn) { write_back_ = std::move(fn); }
  // A write is about to replace `key`'s value `stored` (the store's current
  // bytes, stale or not): retires the entry (its object is superseded; the
  // write's Insert reuses its node) and returns its Base if it was made from
  // `stored` (taken or not), else nullopt.
  std::optional<Base> Supersede(std::string_view key, const std::string& stored);
  // Remembers `object` as `key`'s newest value while the store keeps
  // `stored`, stale bytes that decode to an older object: `base` describes
  // them, `estimated_size` is what `object` is estimated to encode to (its
  // charge). Becomes the most recently used.
  void InsertDirty(std::string_view key, Object object, const std::string& stored, Base base,
                   size_t estimated_size);
  // The object of `key`'s valid dirty entry (no reordering, nothing
  // counted), or nullptr: what the store's write-back encodes.
  const Object* Dirty(std::string_view key) const;
  // The store wrote `key`'s dirty entry back: it now holds `stored`, the
  // object's encoding. The entry becomes clean (bounds are checked at the
  // next Insert, never from inside the store).
  void MarkClean(std::string_view key, const std::string& stored);
  // Puts back an object taken from a valid entry (Take) by a write that
  // did not save it (an error, or nothing changed). False if the entry is
  // gone.
  bool Restore(std::string_view key, Object object);
  // Dirty entries (taken ones included).
  size_t dirty() const { return dirty_; }
  // The element count a Base records: the entries of every container
  // version of `object`.
  static size_t Elements(const Object& object);

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
    bool valid = false;       // false once taken
    bool dirty = false;       // newer than the store's (stale) bytes
    bool superseded = false;  // a write replaces it (Supersede): never restored
    const std::string* where = nullptr;
    const char* data = nullptr;
    size_t size = 0;
    char head[kFingerprintBytes] = {};
    char tail[kFingerprintBytes] = {};
    size_t charge = 0;
    Base base;
    bool has_digest = false;  // `digest` is Digest()'s for `object`
    std::optional<uint64_t> digest;
  };
  using List = std::list<Entry>;  // most recently used first

  // The valid entry of `key` made from `stored`, moved to the front; drops
  // a stale or taken one (not a taken dirty one: its write gives it back or
  // supersedes it). Counts a hit or miss if `count`.
  Entry* Lookup(std::string_view key, const std::string* stored, bool count);
  bool Matches(const Entry& e, const std::string& stored) const;
  void Invalidate(Entry& e);
  // Binds `e` to `stored` (the buffer it now stands for).
  void Bind(Entry& e, const std::string& stored);
  // Makes `key`'s entry (created if needed) the most recently used, with
  // `object`, bound to `stored`, valid and charged `charge`.
  Entry& Put(std::string_view key, Object object, const std::string& stored, size_t charge);
  // Drops an entry; a dirty one is written back first if `write_back`.
  void Drop(List::iterator it, bool write_back);
  void Trim();

  ContainerCacheOptions options_;
  List lru_;
  std::unordered_map<std::string_view, List::iterator> index_;  // views into lru_'s keys
  size_t valid_ = 0;
  size_t bytes_ = 0;
  size_t dirty_ = 0;
  ContainerCacheStats stats_;
  WriteBack write_back_;
};

}  // namespace shoal::storage
