#pragma once
// The records ClusterDispatch keeps for a client command while it runs
// across the cluster (server/cluster_dispatch.h), and the small RESP helpers
// its files share. Private to cluster_dispatch.cc, cluster_wide.cc and
// peer_port.cc.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_node.h"
#include "cluster/coordinator.h"
#include "server/command.h"

namespace shoal::server {

// One key's share of a command.
struct ClusterPart {
  std::vector<std::string> argv;  // a command on this one key (or the whole MSETNX)
  const CommandSpec* cmd = nullptr;
  std::string key;
  cluster::ClusterNode::ReplicaSet replicas;
  bool forward = false;  // runs on another coordinator
  bool write = false;
  bool ready = false;  // may run locally: its read quorum (if any) is in
  cluster::QuorumOutcome read;
  bool done = false;
  std::string reply;  // RESP bytes
};

struct ClusterRequest {
  enum class Kind { kInline, kKeyed, kBroadcast };
  enum class Combine { kSingle, kSum, kArray, kOk };
  uint64_t session_id = 0;
  uint64_t ticket = 0;
  bool wrap_bulk = false;  // a SHOAL.FWD: the reply goes back as one bulk string
  Kind kind = Kind::kInline;
  Combine combine = Combine::kSingle;
  const CommandSpec* cmd = nullptr;
  std::vector<std::string> argv;
  std::vector<ClusterPart> parts;
  bool launched = false;  // its fan-out (reads, forwards) has started
  bool executed = false;
  bool completed = false;
  // Broadcast: one reply per member (RESP bytes, or empty while pending).
  std::vector<std::string> node_replies;
  size_t node_pending = 0;
  std::string error;  // the first failure of a broadcast
};

// An error reply's bytes ("-ERR ...\r\n"), as ReplyBuilder::Error writes it.
std::string ErrorBytes(std::string_view msg);
// KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHALL, FLUSHDB: run on every member.
bool IsBroadcast(std::string_view name);
// ":<n>\r\n" -> n.
bool ParseIntegerReply(std::string_view bytes, int64_t* out);
// "*<n>\r\n<body>" -> n and body.
bool ParseArrayReply(std::string_view bytes, int64_t* n, std::string_view* body);

}  // namespace shoal::server
