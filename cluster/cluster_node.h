#pragma once
// ClusterNode: this node's view of the cluster and its links to the others.
// Owns the membership state (members + ring, cluster/membership.h) and one
// outbound PeerClient per known peer, and keeps the state spreading by
// gossip: every gossip-interval-ms, and at once after a change, it sends its
// whole state (SHOAL.MEMBERS) to kGossipFanout random connected peers and
// merges what they answer (push-pull). It also runs the failure detector
// (cluster/failure_detector.h) over the same links (SHOAL.SWIM).
//
// The node's own entry carries the host it advertises (AdvertisedHost): a
// fixed one (cluster-announce-ip, or a specific `bind`), or, for a node bound
// to a wildcard, the address its authenticated peer connections use, learnt
// from the first of them; the entry is then updated under a higher
// incarnation and spread at once.
//
// Peers are found through seeds (cluster-seeds, CLUSTER MEET): a seed is
// only an address until its handshake tells us its node id; from then on it
// is known by id. Membership entries carry addresses, so a node that comes
// back on another address is followed.
//
// Runs on the loop thread. Logging goes through the `log` sink of the
// options (cluster/ does not know the server's logger).

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/advertised_host.h"
#include "cluster/failure_detector.h"
#include "cluster/log_sink.h"
#include "cluster/membership.h"
#include "cluster/peer/client.h"
#include "cluster/peer/forward_links.h"
#include "cluster/ring.h"
#include "facade/uv_handle.h"
#include "storage/file.h"
#include "storage/status.h"

namespace shoal::cluster {

struct ClusterNodeOptions {
  MemberInfo self;  // id, advertised host/port/cport, incarnation
  // self.host is a guess to be replaced by the address peer connections use
  // (a wildcard `bind` and no cluster-announce-ip); see AdvertisedHost.
  bool learn_host = false;
  std::string secret;     // cluster-secret
  std::string bind_addr;  // source address of outbound peer connections
  // tls-cluster yes: PeerClientOptions::tls of every peer link; empty: plain.
  std::function<std::shared_ptr<facade::TlsContext>()> tls;
  uint32_t partitions = kDefaultPartitions;
  int64_t exchange_interval_ms = 1000;  // gossip-interval-ms
  int64_t request_timeout_ms = 1000;    // membership exchanges time out after this
  int64_t node_timeout_ms = 5000;       // a silent node is suspected, then marked down
  LogSink log;
  // Where the membership is kept across restarts (cluster/membership_file.h);
  // no env: in memory only (tests).
  storage::Env* env = nullptr;
  std::string dir;
  // Saving the membership failed: the node must stop, or a restart would
  // find an older cluster than the one it acknowledged writes in.
  std::function<void(const storage::Status&)> fatal;
};

// A seed or MEET target: a client address, its cluster port.
struct PeerAddress {
  std::string host;
  int port = 0;   // client port (for naming)
  int cport = 0;  // cluster port (where we connect)
};

struct ClusterNodeStats {
  uint64_t peer_reconnects = 0;  // ready connections lost, then re-established
  uint64_t auth_failures = 0;    // handshakes refused either way
  uint64_t exchanges = 0;        // membership exchanges completed
  uint64_t ring_changes = 0;     // times the ring changed
};

class ClusterNode {
 public:
  // Peers each membership exchange round goes to (gossip fan-out).
  static constexpr size_t kGossipFanout = 3;

  ClusterNode(uv_loop_t* loop, ClusterNodeOptions options);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Loads the saved membership (a restarted node rejoins its cluster: it
  // links to every known member), connects to the seeds and starts the
  // exchange timer. Fails if the saved state is damaged or was made with
  // another partition count.
  storage::Status Start(const std::vector<PeerAddress>& seeds);
  // Closes every connection and the timer (callbacks of pending requests run).
  void Stop();

  // CLUSTER MEET: connects to `addr`; once the handshake completes the two
  // nodes exchange state.
  void Meet(const PeerAddress& addr);

  const std::string& self_id() const { return options_.self.id; }
  const Membership& membership() const { return membership_; }
  const Ring& ring() const { return membership_.ring(); }
  size_t member_count() const { return membership_.members().size(); }

  // The targets of key's partition for N = n (cluster/placement.h): the
  // first n distinct owners clockwise from it, or, while the partition is
  // being transferred, the nodes that hold it now plus the new ones
  // receiving it (pending). None is a fallback. Shared and cached per
  // partition (rebuilt when the membership or n changes): a request holds
  // its replica list without copying node ids.
  ReplicaSet Primaries(std::string_view key, size_t n) const;
  ReplicaSet PrimariesOfPartition(uint32_t partition, size_t n) const;

  // Counts every change of the membership state (members, ring, ready rows).
  uint64_t state_generation() const { return state_gen_; }

  // Sets this node's ready row (which key partitions it holds completely)
  // and spreads it. False if nothing changed.
  bool SetReady(std::string bits, std::string releasing = {});
  // CLUSTER LEAVE: marks this node leaving (out of the ring; it hands its
  // partitions over) and spreads it. Refused while partitions still move
  // for replication factor n (ChangeInProgress, cluster/placement.h).
  storage::Status Leave(size_t n);
  // CLUSTER FORGET: removes `id` for good (it must not be this node).
  storage::Status Forget(const NodeId& id);
  // A leaving node that handed everything over removes itself from the
  // membership, spreads that to every connected peer and calls `done` once
  // one of them has it (or the deadline passed: done(false)).
  void Depart(int64_t deadline_ms, std::function<void(bool spread)> done);
  bool leaving() const;

  // True if there is a ready (authenticated) connection to `id`.
  bool IsConnected(std::string_view id) const;
  // True if requests to `id` can be answered: a ready connection and the
  // failure detector does not hold it dead. A suspect still counts (it may
  // refute); a frozen node with an open socket stops counting once marked
  // down, so requests stop waiting for it.
  bool IsReachable(std::string_view id) const;

  // What the failure detector believes about `id` (alive for self and for
  // ids it does not know).
  MemberState StateOf(std::string_view id) const;
  // The detector's view of `id` (state, since, last heard), or nullptr.
  const MemberView* ViewOf(std::string_view id) const;
  // How many partitions have fewer than `w` reachable nodes (this one
  // counted) among their first `n` owners, or, with `sloppy` (fallbacks
  // stand in for down primaries), among all members: writes of their keys
  // fail.
  size_t PartitionsBelowQuorum(size_t n, size_t w, bool sloppy) const;

  // The clock the detector's times are in (uv_now).
  int64_t LoopNowMs() const { return static_cast<int64_t>(uv_now(loop_)); }

  // The detector (nullptr before Start).
  const FailureDetector* detector() const { return detector_.get(); }
  // The inbound side of SHOAL.SWIM: a failure-detector message from the
  // authenticated peer `from`. A message that does not decode is an error.
  storage::Status OnSwim(const NodeId& from, std::string_view bytes);

  // Sends a request to peer `id`. Without a client for that id the callback
  // runs at once with kNotConnected. `deadline_ms` is in uv_now() time.
  void Send(std::string_view id, std::vector<std::string> argv, int64_t deadline_ms,
            PeerCallback cb);
  // Send for a forwarded command (SHOAL.FWD): on the peer's forward link,
  // after every request sent to it before (cluster/peer/forward_links.h).
  void SendForward(std::string_view id, std::vector<std::string> argv, int64_t deadline_ms,
                   bool ordered, PeerCallback cb);

  // An inbound peer connection from `from` completed its handshake;
  // `local_host` is the address it connected to (a learning node may
  // advertise it, see AdvertisedHost).
  void OnInboundPeer(const NodeId& from, std::string_view local_host);

  // The inbound side of SHOAL.MEMBERS: merges a peer's encoded state and
  // returns ours (after the merge). A blob that does not decode is an error.
  storage::Result<std::string> OnMembers(std::string_view blob);

  // Called for every change of the ring (after it happened).
  void set_on_ring_change(std::function<void()> fn) { on_ring_change_ = std::move(fn); }
  // Called for every change of the membership state (after it happened,
  // after on_ring_change for a ring change).
  void set_on_state_change(std::function<void()> fn) { on_state_change_ = std::move(fn); }
  // Called when a peer's state says this node was removed (CLUSTER FORGET):
  // it must stop acting as a member.
  void set_on_removed(std::function<void()> fn) { on_removed_ = std::move(fn); }
  // Called for every change of a member's state as the detector sees it.
  void set_on_member_state(std::function<void(const MemberStateChange&)> fn) {
    on_member_state_ = std::move(fn);
  }

  const ClusterNodeStats& stats() const { return stats_; }

  // Writes to the options' `log` sink, if any; for the node's helpers
  // (PeerBatcher) too.
  void Log(LogSeverity sev, const std::string& msg) const;

 private:
  static void OnTimer(uv_timer_t* timer) noexcept;
  static void OnSwimTimer(uv_timer_t* timer) noexcept;
  // Saves and spreads ready-row changes, batched (StateChanged).
  static void OnRowsTimer(uv_timer_t* timer) noexcept;
  static constexpr int64_t kRowsPushDelayMs = 100;
  // Tells the detector about members it does not know yet.
  void SyncDetector();
  // Sends the detector's outbox and logs its state changes.
  void FlushDetector();
  int64_t NowMs() const { return LoopNowMs(); }
  void Exchange();
  void ExchangeWith(PeerClient& client);
  void MergeState(const Membership& other);
  // Writes the membership to `dir` (calls `fatal` on failure).
  void Save();
  // Creates clients for members we have no link to; follows address changes.
  void SyncLinks();
  PeerClientOptions PeerOptions() const;
  PeerClient* AddClient(const std::string& host, int cport);
  void Retire(PeerClient* client);
  void OnReady(PeerClient* client, const std::string& remote_id);
  // Offers `local_host`, seen on a connection described by `how`, as our
  // advertised host; on a change updates our entry and sends it to every
  // connected peer (then returns true).
  bool LearnHost(std::string_view local_host, const std::string& how);

  uv_loop_t* loop_;
  ClusterNodeOptions options_;
  Membership membership_;
  AdvertisedHost advertised_;
  ClusterNodeStats stats_;
  // After every local change of the state: saves it, follows links and the
  // detector, reports ring and state changes, and gossips it at once.
  // `rows_only`: only ready rows changed (saved and spread together within
  // kRowsPushDelayMs, OnRowsTimer).
  void StateChanged(uint64_t old_epoch, uint64_t old_digest, bool rows_only = false);

  std::function<void()> on_ring_change_;
  std::function<void()> on_state_change_;
  std::function<void()> on_removed_;
  uint64_t state_gen_ = 1;
  bool removed_ = false;
  bool rows_dirty_ = false;  // ready rows changed since the last save
  std::function<void(const MemberStateChange&)> on_member_state_;
  // Primaries() per partition for state_gen_ and prefs_n_.
  mutable std::vector<ReplicaSet> prefs_;
  mutable uint64_t prefs_gen_ = 0;
  mutable size_t prefs_n_ = 0;

  // Every outbound client, owned here. by_id_ indexes those whose handshake
  // told us their id; seeds not yet met sit in clients_ only.
  std::vector<std::unique_ptr<PeerClient>> clients_;
  std::map<std::string, PeerClient*, std::less<>> by_id_;
  // Clients replaced or found to be ourselves: destroyed from the timer,
  // never inside their own callbacks.
  std::vector<std::unique_ptr<PeerClient>> retired_;
  // Forwarded commands' links, one per peer in by_id_ that was forwarded to.
  std::unique_ptr<ForwardLinks> forward_links_;
  facade::UvHandle<uv_timer_t> timer_;       // the exchange timer, from Start() to Stop()
  facade::UvHandle<uv_timer_t> swim_timer_;  // drives the failure detector
  facade::UvHandle<uv_timer_t> rows_timer_;  // one-shot: batched ready-row changes
  std::unique_ptr<FailureDetector> detector_;
  std::mt19937_64 rng_{0x5eed};  // gossip peer choice; reseeded in Start()
  bool stopped_ = false;
};

}  // namespace shoal::cluster
