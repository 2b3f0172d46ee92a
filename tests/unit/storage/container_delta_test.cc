// ContainerDelta: a container write redone from its delta on the same base
// is the coordinator's object byte for byte; on another base it is refused
// (kStale); damaged encodings are errors, never crashes.

#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "storage/container_delta.h"
#include "storage/object.h"

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
      std::string id(40, '0');
      for (char& c : id) c = "0123456789abcdef"[rng() % 16];
      ids.push_back(actors.Intern(id).value());
    }
    replicas.resize(n);
  }
  size_t Pick(size_t n) { return static_cast<size_t>(rng() % n); }
  size_t names = 12;  // how many distinct names writes draw from
  std::string Name() { return "m" + std::to_string(Pick(names)); }
  int64_t Now() { return ts += static_cast<int64_t>(Pick(3)); }
};

// One random write of `kind` on `o` as the command layer makes it (view,
// command with the write's dot, one Put): SADD/SREM/SPOP-all,
// HSET/HDEL/HINCRBY/HINCRBYFLOAT, ZADD/ZINCRBY/ZREM, DEL (clear), and now
// and then a TTL. False if the command wrote nothing. With a `journal`, the
// command's state records in it what it touches (OrMap::Track).
bool RandomWrite(Sim& sim, Object& o, ActorId self, Kind kind, OrMapJournal* journal = nullptr) {
  const int64_t now = sim.Now();
  const Dot dot = o.NextPutDot(self);
  const unsigned op = static_cast<unsigned>(sim.Pick(12));
  int64_t expire = 0;
  if (sim.Pick(8) == 0) expire = now + static_cast<int64_t>(sim.Pick(6));  // may expire soon
  switch (kind) {
    case Kind::kSet: {
      auto view = o.SetView(now, sim.actors);
      if (!view.ok()) return false;
      OrSet& s = view.value().state;
      s.Track(journal);
      if (op < 6) {
        s.Add(sim.Name(), dot);
        if (op == 0) s.Add(sim.Name(), dot);
      } else if (op < 10) {
        if (!s.Remove(sim.Name())) return false;
      } else {
        s.Clear();
      }
      if (s.empty()) expire = 0;
      REQUIRE(o.Put(Version::OfSet(s, now, expire), self) == dot);
      return true;
    }
    case Kind::kHash: {
      auto view = o.HashView(now, sim.actors);
      if (!view.ok()) return false;
      OrHash& h = view.value().state;
      h.Track(journal);
      if (op < 4) {
        h.Set(sim.Name(), std::to_string(sim.Pick(5)), dot, now);
      } else if (op < 6) {
        if (!h.IncrBy(sim.Name(), static_cast<int64_t>(sim.Pick(7)) - 3, dot, sim.actors).ok()) {
          return false;
        }
      } else if (op < 7) {
        const long double d = static_cast<long double>(sim.Pick(9)) * 0.25L - 1;
        if (!h.IncrByFloat(sim.Name(), d, dot, sim.actors).ok()) return false;
      } else if (op < 11) {
        if (!h.Remove(sim.Name())) return false;
      } else {
        h.Clear();
      }
      if (h.empty()) expire = 0;
      REQUIRE(o.Put(Version::OfHash(h, now, expire), self) == dot);
      return true;
    }
    case Kind::kZset: {
      auto view = o.ZsetView(now, sim.actors);
      if (!view.ok()) return false;
      OrZset& z = view.value().state;
      z.Track(journal);
      if (op < 4) {
        z.Add(sim.Name(), static_cast<double>(sim.Pick(8)) * 0.5, dot, now);
      } else if (op < 7) {
        if (!z.IncrBy(sim.Name(), static_cast<double>(sim.Pick(8)) * 0.25 - 1, dot, sim.actors)
                 .ok()) {
          return false;
        }
      } else if (op < 11) {
        if (!z.Remove(sim.Name())) return false;
      } else {
        z.Clear();
      }
      if (z.empty()) expire = 0;
      REQUIRE(o.Put(Version::OfZset(z, now, expire), self) == dot);
      return true;
    }
  }
  return false;
}

std::string Wire(const Object& o, const ActorTable& actors) {
  std::string out;
  o.EncodeWithNodeIds(actors, &out);
  return out;
}

void CheckReplay(Sim& sim, const Object& base, const Object& after,
                 const std::vector<Object>& others) {
  auto delta = DeltaOf(base, after, sim.actors);
  REQUIRE(delta.ok());
  std::string bytes;
  EncodeDelta(delta.value(), sim.actors, &bytes);
  auto decoded = DecodeDelta(bytes, sim.actors);
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == delta.value());
  auto applied = ApplyDelta(base, decoded.value(), sim.actors);
  REQUIRE(applied.ok());
  CHECK(applied.value() == after);
  CHECK(Wire(applied.value(), sim.actors) == Wire(after, sim.actors));
  CHECK(applied.value().Encode() == after.Encode());
  // On a base given up (its state moved, not copied): the same object.
  Object given_up = base;
  auto moved = ApplyDelta(std::move(given_up), decoded.value(), sim.actors);
  REQUIRE(moved.ok());
  CHECK(moved.value() == after);
  CHECK(Wire(moved.value(), sim.actors) == Wire(after, sim.actors));
  for (const Object& other : others) {
    if (other == base) continue;
    auto refused = ApplyDelta(other, decoded.value(), sim.actors);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.status().code() == Code::kStale);
    Object other_given_up = other;
    auto refused_moved = ApplyDelta(std::move(other_given_up), decoded.value(), sim.actors);
    REQUIRE_FALSE(refused_moved.ok());
    CHECK(refused_moved.status().code() == Code::kStale);
    CHECK(other_given_up == other);  // a refusal moves nothing
  }
  // The object it made is not its base either.
  auto again = ApplyDelta(after, decoded.value(), sim.actors);
  CHECK_FALSE(again.ok());
}

TEST_CASE("Apply(base, DeltaOf(base -> new)) is the coordinator's object; other bases are stale") {
  size_t journaled = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    Sim sim(3, seed);
    const Kind kind = static_cast<Kind>(seed % 3);
    size_t checked = 0;
    for (int step = 0; step < 120; ++step) {
      const size_t r = sim.Pick(3);
      if (sim.Pick(5) == 0) {
        // A merge from another replica: concurrent writes become siblings.
        sim.replicas[r].Merge(sim.replicas[sim.Pick(3)]);
        continue;
      }
      Object base = sim.replicas[r];
      OrMapJournal journal;
      if (!RandomWrite(sim, sim.replicas[r], sim.ids[r], kind, &journal)) continue;
      CheckReplay(sim, base, sim.replicas[r], sim.replicas);
      ++checked;
      // Where the keyspace makes deltas from the journal (a base of at most
      // one version, of the type, without TTL; a result without TTL), they
      // encode as DeltaOf's, byte for byte.
      const Object& after = sim.replicas[r];
      const Object::Sibling& made = after.siblings()[0];
      const Version* only = base.OnlyValue();
      const bool one =
          base.Size() == 0 || (only != nullptr && base.Size() == 1 &&
                               only->kind == made.value.kind && only->expire_at_ms == 0);
      if (one && made.value.expire_at_ms == 0 && journal.complete) {
        std::string from_journal, from_diff;
        EncodeDeltaFromJournal(BaseDigest(base, sim.actors), made.value, made.dot, journal,
                               sim.actors, &from_journal);
        EncodeDelta(DeltaOf(base, after, sim.actors).value(), sim.actors, &from_diff);
        CHECK(from_journal == from_diff);
        ++journaled;
      }
    }
    CHECK(checked > 30);
  }
  CHECK(journaled > 500);
}

TEST_CASE("a tracked state's journal: touches, copies, assignments and merges") {
  static_assert(std::is_nothrow_move_constructible_v<OrSet>);
  static_assert(std::is_nothrow_move_constructible_v<OrHash>);
  static_assert(std::is_nothrow_move_constructible_v<OrZset>);
  ActorTable actors;
  const ActorId a = actors.Intern(std::string(40, 'a')).value();
  OrSet s;
  s.Add("x", Dot{a, 1});
  OrMapJournal journal;
  s.Track(&journal);
  CHECK_FALSE(s.Remove("absent"));  // no change, nothing recorded
  s.Add("y", Dot{a, 2});
  s.Add("x", Dot{a, 2});
  CHECK(s.Remove("y"));
  REQUIRE(journal.touched.size() == 3);
  CHECK(journal.touched[0].name == "y");
  CHECK_FALSE(journal.touched[0].present_before);
  CHECK(journal.touched[1].present_before);
  CHECK(journal.touched[2].present_before);
  CHECK(journal.complete);
  OrSet copy = s;  // a copy is not tracked
  copy.Add("z", Dot{a, 3});
  CHECK(journal.touched.size() == 3);
  CHECK(copy == (OrSet(copy)));
  s.Join(copy);  // a merge cannot be told name by name
  CHECK_FALSE(journal.complete);
  OrMapJournal second;
  s.Track(&second);
  s = OrSet();  // nor can an assignment
  CHECK_FALSE(second.complete);
  s.Track(nullptr);
}

TEST_CASE("multi-sibling bases: concurrent writes joined by the next write") {
  Sim sim(2, 7);
  // Both replicas add concurrently; replica 0 merges, then writes.
  for (int i = 0; i < 5; ++i) {
    for (size_t r = 0; r < 2; ++r) {
      Object& o = sim.replicas[r];
      const int64_t now = sim.Now();
      auto view = o.SetView(now, sim.actors).value();
      view.state.Add(sim.Name(), o.NextPutDot(sim.ids[r]));
      o.Put(Version::OfSet(view.state, now), sim.ids[r]);
    }
  }
  Object base = sim.replicas[0];
  base.Merge(sim.replicas[1]);
  REQUIRE(base.Size() == 2);
  Object after = base;
  const int64_t now = sim.Now();
  auto view = after.SetView(now, sim.actors).value();
  const Dot dot = after.NextPutDot(sim.ids[0]);
  view.state.Add("new", dot);
  view.state.Remove(view.state.map().entries().front().name);
  after.Put(Version::OfSet(view.state, now), sim.ids[0]);
  CheckReplay(sim, base, after, {sim.replicas[0], sim.replicas[1]});
}

TEST_CASE("a one-member SADD on a big set is a small delta") {
  ActorTable actors;
  const ActorId a = actors.Intern(std::string(40, 'a')).value();
  Object base;
  OrSet s;
  Dot dot = base.NextPutDot(a);
  for (int i = 0; i < 10000; ++i) s.Add("member:" + std::to_string(100000 + i), dot);
  base.Put(Version::OfSet(s, kNow), a);
  Object after = base;
  dot = after.NextPutDot(a);
  auto view = after.SetView(kNow + 1, actors).value();
  view.state.Add("member:new-one-16", dot);
  after.Put(Version::OfSet(view.state, kNow + 1), a);
  auto delta = DeltaOf(base, after, actors);
  REQUIRE(delta.ok());
  CHECK(delta.value().removed.empty());
  CHECK(delta.value().changed.set.Size() == 1);
  std::string bytes;
  EncodeDelta(delta.value(), actors, &bytes);
  CHECK(bytes.size() < 100);
  CHECK(Wire(after, actors).size() > 100000);
}

TEST_CASE("PutWithDot refuses a dot the context covers and changes nothing") {
  ActorTable actors;
  const ActorId a = actors.Intern(std::string(40, 'b')).value();
  Object o;
  o.Put(Version::Bytes("x", kNow), a);
  o.Put(Version::Bytes("y", kNow), a);
  const Object before = o;
  CHECK_FALSE(o.PutWithDot(Version::Bytes("z", kNow), Dot{a, 2}).ok());
  CHECK_FALSE(o.PutWithDot(Version::Bytes("z", kNow), Dot{a, 0}).ok());
  CHECK(o == before);
  Object p = before;
  REQUIRE(o.PutWithDot(Version::Bytes("z", kNow), Dot{a, 3}).ok());
  p.Put(Version::Bytes("z", kNow), a);
  CHECK(o == p);
}

TEST_CASE("damaged deltas decode to errors, never crash") {
  Sim sim(2, 99);
  Object base;
  for (int i = 0; i < 6; ++i) RandomWrite(sim, base, sim.ids[0], Kind::kHash);
  Object after = base;
  while (!RandomWrite(sim, after, sim.ids[1], Kind::kHash)) {
  }
  auto delta = DeltaOf(base, after, sim.actors);
  REQUIRE(delta.ok());
  std::string bytes;
  EncodeDelta(delta.value(), sim.actors, &bytes);
  for (size_t n = 0; n < bytes.size(); ++n) {
    CHECK_FALSE(DecodeDelta(bytes.substr(0, n), sim.actors).ok());
  }
  CHECK_FALSE(DecodeDelta(bytes + "x", sim.actors).ok());
  std::mt19937_64 rng(5);
  for (int i = 0; i < 2000; ++i) {
    std::string damaged = bytes;
    damaged[rng() % damaged.size()] ^= static_cast<char>(1 + rng() % 255);
    auto d = DecodeDelta(damaged, sim.actors);
    if (!d.ok()) {
      CHECK(d.status().code() == Code::kCorruption);
      continue;
    }
    // It decoded: applying it may fail, but only as stale.
    auto applied = ApplyDelta(base, d.value(), sim.actors);
    if (!applied.ok()) CHECK(applied.status().code() == Code::kStale);
    Object given_up = base;
    auto moved = ApplyDelta(std::move(given_up), d.value(), sim.actors);
    CHECK(moved.ok() == applied.ok());
    if (moved.ok() && applied.ok()) CHECK(moved.value() == applied.value());
    if (!moved.ok()) CHECK(given_up == base);  // a refusal moves nothing
  }
}

TEST_CASE("a delta of many names (applied by a walk, not in place) gives the same object") {
  // Deltas of up to 16 names are applied in place on a base given up; a
  // bigger one walks every entry. Both must give the coordinator's object,
  // and so must the copying overload.
  size_t big = 0;
  for (uint64_t seed = 1; seed <= 40 && big < 10; ++seed) {
    Sim sim(2, seed);
    sim.names = 200;
    const Kind kind = static_cast<Kind>(seed % 3);
    Object base;
    for (int i = 0; i < 40; ++i) RandomWrite(sim, base, sim.ids[0], kind);
    Object after = base;
    // Many writes by one coordinator: one delta covering all their names.
    for (int i = 0; i < 30; ++i) RandomWrite(sim, after, sim.ids[1], kind);
    auto delta = DeltaOf(base, after, sim.actors);
    if (!delta.ok()) continue;  // a TTL on either side, or nothing changed
    const auto& changed = delta.value().changed;
    const size_t names =
        delta.value().removed.size() + (kind == Kind::kHash  ? changed.hash.Size()
                                        : kind == Kind::kSet ? changed.set.Size()
                                                             : changed.zset.Size());
    if (names <= 16) continue;
    ++big;
    CheckReplay(sim, base, after, {});
  }
  CHECK(big > 0);
}

// A forged variant of a true delta, keeping its base digest: its changed
// entries thinned, its clock lowered to the least one its entries need, a
// name removed that the base lacks or a true removal dropped, its dot moved.
template <typename State>
void Forge(ContainerDelta& d, const std::vector<std::string>& base_names, std::mt19937_64& rng) {
  const auto& map = StateOf<State>(d.changed).map();
  auto entries = map.entries();
  VersionVector clock = map.clock();
  if (!entries.empty() && rng() % 3 == 0) {
    entries.erase(entries.begin() + static_cast<ptrdiff_t>(rng() % entries.size()));
  }
  if (rng() % 3 == 0) {
    clock = VersionVector();
    for (const auto& e : entries) {
      for (const auto& a : e.atoms) clock.Raise(a.dot.actor, a.dot.counter);
    }
  }
  auto forged = State::Map::FromParts(clock, std::move(entries));
  if (forged.ok()) StateOf<State>(d.changed) = State(std::move(forged).value());
  if (rng() % 4 == 0 && !base_names.empty()) {
    // Remove a base name the delta does not change (a removal it never made).
    const std::string& name = base_names[rng() % base_names.size()];
    const auto& changed = StateOf<State>(d.changed).map();
    if (changed.Find(name) == nullptr &&
        std::find(d.removed.begin(), d.removed.end(), name) == d.removed.end()) {
      d.removed.insert(std::lower_bound(d.removed.begin(), d.removed.end(), name), name);
    }
  }
  if (rng() % 4 == 0 && !d.removed.empty()) {
    d.removed.erase(d.removed.begin() + static_cast<ptrdiff_t>(rng() % d.removed.size()));
  }
  if (rng() % 6 == 0) d.dot.counter = 1 + rng() % (d.dot.counter + 1);
}

TEST_CASE("forged deltas on their true base: both overloads agree, results are valid maps") {
  // A forged delta that passes the base digest reaches the entry checks:
  // the in-place path (small deltas) and the walk (the copying overload)
  // must refuse the same ones, leave a base given up whole when they
  // refuse, and otherwise make the same object, one that encodes and
  // decodes (the decoder checks every invariant the in-place path skips).
  size_t applied = 0, refused = 0;
  for (uint64_t seed = 1; seed <= 150; ++seed) {
    Sim sim(3, seed);
    const Kind kind = static_cast<Kind>(seed % 3);
    std::mt19937_64 rng(seed * 7919);
    Object base;
    for (int i = 0; i < 10; ++i) RandomWrite(sim, base, sim.ids[sim.Pick(2)], kind);
    for (int round = 0; round < 20; ++round) {
      Object after = base;
      if (!RandomWrite(sim, after, sim.ids[2], kind)) continue;
      auto delta = DeltaOf(base, after, sim.actors);
      if (!delta.ok()) continue;
      std::vector<std::string> base_names;
      for (int i = 0; i < 12; ++i) base_names.push_back("m" + std::to_string(i));
      ContainerDelta forged = delta.value();
      switch (kind) {
        case Kind::kHash:
          Forge<OrHash>(forged, base_names, rng);
          break;
        case Kind::kSet:
          Forge<OrSet>(forged, base_names, rng);
          break;
        case Kind::kZset:
          Forge<OrZset>(forged, base_names, rng);
          break;
      }
      auto copied = ApplyDelta(base, forged, sim.actors);
      Object given_up = base;
      auto moved = ApplyDelta(std::move(given_up), forged, sim.actors);
      REQUIRE(moved.ok() == copied.ok());
      if (!moved.ok()) {
        ++refused;
        CHECK(moved.status().code() == Code::kStale);
        CHECK(given_up == base);
        continue;
      }
      ++applied;
      CHECK(moved.value() == copied.value());
      auto decoded = Object::Decode(moved.value().Encode(), sim.actors);
      REQUIRE(decoded.ok());
      CHECK(decoded.value() == moved.value());
    }
  }
  MESSAGE("forged deltas applied " << applied << ", refused " << refused);
  CHECK(applied > 0);
  CHECK(refused > 0);
}

TEST_CASE("a forged delta that passes the base check is refused before the base is taken") {
  // The base digest matches, so the refusal comes from the checks on the
  // entries and the dot: the base given up must still be whole.
  Sim sim(2, 7);
  for (const Kind kind : {Kind::kHash, Kind::kSet, Kind::kZset}) {
    CAPTURE(static_cast<int>(kind));
    // A base and a write on it that make a delta (one container version
    // without TTL on both sides).
    Object base, after;
    Result<ContainerDelta> delta = Status::Invalid("none yet");
    for (int tries = 0; tries < 1000 && (!delta.ok() || base.Context().Get(sim.ids[0]) == 0);
         ++tries) {
      delta = Status::Invalid("none yet");
      RandomWrite(sim, base, sim.ids[0], kind);
      after = base;
      if (RandomWrite(sim, after, sim.ids[1], kind)) delta = DeltaOf(base, after, sim.actors);
    }
    REQUIRE(delta.ok());

    ContainerDelta absent = delta.value();  // removes a name the base lacks
    absent.removed.assign({std::string("\xff\xff absent")});
    ContainerDelta covered = delta.value();  // a dot the base has seen
    covered.dot = Dot{sim.ids[0], 1};
    for (const ContainerDelta* forged : {&absent, &covered}) {
      auto copied = ApplyDelta(base, *forged, sim.actors);
      REQUIRE_FALSE(copied.ok());
      CHECK(copied.status().code() == Code::kStale);
      Object given_up = base;
      auto moved = ApplyDelta(std::move(given_up), *forged, sim.actors);
      REQUIRE_FALSE(moved.ok());
      CHECK(moved.status().code() == Code::kStale);
      CHECK(given_up == base);
    }
    // The true delta still applies to it.
    Object given_up = base;
    auto moved = ApplyDelta(std::move(given_up), delta.value(), sim.actors);
    REQUIRE(moved.ok());
    CHECK(moved.value() == after);
  }
}

}  // namespace
}  // namespace shoal::storage
