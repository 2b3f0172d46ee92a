// CLUSTER INFO / NODES / PREFLIST / MEET / LEAVE / FORGET / MYID / GETLOCAL /
// HELP: the
// operator's view of the ring and the links. Redis Cluster has a CLUSTER
// command too; these subcommands keep its names where the meaning matches
// (INFO, NODES, MEET, MYID) and their own reply shapes (README, "Cluster").

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "cluster/cluster_node.h"
#include "cluster/placement.h"
#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/versioned_reply.h"
#include "server/server.h"

namespace shoal::server {
namespace {

std::string Share(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", fraction * 100);
  return buf;
}

void CmdClusterInfo(CommandContext& ctx) {
  Server& server = *ctx.server;
  cluster::ClusterNode& node = server.cluster()->node();
  const Config& cfg = server.config();
  size_t connected = 0;
  size_t suspect = 0;
  size_t failing = 0;
  for (const auto& [id, info] : node.membership().members()) {
    if (id == node.self_id()) continue;
    if (node.IsConnected(id)) ++connected;
    const cluster::MemberState st = node.StateOf(id);
    if (st == cluster::MemberState::kSuspect) ++suspect;
    if (st == cluster::MemberState::kDead) ++failing;
  }
  const size_t known = node.member_count();
  // fail: some partition has fewer than W reachable replicas (primaries and,
  // under sloppy quorum, fallbacks), so writes of its keys fail (NOQUORUM)
  // until nodes come back.
  const size_t below = node.PartitionsBelowQuorum(static_cast<size_t>(cfg.replicas),
                                                  static_cast<size_t>(cfg.write_quorum),
                                                  cfg.sloppy_quorum && cfg.hinted_handoff);
  std::string out;
  auto field = [&out](const char* name, const std::string& value) {
    out += name;
    out += ':';
    out += value;
    out += "\r\n";
  };
  field("cluster_state", below == 0 ? "ok" : "fail");
  field("cluster_my_id", node.self_id());
  field("cluster_known_nodes", std::to_string(known));
  field("cluster_connected_nodes", std::to_string(connected + 1));
  field("cluster_suspect_nodes", std::to_string(suspect));
  field("cluster_failing_nodes", std::to_string(failing));
  field("cluster_partitions_below_quorum", std::to_string(below));
  if (const cluster::HintStore* hints = server.cluster()->hints()) {
    const cluster::HintStats hs = hints->stats();
    field("cluster_hints_pending", std::to_string(hs.pending_hints));
    field("cluster_hints_delivered", std::to_string(hs.delivered));
    field("cluster_hints_dropped", std::to_string(hs.dropped()));
  }
  const cluster::PartitionTransfer& xfer = server.cluster()->transfer();
  field("cluster_transfers_pending", std::to_string(xfer.pending()));
  field("cluster_transfers_active", std::to_string(xfer.receiving()));
  field("cluster_transfers_dropping", std::to_string(xfer.dropping()));
  field("cluster_leaving", node.leaving() ? "yes" : "no");
  field("cluster_ring_epoch", std::to_string(node.membership().epoch()));
  field("cluster_partitions", std::to_string(node.ring().partition_count()));
  field("cluster_replicas", std::to_string(cfg.replicas));
  field("cluster_read_quorum", std::to_string(cfg.read_quorum));
  field("cluster_write_quorum", std::to_string(cfg.write_quorum));
  // Anti-entropy: per partition, ms since this node last compared it with
  // another replica (either side of the exchange); -1 never, and "-" for a
  // partition this node does not replicate. The oldest is over the
  // replicated ones (-1: one was never compared).
  const std::vector<int64_t>& last = server.cluster()->anti_entropy().last_compared_ms();
  if (!last.empty()) {
    const int64_t now = server.clock().NowMs();
    std::string list;
    int64_t oldest = 0;
    for (uint32_t p = 0; p < last.size(); ++p) {
      if (p > 0) list += ',';
      bool mine = false;
      for (const cluster::Replica& r :
           node.ring().PreferenceForPartition(p, static_cast<size_t>(cfg.replicas)).primaries) {
        mine = mine || r.node == node.self_id();
      }
      if (!mine) {
        list += '-';
        continue;
      }
      const int64_t age = last[p] < 0 ? -1 : std::max<int64_t>(0, now - last[p]);
      list += std::to_string(age);
      if (oldest >= 0) oldest = age < 0 ? -1 : std::max(oldest, age);
    }
    field("cluster_anti_entropy_oldest_compared_ms", std::to_string(oldest));
    field("cluster_anti_entropy_last_compared_ms", list);
  }
  ctx.reply.Verbatim("txt", out);
}

// How many key partitions `id` is still to receive (it replicates them and
// does not hold them yet), over the whole ring. A partition of a new cluster
// that no member has claimed yet counts too: until the claims spread, one of
// its replicas may still turn out to have to receive it. A lone node moves
// no partitions (it claims them once it has company): nothing counts.
size_t PartitionsToReceive(const cluster::ClusterNode& node, const cluster::NodeId& id, size_t n) {
  size_t count = 0;
  if (node.member_count() < 2) return 0;
  for (uint32_t k = 0; k < node.ring().partition_count(); ++k) {
    for (const cluster::Target& t : *node.PrimariesOfPartition(k, n)) {
      if (t.node != id || !t.in_new_set()) continue;
      if (t.pending || !node.membership().IsReady(id, k)) ++count;
    }
  }
  return count;
}

void CmdClusterNodes(CommandContext& ctx) {
  cluster::ClusterNode& node = ctx.server->cluster()->node();
  const size_t n = static_cast<size_t>(ctx.server->config().replicas);
  std::map<cluster::NodeId, cluster::Share> shares;
  for (const cluster::Share& share : node.ring().Shares()) shares.emplace(share.node, share);
  std::string out;
  for (const auto& [id, info] : node.membership().members()) {
    auto it = shares.find(id);
    const cluster::Share share = it != shares.end() ? it->second : cluster::Share{id, 0, 0};
    // Link and detector state: myself, or connected/disconnected plus
    // suspect or fail (Redis Cluster's words) when the detector says so;
    // leaving while a node hands its data over (CLUSTER LEAVE).
    std::string flags;
    std::string heard = "-";
    if (id == node.self_id()) {
      flags = "myself";
    } else {
      flags = node.IsConnected(id) ? "connected" : "disconnected";
      const cluster::MemberState st = node.StateOf(id);
      if (st == cluster::MemberState::kSuspect) flags += ",suspect";
      if (st == cluster::MemberState::kDead) flags += ",fail";
      if (const cluster::MemberView* v = node.ViewOf(id)) {
        heard = std::to_string(std::max<int64_t>(0, node.LoopNowMs() - v->last_heard_ms));
      }
    }
    if (info.leaving) flags += ",leaving";
    out += id + " " + info.host + ":" + std::to_string(info.port) + "@" +
           std::to_string(info.cport) + " " + flags + " " + std::to_string(share.partitions) + " " +
           Share(share.fraction) + " " + heard + " " +
           std::to_string(PartitionsToReceive(node, id, n)) + "\n";
  }
  ctx.reply.Verbatim("txt", out);
}

void CmdClusterPreflist(CommandContext& ctx) {
  cluster::ClusterNode& node = ctx.server->cluster()->node();
  auto replicas = node.Primaries(ctx.args[2], static_cast<size_t>(ctx.server->config().replicas));
  ctx.reply.ArrayHeader(replicas->size());
  for (const cluster::Target& t : *replicas) {
    const cluster::NodeId& id = t.node;
    const cluster::MemberInfo* info = node.membership().Find(id);
    ctx.reply.ArrayHeader(3);
    ctx.reply.Bulk(id);
    ctx.reply.Bulk(info == nullptr ? std::string("?:0")
                                   : info->host + ":" + std::to_string(info->port));
    ctx.reply.Bulk(t.fallback   ? "fallback"
                   : t.pending  ? "pending"
                   : t.outgoing ? "outgoing"
                                : "primary");
  }
}

// CLUSTER LEAVE: this node hands every partition to its new owners, then
// leaves the cluster and stops.
void CmdClusterLeave(CommandContext& ctx) {
  storage::Status st = ctx.server->cluster()->Leave();
  if (!st.ok()) return ctx.reply.Error("ERR " + st.message());
  ctx.reply.Ok();
}

// CLUSTER FORGET <node-id>: removes a failed node for good (Redis's errors
// where they apply).
void CmdClusterForget(CommandContext& ctx) {
  storage::Status st = ctx.server->cluster()->Forget(ctx.args[2]);
  if (!st.ok()) return ctx.reply.Error("ERR " + st.message());
  ctx.reply.Ok();
}

// CLUSTER MEET ip port [cport], with Redis's errors (cluster.c).
void CmdClusterMeet(CommandContext& ctx) {
  if (ctx.args.size() > 5) return ctx.reply.Error(errors::kSyntax);
  int64_t port = 0;
  int64_t cport = 0;
  if (!ParseInt64(ctx.args[3], &port) || port < 0 || port > 65535) {
    return ctx.reply.Error("ERR Invalid base port specified: " + ctx.args[3]);
  }
  if (ctx.args.size() == 5) {
    if (!ParseInt64(ctx.args[4], &cport) || cport < 0 || cport > 65535) {
      return ctx.reply.Error("ERR Invalid bus port specified: " + ctx.args[4]);
    }
  } else {
    cport = port + 10000;
  }
  sockaddr_in a4;
  sockaddr_in6 a6;
  const std::string& host = ctx.args[2];
  if (port == 0 || cport == 0 || cport > 65535 ||
      (uv_ip4_addr(host.c_str(), 0, &a4) != 0 && uv_ip6_addr(host.c_str(), 0, &a6) != 0)) {
    return ctx.reply.Error("ERR Invalid node address specified: " + host + ":" + ctx.args[3]);
  }
  ctx.server->cluster()->node().Meet({host, static_cast<int>(port), static_cast<int>(cport)});
  ctx.reply.Ok();
}

void CmdClusterMyid(CommandContext& ctx) {
  ctx.reply.Bulk(ctx.server->node_id());
}

// This node's own versions of a key, uncoordinated: GETV's shape.
void CmdClusterGetlocal(CommandContext& ctx) {
  ReplyGetv(ctx, ctx.args[2]);
}

void CmdClusterHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "INFO",
      "    Return information about the cluster: state, members, ring epoch, quorums.",
      "NODES",
      "    Return one line per node: id, address@cluster-port, flags, partitions, share.",
      "PREFLIST <key>",
      "    Return the replicas of <key>, in preference order.",
      "MEET <ip> <port> [<cport>]",
      "    Connect to the node at <ip>:<port> (cluster port <cport>, default port+10000).",
      "LEAVE",
      "    Hand this node's partitions to the other nodes, then leave the cluster and stop.",
      "FORGET <node-id>",
      "    Remove a failed node for good; its partitions are copied from the other replicas.",
      "MYID",
      "    Return this node's id.",
      "GETLOCAL <key>",
      "    Return this node's own versions of <key> as GETV does, without asking replicas.",
      "HELP",
      "    Print this help.",
  };
  ctx.reply.HelpLines(kLines);
}

void CmdClusterContainer(CommandContext& ctx) {
  ctx.reply.Error(errors::WrongArity("cluster"));
}

constexpr uint32_t kFlags = kCmdStale;

const CommandSpec kClusterSubcommands[] = {
    {"cluster|info", 2, kFlags, CmdClusterInfo, 0, 0, 0, "cluster",
     "Returns information about the state of the cluster.", "shoal 0.1"},
    {"cluster|nodes", 2, kFlags, CmdClusterNodes, 0, 0, 0, "cluster",
     "Returns the cluster's members and their shares of the ring.", "shoal 0.1"},
    {"cluster|preflist", 3, kFlags, CmdClusterPreflist, 0, 0, 0, "cluster",
     "Returns the replicas of a key in preference order.", "shoal 0.1"},
    {"cluster|meet", -4, kFlags | kCmdAdmin, CmdClusterMeet, 0, 0, 0, "cluster",
     "Forces a node to handshake with another node.", "shoal 0.1"},
    {"cluster|leave", 2, kFlags | kCmdAdmin, CmdClusterLeave, 0, 0, 0, "cluster",
     "Hands this node's data over, then leaves the cluster.", "shoal 0.1"},
    {"cluster|forget", 3, kFlags | kCmdAdmin, CmdClusterForget, 0, 0, 0, "cluster",
     "Removes a failed node from the cluster for good.", "shoal 0.1"},
    {"cluster|myid", 2, kFlags, CmdClusterMyid, 0, 0, 0, "cluster", "Returns the ID of a node.",
     "shoal 0.1"},
    {"cluster|getlocal", 3, kFlags, CmdClusterGetlocal, 0, 0, 0, "cluster",
     "Returns this node's own versions of a key, without coordination.", "shoal 0.1"},
    {"cluster|help", 2, kFlags, CmdClusterHelp, 0, 0, 0, "cluster",
     "Returns helpful text about the different subcommands.", "shoal 0.1"},
};

const CommandSpec kClusterCommands[] = {
    {"cluster", -2, 0, CmdClusterContainer, 0, 0, 0, "cluster", "A container for cluster commands.",
     "shoal 0.1", kClusterSubcommands},
};

}  // namespace

void RegisterClusterCommands(CommandTable& table) {
  table.Register(kClusterCommands);
}

}  // namespace shoal::server
