#pragma once
// FailureDetector: one node's SWIM failure detector with Lifeguard's
// refinements, as pure logic. The shell (ClusterNode, later) feeds it members,
// received messages and ticks, and sends what it puts in its outbox; the
// detector owns no loop, socket or clock (time is always an argument) and
// draws every random choice from a seeded std::mt19937_64, so a run is
// reproducible from its inputs.
//
// The protocol (SWIM, Das et al. 2002, sections 3-4):
//   - Every protocol period the node probes one member, walking a shuffled
//     list round-robin (reshuffled every round), with a direct kPing. No ack
//     within the probe timeout: kPingReq to `indirect_checks` random alive
//     members, which ping the target and forward its ack. No ack by the end of
//     the period: the target becomes suspect, at its current incarnation.
//   - A suspect not refuted before its suspicion timeout becomes dead.
//   - Rumours (alive/suspect/dead at an incarnation, merged by
//     cluster/liveness.h) piggyback on every message, each sent
//     retransmit_mult * ceil(log10(n + 1)) times by every node that learns it
//     (newest, least-sent first, at most max_piggyback a message), plus a
//     kGossip to `gossip_fanout` random members each period while rumours are
//     pending. A round costs O(1) messages of bounded size per node and each
//     rumour O(n log n) transmissions cluster-wide, whatever the key count.
//   - A node that hears it is suspect or dead refutes: it raises its own
//     incarnation past the rumour's and spreads alive. Every message carries
//     its sender's incarnation, which is first-hand proof of life: a dead
//     member that speaks again at a higher incarnation is alive again.
// Lifeguard (Dadgar et al. 2017):
//   - Local health multiplier (section 4.1): an awareness score in
//     [0, max_awareness - 1], +1 for a failed probe without its expected
//     nacks (+1 per missing nack), +1 per refutation, +1 per stall (a Tick far
//     later than due: the process was paused or starved), -1 per successful
//     probe. Probe timeout and period are scaled by (score + 1), so a node that
//     is itself slow probes less eagerly and accuses less.
//   - Dynamic suspicion timeout (section 4.2): a suspicion starts at
//     suspicion_max_ms and shrinks towards suspicion_min_ms, on a log scale, as
//     independent accusers confirm it (k = min(indirect_checks, n - 2)
//     expected confirmations):
//       timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1)).
//   - Nack from ping-req relays (section 4.1), counted by the awareness score.
//   - Buddy system (section 4.3): a message to a member we hold suspect or
//     dead always carries that rumour, so the member can refute at once.
// Two shell-facing additions: every dead_probe_every periods one dead member
// is pinged (so a healed partition, or a node back from a pause that never
// learnt it was declared dead, refutes), and a Tick more than stall_ms after
// it was due voids the probe in flight and does not count the missed time
// against suspicions (a paused node does not accuse everyone on waking).
//
// Not thread safe; one instance per node, driven from one loop.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "cluster/liveness.h"
#include "cluster/ring.h"
#include "cluster/swim_message.h"

namespace shoal::cluster {

// The detector's parameters, all derived from the two settings by
// FromSettings (the derivation is documented there).
struct FailureDetectorParams {
  int64_t protocol_period_ms = 200;  // T: one probe (and one gossip fan-out)
  int64_t probe_timeout_ms = 80;     // direct ack wait; then ping-req
  int64_t relay_timeout_ms = 64;     // a relay nacks after this without an ack
  int indirect_checks = 3;           // k: ping-req relays, expected confirmations
  int64_t suspicion_min_ms = 2200;   // suspicion timeout once k accusers confirm
  int64_t suspicion_max_ms = 4400;   // suspicion timeout of a lone accuser
  int retransmit_mult = 4;           // lambda: sends per rumour = lambda*ceil(log10(n+1))
  int max_awareness = 8;             // local health multiplier cap
  int gossip_fanout = 3;             // kGossip messages per period while rumours pend
  int dead_probe_every = 5;          // periods between pings to one dead member
  size_t max_piggyback = 8;          // rumours per message (<= kMaxUpdates)
  int64_t stall_ms = 200;            // a Tick this late means we were not running

  // From `node-timeout-ms` (N) and `gossip-interval-ms` (T), N > T > 0
  // (values outside are clamped):
  //   protocol period T; probe timeout 2T/5, leaving 3T/5 for the indirect
  //   probe; a relay nacks after 4/5 of the probe timeout, so its nack
  //   arrives before the requester's period ends.
  //   A crashed node is first probed after about one period (n - 1 probers
  //   each reach it once a round) and suspected a period later: ~2T.
  //   suspicion_max = N - 3T: a lone accuser declares death by ~N - T, and the
  //   death reaches every node in ~3 more periods (gossip fan-out 3 plus the
  //   probe and its ack infect ~4 nodes a period: log4(50) < 3), hence
  //   "dead everywhere within N + 2T". suspicion_min = suspicion_max / 2:
  //   with k confirmations (every cluster of 4 or more that really lost the
  //   node) detection takes about N/2 + 3T; a lone accuser, perhaps the sick
  //   one, waits twice as long. Both are at least T. stall_ms = T.
  static FailureDetectorParams FromSettings(int64_t node_timeout_ms, int64_t gossip_interval_ms);
};

// What this node believes about one member, and when it last heard from it.
struct MemberView {
  MemberState state = MemberState::kAlive;
  uint64_t incarnation = 0;
  int64_t state_since_ms = 0;  // when this node adopted `state`
  int64_t last_heard_ms = 0;   // last message from the member itself (or when added)
};

struct FailureDetectorCounters {
  uint64_t suspicions = 0;          // members that became suspect here
  uint64_t suspicions_cleared = 0;  // suspect -> alive (someone refuted)
  uint64_t refutations = 0;         // times this node refuted a rumour about itself
  uint64_t marked_down = 0;         // members that became dead here
  uint64_t marked_up = 0;           // dead -> alive
  uint64_t probes = 0;              // direct probes started
  uint64_t probe_failures = 0;      // probes that ended without an ack
  uint64_t ping_reqs_sent = 0;
  uint64_t nacks_received = 0;
  uint64_t stalls = 0;  // Ticks that came stall_ms late or more
};

// A message to send. The shell encodes it (EncodeSwimMessage) and sends it to
// `to`; a lost message is fine (the protocol expects loss).
struct SwimOutgoing {
  NodeId to;
  SwimMessage message;
};

// One change of a member's state as this node sees it, for the shell's log
// ("Marking node ... as failing" once per change).
struct MemberStateChange {
  NodeId node;
  MemberState from = MemberState::kAlive;
  MemberState to = MemberState::kAlive;
  uint64_t incarnation = 0;
  int64_t at_ms = 0;
};

class FailureDetector {
 public:
  // `self` at `incarnation` (e.g. MemberInfo::incarnation; the detector
  // raises it to refute, see incarnation()). `seed` drives every random
  // choice. `now_ms` is the shell's clock (any epoch; only differences
  // matter) and must never go backwards across calls.
  FailureDetector(NodeId self, uint64_t incarnation, FailureDetectorParams params, uint64_t seed,
                  int64_t now_ms);

  // A member joined the set (first-hand, from the membership layer): alive at
  // `incarnation` unless we already know better (merged). It is probed in the
  // current round. Self and invalid incarnations are ignored.
  void AddMember(const NodeId& id, uint64_t incarnation, int64_t now_ms);
  // A member left the set (CLUSTER FORGET, leave): forgotten, rumours about it
  // dropped. Messages from non-members are ignored.
  void RemoveMember(const NodeId& id);

  // A decoded message from `from` (the authenticated peer) arrived. Answers
  // go to the outbox. Ignored if `from` is not a member.
  void OnMessage(const NodeId& from, const SwimMessage& message, int64_t now_ms);

  // Advances the protocol to `now_ms`: probe timeouts, ping-reqs, suspicion
  // expiry, the next period. Call it at NextDeadlineMs() (or on a repeating
  // timer of at most T/4); calling it more often is harmless.
  void Tick(int64_t now_ms);
  // The earliest time at which Tick has something to do.
  int64_t NextDeadlineMs() const;

  // Messages to send, oldest first; the outbox is left empty.
  std::vector<SwimOutgoing> TakeOutbox();
  // State changes since the last call, in order; the list is left empty.
  std::vector<MemberStateChange> TakeStateChanges();

  const NodeId& self() const { return self_; }
  // Our own incarnation; it rises with every refutation. The shell should
  // persist it (a restarted node must start above it) and publish it in its
  // membership entry.
  uint64_t incarnation() const { return incarnation_; }
  // The local health score, in [0, max_awareness - 1].
  int awareness() const { return awareness_; }
  const FailureDetectorParams& params() const { return params_; }
  const FailureDetectorCounters& counters() const { return counters_; }
  // Every member but self, by id.
  const std::map<NodeId, MemberView>& members() const { return members_; }
  // The view of `id`, or nullptr (self is not a member). Valid until the
  // next call that changes the detector.
  const MemberView* Find(const NodeId& id) const;

 private:
  struct Suspicion {
    int64_t start_ms = 0;
    int k = 0;                  // confirmations expected
    std::set<NodeId> accusers;  // the first does not count as a confirmation
  };
  struct Probe {
    bool active = false;
    bool acked = false;
    bool indirect_sent = false;
    NodeId target;
    uint64_t seq = 0;
    int64_t ack_deadline_ms = 0;
    int64_t end_ms = 0;
    std::set<NodeId> relays;
    std::set<NodeId> nacks;
  };
  struct Relay {
    NodeId requester;
    uint64_t requester_seq = 0;
    NodeId target;
    int64_t nack_at_ms = 0;
  };
  struct Pending {
    SwimUpdate update;
    int transmits = 0;
    uint64_t order = 0;  // larger is newer
  };

  void ApplyUpdate(const SwimUpdate& update, int64_t now_ms);
  void SetState(const NodeId& id, MemberView& view, Liveness to, int64_t now_ms);
  void Refute(uint64_t above, bool accused);
  void Broadcast(SwimUpdate update);
  void Send(const NodeId& to, SwimType type, uint64_t seq, const NodeId& target);
  std::vector<SwimUpdate> Piggyback(const NodeId& to);
  int RetransmitLimit() const;
  int64_t SuspicionTimeout(const Suspicion& s) const;
  void StartPeriod(int64_t now_ms);
  void FinishProbe(bool acked, int64_t now_ms);
  void OnStall(int64_t now_ms);
  std::optional<NodeId> NextProbeTarget();
  std::vector<NodeId> RandomMembers(size_t count, const std::set<NodeId>& exclude, bool alive_only);
  void AdjustAwareness(int delta);
  int64_t Scaled(int64_t ms) const { return ms * (awareness_ + 1); }

  NodeId self_;
  uint64_t incarnation_;
  FailureDetectorParams params_;
  std::mt19937_64 rng_;

  std::map<NodeId, MemberView> members_;
  std::map<NodeId, Suspicion> suspicions_;
  std::map<NodeId, Pending> pending_;  // by the node the rumour is about
  uint64_t broadcast_order_ = 0;

  std::vector<NodeId> probe_order_;
  size_t probe_index_ = 0;
  Probe probe_;
  std::map<uint64_t, Relay> relays_;  // by the seq of our ping to the target
  uint64_t next_seq_ = 1;
  int64_t next_period_ms_;
  uint64_t periods_ = 0;
  int awareness_ = 0;
  int64_t due_ms_;  // NextDeadlineMs() after the last call (stall detection)

  std::vector<SwimOutgoing> outbox_;
  std::vector<MemberStateChange> changes_;
  FailureDetectorCounters counters_;
};

}  // namespace shoal::cluster
