// The failure detector over a simulated network (swim_sim.h): detection time,
// false positives, pauses, one-way loss and partitions. Seeded, so every run
// is the same; the figures are printed with MESSAGE for the notes.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "cluster/failure_detector.h"
#include "tests/unit/cluster/swim_sim.h"

namespace shoal::cluster {
namespace {

using sim::SimChange;
using sim::SimOptions;
using sim::SwimSim;

// Dead declarations about subjects outside `allowed`.
int FalseDead(const SwimSim& s, const std::vector<int>& allowed, int64_t since_ms = 0) {
  int n = 0;
  for (const SimChange& c : s.changes()) {
    if (c.at_ms < since_ms || c.to != MemberState::kDead) continue;
    if (std::find(allowed.begin(), allowed.end(), c.subject) == allowed.end()) ++n;
  }
  return n;
}

int Count(const SwimSim& s, MemberState to, int64_t since_ms = 0) {
  int n = 0;
  for (const SimChange& c : s.changes()) n += (c.at_ms >= since_ms && c.to == to) ? 1 : 0;
  return n;
}

// When `observer` first held `subject` dead at or after `since_ms`; -1 if never.
int64_t FirstDead(const SwimSim& s, int observer, int subject, int64_t since_ms) {
  for (const SimChange& c : s.changes()) {
    if (c.at_ms >= since_ms && c.observer == observer && c.subject == subject &&
        c.to == MemberState::kDead) {
      return c.at_ms;
    }
  }
  return -1;
}

TEST_CASE(
    "fd sim: a crashed node is dead everywhere within node-timeout + 2 intervals (50 nodes)") {
  SimOptions o;
  o.nodes = 50;
  o.loss = 0.01;
  o.seed = 7;
  SwimSim s(o);
  const int64_t budget = o.node_timeout_ms + 2 * o.gossip_interval_ms;
  s.RunUntil(5000);
  std::vector<int> crashed;
  int64_t sum_all = 0, max_all = 0, sum_first = 0, max_first = 0;
  const int kCrashes = 12;
  for (int k = 0; k < kCrashes; ++k) {
    const int victim = 3 * k + 1;
    const int64_t t0 = s.now();
    s.Crash(victim);
    crashed.push_back(victim);
    s.RunFor(15000);
    int64_t first = -1, last = -1;
    for (int i = 0; i < s.size(); ++i) {
      if (!s.running(i)) continue;
      const int64_t at = FirstDead(s, i, victim, t0);
      CHECK_MESSAGE(at >= 0, "node ", i, " never marked ", victim, " dead");
      if (at < 0) continue;
      first = first < 0 ? at : std::min(first, at);
      last = std::max(last, at);
    }
    CHECK(last - t0 <= budget);
    sum_all += last - t0, max_all = std::max(max_all, last - t0);
    sum_first += first - t0, max_first = std::max(max_first, first - t0);
  }
  const int false_dead = FalseDead(s, crashed);
  CHECK(false_dead == 0);
  CHECK(s.decode_failures_ == 0);
  MESSAGE("50 nodes, 1% loss, 1-10 ms delay, N=5000 T=200, ", kCrashes,
          " crashes: dead at every live node after mean ", sum_all / kCrashes, " ms, max ", max_all,
          " ms (budget ", budget, "); first declaration mean ", sum_first / kCrashes, " ms, max ",
          max_first, " ms; false dead ", false_dead, "; ", s.messages() * 1000 / s.now() / 50,
          " msgs/s/node, ", s.bytes() / s.messages(), " B/msg");
}

TEST_CASE("fd sim: 10 minutes of 1% and 5% loss, no failures: no false dead (50 nodes)") {
  for (double loss : {0.01, 0.05}) {
    SimOptions o;
    o.nodes = 50;
    o.loss = loss;
    o.seed = 11;
    SwimSim s(o);
    s.RunUntil(10 * 60 * 1000);
    const int dead = Count(s, MemberState::kDead);
    CHECK(dead == 0);
    for (int i = 0; i < s.size(); ++i) CHECK(s.AllRunningSee(i, MemberState::kAlive));
    MESSAGE("50 nodes, ", loss * 100, "% loss, 10 min: false dead ", dead, ", suspicions ",
            Count(s, MemberState::kSuspect), " (all refuted), ", s.messages() * 1000 / s.now() / 50,
            " msgs/s/node, ", s.bytes() * 1000 / s.now() / 50, " B/s/node");
  }
}

TEST_CASE("fd sim: a paused node is declared dead, then refutes on resume") {
  SimOptions o;
  o.nodes = 20;
  o.loss = 0.01;
  o.seed = 3;
  SwimSim s(o);
  s.RunUntil(3000);
  const uint64_t before = s.fd(5).incarnation();
  s.Pause(5);
  s.RunFor(o.node_timeout_ms + 2 * o.gossip_interval_ms);
  CHECK(s.AllRunningSee(5, MemberState::kDead));
  s.RunFor(4000);
  const int64_t resumed = s.now();
  s.Resume(5);
  int64_t back = -1;
  for (int step = 0; step < 200 && back < 0; ++step) {
    s.RunFor(50);
    if (s.AllRunningSee(5, MemberState::kAlive)) back = s.now() - resumed;
  }
  CHECK(back >= 0);
  CHECK(s.fd(5).incarnation() > before);
  CHECK(s.fd(5).counters().refutations >= 1);
  // Waking up, the paused node accused no one (its stale probe was voided).
  CHECK(FalseDead(s, {5}) == 0);
  s.RunFor(10000);
  CHECK(FalseDead(s, {5}) == 0);
  CHECK(s.AllRunningSee(5, MemberState::kAlive));
  for (int i = 0; i < s.size(); ++i) {
    if (i != 5) CHECK(s.fd(5).Find(sim::SimNodeId(i))->state == MemberState::kAlive);
  }
  MESSAGE("20 nodes: paused node alive again everywhere ", back, " ms after resuming");

  // A pause shorter than the suspicion: suspected, refuted, never dead.
  const int64_t t1 = s.now();
  s.Pause(9);
  s.RunFor(1500);
  s.Resume(9);
  s.RunFor(5000);
  CHECK(Count(s, MemberState::kDead, t1) == 0);
  CHECK(s.AllRunningSee(9, MemberState::kAlive));
}

TEST_CASE("fd sim: one-way link loss declares neither end dead") {
  SimOptions o;
  o.nodes = 10;
  o.loss = 0.01;
  o.seed = 5;
  SwimSim s(o);
  s.CutOneWay(0, 1);  // 0 cannot reach 1; 1 still reaches 0
  s.CutOneWay(2, 3);
  s.CutOneWay(3, 2);  // and a link cut both ways
  s.RunUntil(2 * 60 * 1000);
  CHECK(Count(s, MemberState::kDead) == 0);
  for (int i : {0, 1, 2, 3}) CHECK(s.AllRunningSee(i, MemberState::kAlive));
  MESSAGE("10 nodes, links 0->1 and 2<->3 cut for 2 min: dead ", Count(s, MemberState::kDead),
          ", suspicions ", Count(s, MemberState::kSuspect));
}

TEST_CASE("fd sim: a partition marks the other side dead; healing brings it back") {
  SimOptions o;
  o.nodes = 12;
  o.loss = 0.01;
  o.seed = 9;
  SwimSim s(o);
  s.RunUntil(3000);
  for (int a = 0; a < 5; ++a) {
    for (int b = 5; b < 12; ++b) s.Cut(a, b);
  }
  s.RunFor(o.node_timeout_ms + 2 * o.gossip_interval_ms);
  for (int a = 0; a < 5; ++a) {
    for (int b = 5; b < 12; ++b) {
      CHECK(s.fd(a).Find(sim::SimNodeId(b))->state == MemberState::kDead);
      CHECK(s.fd(b).Find(sim::SimNodeId(a))->state == MemberState::kDead);
    }
  }
  s.RunFor(5000);
  s.Heal();
  const int64_t healed = s.now();
  int64_t back = -1;
  for (int step = 0; step < 600 && back < 0; ++step) {
    s.RunFor(50);
    bool all = true;
    for (int i = 0; i < s.size() && all; ++i) all = s.AllRunningSee(i, MemberState::kAlive);
    if (all) back = s.now() - healed;
  }
  CHECK(back >= 0);
  MESSAGE("12 nodes cut 5|7: every node alive everywhere ", back, " ms after healing");
}

}  // namespace
}  // namespace shoal::cluster
