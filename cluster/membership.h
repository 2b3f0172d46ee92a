#pragma once
// Membership: what one node knows of the cluster — every member's id,
// addresses and incarnation, plus the ring (owner table) and its epoch — and
// the merge rule that makes every node converge to the same state through
// full-state exchanges (SHOAL.MEMBERS), whatever the order of the exchanges.
//
// Why the state carries the ring: Ring::Rebalance(prev, members) moves the
// fewest partitions but depends on the previous ring, so nodes agree on the
// ring only if they agree on its history. Instead of recomputing it, nodes
// exchange the ring itself and an epoch, and a merge either adopts the
// greatest ring or derives the next one from it.
//
// The merge (Merge()) is a join on each part:
//   - removed ids (CLUSTER FORGET, a completed CLUSTER LEAVE): union. A
//     removed id is never a member again: its entry and ready row are
//     dropped and gossip cannot bring them back.
//   - members: union by id, less the removed; for one id the entry with the
//     greater (incarnation, leaving, host, port, cport) wins, so ties are
//     deterministic.
//   - ready rows (which key partitions each member holds completely, see
//     ReadyRow): for one id the row with the greater (version, bits) wins,
//     among the rows sized for the merged ring's partition count (others
//     are dropped).
//     Only the member itself changes its row, raising the version.
//   - ring: `base` is the ring with the greater (epoch, digest, members,
//     owners), where digest is XXH3_64bits of the ring's canonical form (its
//     members and owner table). The ring is over the active members (not
//     leaving). If base's members are the merged active set, the result is
//     base with its epoch; otherwise it is Ring::Rebalance(base, active ids)
//     at epoch max(epochs) + 1 (at most kMaxEpoch).
// Every part is symmetric in the two inputs, so a.Merge(b) and b.Merge(a)
// give equal states, and merging a state twice changes nothing. Once every
// node knows every member the greatest ring spreads unchanged and all nodes
// hold the same ring and epoch. While members are still spreading, two nodes may derive different
// rings under one epoch (from different member sets); the digest order
// decides between them and the state still converges. A ring of a given
// epoch is therefore named by (epoch, ring_digest()), not by epoch alone.
//
// Invariant (kept by every operation, checked by Decode): the ring's members
// are exactly the active (not leaving) members when there is one, every
// member is a valid MemberInfo, no removed id is a member, and ready rows
// exist only for members and have one bit per partition.
//
// Pure logic: no loop, no socket, no clock. A Membership is a value (copy it
// freely). Not thread safe.

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/ring.h"
#include "storage/status.h"

namespace shoal::cluster {

// Partition counts a membership state accepts (the `vnodes` directive).
inline constexpr uint32_t kMaxPartitions = 65536;
// Longest host name a member entry may carry (DNS names are at most 253).
inline constexpr size_t kMaxHostLength = 255;
// Largest ring epoch a state may carry (a hostile peer cannot push the epoch
// to where max + 1 overflows; a merge saturates here).
inline constexpr uint64_t kMaxEpoch = uint64_t{1} << 62;

// One member as the others know it.
struct MemberInfo {
  NodeId id;         // 40-hex node id (stable, from the node's dir)
  std::string host;  // client address host (as given by `bind`/advertised)
  int port = 0;      // client port
  int cport = 0;     // cluster (peer) port
  // Bumped by the node itself (e.g. on every start: its start time in ms, or
  // previous + 1). The entry with the higher incarnation wins a merge, so a
  // node that comes back on another address is followed.
  uint64_t incarnation = 0;
  // CLUSTER LEAVE: the member hands its data over and then goes. It is out
  // of the ring, but still a member (it serves reads of what it holds until
  // the new owners have it).
  bool leaving = false;
  bool operator==(const MemberInfo&) const = default;
};

// Which key partitions a member holds completely (every acknowledged write,
// as its replicas do): bit k of `bits` (byte k / 8, bit k % 8) for key
// partition k. A member sets a bit once it has received the partition from
// the replicas that had it (partition transfer) and clears it when it drops
// the partition; reads of a partition go only to members that hold it.
// `version` orders the member's successive rows.
//
// `releasing` (a subset of `bits`): partitions the member holds but no longer
// replicates on the current ring, so it may stop receiving their writes once
// their new replicas hold them. Such a holder serves only in place of a new
// replica still receiving the partition; if a later ring makes it a replica
// again it receives the partition anew, as its copy may lack writes.
struct ReadyRow {
  uint64_t version = 0;
  std::string bits;       // PartitionBitmapBytes(Q) bytes
  std::string releasing;  // empty, or as many bytes as `bits`
  bool Has(uint32_t partition) const { return Test(bits, partition); }
  bool Releasing(uint32_t partition) const { return Test(releasing, partition); }
  bool operator==(const ReadyRow&) const = default;

 private:
  static bool Test(const std::string& map, uint32_t partition) {
    return partition / 8 < map.size() &&
           (static_cast<unsigned char>(map[partition / 8]) >> (partition % 8)) & 1;
  }
};

// Bytes of a partition bitmap for `partitions` partitions.
inline size_t PartitionBitmapBytes(uint32_t partitions) {
  return (partitions + 7) / 8;
}

// True if `info` may enter a membership state: the id is a node id (40
// lower-case hex characters), the host is 1..kMaxHostLength printable
// characters without spaces (it is printed in CLUSTER NODES), and both ports
// are in [0, 65535]. Check first-hand peer data with this before AddMember.
bool IsValidMember(const MemberInfo& info);

class Membership {
 public:
  // An empty state: no members, an empty ring, epoch 0. Only useful as a
  // placeholder; merging a real state into it yields that state. Encode()
  // of it does not decode (Decode requires at least one member).
  Membership() = default;

  // A one-node cluster: `self` alone owns every partition; epoch 1.
  // `partitions` is clamped to [1, kMaxPartitions]. Precondition:
  // IsValidMember(self).
  static Membership Solo(MemberInfo self, uint32_t partitions);

  const Ring& ring() const { return ring_; }
  uint64_t epoch() const { return epoch_; }
  // XXH3_64bits of the ring's canonical form (members and owner table): with
  // epoch(), the name of this ring (see the top of the file). 0 for an
  // empty ring.
  uint64_t ring_digest() const { return digest_; }
  // Every member, self included, by id (leaving ones too).
  const std::map<NodeId, MemberInfo>& members() const { return members_; }
  // Ids removed for good (CLUSTER FORGET, a completed CLUSTER LEAVE).
  const std::set<NodeId>& removed() const { return removed_; }
  bool IsRemoved(std::string_view id) const { return removed_.contains(std::string(id)); }
  // Members' ready rows, by id (a member without one holds nothing yet).
  const std::map<NodeId, ReadyRow>& ready() const { return ready_; }
  // True if `id` holds key partition k completely.
  bool IsReady(std::string_view id, uint32_t partition) const;
  // True if `id` holds key partition k but is releasing it (ReadyRow).
  bool IsReleasing(std::string_view id, uint32_t partition) const;
  // The entry of `id`, or nullptr. The pointer is valid until the next
  // change of this state.
  const MemberInfo* Find(std::string_view id) const;

  // Our own entry changed (address, incarnation): replaces the entry with
  // self.id. Does not change the ring. Ignored if self.id is not a member or
  // self is not valid (IsValidMember). The caller must raise the
  // incarnation with every change, or an older entry held elsewhere would
  // win the next merge.
  // A `leaving` change moves the ring (the member leaves or re-enters it).
  void UpdateSelf(const MemberInfo& self);

  // Sets member `id`'s ready row to `bits` and `releasing` (empty: none;
  // bits a releasing partition lacks are set) under a higher version. Only
  // the member itself may call this for its id. Ignored unless `id` is a
  // member and bits (and a non-empty releasing) have PartitionBitmapBytes(Q)
  // bytes. Returns true on a change.
  bool SetReady(const NodeId& id, std::string bits, std::string releasing = {});

  // CLUSTER FORGET (or a completed leave): `id` is removed for good. The
  // ring is rebalanced over the remaining active members (epoch + 1).
  // Returns false if `id` is not a member or is the only active member.
  bool Remove(const NodeId& id);

  // Merges a peer's state into ours (the rules at the top of the file).
  // Returns true if anything changed: a member added, an entry replaced, the
  // ring or the epoch. Entries of `other` that are not valid are skipped
  // (Decode never yields any). States with different partition counts
  // merge by the same rules, so the base ring's count wins; a caller that
  // wants to refuse a misconfigured peer compares ring().partition_count()
  // first.
  bool Merge(const Membership& other);

  // Adds (or updates) a member learned first hand, e.g. a peer that
  // completed a handshake and told us its info: the same as merging a state
  // holding just that entry and no ring. Returns true if anything changed;
  // false also if `info` is not valid (IsValidMember).
  bool AddMember(const MemberInfo& info);

  // The compact wire form (SHOAL.MEMBERS):
  //   u8 version (3) | varint epoch | varint member count |
  //   per member, by id: 40-byte id, varint host length, host, varint port,
  //     varint cport, varint incarnation, varint flags (1: leaving) |
  //   varint removed count | removed ids, ascending (40 bytes each) |
  //   varint partition count | per partition: varint owner (index into the
  //     member list) |
  //   varint ready row count | per row, by id: varint member index, varint
  //     version, PartitionBitmapBytes(Q) bytes of ready bits, as many of
  //     releasing bits (a subset) |
  //   8 bytes little-endian XXH3_64bits of everything before.
  // Versions 1 (no flags, removed ids or ready rows) and 2 (rows without
  // releasing bits) still decode.
  std::string Encode() const;

  // Parses Encode()'s form. Checks everything — checksum, version, varint
  // bounds, counts against the bytes left, ids (valid, strictly ascending,
  // not removed),
  // hosts, ports, epoch in [1, kMaxEpoch], partition count in
  // [1, kMaxPartitions], owner indexes, that the ring is balanced as every
  // ring Build/Rebalance make is (each member owns floor(Q/S) or ceil(Q/S)
  // partitions; so a member owns none only when there are more members
  // than partitions), no trailing bytes — and returns Code::kCorruption
  // for anything else. Never crashes or reads out of bounds on any input.
  static storage::Result<Membership> Decode(std::string_view bytes);

  // Equal members, epoch and ring (members and owner table).
  bool operator==(const Membership& other) const;

 private:
  void SetRing(Ring ring, uint64_t epoch);
  // The ids of the active members (not leaving), ascending; all members if
  // every one is leaving (a ring needs members).
  std::vector<NodeId> ActiveIds() const;
  // Rebalances the ring over ActiveIds() if its members differ, at an epoch
  // above `epoch_floor` and the current one. True if the ring changed.
  bool FixRing(uint64_t epoch_floor);

  std::map<NodeId, MemberInfo> members_;
  std::set<NodeId> removed_;
  std::map<NodeId, ReadyRow> ready_;
  Ring ring_;
  uint64_t epoch_ = 0;
  uint64_t digest_ = 0;  // RingDigest(ring_)
};

}  // namespace shoal::cluster
