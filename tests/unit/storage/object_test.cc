#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/object.h"

namespace shoal::storage {
namespace {

using Strings = std::vector<std::string>;
constexpr int64_t kNow = 1'700'000'000'000;

// Three nodes whose node-id order is the reverse of their ActorId order, so
// that tests notice if ActorIds leak into user-visible ordering.
struct Nodes {
  ActorTable actors;
  ActorId a = actors.Intern(std::string(40, 'c')).value();
  ActorId b = actors.Intern(std::string(40, 'b')).value();
  ActorId c = actors.Intern(std::string(40, 'a')).value();
};

TEST_CASE("plain writes supersede, GET shows one value") {
  Nodes n;
  Object o;
  CHECK(o.IsAbsent(kNow));
  CHECK(o.LiveValues(kNow, n.actors).empty());
  o.Put(Version::Bytes("one", kNow), n.a);
  o.Put(Version::Bytes("two", kNow + 1), n.a);
  CHECK(o.Size() == 1);
  CHECK(o.LiveValues(kNow, n.actors) == Strings{"two"});
  CHECK(o.SiblingsAfterUpdate(o.Context()) == 1);
}

TEST_CASE("stale contexts make siblings shown oldest first by timestamp then node id") {
  Nodes n;
  Object o;
  o.Put(Version::Bytes("base", kNow), n.a);
  VersionVector old = o.Context();
  o.Update(old, Version::Bytes("late", kNow + 5), n.a);
  o.Update(old, Version::Bytes("early", kNow + 1), n.a);
  o.Update(old, Version::Bytes("tie-c", kNow + 9), n.c);  // node id "aaa..."
  o.Update(old, Version::Bytes("tie-b", kNow + 9), n.b);  // node id "bbb..."
  CHECK(o.LiveValues(kNow, n.actors) == Strings{"early", "late", "tie-c", "tie-b"});
  CHECK(o.LiveCount(kNow) == 4);
  CHECK(o.SiblingsAfterUpdate(old) == 5);
  CHECK(o.Size() == 4);
  o.Update(o.Context(), Version::Bytes("resolved", kNow + 10), n.b);
  CHECK(o.LiveValues(kNow, n.actors) == Strings{"resolved"});
}

TEST_CASE("tombstones: DEL makes the key absent, DELV with a stale context keeps a sibling") {
  Nodes n;
  Object o;
  o.Put(Version::Bytes("v", kNow), n.a);
  VersionVector old = o.Context();
  o.Update(old, Version::Bytes("w", kNow + 1), n.b);
  o.Update(old, Version::Tombstone(kNow + 2), n.c);  // saw only "v"
  CHECK(o.Size() == 2);
  CHECK(o.LiveValues(kNow, n.actors) == Strings{"w"});
  o.Put(Version::Tombstone(kNow + 3), n.a);
  CHECK(o.Size() == 1);
  CHECK(o.IsAbsent(kNow));
  CHECK(o.LiveValues(kNow, n.actors).empty());
}

TEST_CASE("expiry is part of the version") {
  Nodes n;
  Object o;
  o.Put(Version::Bytes("v", kNow, kNow + 1000), n.a);
  CHECK(o.LiveValues(kNow + 999, n.actors) == Strings{"v"});
  CHECK(o.IsAbsent(kNow + 1000));
  CHECK(o.ExpireAtMs() == kNow + 1000);
  // A sibling without expiry keeps the key.
  Object p = o;
  p.Update({}, Version::Bytes("w", kNow), n.b);
  CHECK(p.ExpireAtMs() == 0);
  CHECK(p.LiveValues(kNow + 2000, n.actors) == Strings{"w"});
  // A replica that merges the version gets its TTL.
  Object q;
  q.Merge(o);
  CHECK(q.ExpireAtMs() == kNow + 1000);
  CHECK(q.IsAbsent(kNow + 1000));
}

TEST_CASE("purgeable: every sibling dead before the cutoff") {
  Nodes n;
  Object o;
  CHECK_FALSE(o.IsPurgeable(kNow, kNow));
  o.Put(Version::Bytes("v", kNow), n.a);
  CHECK_FALSE(o.IsPurgeable(kNow + 100, kNow + 100));
  o.Put(Version::Tombstone(kNow + 10), n.a);
  CHECK_FALSE(o.IsPurgeable(kNow + 100, kNow + 10));
  CHECK(o.IsPurgeable(kNow + 100, kNow + 11));
  Object e;
  e.Put(Version::Bytes("v", kNow, kNow + 50), n.a);
  CHECK_FALSE(e.IsPurgeable(kNow + 40, kNow + 100));  // still live
  CHECK_FALSE(e.IsPurgeable(kNow + 60, kNow + 50));
  CHECK(e.IsPurgeable(kNow + 60, kNow + 51));
}

TEST_CASE("lww keeps the greatest (timestamp, node id) and the choice replicates") {
  Nodes n;
  Object o;
  o.Put(Version::Bytes("base", kNow), n.a);
  VersionVector old = o.Context();
  Object other = o;
  o.Update(old, Version::Bytes("x", kNow + 5), n.a);
  o.Update(old, Version::Bytes("y", kNow + 5), n.b);  // same time; "bbb..." < "ccc..."
  o.Update(old, Version::Bytes("z", kNow + 4), n.c);
  Object unresolved = o;
  o.ResolveLww(n.actors);
  // Node ids: a = "ccc...", b = "bbb...": a wins the tie.
  CHECK(o.LiveValues(kNow, n.actors) == Strings{"x"});
  CHECK(o.Context() == unresolved.Context());
  Object m = unresolved;
  m.Merge(o);
  CHECK(m == o);

  // A later tombstone wins: the key is absent.
  Object d = other;
  d.Update(old, Version::Bytes("v", kNow + 1), n.a);
  d.Update(old, Version::Tombstone(kNow + 2), n.b);
  d.ResolveLww(n.actors);
  CHECK(d.IsAbsent(kNow));
  CHECK(d.Size() == 1);
}

TEST_CASE("lww with a winning counter keeps every counter sibling") {
  Nodes n;
  Object o;
  auto base = o.CounterForUpdate(kNow, n.actors);
  REQUIRE(base.ok());
  o.Put(Version::Counter(base.value().counter, kNow), n.a);
  VersionVector old = o.Context();
  PnCounter c1 = o.siblings()[0].value.counter, c2 = c1;
  CHECK(c1.Add(n.a, 3).ok());
  CHECK(c2.Add(n.b, 4).ok());
  o.Update(old, Version::Bytes("s", kNow + 1), n.c);
  o.Update(old, Version::Counter(c1, kNow + 2), n.a);
  o.Update(old, Version::Counter(c2, kNow + 3), n.b);
  o.ResolveLww(n.actors);
  CHECK(o.Size() == 2);
  CHECK(o.LiveValues(kNow, n.actors) == Strings{"7"});
}

TEST_CASE("counters: increments on three partitioned replicas all count after merges") {
  Nodes n;
  const ActorId ids[] = {n.a, n.b, n.c};
  Object shared;
  shared.Put(Version::Bytes("5", kNow), n.a);
  std::vector<Object> replicas(3, shared);
  for (int round = 0; round < 4; ++round) {
    for (size_t i = 0; i < 3; ++i) {
      auto base = replicas[i].CounterForUpdate(kNow, n.actors);
      REQUIRE(base.ok());
      PnCounter c = base.value().counter;
      REQUIRE(c.Add(ids[i], static_cast<int64_t>(i + 1)).ok());
      replicas[i].Put(Version::Counter(c, kNow + round), ids[i]);
      CHECK(replicas[i].Size() == 1);
    }
  }
  const std::string want = std::to_string(5 + 4 * (1 + 2 + 3));
  for (auto order : {std::vector<size_t>{0, 1, 2}, {2, 0, 1}, {1, 2, 0}}) {
    Object m = replicas[order[0]];
    m.Merge(replicas[order[1]]);
    m.Merge(replicas[order[2]]);
    CHECK(m.Size() == 3);                                  // three concurrent counter siblings...
    CHECK(m.LiveValues(kNow, n.actors) == Strings{want});  // ...shown as one joined sum
    // An INCR on the merged object supersedes them all and keeps the sum.
    auto base = m.CounterForUpdate(kNow, n.actors);
    REQUIRE(base.ok());
    PnCounter c = base.value().counter;
    REQUIRE(c.Add(n.b, 1).ok());
    m.Put(Version::Counter(c, kNow + 10), n.b);
    CHECK(m.Size() == 1);
    CHECK(m.LiveValues(kNow, n.actors) == Strings{std::to_string(5 + 24 + 1)});
  }
}

TEST_CASE("counter base: missing key, TTL kept, not an integer, conflict") {
  Nodes n;
  Object o;
  auto empty = o.CounterForUpdate(kNow, n.actors);
  REQUIRE(empty.ok());
  CHECK(empty.value().counter.empty());
  CHECK(empty.value().expire_at_ms == 0);

  o.Put(Version::Bytes("-12", kNow, kNow + 500), n.a);
  auto base = o.CounterForUpdate(kNow, n.actors);
  REQUIRE(base.ok());
  CHECK(base.value().counter.Value().value() == -12);
  CHECK(base.value().expire_at_ms == kNow + 500);

  for (const char* bad : {"abc", "", " 1", "+1", "01", "-0", "1.5", "99999999999999999999"}) {
    CAPTURE(bad);
    Object b;
    b.Put(Version::Bytes(bad, kNow), n.a);
    auto r = b.CounterForUpdate(kNow, n.actors);
    CHECK(r.status().code() == Code::kNotInteger);
  }

  // A SET concurrent with an INCR: GET shows both, INCR refuses.
  Object mixed;
  mixed.Put(Version::Counter(PnCounter::FromInt(3), kNow), n.a);
  VersionVector old = mixed.Context();
  mixed.Update(old, Version::Bytes("text", kNow + 1), n.b);
  mixed.Update(old, Version::Counter(PnCounter::FromInt(4), kNow + 2), n.c);
  CHECK(mixed.LiveValues(kNow, n.actors) == Strings{"text", "4"});
  auto conflict = mixed.CounterForUpdate(kNow, n.actors);
  CHECK(conflict.status().code() == Code::kConflict);
  // One wording for every command refused on siblings (INCR here, APPEND
  // and friends through Keyspace::Single).
  CHECK(conflict.status().message() ==
        "CONFLICT 2 siblings: resolve them with GETV and a SETV carrying its context");
  CHECK(conflict.status().message() == ConflictMessage(2));
  // Expired siblings do not count.
  Object exp;
  exp.Put(Version::Bytes("1", kNow, kNow + 5), n.a);
  exp.Update({}, Version::Bytes("2", kNow), n.b);
  CHECK(exp.CounterForUpdate(kNow, n.actors).status().code() == Code::kConflict);
  auto after = exp.CounterForUpdate(kNow + 5, n.actors);
  REQUIRE(after.ok());
  CHECK(after.value().counter.Value().value() == 2);
}

TEST_CASE("two replicas converting the same string count its base once") {
  Nodes n;
  Object shared;
  shared.Put(Version::Bytes("100", kNow), n.a);
  Object x = shared, y = shared;
  for (auto [obj, actor, delta] : {std::tuple{&x, n.a, 1}, std::tuple{&y, n.b, 10}}) {
    auto base = obj->CounterForUpdate(kNow, n.actors);
    REQUIRE(base.ok());
    PnCounter c = base.value().counter;
    REQUIRE(c.Add(actor, delta).ok());
    obj->Put(Version::Counter(c, kNow), actor);
  }
  x.Merge(y);
  CHECK(x.LiveValues(kNow, n.actors) == Strings{"111"});
}

}  // namespace
}  // namespace shoal::storage
