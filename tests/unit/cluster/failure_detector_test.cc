// FailureDetector driven by hand: a manual clock and hand-made messages.
// The network-level behaviour is in failure_detector_sim_test.cc.

#include "cluster/failure_detector.h"

#include <doctest/doctest.h>

#include <set>
#include <utility>
#include <vector>

#include "tests/unit/cluster/swim_sim.h"

namespace shoal::cluster {
namespace {

using sim::SimNodeId;

const NodeId kA = SimNodeId(0);

// A, knowing B, C, D and E (n = 5, so k = 3 confirmations are expected).
FailureDetector MakeA(FailureDetectorParams p = FailureDetectorParams::FromSettings(5000, 200)) {
  FailureDetector fd(kA, 1, p, 42, 0);
  for (int i = 1; i <= 4; ++i) fd.AddMember(SimNodeId(i), 1, 0);
  return fd;
}

std::vector<SwimOutgoing> OfType(const std::vector<SwimOutgoing>& out, SwimType type) {
  std::vector<SwimOutgoing> r;
  for (const SwimOutgoing& o : out) {
    if (o.message.type == type) r.push_back(o);
  }
  return r;
}

SwimMessage Msg(SwimType type, uint64_t seq, NodeId target = {},
                std::vector<SwimUpdate> updates = {}, uint64_t inc = 1) {
  return SwimMessage{type, seq, inc, std::move(target), std::move(updates)};
}

// Ticks a detector every millisecond, as a shell would, and answers each
// probe ping from its target unless the target is `silent`. Keeps what the
// detector sent, with the time it sent it.
struct Driver {
  FailureDetector& fd;
  int64_t now = 0;
  std::set<NodeId> silent;
  std::vector<std::pair<int64_t, SwimOutgoing>> sent;

  void RunTo(int64_t t) {
    while (now < t) {
      fd.Tick(++now);
      Collect();
    }
  }
  void Deliver(const NodeId& from, const SwimMessage& m) {
    fd.OnMessage(from, m, now);
    Collect();
  }
  void Collect() {
    for (SwimOutgoing& o : fd.TakeOutbox()) {
      const bool answer = o.message.type == SwimType::kPing && silent.count(o.to) == 0;
      const SwimMessage ack{SwimType::kAck, o.message.seq, 1, {}, {}};
      const NodeId from = o.to;
      sent.emplace_back(now, std::move(o));
      if (answer) fd.OnMessage(from, ack, now);
    }
  }
  // The next probe ping sent after `after_ms` (running the clock to it).
  std::pair<int64_t, SwimOutgoing> NextPing(int64_t after_ms) {
    for (;;) {
      for (const auto& [at, o] : sent) {
        if (at > after_ms && o.message.type == SwimType::kPing) return {at, o};
      }
      RunTo(now + 1);
    }
  }
  size_t Count(SwimType type, int64_t since_ms) const {
    size_t n = 0;
    for (const auto& [at, o] : sent) n += (at >= since_ms && o.message.type == type) ? 1 : 0;
    return n;
  }
};

TEST_CASE("fd params: derived from node-timeout and gossip-interval") {
  const auto p = FailureDetectorParams::FromSettings(5000, 200);
  CHECK(p.protocol_period_ms == 200);
  CHECK(p.probe_timeout_ms == 80);
  CHECK(p.relay_timeout_ms == 64);
  CHECK(p.suspicion_max_ms == 4400);
  CHECK(p.suspicion_min_ms == 2200);
  CHECK(p.stall_ms == 200);
  // Tight or nonsensical settings clamp to something that still runs.
  const auto tight = FailureDetectorParams::FromSettings(300, 200);
  CHECK(tight.suspicion_max_ms == 200);
  CHECK(tight.suspicion_min_ms == 200);
  const auto zero = FailureDetectorParams::FromSettings(0, 0);
  CHECK(zero.protocol_period_ms == 1);
  CHECK(zero.probe_timeout_ms == 1);
  CHECK(zero.suspicion_min_ms >= 1);
}

TEST_CASE("fd: a probe answered in time raises no suspicion") {
  FailureDetector fd = MakeA();
  Driver d{fd, 0, {}, {}};
  d.RunTo(10000);
  CHECK(fd.counters().probes >= 49);
  CHECK(fd.counters().probes <= 51);
  CHECK(fd.counters().suspicions == 0);
  CHECK(fd.counters().probe_failures == 0);
  CHECK(fd.awareness() == 0);
  for (const auto& [id, view] : fd.members()) {
    CHECK(view.state == MemberState::kAlive);
    CHECK(view.last_heard_ms > 10000 - 7 * 200);  // round-robin: at most 7 periods apart
  }
}

TEST_CASE("fd: no ack -> ping-req through k relays -> suspect; nacks spare local health") {
  FailureDetector fd = MakeA();
  Driver d{fd, 0, {}, {}};
  d.RunTo(1000);
  d.silent = {SimNodeId(1), SimNodeId(2), SimNodeId(3), SimNodeId(4)};
  const auto [t0, ping] = d.NextPing(d.now);
  const NodeId target = ping.to;
  d.RunTo(t0 + 79);
  CHECK(d.Count(SwimType::kPingReq, t0) == 0);
  d.RunTo(t0 + 80);  // probe timeout
  REQUIRE(d.Count(SwimType::kPingReq, t0) == 3);
  for (const auto& [at, o] : d.sent) {
    if (at < t0 || o.message.type != SwimType::kPingReq) continue;
    CHECK(o.to != target);
    CHECK(o.message.target == target);
    CHECK(o.message.seq == ping.message.seq);
    d.Deliver(o.to, SwimMessage{SwimType::kNack, o.message.seq, 1, {}, {}});
  }
  d.RunTo(t0 + 199);
  CHECK(fd.Find(target)->state == MemberState::kAlive);
  d.RunTo(t0 + 200);
  CHECK(fd.Find(target)->state == MemberState::kSuspect);
  CHECK(fd.counters().suspicions == 1);
  CHECK(fd.counters().nacks_received == 3);
  CHECK(fd.awareness() == 0);  // every relay nacked: our own links work
  auto changes = fd.TakeStateChanges();
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].node == target);
  CHECK(changes[0].to == MemberState::kSuspect);

  // The next failure, without nacks, counts against us once per silent relay,
  // and a less healthy node waits longer before its ping-reqs.
  const auto [t1, ping1] = d.NextPing(t0);
  d.RunTo(t1 + 200);
  CHECK(fd.counters().probe_failures == 2);
  const int score = fd.awareness();
  CHECK(score >= 2);
  const auto [t2, ping2] = d.NextPing(t1);
  CHECK(t2 - t1 == 200);  // the period stretches only from the next one on
  d.RunTo(t2 + 80 * (score + 1) - 1);
  CHECK(d.Count(SwimType::kPingReq, t2) == 0);
  d.RunTo(t2 + 80 * (score + 1));
  CHECK(d.Count(SwimType::kPingReq, t2) >= 1);
  (void)ping1, (void)ping2;
}

TEST_CASE("fd: an ack relayed through a ping-req relay counts; a stranger's does not") {
  FailureDetector fd = MakeA();
  Driver d{fd, 0, {}, {}};
  d.RunTo(1000);
  d.silent = {SimNodeId(1), SimNodeId(2), SimNodeId(3), SimNodeId(4)};
  const auto [t0, ping] = d.NextPing(d.now);
  d.RunTo(t0 + 80);
  NodeId relay;
  for (const auto& [at, o] : d.sent) {
    if (at >= t0 && o.message.type == SwimType::kPingReq) relay = o.to;
  }
  REQUIRE(!relay.empty());
  d.RunTo(t0 + 120);
  d.Deliver(relay, SwimMessage{SwimType::kAck, ping.message.seq, 1, {}, {}});
  d.RunTo(t0 + 200);
  CHECK(fd.Find(ping.to)->state == MemberState::kAlive);
  CHECK(fd.counters().probe_failures == 0);

  const auto [t1, next] = d.NextPing(t0);
  d.RunTo(t1 + 10);
  for (const auto& [id, view] : fd.members()) {
    if (id != next.to) {
      d.Deliver(id, SwimMessage{SwimType::kAck, next.message.seq, 1, {}, {}});
      break;
    }
  }
  d.RunTo(t1 + 200);
  CHECK(fd.counters().probe_failures == 1);
}

TEST_CASE("fd: as a relay, forward the target's ack or nack in time") {
  FailureDetector fd = MakeA();
  Driver d{fd, 0, {}, {}};
  d.RunTo(1000);  // a shell ticks all along (a late tick is a stall)
  (void)fd.TakeOutbox();
  const NodeId b = SimNodeId(1), c = SimNodeId(2);
  fd.OnMessage(b, Msg(SwimType::kPingReq, 77, c), 1000);
  auto out = fd.TakeOutbox();
  REQUIRE(out.size() == 1);
  CHECK(out[0].to == c);
  CHECK(out[0].message.type == SwimType::kPing);
  fd.OnMessage(c, Msg(SwimType::kAck, out[0].message.seq), 1010);
  out = fd.TakeOutbox();
  REQUIRE(out.size() == 1);
  CHECK(out[0].to == b);
  CHECK(out[0].message.type == SwimType::kAck);
  CHECK(out[0].message.seq == 77);

  fd.OnMessage(b, Msg(SwimType::kPingReq, 78, c), 1100);
  (void)fd.TakeOutbox();
  d.RunTo(1163);
  CHECK(d.Count(SwimType::kNack, 1100) == 0);
  d.RunTo(1164);
  REQUIRE(d.Count(SwimType::kNack, 1100) == 1);
  CHECK(d.sent.back().second.to == b);
  CHECK(d.sent.back().second.message.seq == 78);
  // A ping-req for a node we do not know is nacked at once.
  fd.OnMessage(b, Msg(SwimType::kPingReq, 79, SimNodeId(33)), 1164);
  auto nacks = OfType(fd.TakeOutbox(), SwimType::kNack);
  REQUIRE(nacks.size() == 1);
  CHECK(nacks[0].message.seq == 79);
}

TEST_CASE("fd: a suspect times out at max alone, at min once k accusers confirm") {
  const NodeId x = SimNodeId(4);
  for (int confirmations = 0; confirmations <= 3; ++confirmations) {
    FailureDetector fd = MakeA();
    Driver d{fd, 0, {}, {}};
    d.RunTo(1000);
    fd.OnMessage(SimNodeId(1),
                 Msg(SwimType::kGossip, 0, {}, {{x, 1, MemberState::kSuspect, SimNodeId(1)}}),
                 1000);
    for (int i = 0; i < confirmations; ++i) {
      const NodeId accuser = i < 2 ? SimNodeId(2 + i) : kA;  // our own probe counts too
      fd.OnMessage(SimNodeId(1),
                   Msg(SwimType::kGossip, 0, {}, {{x, 1, MemberState::kSuspect, accuser}}), 1000);
    }
    // timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1)), k = 3.
    const int64_t expected[] = {4400, 3300, 2656, 2200};
    const int64_t deadline = 1000 + expected[confirmations];
    CHECK(fd.NextDeadlineMs() <= deadline);
    d.RunTo(deadline - 1);  // every probe answered, x's included
    CHECK(fd.Find(x)->state == MemberState::kSuspect);
    d.RunTo(deadline);
    CHECK(fd.Find(x)->state == MemberState::kDead);
    CHECK(fd.counters().marked_down == 1);
  }
}

TEST_CASE("fd: refuting a suspicion about ourselves") {
  FailureDetector fd = MakeA();
  const NodeId b = SimNodeId(1);
  fd.OnMessage(b, Msg(SwimType::kGossip, 0, {}, {{kA, 5, MemberState::kSuspect, b}}), 10);
  CHECK(fd.incarnation() == 6);
  CHECK(fd.counters().refutations == 1);
  CHECK(fd.awareness() == 1);
  // Stale rumours about us change nothing.
  fd.OnMessage(b, Msg(SwimType::kGossip, 0, {}, {{kA, 5, MemberState::kDead, {}}}), 20);
  CHECK(fd.incarnation() == 6);
  // The refutation rides on what we send next, with our new incarnation.
  fd.OnMessage(b, Msg(SwimType::kPing, 9, kA), 30);
  auto out = fd.TakeOutbox();
  REQUIRE(out.size() == 1);
  CHECK(out[0].message.type == SwimType::kAck);
  CHECK(out[0].message.sender_incarnation == 6);
  REQUIRE(!out[0].message.updates.empty());
  CHECK(out[0].message.updates[0] == SwimUpdate{kA, 6, MemberState::kAlive, {}});
  // At the cap there is nothing to refute with; the detector does not overflow.
  fd.OnMessage(b, Msg(SwimType::kGossip, 0, {}, {{kA, kMaxIncarnation, MemberState::kDead, {}}}),
               40);
  CHECK(fd.incarnation() <= kMaxIncarnation);
}

TEST_CASE("fd: a dead member that speaks at a higher incarnation is alive again") {
  FailureDetector fd = MakeA();
  const NodeId x = SimNodeId(3);
  fd.OnMessage(SimNodeId(1), Msg(SwimType::kGossip, 0, {}, {{x, 1, MemberState::kDead, {}}}), 10);
  CHECK(fd.Find(x)->state == MemberState::kDead);
  // Buddy system: what we send x carries its death, so it can refute.
  fd.OnMessage(x, Msg(SwimType::kPing, 4, kA, {}, 1), 20);
  auto out = fd.TakeOutbox();
  REQUIRE(out.size() == 1);
  REQUIRE(!out[0].message.updates.empty());
  CHECK(out[0].message.updates[0] == SwimUpdate{x, 1, MemberState::kDead, {}});
  CHECK(fd.Find(x)->state == MemberState::kDead);  // its old incarnation proves nothing
  fd.OnMessage(x, Msg(SwimType::kAck, 999, {}, {}, 2), 30);
  CHECK(fd.Find(x)->state == MemberState::kAlive);
  CHECK(fd.Find(x)->incarnation == 2);
  CHECK(fd.counters().marked_down == 1);
  CHECK(fd.counters().marked_up == 1);
}

TEST_CASE("fd: a stall voids the probe in flight and stretches suspicions") {
  FailureDetector fd = MakeA();
  const NodeId x = SimNodeId(4);
  fd.OnMessage(SimNodeId(1),
               Msg(SwimType::kGossip, 0, {}, {{x, 1, MemberState::kSuspect, SimNodeId(1)}}), 0);
  Driver d{fd, 0, {}, {}};
  d.silent = {SimNodeId(1), SimNodeId(2), SimNodeId(3), SimNodeId(4)};
  const auto [t0, ping] = d.NextPing(0);
  fd.Tick(t0 + 10000);  // we were paused for ten seconds
  (void)ping;
  CHECK(fd.counters().stalls == 1);
  CHECK(fd.counters().probe_failures == 0);
  CHECK(fd.Find(x)->state == MemberState::kSuspect);  // its timeout had passed while we slept
  CHECK(fd.awareness() == 1);
  for (const auto& [id, view] : fd.members()) {
    if (id != x) CHECK(view.state == MemberState::kAlive);
  }
}

TEST_CASE("fd: strangers, misaddressed pings and unknown members are ignored") {
  FailureDetector fd = MakeA();
  fd.OnMessage(SimNodeId(40), Msg(SwimType::kPing, 1, kA), 10);  // not a member
  CHECK(fd.TakeOutbox().empty());
  fd.OnMessage(SimNodeId(1), Msg(SwimType::kPing, 1, SimNodeId(2)), 10);  // not for us
  CHECK(fd.TakeOutbox().empty());
  fd.OnMessage(SimNodeId(1),
               Msg(SwimType::kGossip, 0, {}, {{SimNodeId(41), 3, MemberState::kDead, {}}}), 10);
  CHECK(fd.Find(SimNodeId(41)) == nullptr);
  CHECK(fd.members().size() == 4);
  fd.RemoveMember(SimNodeId(1));
  CHECK(fd.Find(SimNodeId(1)) == nullptr);
  Driver d{fd, 0, {}, {}};
  d.RunTo(3000);
  CHECK(fd.counters().probes >= 14);
  for (const auto& [at, o] : d.sent) CHECK(o.to != SimNodeId(1));
}

}  // namespace
}  // namespace shoal::cluster
