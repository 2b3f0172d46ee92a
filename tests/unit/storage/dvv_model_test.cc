// Property tests of DvvSet against a reference model of causal histories.
//
// The model knows nothing of clocks. Every write is an event e. A replica
// holds `seen`, the set of events in its causal past, and `dead`, the events
// superseded by some event in `seen`. A write through coordinator c with a
// client context (seen_ctx, dead_ctx) supersedes exactly the events in
// seen_ctx; afterwards c has seen seen_c | seen_ctx | {e} and dead_c |
// dead_ctx | seen_ctx. Merging replicas unions both sets. The versions a
// replica must hold are then exactly seen & ~dead: nothing that is not
// covered is lost, nothing covered survives.

#include <doctest/doctest.h>

#include <bitset>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "storage/dvv.h"

namespace shoal::storage {
namespace {

constexpr size_t kMaxEvents = 512;
using Events = std::bitset<kMaxEvents>;
using Set = DvvSet<uint64_t>;

struct Replica {
  ActorId actor = 0;
  Set set;
  Events seen;
  Events dead;
};

struct Context {
  VersionVector vv;
  Events seen;
  Events dead;
};

Events HeldEvents(const Set& s) {
  Events held;
  for (const auto& sib : s.siblings()) {
    REQUIRE(sib.value < kMaxEvents);
    CHECK_FALSE(held.test(sib.value));  // one value per event
    held.set(sib.value);
  }
  return held;
}

class Simulation {
 public:
  Simulation(uint64_t seed, size_t replicas) : rng_(seed) {
    for (size_t i = 0; i < replicas; ++i) {
      replicas_.push_back(Replica{static_cast<ActorId>(i + 1), {}, {}, {}});
    }
  }

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }
  int Percent() { return static_cast<int>(Pick(100)); }

  Context ReadContext(const Replica& r) { return Context{r.set.Context(), r.seen, r.dead}; }

  // One random step; returns false once the event budget is spent.
  bool Step() {
    const int op = Percent();
    if (op < 15) {
      contexts_.push_back(ReadContext(replicas_[Pick(replicas_.size())]));
      if (contexts_.size() > 8) contexts_.erase(contexts_.begin());
      return true;
    }
    if (op < 70) {
      if (next_event_ >= kMaxEvents) return false;
      Replica& c = replicas_[Pick(replicas_.size())];
      Context ctx;
      const int which = Percent();
      if (which < 40) {
        ctx = ReadContext(c);  // plain SET: the coordinator's own context
      } else if (which < 70) {
        ctx = ReadContext(replicas_[Pick(replicas_.size())]);  // fresh, maybe elsewhere
      } else if (which < 95 && !contexts_.empty()) {
        ctx = contexts_[Pick(contexts_.size())];  // stale
      }  // else: the empty context (a client that never read)
      Write(c, ctx);
      return true;
    }
    Replica& a = replicas_[Pick(replicas_.size())];
    Replica& b = replicas_[Pick(replicas_.size())];
    Sync(a, b);
    if (Percent() < 50) Sync(b, a);
    Check(a);
    Check(b);
    return true;
  }

  void Write(Replica& c, const Context& ctx) {
    const uint64_t e = next_event_++;
    const uint64_t own = c.set.Context().Get(c.actor);
    // Sometimes a node-wide dot floor, growing as a DotCounter does.
    uint64_t floor = 0;
    if (Percent() < 30) floor = (floors_[c.actor] += 1 + Pick(20));
    Dot d = c.set.Update(ctx.vv, e, c.actor, floor);
    CHECK(d.actor == c.actor);
    CHECK(d.counter == std::max(std::max(ctx.vv.Get(c.actor), own) + 1, floor));
    dots_[e] = d;
    c.seen |= ctx.seen;
    c.seen.set(e);
    c.dead |= ctx.dead | ctx.seen;
    Check(c);
  }

  static void Sync(Replica& into, const Replica& from) {
    into.set.Merge(from.set);
    into.seen |= from.seen;
    into.dead |= from.dead;
  }

  void Check(const Replica& r) {
    const Events want = r.seen & ~r.dead;
    const Events held = HeldEvents(r.set);
    CHECK((held & ~want).none());  // nothing covered survives
    CHECK((want & ~held).none());  // nothing uncovered is lost
    for (const auto& [e, dot] : dots_) {
      CHECK(r.set.Context().Covers(dot) == r.seen.test(e));
    }
    CHECK(r.set.Context().size() <= replicas_.size());
  }

  std::vector<Replica>& replicas() { return replicas_; }

 private:
  std::mt19937_64 rng_;
  std::vector<Replica> replicas_;
  std::vector<Context> contexts_;
  std::map<uint64_t, Dot> dots_;
  std::map<ActorId, uint64_t> floors_;
  uint64_t next_event_ = 0;
};

TEST_CASE("random interleavings match the causal-history model") {
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    Simulation sim(seed, 3 + seed % 3);
    for (int i = 0; i < 400 && sim.Step(); ++i) {
    }
    // Full anti-entropy: everyone converges to the same state.
    auto& rs = sim.replicas();
    for (size_t round = 0; round < 2; ++round) {
      for (size_t i = 0; i < rs.size(); ++i) Simulation::Sync(rs[0], rs[i]);
      for (size_t i = 1; i < rs.size(); ++i) Simulation::Sync(rs[i], rs[0]);
    }
    for (const Replica& r : rs) {
      sim.Check(r);
      CHECK(r.set == rs[0].set);
    }
  }
}

TEST_CASE("merge is commutative, associative and idempotent on random states") {
  for (uint64_t seed = 100; seed < 140; ++seed) {
    CAPTURE(seed);
    Simulation sim(seed, 4);
    for (int i = 0; i < 150 && sim.Step(); ++i) {
    }
    auto& rs = sim.replicas();
    for (size_t i = 0; i < rs.size(); ++i) {
      const Set& a = rs[i].set;
      Set aa = a;
      aa.Merge(a);
      CHECK(aa == a);
      for (size_t j = 0; j < rs.size(); ++j) {
        const Set& b = rs[j].set;
        Set ab = a, ba = b;
        ab.Merge(b);
        ba.Merge(a);
        CHECK(ab == ba);
        for (size_t k = 0; k < rs.size(); ++k) {
          const Set& c = rs[k].set;
          Set left = ab;  // (a.b).c
          left.Merge(c);
          Set bc = b;  // a.(b.c)
          bc.Merge(c);
          Set right = a;
          right.Merge(bc);
          CHECK(left == right);
        }
      }
    }
  }
}

TEST_CASE("no false siblings for sequential writes with fresh contexts, across replicas") {
  std::mt19937_64 rng(7);
  std::vector<Set> replicas(4);
  size_t last = 0;
  for (uint64_t e = 0; e < 300; ++e) {
    // Each write reads its context where the previous write landed (or
    // anywhere that has synced with it) and writes through any replica.
    const size_t c = rng() % replicas.size();
    replicas[c].Merge(replicas[last]);
    VersionVector ctx = replicas[c].Context();
    replicas[c].Update(ctx, e, static_cast<ActorId>(c + 1));
    CHECK(replicas[c].Size() == 1);
    CHECK(replicas[c].Context().size() <= replicas.size());
    last = c;
  }
  Set all;
  for (const Set& r : replicas) all.Merge(r);
  REQUIRE(all.Size() == 1);
  CHECK(all.siblings()[0].value == 299);
}

TEST_CASE("clock size is bounded by coordinators, not by writes") {
  Set s;
  for (uint64_t e = 0; e < 10'000; ++e) s.Update(s.Context(), e, static_cast<ActorId>(1 + e % 3));
  CHECK(s.Context().size() == 3);
  CHECK(s.Size() == 1);
}

}  // namespace
}  // namespace shoal::storage
