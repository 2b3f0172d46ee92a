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
//   - members: union by id; for one id the entry with the greater
//     (incarnation, host, port, cport) wins, so ties are deterministic.
//   - ring: `base` is the ring with the greater (epoch, digest, members,
//     owners), where digest is XXH3_64bits of the ring's canonical form (its
//     members and owner table). If base's members are the merged member set,
//     the result is base with its epoch; otherwise it is
//     Ring::Rebalance(base, merged ids) at epoch max(epochs) + 1 (at most
//     kMaxEpoch).
// Both parts are symmetric in the two inputs, so a.Merge(b) and b.Merge(a)
// give equal states, and merging a state twice changes nothing. Member sets
// only grow (there is no leave or forget yet), so once every node knows every member
// the greatest ring spreads unchanged and all nodes hold the same ring and
// epoch. While members are still spreading, two nodes may derive different
// rings under one epoch (from different member sets); the digest order
// decides between them and the state still converges. A ring of a given
// epoch is therefore named by (epoch, ring_digest()), not by epoch alone.
//
// Invariant (kept by every operation, checked by Decode): the ring's members
// are exactly the member set, and every member is a valid MemberInfo.
//
// Pure logic: no loop, no socket, no clock. A Membership is a value (copy it
// freely). Not thread safe.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

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
  bool operator==(const MemberInfo&) const = default;
};

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
  // Every member, self included, by id.
  const std::map<NodeId, MemberInfo>& members() const { return members_; }
  // The entry of `id`, or nullptr. The pointer is valid until the next
  // change of this state.
  const MemberInfo* Find(std::string_view id) const;

  // Our own entry changed (address, incarnation): replaces the entry with
  // self.id. Does not change the ring. Ignored if self.id is not a member or
  // self is not valid (IsValidMember). The caller must raise the
  // incarnation with every change, or an older entry held elsewhere would
  // win the next merge.
  void UpdateSelf(const MemberInfo& self);

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
  //   u8 version (1) | varint epoch | varint member count |
  //   per member, by id: 40-byte id, varint host length, host, varint port,
  //     varint cport, varint incarnation |
  //   varint partition count | per partition: varint owner (index into the
  //     member list) |
  //   8 bytes little-endian XXH3_64bits of everything before.
  std::string Encode() const;

  // Parses Encode()'s form. Checks everything — checksum, version, varint
  // bounds, counts against the bytes left, ids (valid, strictly ascending),
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

  std::map<NodeId, MemberInfo> members_;
  Ring ring_;
  uint64_t epoch_ = 0;
  uint64_t digest_ = 0;  // RingDigest(ring_)
};

}  // namespace shoal::cluster
