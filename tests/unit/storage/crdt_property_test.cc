// Property tests of the convergent containers as the keyspace holds them:
// Objects (DvvSets of versions) whose container versions are written as the
// command layer writes them (view -> op with the write's dot -> Put) on 3-5
// simulated replicas, with random merges between them. For every history:
//   - merging every replica into one, in every order, gives equal objects
//     (and equal views): the join is commutative and associative;
//   - merging a replica into itself, or twice, changes nothing (idempotent);
//   - both encodings round-trip every state met;
// and, with no concurrency (one replica, or a full sync before each write),
// the view equals a sequential model (std::set / std::map), as Redis would
// hold it. Deterministic seeds.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "storage/object.h"
#include "storage/redis_number.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

enum class Kind { kSet, kHash, kZset };

struct Sim {
  ActorTable actors;
  std::vector<ActorId> ids;
  std::vector<Object> replicas;
  std::mt19937_64 rng;
  int64_t ts = kNow;

  Sim(size_t n, uint64_t seed) : rng(seed) {
    for (size_t i = 0; i < n; ++i) {
      // Random node ids: node-id order unrelated to ActorId order.
      std::string id(40, '0');
      for (char& c : id) c = "0123456789abcdef"[rng() % 16];
      ids.push_back(actors.Intern(id).value());
    }
    replicas.resize(n);
  }
  size_t Pick(size_t n) { return static_cast<size_t>(rng() % n); }
  std::string Name() { return std::string(1, static_cast<char>('a' + Pick(6))); }
  // Timestamps mostly increase, with ties and reorderings across replicas.
  int64_t Now() {
    ts += static_cast<int64_t>(Pick(3));
    return ts - static_cast<int64_t>(Pick(2));
  }
};

// One random command of `kind` on replica r, written as the command layer
// writes (a no-op or a refused command writes nothing).
void RandomWrite(Sim& sim, size_t r, Kind kind, bool strings) {
  Object& o = sim.replicas[r];
  const ActorId self = sim.ids[r];
  const int64_t now = sim.Now();
  const Dot dot = o.NextPutDot(self);
  const unsigned op = static_cast<unsigned>(sim.Pick(10));
  if (strings && op == 9 && sim.Pick(4) == 0) {  // a string write now and then: type conflicts
    o.Put(Version::Bytes("str", now), self);
    return;
  }
  switch (kind) {
    case Kind::kSet: {
      auto view = o.SetView(now, sim.actors);
      if (!view.ok()) return;  // WRONGTYPE: a string won
      OrSet& s = view.value().state;
      if (op < 5) {
        s.Add(sim.Name(), dot);
        if (op == 0) s.Add(sim.Name(), dot);  // SADD of two members, one dot
      } else if (op < 8) {
        if (!s.Remove(sim.Name())) return;
      } else {
        s.Clear();
      }
      REQUIRE(o.Put(Version::OfSet(s, now), self) == dot);
      return;
    }
    case Kind::kHash: {
      auto view = o.HashView(now, sim.actors);
      if (!view.ok()) return;
      OrHash& h = view.value().state;
      if (op < 3) {
        h.Set(sim.Name(), std::to_string(sim.Pick(5)), dot, now);
      } else if (op < 5) {
        if (!h.IncrBy(sim.Name(), static_cast<int64_t>(sim.Pick(7)) - 3, dot, sim.actors).ok()) {
          return;
        }
      } else if (op < 6) {
        const long double d = static_cast<long double>(sim.Pick(9)) * 0.25L - 1;
        if (!h.IncrByFloat(sim.Name(), d, dot, sim.actors).ok()) return;
      } else if (op < 8) {
        if (!h.Remove(sim.Name())) return;
      } else {
        h.Clear();
      }
      REQUIRE(o.Put(Version::OfHash(h, now), self) == dot);
      return;
    }
    case Kind::kZset: {
      auto view = o.ZsetView(now, sim.actors);
      if (!view.ok()) return;
      OrZset& z = view.value().state;
      if (op < 3) {
        z.Add(sim.Name(), static_cast<double>(sim.Pick(8)) * 0.5, dot, now);
      } else if (op < 6) {
        if (!z.IncrBy(sim.Name(), static_cast<double>(sim.Pick(8)) * 0.25 - 1, dot, sim.actors)
                 .ok()) {
          return;
        }
      } else if (op < 8) {
        if (!z.Remove(sim.Name())) return;
      } else {
        z.Clear();
      }
      REQUIRE(o.Put(Version::OfZset(z, now), self) == dot);
      return;
    }
  }
}

// What a client sees: the type and the joined container, as text.
std::string Show(const Object& o, const ActorTable& actors, int64_t now) {
  std::string out;
  switch (o.TypeAt(now, actors)) {
    case KeyType::kNone:
      return "none";
    case KeyType::kString:
      out = "string:";
      for (const auto& v : o.LiveValues(now, actors)) out += v + ",";
      return out;
    case KeyType::kSet:
      out = "set:";
      {
        const auto view = o.SetView(now, actors).value();
        for (const auto& e : view.state.map().entries()) out += e.name + ",";
      }
      return out;
    case KeyType::kHash:
      out = "hash:";
      {
        const auto view = o.HashView(now, actors).value();
        for (const auto& e : view.state.map().entries()) {
          out += e.name + "=" + OrHash::Value(e, actors) + ",";
        }
      }
      return out;
    case KeyType::kZset:
      out = "zset:";
      {
        const auto view = o.ZsetView(now, actors).value();
        for (const auto& m : view.state.Ranked(actors)) {
          out += std::string(m.member) + "=" + std::to_string(m.score) + ",";
        }
      }
      return out;
  }
  return out;
}

void CheckCodecs(const Object& o, ActorTable& actors) {
  auto local = Object::Decode(o.Encode(), actors);
  REQUIRE(local.ok());
  CHECK(local.value() == o);
  std::string wire;
  o.EncodeWithNodeIds(actors, &wire);
  auto remote = Object::DecodeWithNodeIds(wire, actors);
  REQUIRE(remote.ok());
  CHECK(remote.value() == o);
}

// The join of an object's container versions of one type, whatever the
// key's type (the OR-map join on its own).
template <typename State>
State RawJoin(const Object& o);
template <>
OrSet RawJoin<OrSet>(const Object& o) {
  OrSet out;
  for (const auto& s : o.siblings()) {
    if (s.value.kind == VersionKind::kSet) out.Join(s.value.set);
  }
  return out;
}
template <>
OrHash RawJoin<OrHash>(const Object& o) {
  OrHash out;
  for (const auto& s : o.siblings()) {
    if (s.value.kind == VersionKind::kHash) out.Join(s.value.hash);
  }
  return out;
}
template <>
OrZset RawJoin<OrZset>(const Object& o) {
  OrZset out;
  for (const auto& s : o.siblings()) {
    if (s.value.kind == VersionKind::kZset) out.Join(s.value.zset);
  }
  return out;
}

// The container join's own laws on the states the history produced:
// idempotent, commutative, associative (every order of every replica's
// state gives one state), and — without string writes, which supersede
// containers — the join of the replicas' states is the state of the merged
// object (merging objects and joining their containers agree).
template <typename State>
void CheckJoinLaws(const Sim& sim, const Object& merged, bool strings) {
  const size_t n = sim.replicas.size();
  std::vector<State> states;
  for (const Object& o : sim.replicas) states.push_back(RawJoin<State>(o));
  for (const State& st : states) {
    State twice = st;
    twice.Join(st);
    CHECK(twice == st);
  }
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::optional<State> first;
  do {
    State all = states[order[0]];
    for (size_t i = 1; i < n; ++i) all.Join(states[order[i]]);
    if (!first) {
      first = all;
    } else {
      CHECK(all == *first);
    }
  } while (std::next_permutation(order.begin(), order.end()));
  if (!strings) CHECK(RawJoin<State>(merged) == *first);
}

void RunHistory(Kind kind, uint64_t seed) {
  const bool strings = seed % 2 == 0;
  Sim sim(3 + seed % 3, seed);
  const size_t n = sim.replicas.size();
  const int steps = 10 + static_cast<int>(sim.Pick(30));
  for (int i = 0; i < steps; ++i) {
    if (sim.Pick(3) == 0) {
      size_t a = sim.Pick(n), b = sim.Pick(n);
      Object before = sim.replicas[a];
      sim.replicas[a].Merge(sim.replicas[b]);
      Object twice = sim.replicas[a];
      twice.Merge(sim.replicas[b]);
      CHECK(twice == sim.replicas[a]);  // idempotent
      Object other = sim.replicas[b];
      other.Merge(before);
      CHECK(other == sim.replicas[a]);  // commutative
    } else {
      RandomWrite(sim, sim.Pick(n), kind, strings);
    }
  }
  const int64_t now = sim.ts + 10;
  // Associativity on one triple.
  {
    Object ab = sim.replicas[0];
    ab.Merge(sim.replicas[1]);
    ab.Merge(sim.replicas[2]);
    Object bc = sim.replicas[1];
    bc.Merge(sim.replicas[2]);
    Object a_bc = sim.replicas[0];
    a_bc.Merge(bc);
    CHECK(ab == a_bc);
  }
  // Every order gives the same object and the same view.
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::optional<Object> first;
  std::string shown;
  do {
    Object all = sim.replicas[order[0]];
    for (size_t i = 1; i < n; ++i) all.Merge(sim.replicas[order[i]]);
    if (!first) {
      first = all;
      shown = Show(all, sim.actors, now);
      Object self = all;
      self.Merge(all);
      CHECK(self == all);
    } else {
      CHECK(all == *first);
      CHECK(Show(all, sim.actors, now) == shown);
    }
  } while (std::next_permutation(order.begin(), order.end()));
  for (const Object& o : sim.replicas) CheckCodecs(o, sim.actors);
  CheckCodecs(*first, sim.actors);
  switch (kind) {
    case Kind::kSet:
      CheckJoinLaws<OrSet>(sim, *first, strings);
      break;
    case Kind::kHash:
      CheckJoinLaws<OrHash>(sim, *first, strings);
      break;
    case Kind::kZset:
      CheckJoinLaws<OrZset>(sim, *first, strings);
      break;
  }
}

TEST_CASE("sets converge: every replica merged in every order ends equal") {
  for (uint64_t seed = 1; seed <= 1500; ++seed) {
    CAPTURE(seed);
    RunHistory(Kind::kSet, seed);
  }
}

TEST_CASE("hashes converge: every replica merged in every order ends equal") {
  for (uint64_t seed = 1; seed <= 1500; ++seed) {
    CAPTURE(seed);
    RunHistory(Kind::kHash, seed);
  }
}

TEST_CASE("sorted sets converge: every replica merged in every order ends equal") {
  for (uint64_t seed = 1; seed <= 1500; ++seed) {
    CAPTURE(seed);
    RunHistory(Kind::kZset, seed);
  }
}

// --- no concurrency: equal to a sequential model ---------------------------

// Runs `steps` random commands; before each, the writing replica syncs with
// every other one (so no write is concurrent with another), or, with one
// replica, simply writes. Compares with the model after each command.
void RunSequential(uint64_t seed, size_t replicas) {
  Sim sim(replicas, seed);
  std::set<std::string> set_model;
  std::map<std::string, std::string> hash_model;
  std::map<std::string, double> zset_model;
  Object set_obj, hash_obj, zset_obj;
  for (int i = 0; i < 200; ++i) {
    const size_t r = sim.Pick(replicas);
    const ActorId self = sim.ids[r];
    const int64_t now = sim.ts += 1;  // sequential: time moves on
    const unsigned op = static_cast<unsigned>(sim.Pick(10));
    const std::string name = sim.Name();
    // Sets.
    {
      auto view = set_obj.SetView(now, sim.actors).value();
      const Dot dot = set_obj.NextPutDot(self);
      if (op < 6) {
        CHECK(view.state.Add(name, dot) == set_model.insert(name).second);
      } else if (op < 9) {
        CHECK(view.state.Remove(name) == (set_model.erase(name) == 1));
      } else {
        view.state.Clear();
        set_model.clear();
      }
      set_obj.Put(Version::OfSet(view.state, now), self);
      std::vector<std::string> got;
      const auto after = set_obj.SetView(now, sim.actors).value();
      for (const auto& e : after.state.map().entries()) got.push_back(e.name);
      CHECK(got == std::vector<std::string>(set_model.begin(), set_model.end()));
      CHECK(set_obj.IsAbsent(now) == set_model.empty());
    }
    // Hashes (integers and quarter floats: Redis's results exactly).
    {
      auto view = hash_obj.HashView(now, sim.actors).value();
      const Dot dot = hash_obj.NextPutDot(self);
      auto cur = hash_model.find(name);
      if (op < 3) {
        const std::string v = sim.Pick(4) == 0 ? "x" : std::to_string(sim.Pick(50));
        view.state.Set(name, v, dot, now);
        hash_model[name] = v;
      } else if (op < 6) {
        const int64_t d = static_cast<int64_t>(sim.Pick(21)) - 10;
        auto got = view.state.IncrBy(name, d, dot, sim.actors);
        std::optional<int64_t> base =
            cur == hash_model.end() ? std::optional<int64_t>(0) : ParseStrictInt64(cur->second);
        REQUIRE(got.ok() == base.has_value());
        if (base) {
          CHECK(got.value() == *base + d);
          hash_model[name] = std::to_string(*base + d);
        }
      } else if (op < 8) {
        const long double d = static_cast<long double>(sim.Pick(13)) * 0.25L - 1.5L;
        auto got = view.state.IncrByFloat(name, d, dot, sim.actors);
        std::optional<long double> base = cur == hash_model.end()
                                              ? std::optional<long double>(0)
                                              : ParseRedisLongDouble(cur->second);
        REQUIRE(got.ok() == base.has_value());
        if (base) {
          const std::string expect = FormatLongDoubleHuman(*base + d);
          CHECK(got.value() == expect);
          hash_model[name] = expect;
        }
      } else if (op < 9) {
        CHECK(view.state.Remove(name) == (hash_model.erase(name) == 1));
      } else {
        view.state.Clear();
        hash_model.clear();
      }
      hash_obj.Put(Version::OfHash(view.state, now), self);
      std::map<std::string, std::string> got;
      const auto after = hash_obj.HashView(now, sim.actors).value();
      for (const auto& e : after.state.map().entries()) got[e.name] = OrHash::Value(e, sim.actors);
      CHECK(got == hash_model);
    }
    // Sorted sets (any doubles: Redis adds step by step, so do we).
    {
      auto view = zset_obj.ZsetView(now, sim.actors).value();
      const Dot dot = zset_obj.NextPutDot(self);
      if (op < 3) {
        const double s = static_cast<double>(sim.Pick(100)) / 7;
        view.state.Add(name, s, dot, now);
        zset_model[name] = s;
      } else if (op < 7) {
        const double d = static_cast<double>(sim.Pick(100)) / 10 - 5;
        auto got = view.state.IncrBy(name, d, dot, sim.actors);
        REQUIRE(got.ok());
        zset_model[name] += d;
        if (replicas == 1) CHECK(got.value() == zset_model[name]);
      } else if (op < 9) {
        CHECK(view.state.Remove(name) == (zset_model.erase(name) == 1));
      } else {
        view.state.Clear();
        zset_model.clear();
      }
      zset_obj.Put(Version::OfZset(view.state, now), self);
      const OrZset state = zset_obj.ZsetView(now, sim.actors).value().state;
      CHECK(state.Size() == zset_model.size());
      for (const auto& [m, s] : zset_model) {
        auto got = state.Score(m, sim.actors);
        REQUIRE(got.has_value());
        // One writer: exactly Redis's doubles. Several (each adds its own
        // running total): equal up to rounding.
        if (replicas == 1) {
          CHECK(*got == s);
        } else {
          CHECK(*got == doctest::Approx(s).epsilon(1e-9));
        }
      }
    }
  }
}

TEST_CASE("one replica: sets, hashes, sorted sets equal a sequential model") {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    CAPTURE(seed);
    RunSequential(seed, 1);
  }
}

TEST_CASE("several replicas writing in turn (no concurrency) equal a sequential model") {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    CAPTURE(seed);
    RunSequential(seed, 3);
  }
}

}  // namespace
}  // namespace shoal::storage
