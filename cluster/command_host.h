#pragma once
// CommandHost: what the cluster layer needs from the command layer above it
// (implemented by the server). The cluster decides where and when a command
// runs; the host runs it.

#include <string>
#include <string_view>
#include <vector>

#include "cluster/command_routing.h"

namespace shoal::facade {
class Connection;
}

namespace shoal::cluster {

class CommandHost {
 public:
  // The command named `name` (any case), or an empty ref.
  virtual CommandRef Find(std::string_view name) const = 0;
  // Runs `cmd` here, now, for `conn`, appending its reply to *out. No
  // routing: the cluster calls this once a command's reads are in (with the
  // read's merge pinned in the keyspace). `cluster_wide`: the command runs
  // as this member's share of a cluster-wide command (it lists only the keys
  // this node owns).
  virtual void Run(facade::Connection& conn, const CommandRef& cmd, std::vector<std::string>& argv,
                   bool cluster_wide, std::string* out) = 0;
  // A random number (RANDOMKEY's pick among members).
  virtual uint64_t Random() = 0;

 protected:
  ~CommandHost() = default;
};

}  // namespace shoal::cluster
