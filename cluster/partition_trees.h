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
// key; 48 bytes of bookkeeping per partition. bytes() reports the total.
//
// Pure logic over the Store: no loop, time passed in. Not thread safe.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  // `store` and `actors` must outlive this (the keyspace's).
  PartitionTrees(const storage::Store& store, const storage::ActorTable& actors)
      : store_(store), actors_(actors) {}

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
  // range.
  const TicTacTree& tree(uint32_t partition) const;
  // Keys recorded in a partition.
  size_t keys(uint32_t partition) const {
    return partition < parts_.size() ? parts_[partition].digests.size() : 0;
  }

  // The live keys of `partition` whose segment is in `segments` (each <
  // kSegments), with their digests, at most `max_keys`; `*truncated` says
  // whether some were left out. Walks the partition: O(its keys).
  std::vector<KeyDigest> ListSegments(uint32_t partition, const std::vector<uint32_t>& segments,
                                      int64_t now_ms, size_t max_keys, bool* truncated) const;

  // The digest recorded for `key` (nullopt: none).
  std::optional<uint64_t> DigestOf(std::string_view key) const;

  size_t tree_count() const { return tree_count_; }
  size_t bytes() const;

 private:
  struct Part {
    bool built = false;
    std::unique_ptr<TicTacTree> tree;  // null while the partition has no keys
    KeyDigests digests;
  };
  // Records `digest` for a key (nullopt: the key is gone) in its partition.
  void Apply(Part& part, uint64_t key_hash, std::optional<uint64_t> digest);
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
};

}  // namespace shoal::cluster
