// Containers inside Object: the join of container versions on read, the
// type rule (a pure function), DEL as an empty state, expiry, compaction,
// purgeability, conflict-resolution lww.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/object.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

struct Nodes {
  ActorTable actors;
  // Node-id order is the reverse of ActorId order.
  ActorId a = actors.Intern(std::string(40, 'c')).value();
  ActorId b = actors.Intern(std::string(40, 'b')).value();
  ActorId c = actors.Intern(std::string(40, 'a')).value();
};

using Strings = std::vector<std::string>;

// SADD through `actor` on `o` as the command layer does it.
void Sadd(Object& o, ActorId actor, const std::string& m, int64_t now, const ActorTable& actors,
          int64_t expire = 0) {
  OrSet s = o.SetView(now, actors).value().state;
  s.Add(m, o.NextPutDot(actor));
  o.Put(Version::OfSet(std::move(s), now, expire), actor);
}

void Del(Object& o, ActorId actor, int64_t now, const ActorTable& actors) {
  OrSet s = o.SetView(now, actors).value().state;
  s.Clear();
  o.Put(Version::OfSet(std::move(s), now), actor);
}

Strings Members(const Object& o, int64_t now, const ActorTable& actors) {
  Strings out;
  auto view = o.SetView(now, actors);
  REQUIRE(view.ok());
  for (const auto& e : view.value().state.map().entries()) out.push_back(e.name);
  return out;
}

TEST_CASE("concurrent container versions read as one joined container") {
  Nodes n;
  Object base;
  Sadd(base, n.a, "x", kNow, n.actors);
  Object left = base, right = base;
  Sadd(left, n.a, "l", kNow + 1, n.actors);
  Sadd(right, n.b, "r", kNow + 1, n.actors);
  left.Merge(right);
  CHECK(left.Size() == 2);                                             // two versions stored...
  CHECK(Members(left, kNow + 2, n.actors) == Strings{"l", "r", "x"});  // ...one set read
  CHECK(left.LiveCount(kNow + 2) == 1);
  CHECK(left.TypeAt(kNow + 2, n.actors) == KeyType::kSet);
  CHECK(left.LiveValues(kNow + 2, n.actors).empty());  // not a string value
  // The next write joins them into one version.
  Sadd(left, n.a, "y", kNow + 3, n.actors);
  CHECK(left.Size() == 1);
  CHECK(Members(left, kNow + 3, n.actors) == Strings{"l", "r", "x", "y"});
}

TEST_CASE("DEL concurrent with SADD of a new member: only the new member; empty reads absent") {
  Nodes n;
  Object base;
  Sadd(base, n.a, "old", kNow, n.actors);
  Object del = base, add = base;
  Del(del, n.a, kNow + 1, n.actors);
  CHECK(del.IsAbsent(kNow + 1));
  CHECK(del.TypeAt(kNow + 1, n.actors) == KeyType::kNone);
  CHECK(del.IsTombstonesOnly());
  CHECK(del.IsPurgeable(kNow + 10, kNow + 5));
  CHECK_FALSE(del.IsPurgeable(kNow + 10, kNow + 1));
  Sadd(add, n.b, "new", kNow + 1, n.actors);
  Object m1 = del, m2 = add;
  m1.Merge(add);
  m2.Merge(del);
  CHECK(m1 == m2);
  CHECK(Members(m1, kNow + 2, n.actors) == Strings{"new"});
  CHECK_FALSE(m1.IsTombstonesOnly());
  // Concurrent writes: a remove applies to what it saw, an add stays.
  Object rem = base;
  OrSet s = rem.SetView(kNow, n.actors).value().state;
  s.Remove("old");
  s.Add("other", rem.NextPutDot(n.b));
  rem.Put(Version::OfSet(s, kNow + 1), n.b);
  Object other = base;
  OrSet t = other.SetView(kNow, n.actors).value().state;
  t.Add("gone", other.NextPutDot(n.a));
  other.Put(Version::OfSet(t, kNow + 1), n.a);
  // "gone" (only on one side) survives; "old" removed on one side: gone.
  rem.Merge(other);
  CHECK(Members(rem, kNow + 2, n.actors) == Strings{"gone", "other"});
}

TEST_CASE("type rule: the live version with the greatest (timestamp, node id, dot) wins") {
  Nodes n;
  Object base;
  base.Put(Version::Bytes("v", kNow), n.a);
  // (A SADD on the string key would be WRONGTYPE: the sets here are
  // written on replicas that had not seen it, so they are concurrent.)
  Object str = base, set;
  str.Put(Version::Bytes("later string", kNow + 10), n.a);
  Sadd(set, n.b, "m", kNow + 5, n.actors);
  Object m = str;
  m.Merge(set);
  CHECK(m.TypeAt(kNow + 20, n.actors) == KeyType::kString);
  CHECK(m.LiveValues(kNow + 20, n.actors) == Strings{"later string"});
  CHECK(m.SetView(kNow + 20, n.actors).status().code() == Code::kWrongType);
  CHECK(m.SetView(kNow + 20, n.actors).status().message() ==
        "WRONGTYPE Operation against a key holding the wrong kind of value");
  CHECK(m.CounterForUpdate(kNow + 20, n.actors).status().code() == Code::kNotInteger);
  // The set written later wins instead.
  Object set2;
  Sadd(set2, n.b, "m", kNow + 30, n.actors);
  Object m2 = str;
  m2.Merge(set2);
  CHECK(m2.TypeAt(kNow + 40, n.actors) == KeyType::kSet);
  CHECK(m2.CounterForUpdate(kNow + 40, n.actors).status().code() == Code::kWrongType);
  CHECK(m2.HashView(kNow + 40, n.actors).status().code() == Code::kWrongType);
  CHECK(Members(m2, kNow + 40, n.actors) == Strings{"m"});
  // Equal timestamps: the greater node id (a's "ccc...") wins.
  Object s3 = base, z3 = base;
  s3.Put(Version::Bytes("s", kNow + 50), n.a);
  OrZset z;
  z.Add("m", 1, z3.NextPutDot(n.b), kNow + 50);
  z3.Put(Version::OfZset(z, kNow + 50), n.b);
  s3.Merge(z3);
  CHECK(s3.TypeAt(kNow + 60, n.actors) == KeyType::kString);
  // A write of either kind supersedes every sibling.
  s3.Put(Version::OfZset(z, kNow + 70), n.a);
  CHECK(s3.Size() == 1);
  CHECK(s3.TypeAt(kNow + 80, n.actors) == KeyType::kZset);
  // An expired or dead version does not compete.
  Object e;
  Sadd(e, n.a, "m", kNow + 100, n.actors, kNow + 101);
  Object f = base;
  f.Update({}, Version::Bytes("old", kNow + 1), n.b);
  e.Merge(f);
  CHECK(e.TypeAt(kNow + 100, n.actors) == KeyType::kSet);
  CHECK(e.TypeAt(kNow + 101, n.actors) == KeyType::kString);
  CHECK(Object().TypeAt(kNow, n.actors) == KeyType::kNone);
}

TEST_CASE("container expiry: TTL kept by writes, expired versions compacted, remains purgeable") {
  Nodes n;
  Object o;
  Sadd(o, n.a, "m", kNow, n.actors, kNow + 100);
  auto view = o.SetView(kNow + 1, n.actors).value();
  CHECK(view.expire_at_ms == kNow + 100);
  CHECK(view.exists);
  CHECK(o.ExpireAtMs() == kNow + 100);
  CHECK(o.IsAbsent(kNow + 100));
  CHECK(o.TypeAt(kNow + 100, n.actors) == KeyType::kNone);
  CHECK_FALSE(o.SetView(kNow + 100, n.actors).value().exists);
  CHECK(o.CompactExpired(kNow + 100));
  CHECK(o.IsTombstonesOnly());
  CHECK(o.siblings()[0].value.kind == VersionKind::kTombstone);
  CHECK(o.siblings()[0].value.set.empty());
  CHECK(o.IsPurgeable(kNow + 200, kNow + 150));
  // An empty container is not "expired": compaction keeps its clock.
  Object d;
  Sadd(d, n.a, "m", kNow, n.actors);
  Del(d, n.a, kNow + 1, n.actors);
  CHECK_FALSE(d.CompactExpired(kNow + 1000));
  CHECK(d.siblings()[0].value.kind == VersionKind::kSet);
  CHECK(d.ExpireAtMs() == 0);
}

TEST_CASE("conflict-resolution lww keeps every version of a winning container type") {
  Nodes n;
  Object base;
  Sadd(base, n.a, "x", kNow, n.actors);
  Object a = base, b = base, c = base;
  Sadd(a, n.a, "a", kNow + 1, n.actors);
  Sadd(b, n.b, "b", kNow + 2, n.actors);
  c.Put(Version::Bytes("str", kNow + 1), n.c);
  a.Merge(b);
  a.Merge(c);
  a.ResolveLww(n.actors);
  CHECK(a.Size() == 2);
  CHECK(Members(a, kNow + 3, n.actors) == Strings{"a", "b", "x"});
}

TEST_CASE("hash and sorted set views join like sets") {
  Nodes n;
  Object base;
  OrHash h;
  h.Set("f", "1", base.NextPutDot(n.a), kNow);
  base.Put(Version::OfHash(h, kNow), n.a);
  Object x = base, y = base;
  for (auto [obj, actor] : {std::pair{&x, n.a}, std::pair{&y, n.b}}) {
    OrHash s = obj->HashView(kNow, n.actors).value().state;
    REQUIRE(s.IncrBy("f", 10, obj->NextPutDot(actor), n.actors).ok());
    obj->Put(Version::OfHash(s, kNow + 1), actor);
  }
  x.Merge(y);
  CHECK(x.HashView(kNow + 2, n.actors).value().state.Get("f", n.actors) == "21");
  CHECK(x.TypeAt(kNow + 2, n.actors) == KeyType::kHash);
  CHECK(x.ZsetView(kNow + 2, n.actors).status().code() == Code::kWrongType);
}

}  // namespace
}  // namespace shoal::storage
