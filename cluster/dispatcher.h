#pragma once
// Dispatcher: runs client commands across the cluster. It plans each command
// (cluster/route.h), runs each part where its key lives and keeps each
// connection's commands in order (cluster/request_queue.h):
//
//   - a part whose key has no replica here is forwarded whole to a replica
//     (SHOAL.FWD), whose reply bytes are relayed;
//   - a part that needs the key's value first is read from R replicas
//     (Coordinator::ReadIntoStore, which leaves the merge in the local
//     store), then run here on the store (on the merge, Keyspace::Pin, only
//     if the local copy could not be read); a
//     part on several keys of one replica set (MSETNX, RENAME, COPY, a
//     transaction) reads every key so and runs once all are in; a blind
//     write runs at once;
//   - a write then ships the key's new object to the other replicas
//     (Coordinator::Replicate) and is acknowledged once W applied it;
//   - a cluster-wide command runs on every member over the keys it owns
//     (SHOAL.LOCAL) and the answers are combined (cluster_wide.cc).
// The parts' replies are combined as the routing says.
//
// A connection with nothing queued runs commands that need no cluster work
// inline, exactly as a lone node does. Runs on the loop thread.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster/cluster_node.h"
#include "cluster/command_host.h"
#include "cluster/coordinator.h"
#include "cluster/peer/transport.h"
#include "cluster/request_queue.h"
#include "cluster/route.h"
#include "storage/change_feed.h"
#include "storage/clock.h"
#include "storage/keyspace.h"

namespace shoal::facade {
class Connection;
class ReplyBuilder;
}  // namespace shoal::facade

namespace shoal::cluster {

struct DispatcherOptions {
  size_t replicas = 3;  // N
  size_t read_quorum = 2;
  size_t write_quorum = 2;
  int64_t request_timeout_ms = 1000;
  // A primary that is down or unreachable is replaced by the next healthy
  // fallback (Ring::SloppyPreference), which keeps a hint for it.
  bool sloppy_quorum = true;
};

struct DispatcherStats {
  uint64_t forwarded_commands = 0;  // parts sent to another coordinator
  uint64_t served_forwards = 0;     // SHOAL.FWD coordinated here for another node
  uint64_t broadcasts = 0;          // cluster-wide commands
};

class Dispatcher final : private RouteContext, public storage::ChangeListener {
 public:
  Dispatcher(ClusterNode& node, Coordinator& coordinator, PeerTransport& transport,
             storage::Keyspace& keyspace, const storage::Clock& clock, CommandHost& host);
  ~Dispatcher() override;

  void set_options(const DispatcherOptions& options) { options_ = options; }

  // Takes a client command (lookup, arity, auth and OOM already checked).
  // Returns false if the command is to run inline as on a lone node.
  bool Handle(facade::Connection& conn, const CommandRef& cmd, std::vector<std::string>& argv);
  // The same with the command layer's hooks (cluster/request.h); always
  // takes the command, even one that could run inline.
  void Handle(facade::Connection& conn, const CommandRef& cmd, std::vector<std::string>& argv,
              RequestHooks hooks);
  // True if the keys share one replica set (a transaction's keys must).
  bool ShareReplicas(std::span<const std::string_view> keys) const {
    return cluster::ShareReplicas(*this, keys);
  }

  // The peer frames: SHOAL.FWD <command...> (coordinate a forwarded command
  // here; its reply goes back as one bulk string) and SHOAL.LOCAL
  // <command...> (this member's share of a cluster-wide command).
  void ServeForward(facade::Connection& conn, std::vector<std::string>& argv,
                    facade::ReplyBuilder& reply);
  void ServeLocal(facade::Connection& conn, std::vector<std::string>& argv,
                  facade::ReplyBuilder& reply);

  // The connection is gone: its queued commands are dropped (their fan-outs
  // finish without a reply to deliver).
  void OnConnectionClosed(facade::Connection& conn);

  // storage::ChangeListener: while a coordinated write runs here, the
  // keyspace's changes are recorded (node-id encoded, or as a container
  // write's delta) to be replicated; outside one, this does nothing.
  void OnChange(const storage::Change& change) override;
  void OnFlush() override {}
  bool WantsDeltas() const override { return capture_ != nullptr; }

  const DispatcherStats& stats() const { return stats_; }

 private:
  // One connection's state here: its queue, and whether it is still open.
  struct ConnState {
    facade::Connection* conn = nullptr;  // nullptr once it closed
    RequestQueue queue;
  };
  class Runner;

  // RouteContext.
  const NodeId& self() const override { return node_.self_id(); }
  ReplicaSet Replicas(std::string_view key) const override;
  CommandRef Find(std::string_view name) const override { return host_.Find(name); }
  bool Reachable(const NodeId& node) const override { return node_.IsReachable(node); }

  std::shared_ptr<ConnState> StateOf(facade::Connection& conn);
  void Enqueue(const std::shared_ptr<ConnState>& cs, std::shared_ptr<Request> req);
  void Pump(const std::shared_ptr<ConnState>& cs);
  void Launch(const std::shared_ptr<ConnState>& cs, const std::shared_ptr<Request>& req);
  void Execute(const std::shared_ptr<ConnState>& cs, const std::shared_ptr<Request>& req);
  void ExecuteClusterWide(const std::shared_ptr<ConnState>& cs,
                          const std::shared_ptr<Request>& req);
  void RunPart(facade::Connection& conn, const std::shared_ptr<ConnState>& cs,
               const std::shared_ptr<Request>& req, size_t i);
  void MaybeComplete(const std::shared_ptr<ConnState>& cs, const std::shared_ptr<Request>& req);
  // True if this node is a primary in `replicas` that holds the key's
  // partition (not a fallback, not a pending replica still receiving it).
  bool HoldsAsPrimary(const std::vector<Target>& replicas) const;

  // Cluster-wide commands (cluster_wide.cc). A unit is one node's share:
  // the node and the partitions whose keys it lists (a bitmap, one bit per
  // partition).
  struct Unit {
    NodeId node;
    std::string partitions;
  };
  // Every member lists the partitions it owns; the partitions of a member
  // marked down or unreachable are listed by a reachable replica of each.
  // Fails (naming the partition) when some partition has no reachable
  // replica.
  storage::Result<std::vector<Unit>> ListingUnits() const;
  std::string OwnedPartitions(const NodeId& node) const;
  // Live entries whose partition is set in `bitmap`.
  KeyFilter PartitionFilter(std::string bitmap) const;
  bool Up(const NodeId& node) const { return node == node_.self_id() || node_.IsReachable(node); }

  ClusterNode& node_;
  Coordinator& coordinator_;
  PeerTransport& transport_;
  storage::Keyspace& keyspace_;
  const storage::Clock& clock_;
  CommandHost& host_;
  DispatcherOptions options_;
  DispatcherStats stats_;
  std::unordered_map<const facade::Connection*, std::shared_ptr<ConnState>> conns_;
  // What a coordinated write changed in one key: its new object, node-id
  // encoded, or (a container write's) delta and no object.
  struct Captured {
    std::string object;
    std::string delta;
  };
  // While a coordinated write runs: the keys it changed.
  std::map<std::string, Captured, std::less<>>* capture_ = nullptr;
};

}  // namespace shoal::cluster
