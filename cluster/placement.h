#pragma once
// Placement: where the keys of one key partition are read and written while
// the ring changes, and which partitions each node must receive or may drop.
// The model is Cassandra's pending ranges and riak_core's handoff: a new
// replica of a partition receives it before it serves reads, and the old
// holder serves in its place until then.
//
// Inputs are a membership state (cluster/membership.h: the ring over the
// active members, and every member's ready row — which key partitions it
// holds completely) and N. For key partition k:
//   new set   the first N distinct owners walking the ring from k
//             (Ring::PreferenceForPartition) — where the data belongs;
//   ready     a member whose row has bit k. When no member has bit k (a new
//             cluster, or one formed before ready rows existed) every node
//             of the new set counts as ready: there is nothing to move.
//   pending   new-set nodes that are not ready: they receive k;
//   outgoing  ready members outside the new set (a node leaving the key's
//             replica set), paired one-to-one with the pending nodes in
//             order (new-set order for pending, id order for outgoing).
// The targets of k, in this order:
//   - for each new-set node in preference order: itself if ready, else its
//     paired outgoing node (if any) — the read set, which holds the data;
//   - then the pending nodes, write-only.
// Reads go to the read set; writes go to every target and need W acks in
// the read set and W in the new set (each clamped to the set's size), so an
// acknowledged write is on W nodes of whichever set reads use, before and
// after the transfer ends, whatever the transfer had copied.
//
// Each pending node receives k from its paired outgoing node (the copy that
// goes away), or, with no pair (a removed node's share), from the first ready
// node of the new set. Copy counts are kept: every node that held an
// acknowledged write either stays or hands its copy to its replacement.
// Holders outside the new set mark k releasing; the new replica marks k ready
// once its walk ended and they all did (ReleasedBy). Once every new-set node
// is ready, the outgoing nodes drop k. A node whose row says it is releasing
// k does not count as ready for k in the new set: if the ring gives k back
// to it, it receives k again, since it stopped receiving k's writes.
//
// Pure logic: no loop, no socket, no clock.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cluster/membership.h"
#include "cluster/ring.h"

namespace shoal::cluster {

// The targets of key partition k (see the top of the file); empty for an
// empty ring. Every target has fallback == false.
std::vector<Target> PlanPartition(const Membership& m, uint32_t partition, size_t n);

// True if some member holds key partition k (the bootstrap rule above).
bool AnyReady(const Membership& m, uint32_t partition);

// One partition a node must receive: from whom.
struct Inbound {
  uint32_t partition = 0;
  NodeId source;
  bool operator==(const Inbound&) const = default;
};

// What `node` has to do under `m` with replication factor n.
struct NodeDuties {
  std::vector<Inbound> receive;  // pending partitions, with their source
  // Partitions it holds (ready) but no longer replicates, whose new set is
  // all ready: it may drop them.
  std::vector<uint32_t> drop;
  // Partitions it replicates in a cluster where nobody holds them yet: it
  // marks them ready at once (nothing to receive).
  std::vector<uint32_t> claim;
  // Partitions it holds outside their new set while new replicas still
  // receive them: it marks them releasing (ReadyRow) at once.
  std::vector<uint32_t> release;
};
NodeDuties DutiesOf(const Membership& m, const NodeId& node, size_t n);

// True if `node` still holds a partition somebody depends on: one it is
// ready for whose new set is not all ready, or one it must still receive.
// A leaving node goes once this is false.
bool HasDuties(const Membership& m, const NodeId& node, size_t n);

// True if every live member that holds key partition k outside its new set
// has marked it releasing (`alive`: not held dead by the failure detector).
// A new replica marks k ready only then: any state that shows it ready also
// shows those holders releasing (gossip carries whole states, and each row
// only grows in version), so no node trusts such a holder's copy, which
// stops receiving writes once the new replica is ready, as a replica again.
bool ReleasedBy(const Membership& m, uint32_t partition, size_t n,
                const std::function<bool(const NodeId&)>& alive);

// True while some partition is moving: a new-set node is still pending, or
// a member outside the new set still holds it (it has not dropped it yet).
// A ring change in that window could trust a holder that stopped receiving
// writes when the transfer ended, so CLUSTER LEAVE waits for this to be
// false (one membership change at a time, as riak_core stages them).
bool ChangeInProgress(const Membership& m, size_t n);

}  // namespace shoal::cluster
