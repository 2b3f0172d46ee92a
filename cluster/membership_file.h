#pragma once
// The membership and ring a node keeps in its `dir` (as Redis Cluster's
// nodes.conf), so that a restarted node rejoins the cluster it was part of
// and never acts as a cluster of one it was not.
//
// The file, `nodes.state`, is replaced atomically (storage/atomic_file.h)
// whenever the state changes:
//   "shoal-nodes 1\n" | 16 hex digits of XXH3_64(state) | "\n" | state
// where state is Membership::Encode(). A file that does not have this form,
// fails its checksum or does not decode stops start-up with the reason (the
// operator moves it away to start afresh). Pure functions over an Env.

#include <optional>
#include <string>

#include "cluster/membership.h"
#include "storage/file.h"
#include "storage/status.h"

namespace shoal::cluster {

inline constexpr const char* kMembershipFileName = "nodes.state";

storage::Status SaveMembership(storage::Env* env, const std::string& dir,
                               const Membership& membership);

// The saved state, or nullopt if the node has none (its first start).
storage::Result<std::optional<Membership>> LoadMembership(storage::Env* env,
                                                          const std::string& dir);

}  // namespace shoal::cluster
