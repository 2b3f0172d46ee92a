// The consistent-hashing ring: Dynamo's strategy 3 (equal-size partitions),
// with riak_core's ring and preference lists (riak_core_apl) as the model.
//
// The 64-bit hash space is cut into Q equal partitions (Q is the `vnodes`
// directive, default 256). A key belongs to partition
//   (XXH3_64bits(key) * Q) >> 64
// (of the key's hash tag, cluster/hash_tag.h) and every partition is owned
// by exactly one member node. Ownership is a pure
// function of its inputs, so every node given the same inputs computes the same
// ring:
//   - Ring::Build(members, Q) lays out a fresh ring: members in a hash-based
//     order, dealt round-robin over the partitions.
//   - Ring::Rebalance(prev, members) derives a ring from the previous one with
//     minimal movement: partitions of departed nodes and the excess of nodes
//     above their fair share go to nodes below it; nothing else moves.
// In both, each member owns floor(Q/S) or ceil(Q/S) partitions, and the layout
// avoids consecutive partitions on one node where it can, so a clockwise walk
// meets N distinct nodes quickly (Build: never for S >= 3; Rebalance: only
// where minimal movement forces it, e.g. after a leave the departed node's
// partitions all sit between the same two nodes). Neither depends on the order of `members`
// (duplicates are ignored).
//
// Rebalance depends on history: nodes agree on the ring only if they agree on
// the previous ring. Rings can be exchanged as their owner table (owners(),
// FromOwners()).
//
// A Ring is an immutable value; it is safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "storage/status.h"

namespace shoal::cluster {

// A node id: the 40-hex-character id of storage/node_id.h.
using NodeId = std::string;

inline constexpr uint32_t kDefaultPartitions = 256;

// The ring hash of a key: XXH3_64bits (seed 0) of its hash tag
// (cluster/hash_tag.h: the whole key unless it has a non-empty "{...}").
uint64_t KeyHash(std::string_view key);

// The partition in [0, partitions) of a 64-bit hash. partitions > 0.
uint32_t PartitionOfHash(uint64_t hash, uint32_t partitions);

// One replica position: the partition walked to, and the node that owns it.
struct Replica {
  uint32_t partition = 0;
  NodeId node;
  bool operator==(const Replica&) const = default;
};

// A key's preference list: the first N distinct owners met walking clockwise
// from the key's partition (the primaries), then every other member in walk
// order (the fallbacks). primaries.size() == min(N, member count).
struct PreferenceList {
  std::vector<Replica> primaries;
  std::vector<Replica> fallbacks;
};

// One target of a sloppy-quorum request (riak_core_apl's annotated list).
// A primary that is up is used as itself: {its partition, its node, false, ""}.
// A primary that is down is replaced by the next unused up fallback:
// {the primary's partition, the fallback node, true, the primary's node}; the
// fallback holds the write as a hint for `stands_in_for`.
//
// During a partition transfer (cluster/placement.h) two more kinds appear:
// a `pending` target is a new replica still receiving the partition (writes
// only: it neither serves reads nor counts toward the read set's write
// quorum), an `outgoing` target is a replica leaving the key's replica set
// that still holds the partition in its place (reads and writes, but it does
// not count toward the new set's write quorum).
struct Target {
  uint32_t partition = 0;
  NodeId node;
  bool fallback = false;
  NodeId stands_in_for;  // empty unless fallback
  bool pending = false;
  bool outgoing = false;
  // Serves reads and counts in the read set (the replicas that hold the
  // partition now).
  bool reads() const { return !pending; }
  // Counts in the new replica set (the one reads move to once transfers end).
  bool in_new_set() const { return !outgoing; }
  bool operator==(const Target&) const = default;
};

// The targets a request goes to, in preference order. Shared: requests hold
// a cached list without copying node ids.
using ReplicaSet = std::shared_ptr<const std::vector<Target>>;

// A member's share of the ring (for CLUSTER NODES).
struct Share {
  NodeId node;
  uint32_t partitions = 0;
  double fraction = 0;  // partitions / Q
};

// A partition changing owner between two rings (for partition transfer).
struct Move {
  uint32_t partition = 0;
  NodeId from;
  NodeId to;
  bool operator==(const Move&) const = default;
};

class Ring {
 public:
  // An empty ring: no members, kDefaultPartitions partitions, no owners.
  Ring() = default;

  // A fresh ring over `members` with `partitions` partitions (> 0; 0 is
  // treated as 1). With no members the ring is empty.
  static Ring Build(std::vector<NodeId> members, uint32_t partitions = kDefaultPartitions);

  // The ring for `members` derived from `prev` with minimal movement (same
  // partition count as prev). Members that stay keep every partition they
  // own unless they are above their new fair share; only the surplus and the
  // partitions of departed nodes move, to the members below their share.
  // If prev is empty this is Build(members, prev.partition_count()).
  static Ring Rebalance(const Ring& prev, std::vector<NodeId> members);

  // A ring from an owner table (owners[p] owns partition p), e.g. received
  // from a peer. Invalid if the table is empty or has an empty id.
  static storage::Result<Ring> FromOwners(std::vector<NodeId> owners);

  bool empty() const { return members_.empty(); }
  uint32_t partition_count() const { return partitions_; }
  // Members, sorted by id, without duplicates.
  const std::vector<NodeId>& members() const { return members_; }
  bool IsMember(std::string_view node) const;

  // The owner of partition p (p < partition_count()). Ring must not be empty.
  const NodeId& Owner(uint32_t partition) const { return members_[owner_[partition]]; }
  // The owner table: owners()[p] owns partition p (empty if the ring is).
  std::vector<NodeId> owners() const;
  // The partitions `node` owns, ascending (empty if not a member).
  std::vector<uint32_t> PartitionsOf(std::string_view node) const;

  // The partition of a key.
  uint32_t PartitionOf(std::string_view key) const {
    return PartitionOfHash(KeyHash(key), partitions_);
  }

  // The preference list of `key` for N = n (see PreferenceList). An n larger
  // than the member count yields every member as a primary. Empty ring: empty.
  PreferenceList Preference(std::string_view key, size_t n) const;
  PreferenceList PreferenceForPartition(uint32_t partition, size_t n) const;

  // The sloppy-quorum targets of `key` for N = n, given the nodes currently
  // up: in primary order, each primary if it is up, else the next up fallback
  // standing in for it (see Target). Down primaries with no fallback left are
  // dropped, so the result may be shorter than n.
  std::vector<Target> SloppyPreference(std::string_view key, size_t n,
                                       const std::unordered_set<NodeId>& up) const;
  std::vector<Target> SloppyPreferenceForPartition(uint32_t partition, size_t n,
                                                   const std::unordered_set<NodeId>& up) const;

  // Each member's share, sorted by node id.
  std::vector<Share> Shares() const;

  // The partitions whose owner differs from `from` to `to`, ascending.
  // Both rings must have the same partition count and be non-empty.
  static std::vector<Move> Moves(const Ring& from, const Ring& to);

 private:
  Ring(uint32_t partitions, std::vector<NodeId> members, std::vector<uint32_t> owner)
      : partitions_(partitions), members_(std::move(members)), owner_(std::move(owner)) {}

  uint32_t partitions_ = kDefaultPartitions;
  std::vector<NodeId> members_;  // sorted, unique
  std::vector<uint32_t> owner_;  // partition -> index into members_
};

}  // namespace shoal::cluster
