#include "cluster/placement.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cluster/quorum.h"
#include "tests/unit/cluster/test_ids.h"

namespace shoal::cluster {
namespace {

// A 40-hex-character node id derived from i.
NodeId NodeIdOf(int i) {
  return TestNodeId("placement", i);
}

MemberInfo Info(int i, uint64_t incarnation = 1, bool leaving = false) {
  return MemberInfo{
      NodeIdOf(i), "127.0.0." + std::to_string(i + 1), 7000 + i, 17000 + i, incarnation, leaving};
}

// Members 0..count-1, built by first-hand additions to a solo state.
Membership GroupOf(int count, uint32_t partitions) {
  Membership m = Membership::Solo(Info(0), partitions);
  for (int i = 1; i < count; ++i) REQUIRE(m.AddMember(Info(i)));
  return m;
}

// The new set of k: the ring's first n distinct owners from k.
std::vector<NodeId> NewSet(const Membership& m, uint32_t k, size_t n) {
  std::vector<NodeId> out;
  for (const Replica& r : m.ring().PreferenceForPartition(k, n).primaries) out.push_back(r.node);
  return out;
}

bool Contains(const std::vector<NodeId>& v, const NodeId& id) {
  return std::find(v.begin(), v.end(), id) != v.end();
}

std::string BitsOf(uint32_t partitions, const std::vector<uint32_t>& set) {
  std::string bits(PartitionBitmapBytes(partitions), '\0');
  for (uint32_t k : set) bits[k / 8] = static_cast<char>(bits[k / 8] | (1 << (k % 8)));
  return bits;
}

// The partitions `node` is ready for, plus `more`.
std::vector<uint32_t> ReadyOf(const Membership& m, const NodeId& node,
                              const std::vector<uint32_t>& more = {}) {
  std::vector<uint32_t> out = more;
  for (uint32_t k = 0; k < m.ring().partition_count(); ++k) {
    if (m.IsReady(node, k)) out.push_back(k);
  }
  return out;
}

// The settled state: every member holds exactly the partitions it
// replicates under the current ring.
void Settle(Membership& m, size_t n) {
  const uint32_t q = m.ring().partition_count();
  std::map<NodeId, std::vector<uint32_t>> held;
  for (uint32_t k = 0; k < q; ++k) {
    for (const NodeId& node : NewSet(m, k, n)) held[node].push_back(k);
  }
  for (const auto& [id, info] : m.members()) m.SetReady(id, BitsOf(q, held[id]));
}

// The read set (targets that serve reads) and the pending nodes of a plan.
std::vector<NodeId> ReadSet(const std::vector<Target>& plan) {
  std::vector<NodeId> out;
  for (const Target& t : plan) {
    if (t.reads()) out.push_back(t.node);
  }
  return out;
}
std::vector<NodeId> PendingOf(const std::vector<Target>& plan) {
  std::vector<NodeId> out;
  for (const Target& t : plan) {
    if (t.pending) out.push_back(t.node);
  }
  return out;
}

// Ready as a member of the new set: holds k and is not releasing it.
bool Holds(const Membership& m, const NodeId& node, uint32_t k) {
  return m.IsReady(node, k) && !m.IsReleasing(node, k);
}

// The checks every plan passes, whatever the state (placement.h).
void CheckPlan(const Membership& m, uint32_t k, size_t n) {
  CAPTURE(k);
  const std::vector<Target> plan = PlanPartition(m, k, n);
  const std::vector<NodeId> new_set = NewSet(m, k, n);
  const bool any = AnyReady(m, k);
  std::set<NodeId> seen;
  size_t reads = 0, pending = 0, outgoing = 0;
  bool past_reads = false;
  for (const Target& t : plan) {
    CAPTURE(t.node);
    CHECK(seen.insert(t.node).second);  // never twice
    CHECK(t.partition == k);
    CHECK_FALSE(t.fallback);
    CHECK(t.stands_in_for.empty());
    CHECK_FALSE((t.pending && t.outgoing));
    CHECK(m.Find(t.node) != nullptr);
    if (t.pending) {
      past_reads = true;
      ++pending;
      CHECK(Contains(new_set, t.node));
      CHECK_FALSE(Holds(m, t.node, k));
      CHECK(any);
    } else {
      CHECK_FALSE(past_reads);  // pending targets come after the read set
      ++reads;
      if (t.outgoing) {
        ++outgoing;
        CHECK_FALSE(Contains(new_set, t.node));
        CHECK(m.IsReady(t.node, k));
      } else {
        CHECK(Contains(new_set, t.node));
        CHECK((!any || Holds(m, t.node, k)));
      }
    }
  }
  CHECK(reads <= n);
  CHECK(reads >= 1);           // somebody serves reads (an empty read set never decides a write)
  CHECK(outgoing <= pending);  // one-to-one
  // Every new-set node is a target: as itself (ready) or pending.
  for (const NodeId& node : new_set) CHECK(seen.contains(node));
  CHECK(reads - outgoing + pending == new_set.size());
  // Pending nodes are exactly the new-set nodes that are not ready.
  for (const NodeId& node : new_set) {
    CHECK(Contains(PendingOf(plan), node) == (any && !Holds(m, node, k)));
  }
}

// Reference rule of the W-in-both-sets write quorum: `acks` (a bitmask over
// the plan) has min(w, |set|) acks in the read set and in the new set.
bool MeetsBothSets(const std::vector<Target>& plan, uint32_t acks, size_t w) {
  size_t read_size = 0, new_size = 0, read_ok = 0, new_ok = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    const bool acked = (acks >> i) & 1;
    if (plan[i].reads()) {
      ++read_size;
      read_ok += acked;
    }
    if (plan[i].in_new_set()) {
      ++new_size;
      new_ok += acked;
    }
  }
  return read_ok >= std::min(w, read_size) && new_ok >= std::min(w, new_size);
}

TEST_CASE("with no ready rows the plan is the ring's primaries and nodes only claim") {
  for (size_t n : {1, 2, 3}) {
    CAPTURE(n);
    const Membership m = GroupOf(4, 64);
    REQUIRE(m.ready().empty());
    for (uint32_t k = 0; k < 64; ++k) {
      CHECK_FALSE(AnyReady(m, k));
      std::vector<Target> expect;
      for (const Replica& r : m.ring().PreferenceForPartition(k, n).primaries) {
        expect.push_back(Target{k, r.node, false, {}, false, false});
      }
      CHECK(PlanPartition(m, k, n) == expect);
    }
    for (int i = 0; i < 4; ++i) {
      const NodeDuties d = DutiesOf(m, NodeIdOf(i), n);
      CHECK(d.receive.empty());
      CHECK(d.drop.empty());
      std::vector<uint32_t> mine;
      for (uint32_t k = 0; k < 64; ++k) {
        if (Contains(NewSet(m, k, n), NodeIdOf(i))) mine.push_back(k);
      }
      CHECK(d.claim == mine);
    }
  }
  // Out of range, empty ring, non-member.
  const Membership m = GroupOf(2, 8);
  CHECK(PlanPartition(m, 8, 2).empty());
  CHECK(PlanPartition(Membership(), 0, 2).empty());
  const NodeDuties none = DutiesOf(m, NodeIdOf(9), 2);
  CHECK((none.receive.empty() && none.drop.empty() && none.claim.empty()));
  CHECK_FALSE(HasDuties(m, NodeIdOf(9), 2));
}

TEST_CASE("a fourth node joins a ready three-node ring") {
  constexpr uint32_t kQ = 64;
  constexpr size_t kN = 3;
  Membership m = GroupOf(3, kQ);
  for (int i = 0; i < 3; ++i) REQUIRE(m.SetReady(NodeIdOf(i), std::string(kQ / 8, '\xff')));
  for (uint32_t k = 0; k < kQ; ++k) {
    CHECK(PendingOf(PlanPartition(m, k, kN)).empty());
    CHECK(PlanPartition(m, k, kN).size() == 3);
  }
  const NodeId d = NodeIdOf(3);
  REQUIRE(m.AddMember(Info(3)));
  REQUIRE(m.ring().IsMember(d));

  std::vector<Inbound> expect_receive;
  std::map<NodeId, std::vector<uint32_t>> outgoing_of;  // node -> partitions it hands over
  for (uint32_t k = 0; k < kQ; ++k) {
    CAPTURE(k);
    CheckPlan(m, k, kN);
    const std::vector<Target> plan = PlanPartition(m, k, kN);
    const std::vector<NodeId> new_set = NewSet(m, k, kN);
    // The read set holds only ready nodes and outgoing ones: never d.
    CHECK_FALSE(Contains(ReadSet(plan), d));
    CHECK(ReadSet(plan).size() == 3);
    if (!Contains(new_set, d)) {
      CHECK(plan.size() == 3);
      CHECK(PendingOf(plan).empty());
      continue;
    }
    // d is pending, listed last, paired with the one old node outside the
    // new set, which reads in d's place (at d's position).
    REQUIRE(plan.size() == 4);
    CHECK(plan.back() == Target{k, d, false, {}, true, false});
    const size_t pos =
        static_cast<size_t>(std::find(new_set.begin(), new_set.end(), d) - new_set.begin());
    REQUIRE(plan[pos].outgoing);
    const NodeId& out = plan[pos].node;
    CHECK_FALSE(Contains(new_set, out));
    for (size_t i = 0; i < 3; ++i) {
      if (i != pos) CHECK(plan[i] == Target{k, new_set[i], false, {}, false, false});
    }
    expect_receive.push_back(Inbound{k, out});
    outgoing_of[out].push_back(k);
  }
  // d receives at least the partitions it owns.
  CHECK(expect_receive.size() >= m.ring().PartitionsOf(d).size());
  const NodeDuties dd = DutiesOf(m, d, kN);
  CHECK(dd.receive == expect_receive);
  CHECK(dd.drop.empty());
  CHECK(dd.claim.empty());
  CHECK(HasDuties(m, d, kN));
  CHECK(ChangeInProgress(m, kN));  // d is pending
  for (int i = 0; i < 3; ++i) {
    const NodeDuties old = DutiesOf(m, NodeIdOf(i), kN);
    CHECK(old.receive.empty());
    CHECK(old.claim.empty());
    CHECK(old.drop.empty());  // nothing to drop while d receives
    CHECK(HasDuties(m, NodeIdOf(i), kN));
  }

  SUBCASE("half received: only those partitions change") {
    std::vector<uint32_t> half;
    for (size_t i = 0; i < expect_receive.size(); i += 2)
      half.push_back(expect_receive[i].partition);
    REQUIRE(m.SetReady(d, BitsOf(kQ, half)));
    for (uint32_t k = 0; k < kQ; ++k) CheckPlan(m, k, kN);
    const NodeDuties now = DutiesOf(m, d, kN);
    CHECK(now.receive.size() == expect_receive.size() - half.size());
    for (const Inbound& in : now.receive) {
      CHECK(std::find(half.begin(), half.end(), in.partition) == half.end());
    }
    for (const auto& [node, ks] : outgoing_of) {
      std::vector<uint32_t> drop;
      for (uint32_t k : ks) {
        if (std::find(half.begin(), half.end(), k) != half.end()) drop.push_back(k);
      }
      CHECK(DutiesOf(m, node, kN).drop == drop);
    }
  }
  SUBCASE("all received: the outgoing nodes drop, plans are the primaries again") {
    std::vector<uint32_t> got;
    for (const Inbound& in : expect_receive) got.push_back(in.partition);
    REQUIRE(m.SetReady(d, BitsOf(kQ, got)));
    CHECK(HasDuties(m, d, kN));  // it replicates partitions now
    // The outgoing nodes still hold (and no longer receive writes for) what
    // they handed over: the change is not over until they drop it.
    CHECK(ChangeInProgress(m, kN));
    CHECK(DutiesOf(m, d, kN).receive.empty());
    for (uint32_t k = 0; k < kQ; ++k) {
      CheckPlan(m, k, kN);
      std::vector<Target> expect;
      for (const NodeId& node : NewSet(m, k, kN)) {
        expect.push_back(Target{k, node, false, {}, false, false});
      }
      CHECK(PlanPartition(m, k, kN) == expect);
    }
    for (const auto& [node, ks] : outgoing_of) {
      const NodeDuties old = DutiesOf(m, node, kN);
      CHECK(old.drop == ks);
      CHECK(old.receive.empty());
    }
    // Once dropped (bits cleared) nothing is left to do for those.
    for (const auto& [node, ks] : outgoing_of) {
      std::vector<uint32_t> keep;
      for (uint32_t k = 0; k < kQ; ++k) {
        if (std::find(ks.begin(), ks.end(), k) == ks.end()) keep.push_back(k);
      }
      REQUIRE(m.SetReady(node, BitsOf(kQ, keep)));
      CHECK(DutiesOf(m, node, kN).drop.empty());
    }
    CHECK_FALSE(ChangeInProgress(m, kN));
  }
}

TEST_CASE("a leaving node hands everything over, then has no duties") {
  for (size_t n : {1, 2, 3}) {
    CAPTURE(n);
    constexpr uint32_t kQ = 64;
    Membership m = GroupOf(5, kQ);
    Settle(m, n);
    const NodeId l = NodeIdOf(2);
    REQUIRE_FALSE(m.ready().at(l).bits == std::string(kQ / 8, '\0'));
    m.UpdateSelf(Info(2, 2, true));
    REQUIRE_FALSE(m.ring().IsMember(l));
    CHECK(HasDuties(m, l, n));
    const NodeDuties ld = DutiesOf(m, l, n);
    CHECK(ld.receive.empty());
    CHECK(ld.claim.empty());
    CHECK(ld.drop.empty());
    // Each partition l held has pending nodes, one of them fed by l, which
    // serves reads until then.
    size_t handed = 0;
    for (uint32_t k = 0; k < kQ; ++k) {
      CheckPlan(m, k, n);
      const std::vector<Target> plan = PlanPartition(m, k, n);
      if (!m.IsReady(l, k)) {
        CHECK(PendingOf(plan).empty());
        continue;
      }
      REQUIRE_FALSE(PendingOf(plan).empty());
      CHECK(Contains(ReadSet(plan), l));
      size_t from_l = 0;
      for (const NodeId& p : PendingOf(plan)) {
        const NodeDuties pd = DutiesOf(m, p, n);
        from_l += std::count(pd.receive.begin(), pd.receive.end(), Inbound{k, l});
      }
      CHECK(from_l == 1);
      ++handed;
    }
    CHECK(handed == ReadyOf(m, l).size());
    // Every receiver gets its partitions: l may drop them all and go.
    std::map<NodeId, std::vector<uint32_t>> got;
    for (const auto& [id, info] : m.members()) {
      for (const Inbound& in : DutiesOf(m, id, n).receive) got[id].push_back(in.partition);
    }
    for (const auto& [p, ks] : got) REQUIRE(m.SetReady(p, BitsOf(kQ, ReadyOf(m, p, ks))));
    CHECK(DutiesOf(m, l, n).drop == ReadyOf(m, l));
    CHECK_FALSE(HasDuties(m, l, n));
    for (uint32_t k = 0; k < kQ; ++k) {
      CheckPlan(m, k, n);
      CHECK_FALSE(Contains(ReadSet(PlanPartition(m, k, n)), l));
    }
    // Another member still has its duties.
    CHECK(HasDuties(m, NodeIdOf(0), n));
  }
}

TEST_CASE("a removed node's partitions are fed by a ready new-set node") {
  constexpr uint32_t kQ = 64;
  constexpr size_t kN = 2;
  Membership m = GroupOf(5, kQ);
  Settle(m, kN);
  const NodeId x = NodeIdOf(3);
  std::vector<uint32_t> held = ReadyOf(m, x);
  REQUIRE_FALSE(held.empty());
  REQUIRE(m.Remove(x));
  size_t fed = 0;
  for (uint32_t k = 0; k < kQ; ++k) {
    CAPTURE(k);
    CheckPlan(m, k, kN);
    const std::vector<Target> plan = PlanPartition(m, k, kN);
    const bool was_held = std::find(held.begin(), held.end(), k) != held.end();
    // Only x left a replica set, and x is gone: nobody is outgoing.
    for (const Target& t : plan) CHECK_FALSE(t.outgoing);
    if (!was_held) {
      CHECK(PendingOf(plan).empty());
      continue;
    }
    REQUIRE(PendingOf(plan).size() == 1);
    const NodeId p = PendingOf(plan).front();
    REQUIRE(ReadSet(plan).size() == 1);
    const NodeId source = ReadSet(plan).front();  // the ready new-set node
    CHECK(Contains(NewSet(m, k, kN), source));
    CHECK(m.IsReady(source, k));
    const NodeDuties pd = DutiesOf(m, p, kN);
    CHECK(std::find(pd.receive.begin(), pd.receive.end(), Inbound{k, source}) != pd.receive.end());
    ++fed;
  }
  CHECK(fed == held.size());

  SUBCASE("every holder removed: the new replicas claim the partition") {
    // n = 1: x was the only holder of its partitions.
    Membership one = GroupOf(4, kQ);
    Settle(one, 1);
    const std::vector<uint32_t> lost = ReadyOf(one, x);
    REQUIRE(one.Remove(x));
    for (uint32_t k : lost) {
      CHECK_FALSE(AnyReady(one, k));
      const std::vector<Target> plan = PlanPartition(one, k, 1);
      REQUIRE(plan.size() == 1);
      CHECK_FALSE(plan[0].pending);
      const NodeDuties dd = DutiesOf(one, plan[0].node, 1);
      CHECK(std::find(dd.claim.begin(), dd.claim.end(), k) != dd.claim.end());
    }
  }
}

// A random membership over up to 8 members with leaving flags, removed ids
// and random ready rows.
Membership RandomMembership(std::mt19937_64& rng, uint32_t q) {
  const int count = 1 + static_cast<int>(rng() % 8);
  Membership m = GroupOf(count, q);
  for (int i = 0; i < count; ++i) {
    if (rng() % 4 == 0) m.UpdateSelf(Info(i, 2, true));
  }
  if (count > 2 && rng() % 3 == 0) m.Remove(NodeIdOf(static_cast<int>(rng() % count)));
  const int density = static_cast<int>(rng() % 4);  // none, sparse, dense, full
  for (const auto& [id, info] : m.members()) {
    if (rng() % 5 == 0) continue;  // no row
    std::string bits(PartitionBitmapBytes(q), '\0');
    for (char& c : bits) {
      const uint64_t r = rng();
      c = static_cast<char>(density == 0   ? 0
                            : density == 1 ? (r & (r >> 8) & (r >> 16))
                            : density == 2 ? (r | (r >> 8))
                                           : 0xff);
    }
    m.SetReady(id, bits);
  }
  return m;
}

TEST_CASE("plans and duties keep their rules over random states") {
  std::mt19937_64 rng(2024);
  std::mt19937 order_rng(5);
  size_t plans = 0, with_pending = 0, quorum_sets = 0;
  for (uint32_t q : {8u, 64u, 256u}) {
    for (int trial = 0; trial < 60; ++trial) {
      const Membership m = RandomMembership(rng, q);
      for (size_t n : {1, 2, 3}) {
        CAPTURE(q);
        CAPTURE(trial);
        CAPTURE(n);
        std::map<NodeId, NodeDuties> duties;
        for (const auto& [id, info] : m.members()) duties[id] = DutiesOf(m, id, n);
        for (uint32_t k = 0; k < q; ++k) {
          CheckPlan(m, k, n);
          const std::vector<Target> plan = PlanPartition(m, k, n);
          ++plans;
          with_pending += PendingOf(plan).empty() ? 0 : 1;
          // Duties agree with the plan: exactly the pending nodes receive
          // k, from a holder of k; claims only where nobody holds k.
          for (const auto& duty : duties) {
            const auto& id = duty.first;
            const auto& d = duty.second;
            CAPTURE(id);
            auto in = std::find_if(d.receive.begin(), d.receive.end(),
                                   [&](const Inbound& i) { return i.partition == k; });
            const bool pending = Contains(PendingOf(plan), id);
            CHECK((in != d.receive.end()) == pending);
            if (in != d.receive.end()) {
              CHECK(in->source != id);
              CHECK(m.IsReady(in->source, k));
              CHECK(Contains(ReadSet(plan), in->source));
            }
            const bool claims = std::find(d.claim.begin(), d.claim.end(), k) != d.claim.end();
            CHECK(claims == (!AnyReady(m, k) && Contains(NewSet(m, k, n), id)));
            const bool drops = std::find(d.drop.begin(), d.drop.end(), k) != d.drop.end();
            CHECK(drops ==
                  (m.IsReady(id, k) && !Contains(NewSet(m, k, n), id) && PendingOf(plan).empty()));
          }
          // The write rule: W acks in the read set and W in the new set.
          if (k % 7 != 0 || plan.size() > 8) continue;
          std::vector<bool> in_read, in_new;
          for (const Target& t : plan) {
            in_read.push_back(t.reads());
            in_new.push_back(t.in_new_set());
          }
          for (size_t w = 1; w <= n; ++w) {
            for (uint32_t acks = 0; acks < (1u << plan.size()); ++acks) {
              ++quorum_sets;
              WriteQuorum wq(in_read, in_new, w);
              std::vector<size_t> order(plan.size());
              for (size_t i = 0; i < order.size(); ++i) order[i] = i;
              std::shuffle(order.begin(), order.end(), order_rng);
              for (size_t i : order) {
                if ((acks >> i) & 1) {
                  wq.AddAck(i);
                } else {
                  wq.AddFailure(i);
                }
              }
              CHECK(wq.state() == (MeetsBothSets(plan, acks, w) ? QuorumState::kSucceeded
                                                                : QuorumState::kFailed));
            }
          }
        }
        // A node with something to receive has duties; a member that holds
        // nothing and replicates nothing has none.
        for (const auto& [id, d] : duties) {
          if (!d.receive.empty()) CHECK(HasDuties(m, id, n));
          bool holds = false;
          for (uint32_t k = 0; k < q && !holds; ++k) holds = m.IsReady(id, k);
          if (!holds && d.receive.empty()) CHECK_FALSE(HasDuties(m, id, n));
        }
      }
    }
  }
  MESSAGE("plans: " << plans << ", with pending nodes: " << with_pending
                    << ", ack sets checked: " << quorum_sets);
  CHECK(with_pending > plans / 10);  // the generator exercises transfers
}

TEST_CASE("a holder that released a partition receives it anew when the ring gives it back") {
  // N=1: a and b hold their partitions; c joins and receives some from
  // them. The old holders mark what they hand over releasing; c marks a
  // partition ready only once they did (ReleasedBy), and from then on writes
  // reach c alone. If c leaves before the old holder dropped its copy, that
  // copy lacks c's writes: the holder must receive the partition from c
  // again, not be trusted.
  constexpr uint32_t kQ = 16;
  constexpr size_t kN = 1;
  Membership m = GroupOf(2, kQ);
  Settle(m, kN);
  const NodeId c = NodeIdOf(2);
  REQUIRE(m.AddMember(Info(2)));
  auto alive = [](const NodeId&) { return true; };
  std::vector<uint32_t> moved;
  for (uint32_t k = 0; k < kQ; ++k) {
    if (Contains(NewSet(m, k, kN), c)) moved.push_back(k);
  }
  REQUIRE_FALSE(moved.empty());
  // Not released yet: c may not mark them ready.
  for (uint32_t k : moved) CHECK_FALSE(ReleasedBy(m, k, kN, alive));
  // ... unless the holder is dead (it receives no writes anyway).
  for (uint32_t k : moved) CHECK(ReleasedBy(m, k, kN, [](const NodeId&) { return false; }));
  // The old holders release what they hand over (their duty).
  for (int i = 0; i < 2; ++i) {
    const NodeId node = NodeIdOf(i);
    const NodeDuties d = DutiesOf(m, node, kN);
    std::vector<uint32_t> expect;
    for (uint32_t k : moved) {
      if (m.IsReady(node, k)) expect.push_back(k);
    }
    CHECK(d.release == expect);
    REQUIRE(m.SetReady(node, BitsOf(kQ, ReadyOf(m, node)), BitsOf(kQ, d.release)));
    CHECK(DutiesOf(m, node, kN).release.empty());
  }
  for (uint32_t k : moved) {
    CHECK(ReleasedBy(m, k, kN, alive));
    CheckPlan(m, k, kN);
    // Still served by the releasing holder until c is ready.
    CHECK(ReadSet(PlanPartition(m, k, kN)) != std::vector<NodeId>{c});
  }
  REQUIRE(m.SetReady(c, BitsOf(kQ, moved)));
  for (uint32_t k : moved) CHECK(ReadSet(PlanPartition(m, k, kN)) == std::vector<NodeId>{c});
  // c leaves before the holders dropped their copies.
  MemberInfo leaving = Info(2, 2, true);
  m.UpdateSelf(leaving);
  CHECK_FALSE(m.ring().IsMember(c));
  for (uint32_t k : moved) {
    CAPTURE(k);
    CheckPlan(m, k, kN);
    const std::vector<Target> plan = PlanPartition(m, k, kN);
    // The holder is back in the new set, but pending: c serves in its place.
    CHECK(ReadSet(plan) == std::vector<NodeId>{c});
    REQUIRE(PendingOf(plan).size() == 1);
    const NodeId holder = PendingOf(plan)[0];
    const NodeDuties d = DutiesOf(m, holder, kN);
    CHECK(std::find(d.receive.begin(), d.receive.end(), Inbound{k, c}) != d.receive.end());
  }
  CHECK(HasDuties(m, c, kN));
  CHECK(ChangeInProgress(m, kN));
}

}  // namespace
}  // namespace shoal::cluster
