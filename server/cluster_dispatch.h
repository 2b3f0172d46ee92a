#pragma once
// ClusterDispatch: runs client commands across the cluster. It maps each
// command onto per-key operations of the coordinator (cluster/coordinator.h)
// and keeps each connection's commands executing in the order they arrived.
//
// A keyed command is split into parts, one per key (MGET, MSET, DEL, EXISTS,
// TOUCH, UNLINK; every other command is one part). For each part:
//   - this node is not a replica of the key: the part is forwarded whole to
//     a replica (SHOAL.FWD), whose reply bytes are relayed;
//   - reads and read-modify-write commands first gather the key from R
//     replicas (Coordinator::Read, which merges into the local store), then
//     run the ordinary handler here; blind writes (SET without conditions,
//     SETEX, PSETEX, SETV, DELV) run at once;
//   - a write then ships the key's new object to the other replicas
//     (Coordinator::Replicate) and is acknowledged once W applied it.
// The parts' replies are combined as the command's reply (array for MGET,
// sum for DEL/EXISTS/TOUCH/UNLINK, OK for MSET).
//
// KEYS, SCAN, DBSIZE, RANDOMKEY, FLUSHALL and FLUSHDB are cluster-wide: every
// member runs them on the keys it owns (SHOAL.LOCAL) and the answers are
// combined, so each key counts once.
//
// Ordering: a connection's commands execute locally in arrival order — a
// command waiting for its read quorum holds back the ones behind it (their
// fan-outs still go out at once) — and their replies leave in that order
// (ReplyQueue). A cluster-wide command is a barrier: it runs once every
// earlier command is answered, and later ones start once it is answered.
// A connection with nothing waiting runs commands inline.
//
// It also serves the peer port (HandlePeer): the handshake, then SHOAL.MGET,
// SHOAL.MPUT, SHOAL.FWD, SHOAL.LOCAL and SHOAL.MEMBERS.
//
// While the cluster has a single member everything runs inline, exactly as
// on a lone node. Runs on the loop thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/cluster_node.h"
#include "cluster/coordinator.h"
#include "server/command.h"
#include "storage/keyspace.h"
#include "storage/status.h"

namespace shoal::server {

class Server;
class Session;
struct ClusterRequest;

struct ClusterDispatchStats {
  uint64_t forwarded_commands = 0;  // commands (parts) sent to another coordinator
  uint64_t served_forwards = 0;     // SHOAL.FWD coordinated here for another node
  uint64_t broadcasts = 0;          // cluster-wide commands
  uint64_t peer_auth_failures = 0;  // inbound handshakes refused
};

class ClusterDispatch {
 public:
  explicit ClusterDispatch(Server& server);
  ~ClusterDispatch();

  // Creates the cluster node and coordinator and connects to the seeds.
  // Needs the loop and the node id: call from Server::Start.
  void Start();
  void Stop();

  // More than one member: commands go through the coordinator.
  bool active() const;

  // Takes a client command (lookup, arity, auth and OOM already checked).
  // Returns false if the command is to run inline as on a lone node.
  bool Handle(Session& session, const CommandSpec* cmd, std::vector<std::string>& argv);

  // Serves one frame on the peer port.
  void HandlePeer(Session& session, std::vector<std::string>& argv);

  // The filter the enumerating commands use (nullptr when inactive).
  const std::function<bool(const storage::EntryView&)>* key_filter() const;

  cluster::ClusterNode* node() { return node_.get(); }
  cluster::Coordinator* coordinator() { return coordinator_.get(); }
  const ClusterDispatchStats& stats() const { return stats_; }
  // Re-reads N/R/W, timeouts and read-repair from the config.
  void ApplyConfig();

 private:
  std::shared_ptr<ClusterRequest> Build(Session& session, const CommandSpec* cmd,
                                        std::vector<std::string>& argv, bool forced_local);
  // Queues a request on its connection and runs what can run.
  void Enqueue(Session& session, const std::shared_ptr<ClusterRequest>& req);
  // Starts a request's fan-out: forwards and quorum reads.
  void Launch(const std::shared_ptr<ClusterRequest>& req);
  void Pump(uint64_t session_id);
  void PumpOnce(Session& session);
  void Execute(Session& session, const std::shared_ptr<ClusterRequest>& req);
  void ExecuteBroadcast(Session& session, const std::shared_ptr<ClusterRequest>& req);
  void MaybeComplete(const std::shared_ptr<ClusterRequest>& req);
  void ServePeerCommand(Session& session, std::vector<std::string>& argv);
  bool OwnsKey(const storage::EntryView& e) const;

  Server& server_;
  std::unique_ptr<cluster::ClusterNode> node_;
  std::unique_ptr<cluster::Coordinator> coordinator_;
  std::function<bool(const storage::EntryView&)> filter_;
  ClusterDispatchStats stats_;
};

}  // namespace shoal::server
