#pragma once
// The record the cluster keeps for one client command while it runs across
// nodes (cluster/dispatcher.h), as planned by cluster/route.h. Plain data.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cluster/command_routing.h"
#include "cluster/ring.h"
#include "storage/object.h"

namespace shoal::cluster {

// One key's share of a command.
struct Part {
  std::vector<std::string> argv;  // a command on this one key (or the whole MSETNX)
  CommandRef cmd;
  std::string key;
  ReplicaSet replicas;
  bool forward = false;  // runs on another coordinator: `forward_to`
  NodeId forward_to;
  bool needs_read = false;  // reads the key from a read quorum first
  // The part's other keys (MSETNX, RENAME, a transaction): each is read from
  // a read quorum too when needs_read, and the part runs once every read is
  // in. All share `replicas` (planning refuses the command otherwise).
  std::vector<std::string> more_keys;
  // Progress.
  bool ready = false;  // may run: its reads (if any) are in, or it is forwarded
  // The read's outcome (Coordinator::ReadIntoStore): nullopt inside when
  // the local store holds the merge, which is what the command runs on.
  std::optional<storage::Result<std::optional<storage::Object>>> read;
  uint64_t read_since = 0;   // Keyspace::change_count() when the read began
  size_t reads_pending = 0;  // reads of `key` and `more_keys` not in yet
  std::string read_error;    // the first of `more_keys`' reads that failed
  bool done = false;
  std::string reply;  // RESP bytes
};

struct Request;

// What the command layer may attach to one request (a transaction's EXEC,
// a WATCH in a cluster).
struct RequestHooks {
  // Runs alone, as a barrier: once every request before it is answered, and
  // nothing behind it starts before it is answered. Its fan-out starts then
  // too, so that `on_launch` sees the effects of everything before it.
  bool serial = false;
  // Called just before the request's fan-out starts (it may rewrite the
  // parts' argv: the transaction frame's watched versions).
  std::function<void(Request&)> on_launch;
  // Turns the combined reply (RESP bytes) into what the client gets.
  std::function<std::string(std::string)> on_reply;
};

struct Request {
  enum class Kind : uint8_t { kLocal, kKeyed, kClusterWide };
  Kind kind = Kind::kLocal;
  Combine combine = Combine::kSingle;
  CommandRef cmd;
  std::vector<std::string> argv;  // kLocal and kClusterWide: the command as sent
  std::vector<Part> parts;        // kKeyed
  std::string error;              // set by planning: the reply is this error
  RequestHooks hooks;

  // Set by the dispatcher.
  uint64_t ticket = 0;     // the connection's deferred reply
  bool wrap_bulk = false;  // a SHOAL.FWD: the reply goes back as one bulk string
  // The protocol the client's reply is written in: the connection's for a
  // client command, the frame's for a SHOAL.FWD (a peer connection's own
  // protocol is always RESP2).
  int resp = 2;
  bool launched = false;  // its fan-out (reads, forwards) has started
  bool executed = false;
  bool completed = false;
  // kClusterWide: one reply per member asked (RESP bytes, or empty while pending).
  std::vector<std::string> node_replies;
  size_t node_pending = 0;
  std::string reply;  // the combined reply once complete

  bool barrier() const { return kind == Kind::kClusterWide || hooks.serial; }
  bool Ready() const {
    for (const Part& p : parts) {
      if (!p.ready) return false;
    }
    return true;
  }
};

}  // namespace shoal::cluster
