#pragma once
// PartitionTrees: one TicTacTree (cluster/tictac_tree.h) and one KeyDigests
// table (cluster/key_digests.h) per ring partition this node has keys in,
// kept current from the keyspace's change feed: anti-entropy's view of the
// local store.
//
// Upkeep (OnChange): a key's new object digest is XXH3-64 of the change's
// node-id bytes (Change::NodeIdBytes, computed once and shared with the
// log); the old digest comes from the KeyDigests table. So a write costs two
// hashes and a table probe, never a rebuild and never the previous object.
// An object of size 0 (the key is gone) and an evicted key (OnEvicted: the
// store's eviction observer tells only the key) take the key out. A flush
// empties every tree.
//
// Deferred digests: a change that carries a container delta (a one-field
// HSET or one-member SADD on a replica or its coordinator) does not encode
// the object then. The key is noted as pending in its partition, its old
// contribution left in place, and its digest is taken later, once, from the
// object as stored then (the encoder: Keyspace::EncodeWithNodeIds, the
// container cache's object) -- by whichever accessor reads the partition
// (tree, keys, ListSegments, Rebuild) or the key (DigestOf). So a run of
// writes to one container costs one encoding, not one per write, and
// readers see exactly the digests eager upkeep would have given. At most
// max_pending keys wait (kDefaultMaxPending); past that a change is digested
// at once. Changes without a delta (strings, merges, deletes, expiry) are
// digested at once, and take the key out of the pending set.
//
// Keys that leave the store without telling anyone -- lazy and active
// expiry -- keep their last contribution until their partition is rebuilt.
// Both replicas of an expired object keep the same contribution, so trees
// still agree; a listing skips expired keys on both sides, so no repair is
// attempted for them. Rebuild() counts them as mismatches.
//
// Building: while disabled nothing is kept and writes cost nothing. Enable()
// marks every partition unbuilt; BuildStep() builds whole partitions from
// the store within a key budget; changes to an unbuilt partition are
// ignored (its build reads the store as it then is). Only built partitions
// are compared.
//
// Memory: TicTacTree::kBytes (8448) per partition with keys, allocated on
// its first key and freed with its last; KeyDigests at about 24-28 bytes a
// key; about 100 bytes of bookkeeping per partition; a pending key its name
// and about 48 bytes. bytes() reports the total.
//
// Pure logic over the Store: no loop, time passed in. Not thread safe.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "cluster/key_digests.h"
#include "cluster/tictac_tree.h"
#include "storage/actor_table.h"
#include "storage/change_feed.h"
#include "storage/store.h"

namespace shoal::cluster {

// What one rebuild found.
struct RebuildResult {
  size_t keys = 0;        // keys read from the store
  size_t mismatches = 0;  // keys whose kept digest was wrong or missing or stale
};

class PartitionTrees : public storage::ChangeListener {
 public:
  // Appends the node-id encoding of a key's object as stored now; false if
  // the key is absent (see "Deferred digests").
  using Encoder = std::function<bool(std::string_view key, std::string* out)>;
  static constexpr size_t kDefaultMaxPending = 4096;

  // `store` and `actors` must outlive this (the keyspace's).
  PartitionTrees(const storage::Store& store, const storage::ActorTable& actors)
      : store_(store), actors_(actors) {}

  // Digests of delta changes are deferred only once an encoder is set.
  void set_encoder(Encoder encoder) { encoder_ = std::move(encoder); }
  void set_max_pending(size_t n) { max_pending_ = n; }
  // Keys whose digest is deferred, in all partitions.
  size_t pending() const { return pending_; }

  // Starts keeping trees for `partitions` partitions, `partition_of` giving
  // a key's (the ring's, as the store's Partitioner). Every partition starts
  // unbuilt. Enabling again with the same count keeps what is built.
  void Enable(uint32_t partitions, std::function<uint32_t(std::string_view)> partition_of);
  // Drops every tree; changes are ignored until enabled again.
  void Disable();
  bool enabled() const { return !parts_.empty(); }
  uint32_t partitions() const { return static_cast<uint32_t>(parts_.size()); }

  // ChangeListener.
  void OnChange(const storage::Change& change) override;
  void OnFlush() override;
  bool WantsDeltas() const override { return false; }
  // The store evicted `key` (its eviction observer).
  void OnEvicted(std::string_view key);

  // Builds unbuilt partitions in order until `budget` keys were read (at
  // least one partition if any is unbuilt). Returns the keys read.
  size_t BuildStep(int64_t now_ms, size_t budget);
  size_t unbuilt() const { return unbuilt_; }
  bool built(uint32_t partition) const {
    return partition < parts_.size() && parts_[partition].built;
  }

  // Rebuilds one partition's tree and digests from the store (catching bit
  // rot and expired keys) and says how far the kept ones were off. O(keys
  // of the partition). Builds it if it was unbuilt.
  RebuildResult Rebuild(uint32_t partition, int64_t now_ms);

  // The tree of a partition; an empty tree for one without keys or out of
  // range. This and the accessors below settle pending digests first.
  const TicTacTree& tree(uint32_t partition);
  // Keys recorded in a partition.
  size_t keys(uint32_t partition);

  // The live keys of `partition` whose segment is in `segments` (each <
  // kSegments), with their digests, at most `max_keys`; `*truncated` says
  // whether some were left out. Walks the partition: O(its keys).
  std::vector<KeyDigest> ListSegments(uint32_t partition, const std::vector<uint32_t>& segments,
                                      int64_t now_ms, size_t max_keys, bool* truncated);

  // The digest recorded for `key` (nullopt: none).
  std::optional<uint64_t> DigestOf(std::string_view key);
  // The same without settling: nullopt also while `key` is pending.
  std::optional<uint64_t> SettledDigestOf(std::string_view key) const;

  // Gauges; pending digests are not yet in tree_count().
  size_t tree_count() const { return tree_count_; }
  size_t bytes() const;

 private:
  // Key names looked up by string_view without a copy.
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using NameSet = std::unordered_set<std::string, NameHash, std::equal_to<>>;

  struct Part {
    bool built = false;
    std::unique_ptr<TicTacTree> tree;  // null while the partition has no keys
    KeyDigests digests;
    NameSet pending;  // keys whose digest is deferred
  };
  // The partition of `key`, or nullptr (off, out of range); BuiltPartOf
  // also nullptr while it is unbuilt.
  Part* PartOf(std::string_view key);
  // PartOf's index; parts_.size() when there is none.
  size_t IndexOf(std::string_view key) const;
  Part* BuiltPartOf(std::string_view key);
  // Records `digest` for a key (nullopt: the key is gone) in its partition.
  void Apply(Part& part, uint64_t key_hash, std::optional<uint64_t> digest);
  // Takes the digests of a partition's pending keys, or of `key` if it is
  // one of them, from the encoder.
  void Settle(Part& part);
  void SettleKey(Part& part, std::string_view key);
  // Forgets that `key` is pending (its change is being digested at once);
  // false if it was not.
  bool Unpend(Part& part, std::string_view key);
  // The digest of `key` as stored now, from the encoder.
  std::optional<uint64_t> CurrentDigest(std::string_view key);
  // Reads a partition from the store into a fresh Part.
  Part Read(uint32_t partition, int64_t now_ms, size_t* keys) const;
  // The digest of a store value (the local encoding); nullopt if damaged.
  std::optional<uint64_t> DigestOfStored(std::string_view value) const;

  const storage::Store& store_;
  const storage::ActorTable& actors_;
  std::function<uint32_t(std::string_view)> partition_of_;
  std::vector<Part> parts_;
  size_t unbuilt_ = 0;
  uint32_t build_cursor_ = 0;
  size_t tree_count_ = 0;
  Encoder encoder_;
  size_t max_pending_ = kDefaultMaxPending;
  size_t pending_ = 0;        // keys pending, all partitions
  size_t pending_bytes_ = 0;  // their names' bytes
};

}  // namespace shoal::cluster
