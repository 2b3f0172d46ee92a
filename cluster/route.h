#pragma once
// Route: the plan for one client command in the cluster, from the command's
// Routing (cluster/command_routing.h), its arguments and the key placement.
// Pure: no loop, no sockets; the placement comes in through RouteContext.
//
//   local          runs on the receiving node (no keys; connection commands)
//   cluster-wide   every member runs it over the keys it owns
//   keyed          one part per key (or per key/value pair) as the routing
//                  splits it; each part runs where its key lives. A command
//                  whose reply depends on the key's current value (a write
//                  that reads first: SET NX, INCR, APPEND, GETDEL, DEL...)
//                  is coordinated by the key's first reachable primary, which
//                  serialises them, so that without failures they behave as
//                  on one Redis; other parts run here if this node is one of
//                  the key's replicas, else on the first reachable replica.
//                  A part that must read first is marked.
//   error          the plan is an error reply (CROSSSLOT).

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/command_routing.h"
#include "cluster/request.h"
#include "cluster/ring.h"

namespace shoal::cluster {

class RouteContext {
 public:
  virtual ~RouteContext() = default;
  virtual const NodeId& self() const = 0;
  // The key's replicas, in preference order.
  virtual ReplicaSet Replicas(std::string_view key) const = 0;
  // The command a part runs (Routing::part_command), or an empty ref.
  virtual CommandRef Find(std::string_view name) const = 0;
  // True if requests can reach `node` now (a live link to it).
  virtual bool Reachable(const NodeId& node) const = 0;
};

// Plans `cmd` called with `argv` (which is moved from). `coordinate_here`:
// this node coordinates every part whatever the placement (a forwarded
// command, SHOAL.FWD). `argv` must satisfy the command's arity.
Request Plan(const CommandRef& cmd, std::vector<std::string>& argv, bool coordinate_here,
             const RouteContext& ctx);

// True if every key in `keys` has the same replicas, in the same order, as
// the first (the partitions walked may differ): they may share one part.
bool ShareReplicas(const RouteContext& ctx, std::span<const std::string_view> keys);

// The key positions of a call (Redis's first/last/step convention).
std::vector<size_t> KeyPositions(const CommandRef& cmd, size_t argc);
// The key positions of this call: the routing's keys_of when it has one,
// else the convention above.
std::vector<size_t> KeyPositions(const CommandRef& cmd, std::span<const std::string> argv);

}  // namespace shoal::cluster
