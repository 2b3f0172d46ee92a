#pragma once
// CommandHost: what the cluster layer needs from the command layer above it
// (implemented by the server). The cluster decides where and when a command
// runs; the host runs it.

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/command_routing.h"
#include "storage/store.h"

namespace shoal::facade {
class Connection;
}

namespace shoal::cluster {

// Which store entries a node's share of a cluster-wide command covers.
struct KeyFilter {
  std::function<bool(const storage::EntryView&)> accept;
  // >= 0: the share is this one partition, and SCAN walks it alone
  // (storage::Store::ScanPartition; the SCAN cursor is the walk's bound).
  int64_t scan_partition = -1;
  bool operator()(const storage::EntryView& e) const { return accept(e); }
};

class CommandHost {
 public:
  // The command named `name` (any case), or an empty ref.
  virtual CommandRef Find(std::string_view name) const = 0;
  // The command a whole call names: Find(argv[0]), or for a container
  // (OBJECT, MEMORY) the subcommand argv[1] names. Empty if none.
  virtual CommandRef FindCall(std::span<const std::string> argv) const = 0;
  // Runs `cmd` here, now, for `conn`, appending its reply to *out. No
  // routing: the cluster calls this once a command's reads are in (with the
  // read's merge pinned in the keyspace). `filter`: the command runs as this
  // node's share of a cluster-wide command and the enumerating commands
  // (KEYS, SCAN, DBSIZE, RANDOMKEY) list only the entries it accepts;
  // nullptr for every other command. `resp` is the protocol the reply is
  // written in (2 or 3): the client's, which for a command forwarded by
  // another node is not the peer connection's.
  virtual void Run(facade::Connection& conn, const CommandRef& cmd, std::vector<std::string>& argv,
                   const KeyFilter* filter, int resp, std::string* out) = 0;
  // A random number (RANDOMKEY's pick among members).
  virtual uint64_t Random() = 0;

 protected:
  ~CommandHost() = default;
};

}  // namespace shoal::cluster
