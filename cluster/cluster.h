#pragma once
// Cluster: this node's part in the cluster, put together. Owns the membership
// and peer links (ClusterNode), the transport over them, the coordinator
// (get/put state machines), the replica side, the inbound peer server and
// the dispatcher that routes client commands, and wires the peer frames to
// them:
//   SHOAL.MGET, SHOAL.MPUT, SHOAL.MDELTA -> Replica
//   SHOAL.MEMBERS            -> ClusterNode (membership exchange)
//   SHOAL.FWD, SHOAL.LOCAL   -> Dispatcher
//   SHOAL.XFER               -> PartitionTransfer
//   SHOAL.PURGECHECK, SHOAL.PURGE -> TombstoneReaper
//   SHOAL.AEBRANCH, SHOAL.AELEAF, SHOAL.AEKEYS -> AntiEntropy
//
// While the cluster has a single member, `active()` is false and the server
// runs every command inline, exactly as on a lone node. Runs on the loop
// thread.

#include <uv.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cluster/anti_entropy.h"
#include "cluster/cluster_node.h"
#include "cluster/command_host.h"
#include "cluster/coordinator.h"
#include "cluster/dispatcher.h"
#include "cluster/hint_store.h"
#include "cluster/local_replica.h"
#include "cluster/log_sink.h"
#include "cluster/partition_transfer.h"
#include "cluster/peer/link_transport.h"
#include "cluster/peer/server.h"
#include "cluster/tombstone_reaper.h"
#include "facade/connection.h"
#include "storage/clock.h"
#include "storage/keyspace.h"
#include "storage/status.h"
#include "storage/store.h"

namespace shoal::cluster {

// Hinted handoff: how a fallback keeps and hands off what it stood in for.
struct HandoffOptions {
  bool enabled = true;  // hinted-handoff; off: fallbacks refuse, only primaries count
  HintSync sync = HintSync::kEverysec;   // as appendfsync
  int64_t max_age_ms = 3 * 3600 * 1000;  // hints older than this are dropped (counted)
  uint64_t max_bytes = 256ull << 20;     // pending hint bytes; the oldest go first past it
  size_t batch_items = 256;              // hints per hand-off frame
  uint64_t batch_bytes = 1ull << 20;     // bytes per hand-off frame
};

struct ClusterOptions {
  MemberInfo self;  // id, advertised host/port/cport, incarnation
  // self.host is a guess, replaced by the address peer connections use
  // (ClusterNodeOptions::learn_host).
  bool learn_host = false;
  std::string secret;     // cluster-secret
  std::string bind_addr;  // source address of outbound peer connections ("": any)
  // tls-cluster yes: the TLS context for peer links both ways (PeerServerOptions::tls,
  // PeerClientOptions::tls); empty: plain TCP.
  std::function<std::shared_ptr<facade::TlsContext>()> tls;
  std::string listen_addr;  // the cluster port's listening address
  // The cluster port to listen on; 0: self.cport. They differ when
  // cluster-announce-bus-port advertises another (a NAT's or container's).
  int listen_cport = 0;
  uint32_t partitions = kDefaultPartitions;
  int64_t gossip_interval_ms = 1000;
  int64_t exchange_timeout_ms = 1000;  // membership exchanges time out after this
  int64_t node_timeout_ms = 5000;      // failure detection (cluster/failure_detector.h)
  std::vector<PeerAddress> seeds;
  int backlog = 511;
  // Where the membership is kept (ClusterNodeOptions::env, dir, fatal).
  storage::Env* env = nullptr;
  std::string dir;
  std::function<void(const storage::Status&)> fatal;
  LogSink log;
  HandoffOptions handoff;
  // The node's data survives a restart (appendonly yes); see
  // TransferOptions::durable.
  bool durable = true;
  // This node left the cluster (CLUSTER LEAVE completed) or was removed
  // from it (CLUSTER FORGET): the server stops.
  std::function<void(const std::string& why)> on_gone;
};

struct HandoffStats {
  uint64_t batches = 0;    // hand-off frames sent
  uint64_t delivered = 0;  // hints the owner acknowledged
  uint64_t failures = 0;   // frames that failed (the hints stay)
};

// The settings that can change at run time (CONFIG SET).
struct ClusterTuning {
  size_t replicas = 3;      // N
  size_t read_quorum = 2;   // R
  size_t write_quorum = 2;  // W
  int64_t request_timeout_ms = 1000;
  bool read_repair = true;
  bool sloppy_quorum = true;
  int64_t tombstone_grace_ms = 60000;        // dead keys are purged no sooner
  int64_t anti_entropy_interval_ms = 60000;  // 0 = off
};

class Cluster {
 public:
  Cluster(uv_loop_t* loop, storage::Keyspace& keyspace, const storage::Clock& clock,
          CommandHost& host, facade::OutputBatch& output, facade::IoStats& io,
          ClusterOptions options);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Opens the hint store, listens on the cluster port and connects to the
  // seeds.
  storage::Status Start();
  // Makes the hints taken in this loop iteration durable; the server calls
  // it with the log's group commit, before replies leave. An error is fatal.
  storage::Status CommitHints();
  // Closes the peer port, the links and the timers; requests in flight fail.
  void Stop();

  void Tune(const ClusterTuning& tuning);

  // CLUSTER LEAVE: this node hands its partitions over, then stops.
  storage::Status Leave() { return node_.Leave(transfer_.options().replicas); }
  // CLUSTER FORGET: removes a dead node for good; its hints are dropped.
  storage::Status Forget(const NodeId& id);
  void set_peer_limits(const facade::ConnectionLimits& limits) { peer_server_.set_limits(limits); }

  // More than one member: commands go through the dispatcher.
  bool active() const { return node_.member_count() > 1; }

  // Takes a client command when the cluster is active; false: run it inline.
  bool Handle(facade::Connection& conn, const CommandRef& cmd, std::vector<std::string>& argv) {
    return active() && dispatcher_.Handle(conn, cmd, argv);
  }
  // The same with the command layer's hooks (a transaction's EXEC, WATCH);
  // false when the cluster is not active.
  bool Handle(facade::Connection& conn, const CommandRef& cmd, std::vector<std::string>& argv,
              RequestHooks hooks) {
    if (!active()) return false;
    dispatcher_.Handle(conn, cmd, argv, std::move(hooks));
    return true;
  }
  // True if the keys share one replica set (always, on a lone node).
  bool ShareReplicas(std::span<const std::string_view> keys) const {
    return !active() || dispatcher_.ShareReplicas(keys);
  }
  void OnConnectionClosed(facade::Connection& conn) { dispatcher_.OnConnectionClosed(conn); }
  ClusterNode& node() { return node_; }
  const Coordinator& coordinator() const { return coordinator_; }
  const LocalReplica& replica() const { return replica_; }
  const Dispatcher& dispatcher() const { return dispatcher_; }
  const PeerServer& peer_server() const { return peer_server_; }
  const PartitionTransfer& transfer() const { return transfer_; }
  const TombstoneReaper& reaper() const { return reaper_; }
  // The hint store (nullptr when hinted handoff is off).
  const HintStore* hints() const { return hints_.get(); }
  const HandoffStats& handoff_stats() const { return handoff_stats_; }
  const AntiEntropy& anti_entropy() const { return anti_entropy_; }
  // The store evicted `key` (the server's eviction observer): the
  // anti-entropy trees forget it.
  void OnEvicted(std::string_view key) { anti_entropy_.OnEvicted(key); }

 private:
  // Keeps tombstones and indexes the store by partition once the cluster
  // has more than one member.
  void OnRingChange();
  static void OnHandoffTimer(uv_timer_t* timer) noexcept;
  // This node left or was removed: tells the server (options_.on_gone) from
  // a timer.
  void Gone(std::string why);
  static void OnGoneTimer(uv_timer_t* timer) noexcept;
  // Hands a batch of hints to each reachable owner that has none in flight.
  void HandOff();
  void HandOffTo(const NodeId& target);
  // Turns anti-entropy on or off and sets its timer's period.
  void ConfigureAntiEntropy();
  static void OnAntiEntropyTimer(uv_timer_t* timer) noexcept;

  ClusterOptions options_;
  storage::Keyspace& keyspace_;
  const storage::Clock& clock_;
  ClusterNode node_;
  LinkTransport transport_;
  Coordinator coordinator_;
  LocalReplica replica_;
  Dispatcher dispatcher_;
  PeerServer peer_server_;
  PartitionTransfer transfer_;
  TombstoneReaper reaper_;
  std::unique_ptr<HintStore> hints_;
  facade::UvHandle<uv_timer_t> handoff_timer_;
  facade::UvHandle<uv_timer_t> gone_timer_;
  std::string gone_why_;
  std::set<NodeId> handoff_in_flight_;
  HandoffStats handoff_stats_;
  ClusterTuning tuning_;
  AntiEntropy anti_entropy_;
  facade::UvHandle<uv_timer_t> ae_timer_;
  uint64_t ae_timer_period_ms_ = 0;
  uv_loop_t* loop_;
  bool stopped_ = false;
};

}  // namespace shoal::cluster
