#pragma once
// Keyspace: the versioned view of the node's store. Every key's value in the
// Store is an Object (storage/object.h) in its local encoding; Keyspace
// decodes, applies the Dynamo rules and encodes back, so that commands speak
// in values, contexts and versions and never see the encoding.
//
//   reads    Get() (GET's view: absent, one value, or siblings), Single()
//            (what read-modify-write commands need: refuses siblings with
//            CONFLICT), Load() (the whole object, for GETV and replication).
//   writes   Put() for plain writes (SET, DEL, EXPIRE...: supersede every
//            version this node has seen), Update() for writes with a client
//            context (SETV, DELV), IncrBy() for the convergent counter,
//            Merge() for versions from elsewhere (log replay; replicas).
//   containers (hashes, sets, sorted sets; storage/object.h "Convergent
//            containers"): Type(); ReadHash/ReadSet/ReadZset (the joined
//            state, for reads); HashGet/SetContains/ZsetScore (one element,
//            without decoding a big container); ModifyHash/ModifySet/
//            ModifyZset (every write: a read-modify-write of the joined
//            state, as IncrBy). Delete() and SetExpiry() work on every type.
//            Commands of one type on a key of another get kWrongType
//            ("WRONGTYPE ..."), GET and the string commands too.
//
// Rules applied on every write: `conflict-resolution lww` resolves siblings
// at once; a write that would leave more than `max-siblings` siblings is
// refused with "CONFLICT <n> siblings ..." (never dropped silently); passing
// `siblings-warn` counts a warning. Keys whose versions are all tombstones
// are removed from the store (see KeyspaceOptions::keep_tombstones).
//
// Dot counters: the counter a write's dot gets is also at least the node's
// DotCounter (never reused across restarts, see dot_counter.h), so that a
// client context issued before a key was deleted and purged cannot cover a
// version written after.
//
// Dead keys in a cluster (KeyspaceOptions::keep_tombstones): a replica keeps
// what a lone node forgets — a key whose versions are all tombstones, and a
// key whose versions expired (the store is in keep-expired mode, see
// storage/store.h). Every save compacts expired versions to their remains
// (Object::CompactExpired), so an expired session key costs its key and a
// few dozen bytes of clock, not its value, and still dominates older
// versions other replicas hold. Such keys read as absent everywhere; they
// leave the store only through Purge(), once the cluster agreed
// (cluster/tombstone_reaper.h).
//
// Every change is published on changes() (storage/change_feed.h: the
// append-only log, the replication of a coordinated write) with the key's
// new object, tombstones included, after it is applied.
//
// Container deltas (storage/container_delta.h): a container write whose base
// is one container version of its type, without TTL, also publishes the
// write's delta (Change::delta()) when a listener wants deltas
// (ChangeListener::WantsDeltas: a running log, a cluster) and its encoding
// is below half the new object's (the encoding's size when the save
// encodes; a lazy save's estimate, see "Lazy encoding"), so that a
// one-member SADD on a big set is logged and shipped as a few dozen bytes.
// The delta is made from the names the command touched (the state records
// them while the command runs: OrMapJournal in storage/or_map.h), not from
// a copy of the container before the write: it costs the write's size.
// ApplyDelta() redoes such a write here. The base must be
// exactly the store's copy (a pinned merge that differs makes no delta), so
// that the log, replayed in order, always holds the delta's base; and
// without TTL the base is never compacted or expired between two writes.
//
// Container cache (storage/container_cache.h): every save of a container
// object keeps the object it stored, decoded, in a bounded LRU cache, so
// that the next write of the key (Modify, Merge) takes it instead of
// decoding the stored bytes, and moves its state instead of copying it
// (TakeViewOf) when the key is one container version; reads (Read*, Type,
// Load) use it instead of decoding. The cache holds exactly what decoding
// the store's bytes gives: every Save refreshes or erases the key's entry,
// Forget/Purge erase it, FlushAll clears it, and each use checks the entry
// against the store's current buffer, which catches deletions behind the
// keyspace's back (eviction, expiry, the log's drop records). Pins bypass
// it for reads.
//
// Lazy encoding (write-back; ContainerCacheOptions::write_back): a
// container write of a key the cache holds (the store's bytes and their
// element count known) does not encode the container: the new object goes
// into the cache as a dirty entry and the store marks the key's value
// stale (Store::MarkStale: the TTL and the access are recorded at once, the
// bytes stay as they were). The encoding is made later, once, when
// something needs the bytes: the store asks the keyspace (EncodeStale)
// before any lookup or walk hands them out, and the cache writes a dirty
// entry back before it drops it (LRU, bounds). Invariant: a key's stored
// value is stale exactly while the cache holds its newest object as a dirty
// entry (or, during the one save being published, pending_ holds it); so
// every reader of bytes, inside the keyspace (through the store's writing-
// back lookups, or the cached object first: Lookup) or above it (GET, DUMP,
// MEMORY USAGE, SCAN, the log rewrite, the cluster's walks), sees exactly
// the bytes an eager save would have stored. A stale value that leaves the
// store unread (DEL, overwrite, expiry, eviction, FlushAll, the log's drop
// records) takes its dirty entry with it (Discarded). A cluster replica
// (keep_tombstones) saves lazily only live containers without TTL: those
// are never dead (the dead-key gauges read no bytes for a stale value) and
// never compacted. Writes stay eager for the first write after a cache
// miss, every max_lazy_writes-th write of a
// key in a row (it refreshes the size estimate the dirty entry is charged
// for), and a write whose delta is not below half the estimate (its change
// carries the whole object). A write that publishes a delta (the log with
// `appendonly yes`) is otherwise lazy: a delta is kept when below half the
// estimate, not the encoding, so a lazy node may publish a delta where an
// eager one would publish the whole object (both replay to the same
// object). Changes are otherwise published as an eager save would, with the
// object, at every write: WATCH sees no difference.
//
// Pure logic over the Store: time is passed in. Not thread safe.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/actor_table.h"
#include "storage/change_feed.h"
#include "storage/container_cache.h"
#include "storage/dot_counter.h"
#include "storage/dvv.h"
#include "storage/object.h"
#include "storage/status.h"
#include "storage/store.h"

namespace shoal::storage {

struct KeyspaceOptions {
  bool lww = false;           // conflict-resolution lww
  size_t siblings_warn = 25;  // warn (count) past this many siblings on one key
  size_t max_siblings = 100;  // refuse writes past this many
  // A single node can forget a key once its last version is a tombstone; a
  // replica in a cluster must keep tombstones until every replica has them.
  bool keep_tombstones = false;
  // The decoded container objects kept for the next write (see "Container
  // cache" above); max_keys 0 disables it.
  ContainerCacheOptions container_cache = {};
};

struct KeyspaceStats {
  uint64_t sibling_warnings = 0;  // writes that left a key past siblings-warn
  uint64_t conflicts = 0;         // writes refused past max-siblings
  uint64_t tombstones_purged = 0;
  // Keys held dead (tombstones only, remains of expired versions included)
  // and their bytes (key + stored object), kept only with keep_tombstones.
  // Gauges; a dead key deleted behind the keyspace's back (eviction, log
  // replay's drop records) is not subtracted, so treat them as approximate
  // under maxmemory eviction.
  uint64_t tombstones_held = 0;
  uint64_t tombstone_bytes = 0;
};

class Keyspace : private StaleValueOwner {
 public:
  // All references must outlive the Keyspace. `self` is this node's actor.
  // The keyspace owns the store's stale values (Store::SetStaleValueOwner)
  // while it lives; its destruction writes them back.
  Keyspace(::shoal::storage::Store& store, ActorTable& actors, ActorId self, DotCounter& dots,
           KeyspaceOptions options = {});
  ~Keyspace() override;
  Keyspace(const Keyspace&) = delete;
  Keyspace& operator=(const Keyspace&) = delete;

  // keep_tombstones also puts the store in keep-expired mode.
  void set_options(const KeyspaceOptions& options);
  const KeyspaceOptions& options() const { return options_; }
  // A lone node: not a cluster member, now or before (no keep_tombstones).
  // No other copy of its keys exists, so no write elsewhere is concurrent
  // with one of its own: a write that would only re-assert what the state
  // holds (an SADD of a member already there) may be left out, as Redis
  // does, where a replica must write it.
  bool Lone() const { return !options_.keep_tombstones; }
  // Where every change and flush is published.
  ChangeFeed& changes() { return changes_; }
  // Called when a write leaves `key` with more than siblings-warn siblings.
  using SiblingWarning = std::function<void(std::string_view key, size_t siblings)>;
  void set_sibling_warning(SiblingWarning fn) { sibling_warning_ = std::move(fn); }
  const KeyspaceStats& stats() const { return stats_; }
  // Counts every change (each write, merge and flush). A copy taken when
  // this was N is still the store's content if it is still N.
  uint64_t change_count() const { return change_count_; }
  ::shoal::storage::Store& store() { return store_; }
  ActorTable& actors() { return actors_; }
  ActorId self() const { return self_; }
  // The decoded-container cache (INFO's container_cache_* fields).
  const ContainerCache& container_cache() const { return cache_; }

  // --- who writes --------------------------------------------------------
  //
  // A write's dot and counter entry name the actor that wrote it: this
  // node's, except inside a WriterScope. Its dot covers every earlier dot of
  // that actor (version vectors), so an actor may only write a key whose
  // local copy holds all its earlier writes of it. This node's own actor
  // always does where it is a primary. A fallback that coordinates (no
  // primary of the key reachable, cluster/route.cc) may have forgotten its
  // copy of an earlier stand-in (cluster/partition_transfer.h): it writes as
  // StandInWriter(), an actor derived from this node's id and an epoch that
  // changes whenever this node forgets keys (Forget, FlushAll) and at every
  // start, so none of its writes predate what the store holds. A node that
  // starts after a crash writes as one for its whole run (a scope that lives
  // as long as the server, see storage/clean_shutdown.h); scopes nest.
  class WriterScope {
   public:
    WriterScope(Keyspace& keyspace, ActorId writer)
        : keyspace_(keyspace), previous_(keyspace.writer_) {
      keyspace_.writer_ = writer;
    }
    ~WriterScope() { keyspace_.writer_ = previous_; }
    WriterScope(const WriterScope&) = delete;
    WriterScope& operator=(const WriterScope&) = delete;

   private:
    Keyspace& keyspace_;
    ActorId previous_;
  };
  // The actor writes are made as now.
  ActorId writer() const { return writer_; }
  // The stand-in actor of the current epoch (interned); fails only when the
  // actor table is full.
  Result<ActorId> StandInWriter();

  // --- reads -----------------------------------------------------------

  // GET's view of a key: count 0 is absent; otherwise the values are
  // `siblings` when it is not empty (several values, or one that had to be
  // decoded, e.g. a counter), else `single`, a view into the store valid
  // until its next change. value(i) hides the difference.
  struct View {
    size_t count = 0;
    std::string_view single;
    std::vector<std::string> siblings;
    std::string_view value(size_t i) const {
      return siblings.empty() ? single : std::string_view(siblings[i]);
    }
  };
  // Counts a keyspace hit or miss. Fails only if the stored bytes are
  // damaged (Code::kCorruption).
  Result<View> Get(std::string_view key, int64_t now_ms);

  // The one live value for a read-modify-write command: nullopt if absent;
  // Code::kConflict ("CONFLICT <n> siblings ...") if there are several.
  Result<std::optional<std::string>> Single(std::string_view key, int64_t now_ms);

  // The whole object (empty if the key is absent from the store).
  Result<Object> Load(std::string_view key, int64_t now_ms);
  // Load() without recording an access or a hit (Store::Peek): for
  // introspection (OBJECT, MEMORY USAGE), which must not change what
  // eviction sees.
  Result<Object> Peek(std::string_view key, int64_t now_ms);
  // Appends the node-id encoding (Object::EncodeWithNodeIds) of the key's
  // stored object, read as Peek() reads it but from the container cache
  // when it holds the key (no copy, no write-back). False, and nothing
  // appended, if the key is absent, has no version or does not decode.
  bool EncodeWithNodeIds(std::string_view key, int64_t now_ms, std::string* out);
  // The causal digest (storage/container_delta.h BaseDigest) of the key's
  // object when the container cache holds it: O(versions x actors), never
  // O(elements), and remembered in the cache entry until the object
  // changes. nullopt if the cache does not hold the key (strings are never
  // cached) or the object has no version.
  std::optional<uint64_t> CachedBaseDigest(std::string_view key, int64_t now_ms);

  // True if the key has a live version.
  bool Exists(std::string_view key, int64_t now_ms);

  // The key's expiry as TTL and friends show it: nullopt if the key has no
  // live version, 0 if it has no TTL, else the absolute expiry in ms.
  std::optional<int64_t> ExpireAt(std::string_view key, int64_t now_ms);

  // TYPE: the key's type (Object::TypeAt), kNone if absent.
  Result<KeyType> Type(std::string_view key, int64_t now_ms);

  // The joined state of a container key for a read command, with its TTL
  // and whether the key exists (an absent key reads as an empty state).
  // kWrongType if the key holds another type.
  Result<ContainerView<OrHash>> ReadHash(std::string_view key, int64_t now_ms);
  Result<ContainerView<OrSet>> ReadSet(std::string_view key, int64_t now_ms);
  Result<ContainerView<OrZset>> ReadZset(std::string_view key, int64_t now_ms);

  // One element, for HGET/HEXISTS/HSTRLEN, SISMEMBER, ZSCORE: decodes only
  // the element when the key is one container version (the common case),
  // else as the Read* above. kWrongType as above.
  Result<std::optional<std::string>> HashGet(std::string_view key, std::string_view field,
                                             int64_t now_ms);
  Result<bool> SetContains(std::string_view key, std::string_view member, int64_t now_ms);
  Result<std::optional<double>> ZsetScore(std::string_view key, std::string_view member,
                                          int64_t now_ms);

  // The key's object as a save at now_ms would store it: Load() with
  // expired versions compacted to their remains (empty if absent). What the
  // tombstone reaper compares across replicas.
  Result<Object> Settled(std::string_view key, int64_t now_ms);

  // --- writes ----------------------------------------------------------

  // A plain write: supersedes every version this node has seen.
  Status Put(std::string_view key, Version version, int64_t now_ms);
  // A write with a client context: supersedes the versions it covers.
  // Code::kConflict past max-siblings.
  Status Update(std::string_view key, const VersionVector& context, Version version,
                int64_t now_ms);
  // INCRBY: the convergent counter. Returns the new value. kNotInteger,
  // kOverflow ("increment or decrement would overflow") and kConflict as
  // Object::CounterForUpdate and PnCounter::Add.
  Result<int64_t> IncrBy(std::string_view key, int64_t delta, int64_t now_ms);
  // DEL: if the key is live, writes a tombstone — or, for a container, its
  // empty state with its clock (an observed remove of everything this node
  // has seen: a concurrent add elsewhere survives). True if it was live.
  Result<bool> Delete(std::string_view key, int64_t now_ms);
  // EXPIRE, PERSIST, GETEX: rewrites the key's one live value (a string, the
  // joined counter, or the joined container) with a new absolute expiry (0 =
  // none); an expiry at or before now deletes it (Delete). Code::kNotFound
  // if the key is absent, Code::kConflict if it has string siblings.
  Status SetExpiry(std::string_view key, int64_t expire_at_ms, int64_t now_ms);
  // Every write of a container command, modelled on IncrBy:
  //   1. the key's joined state of the type (empty if absent), its TTL;
  //   2. fn(state, write): the command changes `state`, tagging what it adds
  //      with write.dot (the dot this write's version gets) and write.now_ms
  //      (register timestamps). It returns true to store the result, false
  //      when nothing changed (nothing is written), or an
  //      error (nothing written; returned as is). On false or an error
  //      `state` must be as fn got it: a dirty cached object is given back
  //      to the cache as it is (it is the key's only current copy, see
  //      "Lazy encoding"), so a change fn made before failing would stay.
  //      fn must not call into the keyspace. It may set
  //      write.expire_at_ms (starts as the key's TTL, which Redis keeps on
  //      every hash/set/zset write; 0 = none: the *STORE commands, which
  //      replace the destination, set it to 0 after state.Clear()).
  //   3. the state is stored as one Put() of a container version (an empty
  //      state too: it reads as absent, see Delete), superseding every
  //      version this node has, and published on changes().
  // kWrongType (before fn runs) if the key holds another type.
  struct ContainerWrite {
    Dot dot;                   // the dot of the version this write stores
    int64_t now_ms = 0;        // the write's timestamp
    int64_t expire_at_ms = 0;  // the TTL the result keeps (in/out)
    bool existed = false;      // the key held a live value of the type
  };
  template <typename State>
  using ContainerFn = std::function<Result<bool>(State& state, ContainerWrite& write)>;
  Status ModifyHash(std::string_view key, int64_t now_ms, const ContainerFn<OrHash>& fn);
  Status ModifySet(std::string_view key, int64_t now_ms, const ContainerFn<OrSet>& fn);
  Status ModifyZset(std::string_view key, int64_t now_ms, const ContainerFn<OrZset>& fn);

  // Merges versions from elsewhere (log replay, replicas).
  Status Merge(std::string_view key, const Object& remote, int64_t now_ms);
  // Redoes a container write made elsewhere from its delta (log replay,
  // replicas): the key then holds the object the writer made, and the
  // change is published with the same delta. kCorruption if `delta` does
  // not decode; kStale (nothing changed) if this copy is not the object the
  // delta was computed from — the sender must send the whole object.
  Status ApplyDelta(std::string_view key, std::string_view delta, int64_t now_ms);
  // Removes every key.
  void FlushAll();
  // Removes `key` from this replica without writing a tombstone (a replica
  // that no longer holds the key's partition drops its copy). Publishes the
  // key with an empty object: listeners treat that as "gone". True if the
  // key was stored and not expired.
  bool Forget(std::string_view key, int64_t now_ms);

  // Active expiry (the server's cron). Outside a cluster, the store's own
  // (keys deleted). With keep_tombstones, each key whose TTL passed is
  // saved again, which compacts its expired versions to their remains and
  // publishes the change. Returns the keys expired.
  size_t ActiveExpireCycle(int64_t now_ms, size_t max_samples, uint64_t random);

  // Forgets a dead key for good: removes it if Settled(key) has no live
  // version and equals `expected` (compare-and-delete: a write that landed
  // since the caller looked keeps the key), counts tombstones_purged and
  // publishes the change with an empty object (Size() == 0: the key is
  // gone). True if it was removed. Only the cluster's tombstone reaper
  // calls it, once every replica holds `expected` (see
  // cluster/tombstone_reaper.h).
  Result<bool> Purge(std::string_view key, const Object& expected, int64_t now_ms);

  // --- a command on a given object ---------------------------------------

  // While a Pin lives, every read of `key` above (and the read each write
  // starts from) uses `object` instead of the store. A coordinator pins the
  // merge of a quorum read, so the command runs on what the replicas agreed
  // on without looking the key up again. `object` must be at least as new as
  // the store's copy (the coordinator saves the merge first when the local
  // copy lacked something), and both must outlive the Pin. Pins do not nest.
  // The first write of the key ends the pin: the store then holds the newest.
  class Pin {
   public:
    Pin(Keyspace& keyspace, std::string_view key, const Object& object);
    ~Pin();
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;

   private:
    Keyspace& keyspace_;
  };

 private:
  // Stores `obj` under `key` (or removes the key when nothing live and
  // tombstones need not be kept) and publishes the change. A big value may
  // be moved out of `obj` into the store (see Encode); a container object
  // is moved into the cache (`obj` is not to be used afterwards). `delta`: the write's
  // encoded ContainerDelta giving `obj` from the stored copy, or empty; it
  // is published only if `obj` is stored as it is (no lww resolution or
  // compaction) and the delta is below half the stored encoding.
  void Save(std::string_view key, Object& obj, int64_t now_ms, std::string_view delta = {});
  // The container version of kind `kind` a write's delta can start from:
  // the key's only version, of that kind, without TTL, and (when the key is
  // pinned) equal to the store's copy. nullptr if there is none, or if no
  // listener wants deltas.
  const Version* DeltaBase(std::string_view key, const Object& obj, VersionKind kind,
                           int64_t now_ms);
  // obj's local encoding; a one-sibling bytes value of kMoveValueBytes or
  // more is moved into it (Object::EncodeMovingValue) and *moved views it.
  static std::string Encode(Object& obj, std::string_view* moved);
  static constexpr size_t kMoveValueBytes = 64u << 10;
  Status CheckSiblings(size_t after);
  // Keeps tombstones_held / tombstone_bytes in step with the entry of `key`
  // about to be replaced or removed (sign -1) or just stored (sign +1).
  void CountDead(std::string_view key, int sign, int64_t now_ms);
  uint64_t NextDotFloor();
  // Load() for a write that replaces the key's object (Save): a cached
  // object is moved out of the cache rather than copied. *dirty: it came
  // from a dirty entry, the key's only current copy, which a write that does
  // not save it must give back (cache_.Restore).
  Result<Object> LoadForWrite(std::string_view key, int64_t now_ms, bool* dirty);
  // What the store holds for an unpinned key: the cached object (which
  // answers for a stale value) and/or the bytes (never stale: a stale
  // value without a cached object, the pending save's, is written back
  // first). Both null: absent. Records an access if `touch`.
  struct Stored {
    const Object* cached = nullptr;
    const std::string* bytes = nullptr;
  };
  Stored Lookup(std::string_view key, int64_t now_ms, bool touch = true);
  // Save's lazy path: marks `key`'s value stale and makes `out` the pending
  // object if the write may leave the encoding for later (see "Lazy
  // encoding"); false: Save encodes.
  bool SaveLazily(std::string_view key, const Object& out, int64_t expire_at_ms, int64_t now_ms,
                  size_t delta_size);
  // Writes the pending save's object into the store (a nested write or
  // flush comes during its publication).
  void FlushPending();
  // StaleValueOwner (storage/store.h), for the store's write-backs.
  std::string EncodeStale(std::string_view key) override;
  void WroteBack(std::string_view key, const std::string& value) override;
  void Discarded(std::string_view key) override;
  // After Save stored `obj` under `key`: moves it into the cache if it is a
  // container object (every sibling a container version), else forgets the
  // key's entry.
  void Remember(std::string_view key, Object& obj, int64_t now_ms);
  template <typename State>
  Result<ContainerView<State>> Read(std::string_view key, int64_t now_ms);
  template <typename State>
  Status Modify(std::string_view key, int64_t now_ms, const ContainerFn<State>& fn);
  // Re-puts the key's joined container of `type` (empty if `clear`) with
  // expiry `expire_at_ms`.
  Status PutContainer(std::string_view key, const Object& obj, KeyType type, bool clear,
                      int64_t expire_at_ms, int64_t now_ms);
  // The pinned object if `key` is pinned, else nullptr.
  const Object* Pinned(std::string_view key) const {
    return pinned_ != nullptr && key == pinned_key_ ? pinned_ : nullptr;
  }

  ::shoal::storage::Store& store_;
  ActorTable& actors_;
  ActorId self_;
  ActorId writer_;  // self_, or the innermost WriterScope's actor
  // The stand-in epoch: the dot counter when it was first needed since the
  // start or the last Forget/FlushAll (no write took a dot in between, so
  // its actor wrote nothing the store lacks). Unset until then.
  std::optional<uint64_t> stand_in_epoch_;
  std::optional<ActorId> stand_in_;
  DotCounter& dots_;
  KeyspaceOptions options_;
  KeyspaceStats stats_;
  ChangeFeed changes_;
  SiblingWarning sibling_warning_;
  uint64_t change_count_ = 0;
  std::vector<std::string> expired_scratch_;  // ActiveExpireCycle()'s
  std::string_view pinned_key_;
  const Object* pinned_ = nullptr;
  ContainerCache cache_;
  // The object of the lazy save being published (Save), not yet in the
  // cache: what a write-back of `pending_key_` encodes meanwhile.
  const Object* pending_ = nullptr;
  std::string_view pending_key_;
  ContainerCache::Base pending_base_;
  size_t pending_estimate_ = 0;
};

}  // namespace shoal::storage
