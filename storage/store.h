#pragma once
// Store: the node's in-memory keyspace. Keys map to string values with an
// optional absolute expiry time. Pure logic: no loop, no sockets; time is
// passed in as `now_ms` (milliseconds since the Unix epoch) on every call that
// may look at expiry.
//
// Expiry follows Redis: a key whose expiry time is <= now_ms is logically
// absent. Lookups delete such a key on the way (lazy expiry) and
// ActiveExpireCycle() samples keys that carry a TTL and deletes the expired
// ones (active expiry), a bounded amount of work per call.
//
// Values are opaque bytes here: the Keyspace (storage/keyspace.h) keeps
// each key's versioned Object (storage/object.h) in them, in its local
// encoding, and writes the object's expiry (Object::ExpireAtMs) alongside,
// so that expiry and eviction work without decoding values.
//
// Keep-expired mode (set_keep_expired; a replica in a cluster): the store
// expires nothing itself. Every lookup, walk and deletion sees an entry
// whatever its TTL, and the owner (the Keyspace, which judges liveness from
// the versioned object) decides; the TTL index remains for
// ActiveExpireCycle(), which hands the keys whose TTL passed to the owner
// instead of deleting them, and for volatile-* eviction. That is how an
// expired version keeps dominating older ones on the other replicas until
// it is purged like a tombstone (see Keyspace).
//
// Partitions: with a Partitioner set (the ring's partition of a key, passed
// in because storage/ does not see cluster/), every key is also indexed by
// partition, so that anti-entropy and partition transfer walk one partition
// in time proportional to its keys. See the "Partitions" section below.
//
// Eviction (maxmemory) follows Redis's evict.c: every access records an LRU
// clock or an LFU counter in the key's header, and EvictUntil() deletes
// sampled keys, best candidate first, until a caller-supplied memory measure
// is under the limit. See storage/eviction.h for the policies and the
// metadata; the "Eviction" section below for the calls.
//
// Stale values (write-back): the owner (the Keyspace) may keep a key's
// newest value elsewhere and mark the stored bytes stale (MarkStale) instead
// of encoding them on every write. Every call that hands a value out (Get,
// Peek, GetMutable, and the walks Scan, ForEach, ForEachInPartition,
// ScanPartition) first writes stale values back, asking the owner
// (StaleValueOwner::EncodeStale), so that nobody but the owner ever sees
// stale bytes. A stale value that leaves the store unread (overwritten,
// deleted, expired, evicted, cleared) is reported to the owner
// (Discarded). See the "Stale values" section below.
//
// Not thread safe: one Store belongs to one event loop thread.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "storage/eviction.h"
#include "storage/status.h"

namespace shoal::storage {

class Dict;
struct DictEntry;

// What Scan() and Visit-style calls show of one entry. The views are valid
// only during the callback.
struct EntryView {
  std::string_view key;
  std::string_view value;
  int64_t expire_at_ms;  // 0 = no expiry
};

struct StoreStats {
  uint64_t keyspace_hits = 0;    // Get() that found a live key
  uint64_t keyspace_misses = 0;  // Get() that found nothing
  uint64_t expired_keys = 0;     // keys removed because their TTL passed
  uint64_t evicted_keys = 0;     // live keys deleted by EvictUntil()
};

// Maps each key to one of `partitions` partitions. partition_of must be a
// pure function of the key with a result < partitions, and must not call
// into the store. partitions == 0 or no function: no partitioning.
struct Partitioner {
  uint32_t partitions = 0;
  std::function<uint32_t(std::string_view key)> partition_of;
};

// The owner of stale values (see the top of this file). Its calls must not
// call into the store.
class StaleValueOwner {
 public:
  virtual ~StaleValueOwner() = default;
  // The current bytes of `key`, whose stored value is stale.
  virtual std::string EncodeStale(std::string_view key) = 0;
  // The store now holds `value`, written back for `key` (no longer stale).
  virtual void WroteBack(std::string_view key, const std::string& value) = 0;
  // `key`'s stale value left the store without being written back.
  virtual void Discarded(std::string_view key) = 0;
};

class Store {
 public:
  Store();
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Read lookup: the live value of `key`, or nullptr. Counts a hit or miss
  // and records an access for eviction (as does every call below that takes
  // now_ms, except Exists, GetExpireAt, IdleTimeMs, LfuFrequency and Delete,
  // which match Redis's no-touch lookups).
  // The pointer is valid until the next call that mutates the store.
  const std::string* Get(std::string_view key, int64_t now_ms);

  // Introspection lookup (OBJECT, MEMORY USAGE): like Get() but records no
  // access and counts no hit or miss, as Redis's LOOKUP_NOTOUCH.
  const std::string* Peek(std::string_view key, int64_t now_ms);

  // Write lookup: like Get() but mutable and not counted as hit/miss. Edits
  // through the pointer must go through NoteResize() for memory accounting.
  std::string* GetMutable(std::string_view key, int64_t now_ms);

  // Tells the store that a value obtained from GetMutable() changed size
  // from `old_size` bytes (memory accounting).
  void NoteResize(size_t old_size, size_t new_size);

  // Counts a hit or miss for a read answered without Get() (a value the
  // caller already holds, as a coordinator's quorum read).
  void CountLookup(bool hit) { ++(hit ? stats_.keyspace_hits : stats_.keyspace_misses); }

  // True if `key` is live at now_ms (no hit/miss counting).
  bool Exists(std::string_view key, int64_t now_ms);

  // Sets `key` to `value`. expire_at_ms is the absolute expiry (0 = none);
  // any previous TTL is replaced. now_ms stamps the access (a new key
  // starts with a fresh LRU clock or an LFU count of 5; an overwritten key
  // is touched, and keeps its LFU count, as in Redis).
  void Set(std::string_view key, std::string value, int64_t expire_at_ms, int64_t now_ms);
  // As above, stamping the access with the latest now_ms any call has passed
  // in (0 before the first). Prefer the four-argument form.
  void Set(std::string_view key, std::string value, int64_t expire_at_ms);

  // Sets `key` to `value` keeping the key's current TTL if it is live.
  void SetKeepTtl(std::string_view key, std::string value, int64_t now_ms);

  // Removes `key`. True if a live key was removed.
  bool Delete(std::string_view key, int64_t now_ms);

  // Expiry of `key`: nullopt if the key is absent, 0 if it has no TTL, else
  // the absolute expiry time in ms.
  std::optional<int64_t> GetExpireAt(std::string_view key, int64_t now_ms);

  // Sets the absolute expiry of a live key. False if the key is absent.
  // An expiry at or before now_ms deletes the key (as Redis does).
  bool SetExpireAt(std::string_view key, int64_t expire_at_ms, int64_t now_ms);

  // Removes the TTL of a live key. True if it had one.
  bool Persist(std::string_view key, int64_t now_ms);

  // Number of keys, including expired ones not yet reclaimed (as DBSIZE).
  size_t size() const;
  // Number of keys carrying a TTL.
  size_t expires_size() const;

  // One step of a SCAN iteration, with Redis's guarantees (dictScan's
  // reverse-binary cursor): a full iteration starting and ending at cursor 0
  // returns every key present during the whole iteration at least once, even
  // while the table grows, shrinks or rehashes; keys may be returned twice.
  // Visits buckets until about `count` entries were seen (at least one
  // bucket). Expired keys are skipped (not deleted). Returns the next cursor,
  // 0 when the iteration is complete.
  uint64_t Scan(uint64_t cursor, size_t count, int64_t now_ms,
                const std::function<void(const EntryView&)>& fn) const;

  // Calls fn for every live key (for KEYS and FLUSHALL-style walks). Must not
  // mutate the store from fn.
  void ForEach(int64_t now_ms, const std::function<void(const EntryView&)>& fn) const;

  // A random live key, or nullopt if there is none. `random` is a caller
  // supplied random 64-bit number (keeps this class deterministic in tests).
  std::optional<std::string> RandomKey(int64_t now_ms, uint64_t random);

  // Active expiry, as Redis's activeExpireCycle: samples up to 20 keys that
  // carry a TTL, deletes the expired ones, and repeats while more than 25% of
  // a sample had expired, stopping after `max_samples` samples in total.
  // `random` seeds the sampling. Returns the number of keys deleted.
  // In keep-expired mode the expired keys are not deleted: each loses its
  // TTL (it leaves the TTL index) and its name is appended to *expired,
  // which must then be non-null, for the owner to rewrite. They are counted
  // in the return value and in stats().expired_keys all the same.
  size_t ActiveExpireCycle(int64_t now_ms, size_t max_samples, uint64_t random,
                           std::vector<std::string>* expired = nullptr);

  // The average TTL left on keys with one, in ms, as ActiveExpireCycle's
  // samples estimate it (a running average, as Redis's db->avg_ttl); 0
  // before any sample.
  int64_t avg_ttl_ms() const { return avg_ttl_ms_; }

  // Keep-expired mode (see the top of this file). Off by default.
  void set_keep_expired(bool keep) { keep_expired_ = keep; }
  bool keep_expired() const { return keep_expired_; }

  // Moves incremental rehashing forward by up to `buckets` buckets. Returns
  // true if more rehashing work remains. (Operations also rehash a little.)
  bool RehashStep(size_t buckets);

  // Removes every key.
  void Clear();

  // Hands every value buffer of kReleaseBytes or more that the store lets
  // go of (overwrite, delete, expiry, eviction) to `release` instead of
  // freeing it here: the server frees big values on another thread, as
  // Redis's lazyfree, so that DEL of a 512 MB value does not stall the loop
  // while the kernel unmaps it. `release` must not call into the store.
  // It must take the buffer (move from it). Empty (the default) = freed in
  // place. Clear() hands them over too.
  void SetBigValueReleaser(std::function<void(std::string&&)> release) {
    release_ = std::move(release);
  }
  static constexpr size_t kReleaseBytes = 1u << 20;

  // Approximate bytes held by the keyspace (entries, keys, values, tables,
  // indexes).
  size_t used_bytes() const;
  // The part of used_bytes() held by the partition index.
  size_t partition_bytes() const { return partition_bytes_; }

  // --- Eviction ---------------------------------------------------------

  // Sets the policy and the tuning knobs (maxmemory-policy,
  // maxmemory-samples, lfu-log-factor, lfu-decay-time). Empties the eviction
  // pool, whose scores were computed under the old settings. Existing keys
  // keep their metadata bits (see eviction.h). Default: noeviction.
  void SetEvictionConfig(const EvictionConfig& config);
  // Shorthand: changes only the policy and maxmemory-samples.
  void SetEvictionPolicy(EvictionPolicy policy, size_t samples = EvictionConfig::kDefaultSamples);
  const EvictionConfig& eviction_config() const { return eviction_; }

  // Called with the key of every key EvictUntil() deletes, after it left the
  // keyspace and before its memory is freed (for the append-only log). Keys
  // that EvictUntil() finds already expired are reclaimed silently, as any
  // lazy expiry. The observer must not call into the store. Empty = none.
  void SetEvictionObserver(std::function<void(std::string_view key)> observer);

  // Makes room before a write, as Redis's performEvictions(): the server
  // calls it before every command flagged denyoom when maxmemory > 0.
  //
  // `measure` returns the memory in use (the server: jemalloc's
  // stats.allocated less what it does not count; tests: used_bytes()); an
  // empty function means used_bytes(). It is called once first, then once
  // after every deletion, and eviction stops as soon as it returns
  // <= maxmemory. Candidates come from every key (allkeys-*) or from the
  // keys with a TTL (volatile-*), ranked as eviction.h describes; `random`
  // seeds the sampling.
  //
  // Returns the number of live keys evicted (already expired keys reclaimed
  // on the way are counted in stats().expired_keys, not here) when memory is
  // now <= maxmemory, OR when the call stopped at max_evictions_per_call while
  // still making progress (Redis's EVICT_RUNNING: the command may run; the
  // server should call again, e.g. from its cron, until memory is under).
  // Returns Code::kOutOfMemory when memory is over
  // maxmemory and nothing (more) can be evicted: under noeviction always,
  // under volatile-* when no key has a TTL, or when the store is empty.
  // The command layer then replies Redis's OOM error (facade/errors.h).
  Result<size_t> EvictUntil(size_t maxmemory, int64_t now_ms, uint64_t random,
                            const std::function<size_t()>& measure = {});

  // OBJECT IDLETIME: ms since the last access of a live key at LRU clock
  // resolution (1 s), nullopt if absent. Meaningful under non-LFU policies.
  std::optional<uint64_t> IdleTimeMs(std::string_view key, int64_t now_ms);
  // OBJECT FREQ: the decayed LFU counter of a live key, nullopt if absent.
  // Meaningful under LFU policies.
  std::optional<uint8_t> LfuFrequency(std::string_view key, int64_t now_ms);

  // --- Stale values -----------------------------------------------------

  // The owner asked for the bytes of stale values (nullptr: none; then
  // nothing may be marked stale). Must outlive the store or be unset after
  // every stale value was written back.
  void SetStaleValueOwner(StaleValueOwner* owner) { stale_owner_ = owner; }
  // Marks `key`'s value stale: the owner now holds its newest content. Sets
  // the expiry (0 = none) and records an access as Set() does; the stored
  // bytes stay as they are (the owner may compare them, see PeekStale) until
  // written back. `estimated_size`: the bytes the value will take once
  // written back, charged in used_bytes() meanwhile (a dirty value counts as
  // big as it will be). False (nothing done) if the key is absent.
  bool MarkStale(std::string_view key, int64_t expire_at_ms, int64_t now_ms, size_t estimated_size);
  // The owner's lookup: as GetMutable() (records an access if `touch`, lazy
  // expiry) or Peek(), but a stale value is handed out as it is, with
  // *stale set. Only the owner may use it: it alone knows what the bytes
  // stand for.
  const std::string* GetStale(std::string_view key, int64_t now_ms, bool touch, bool* stale);
  // Writes `key`'s value back now if it is stale (asks the owner); returns
  // the value (nullptr if absent). Records no access.
  const std::string* WriteBack(std::string_view key, int64_t now_ms);
  // The owner writes back itself: installs `value` as `key`'s bytes if its
  // value is stale (no call to the owner); otherwise does nothing.
  void WriteBack(std::string_view key, std::string value);
  // Writes back every stale value. Logically const: a write-back changes
  // how a value is held, not what the store holds (the const walks do it).
  void WriteBackAll() const;
  // Keys whose value is stale now.
  size_t stale_count() const { return stale_.size(); }

  // --- Partitions -------------------------------------------------------

  // Indexes every key by partition (or, given no partitioning, drops the
  // index). Replacing the partitioner (the ring changed size) re-indexes
  // every key: O(keys). While set, each insert and delete calls
  // partition_of once (one ring hash), and the index costs 8 bytes per key
  // plus vector slack (a pointer in its partition's array; the entry's slot
  // number sits in what was padding). Without a partitioner it costs nothing.
  void SetPartitioner(Partitioner partitioner);
  // The partition count, 0 when keys are not partitioned.
  uint32_t partitions() const { return static_cast<uint32_t>(partition_index_.size()); }

  // Keys in `partition`, including expired ones not yet reclaimed (as
  // size()). 0 for a partition out of range or without a partitioner.
  size_t PartitionSize(uint32_t partition) const;

  // Calls fn for every live key of `partition`, in no particular order, in
  // O(keys in the partition). Nothing is called for a partition out of range
  // or without a partitioner. Expired keys are skipped, not deleted. Must not
  // mutate the store from fn (collect keys first to move or delete them).
  void ForEachInPartition(uint32_t partition, int64_t now_ms,
                          const std::function<void(const EntryView&)>& fn) const;

  // One step of a walk over `partition` that survives changes between
  // steps (partition transfer): visits the entries at index positions below
  // `bound` (clamped to the partition's size; start with UINT64_MAX),
  // highest first, up to `count` of them (at least one), and returns the
  // next bound, 0 when the walk is complete. Entries present during the
  // whole walk are visited at least once: a removal moves the partition's
  // last entry, already visited, into the freed slot. Entries added during
  // the walk may be missed. Expired entries are skipped (outside
  // keep-expired mode). Must not mutate the store from fn.
  uint64_t ScanPartition(uint32_t partition, uint64_t bound, size_t count, int64_t now_ms,
                         const std::function<void(const EntryView&)>& fn) const;

  const StoreStats& stats() const { return stats_; }
  void ResetStats() { stats_ = {}; }

 private:
  // Whether lookups and walks treat `e` as gone at now_ms: its TTL passed,
  // outside keep-expired mode.
  bool Expired(const DictEntry& e, int64_t now_ms) const;
  enum class Touch { kNo, kYes };
  // The live entry for `key`, or nullptr; deletes it if expired (lazy
  // expiry). With Touch::kYes records an access.
  DictEntry* FindLive(std::string_view key, int64_t now_ms, Touch touch);
  // Records an access to `entry` at now_ms.
  void TouchEntry(DictEntry* entry, int64_t now_ms);
  // Remembers the latest time seen, for the three-argument Set().
  void NoteTime(int64_t now_ms) { latest_now_ms_ = std::max(latest_now_ms_, now_ms); }
  // The next key to evict under the current policy, or nullptr if none.
  DictEntry* PickVictim(int64_t now_ms, uint64_t* random_state);
  // Refills pool_ with up to eviction_.samples sampled candidates. False if
  // the population (all keys or keys with a TTL) is empty.
  bool FillPool(int64_t now_ms, uint64_t* random_state);
  // Unlinks an entry, tells the observer, frees it and counts it.
  void Evict(DictEntry* entry);
  // Unlinks, unindexes and frees an entry that is in the table.
  void Remove(DictEntry* entry);
  // Frees an entry already unlinked from the table.
  void Drop(DictEntry* entry);
  // Sets or clears (expire_at_ms == 0) an entry's expiry, keeping expires_
  // in step.
  void SetExpiry(DictEntry* entry, int64_t expire_at_ms);
  // Replaces an entry's value, keeping the byte count in step (a stale
  // value is discarded: the owner is told).
  void ReplaceValue(DictEntry* entry, std::string value);
  // Stale values: whether `entry`'s is, the end of its staleness (the byte
  // count goes back to its bytes; the owner is not told), the write-back
  // of one entry.
  static bool IsStale(const DictEntry& entry);
  // The heap bytes a value of `size` characters is charged.
  static size_t ChargedValueBytes(size_t size);
  void Unstale(DictEntry* entry);
  void WriteBackEntry(DictEntry* entry);
  void WriteBackEverything();
  // Gives a big value buffer to release_ (see SetBigValueReleaser).
  void Release(std::string& value) {
    if (release_ && value.capacity() >= kReleaseBytes) release_(std::move(value));
  }
  // The partition of a key under the partitioner (partitions() > 0).
  uint32_t PartitionOf(std::string_view key) const;
  // Adds a new entry to / removes an entry from its partition's index, when
  // keys are partitioned.
  void IndexPartition(DictEntry* entry);
  void UnindexPartition(DictEntry* entry);

  std::unique_ptr<Dict> dict_;
  // Every entry with a TTL, in no order; entry->expiry_index is its slot.
  // Lets ActiveExpireCycle() sample uniformly in O(1).
  std::vector<DictEntry*> expires_;
  int64_t avg_ttl_ms_ = 0;
  // With a partitioner: for each partition, its entries in no order;
  // entry->partition_slot is the position. Entries never move in memory, so
  // the index is unaffected by the dict's rehashing.
  Partitioner partitioner_;
  std::vector<std::vector<DictEntry*>> partition_index_;
  size_t partition_bytes_ = 0;  // the index's arrays (capacity, not size)
  // Bytes of entry allocations and value buffers (jemalloc size classes).
  size_t entry_bytes_ = 0;
  StoreStats stats_;

  EvictionConfig eviction_;
  EvictionPool pool_;
  std::vector<DictEntry*> sample_buffer_;  // FillPool()'s scratch
  std::function<void(std::string_view)> eviction_observer_;
  std::function<void(std::string&&)> release_;
  // Drives the LFU counter's coin flips; deterministic from construction.
  uint64_t access_random_state_ = 0x1f0a2b3c4d5e6f70ULL;
  int64_t latest_now_ms_ = 0;
  bool keep_expired_ = false;
  // Entries whose value is stale (their access word's stale bit is set),
  // each with the value bytes it is charged in entry_bytes_ meanwhile.
  StaleValueOwner* stale_owner_ = nullptr;
  std::unordered_map<DictEntry*, size_t> stale_;
};

}  // namespace shoal::storage
