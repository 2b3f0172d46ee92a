// ContainerCache (bounds, validity against the store's buffer) and the
// Keyspace's use of it: a random history of container writes interleaved
// with every other path that changes or removes a key (Delete, SetExpiry,
// SET, Merge of foreign objects, Forget, FlushAll, Purge, deletes behind the
// keyspace's back, eviction, expiry, pins) runs on two keyspaces, one with
// the cache and one without, which must store the same bytes and publish
// the same changes at every step (CheckSameChanges: the cached one, lazy,
// may keep a delta the other drops); and what the cached keyspace reads
// must be what its stored bytes decode to.

#include "storage/container_cache.h"

#include <doctest/doctest.h>

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/container_delta.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/store.h"
#include "tests/unit/storage/container_history.h"

namespace shoal::storage {
namespace {

using history::CheckSameChanges;
using history::Elem;
using history::Foreign;
using history::kKeys;
using history::kNow;
using history::Mode;
using history::Node;
using history::Op;
using history::Recorder;
using history::Replicate;
using history::Write;

Object SetObject(std::vector<std::string> members, ActorId actor) {
  OrSet s;
  uint64_t c = 1;
  for (const auto& m : members) s.Add(m, Dot{actor, c++});
  Object obj;
  obj.Put(Version::OfSet(std::move(s), kNow), actor, c);
  return obj;
}

TEST_CASE("ContainerCache: take, find, stale buffers, erase, clear") {
  ActorTable actors;
  const ActorId a = actors.Intern(std::string(40, 'a')).value();
  ContainerCache cache;
  std::string stored(100, 'x');
  CHECK_FALSE(cache.Take("k", &stored).has_value());
  CHECK(cache.stats().misses == 1);
  CHECK_FALSE(cache.Take("k", nullptr).has_value());  // absent: no miss
  CHECK(cache.stats().misses == 1);

  cache.Insert("k", SetObject({"m"}, a), stored);
  CHECK(cache.size() == 1);
  CHECK(cache.bytes() == ContainerCache::Charge("k", 100));
  REQUIRE(cache.Find("k", &stored) != nullptr);
  CHECK(*cache.Find("k", &stored) == SetObject({"m"}, a));
  auto taken = cache.Take("k", &stored);
  REQUIRE(taken.has_value());
  CHECK(*taken == SetObject({"m"}, a));
  CHECK(cache.stats().hits == 1);
  // Taken: it no longer answers until the next Insert.
  CHECK(cache.size() == 0);
  CHECK(cache.bytes() == 0);
  CHECK(cache.Find("k", &stored) == nullptr);

  SUBCASE("another buffer, or the same one changed, is stale") {
    cache.Insert("k", SetObject({"m"}, a), stored);
    std::string other = stored;  // equal bytes, another buffer
    CHECK(cache.Find("k", &other) == nullptr);
    CHECK(cache.size() == 0);  // dropped
    cache.Insert("k", SetObject({"m"}, a), stored);
    stored[99] = 'y';  // an edit in place (the store never does this)
    CHECK_FALSE(cache.Take("k", &stored).has_value());
    cache.Insert("k", SetObject({"m"}, a), stored);
    stored.resize(50);
    CHECK(cache.Find("k", &stored) == nullptr);
    cache.Insert("k", SetObject({"m"}, a), stored);
    CHECK(cache.Find("k", nullptr) == nullptr);  // the key left the store
    CHECK(cache.size() == 0);
  }
  SUBCASE("a short value lives in the string: compared whole") {
    std::string small = "abcdefgh";
    cache.Insert("k", SetObject({"m"}, a), small);
    small = "abcdefgi";  // same object, same data pointer, same size
    CHECK(cache.Find("k", &small) == nullptr);
  }
  SUBCASE("a digest is computed once per object") {
    int computed = 0;
    auto count = [&](const Object& o) -> std::optional<uint64_t> {
      ++computed;
      return o.Size();
    };
    CHECK_FALSE(cache.Digest("k", &stored, count).has_value());  // taken: nothing
    cache.Insert("k", SetObject({"m"}, a), stored);
    CHECK(cache.Digest("k", &stored, count) == 1);
    CHECK(cache.Digest("k", &stored, count) == 1);
    CHECK(computed == 1);
    cache.Insert("k", SetObject({"m", "n"}, a), stored);  // another object
    CHECK(cache.Digest("k", &stored, count) == 1);
    CHECK(computed == 2);
    auto again = cache.Take("k", &stored);
    REQUIRE(again.has_value());
    REQUIRE(cache.Restore("k", Object()));  // given back changed (not by contract)
    CHECK(cache.Digest("k", &stored, count) == 0);
    CHECK(computed == 3);
    std::string other = stored;
    CHECK_FALSE(cache.Digest("k", &other, count).has_value());  // stale buffer
  }
  SUBCASE("erase and clear") {
    cache.Insert("k", SetObject({"m"}, a), stored);
    cache.Insert("j", SetObject({"n"}, a), stored);
    cache.Erase("k");
    CHECK(cache.Find("k", &stored) == nullptr);
    CHECK(cache.Find("j", &stored) != nullptr);
    cache.Clear();
    CHECK(cache.size() == 0);
    CHECK(cache.bytes() == 0);
    CHECK(cache.Find("j", &stored) == nullptr);
  }
}

TEST_CASE("ContainerCache: least recently used entries go first past the bounds") {
  ActorTable actors;
  const ActorId a = actors.Intern(std::string(40, 'a')).value();
  std::vector<std::string> stored(5, std::string(1000, 'v'));
  ContainerCache cache(ContainerCacheOptions{.max_keys = 3, .max_bytes = 1u << 20});
  for (int i = 0; i < 3; ++i) cache.Insert("k" + std::to_string(i), SetObject({"m"}, a), stored[i]);
  CHECK(cache.Find("k0", &stored[0]) != nullptr);  // k1 is now the oldest
  cache.Insert("k3", SetObject({"m"}, a), stored[3]);
  CHECK(cache.size() == 3);
  CHECK(cache.Find("k1", &stored[1]) == nullptr);
  CHECK(cache.Find("k0", &stored[0]) != nullptr);
  CHECK(cache.Find("k2", &stored[2]) != nullptr);
  CHECK(cache.Find("k3", &stored[3]) != nullptr);

  // Bytes: two entries fit, a third pushes the oldest out; one bigger than
  // the whole budget is not kept.
  const size_t charge = ContainerCache::Charge("k0", 1000);
  cache.set_options({.max_keys = 100, .max_bytes = 2 * charge});
  CHECK(cache.size() == 2);
  CHECK(cache.bytes() <= 2 * charge);
  cache.Insert("k4", SetObject({"m"}, a), stored[4]);
  CHECK(cache.size() == 2);
  CHECK(cache.Find("k4", &stored[4]) != nullptr);
  std::string huge(2 * charge, 'h');
  cache.Insert("k4", SetObject({"m"}, a), huge);
  CHECK(cache.Find("k4", &huge) == nullptr);
  CHECK(cache.size() == 1);

  cache.set_options({.max_keys = 0, .max_bytes = 1u << 20});  // disabled
  CHECK(cache.size() == 0);
  cache.Insert("k0", SetObject({"m"}, a), stored[0]);
  CHECK(cache.size() == 0);
}

TEST_CASE("TakeViewOf moves a lone version's state and gives ViewOf's view") {
  ActorTable actors;
  const ActorId a = actors.Intern(std::string(40, 'a')).value();
  Object one = SetObject({"x", "y"}, a);
  auto copied = ViewOf<OrSet>(one, kNow, actors);
  Object taken_from = one;
  auto moved = TakeViewOf<OrSet>(taken_from, kNow, actors);
  REQUIRE(moved.ok());
  CHECK(moved.value().state == copied.value().state);
  CHECK(moved.value().exists);
  CHECK(moved.value().expire_at_ms == 0);
  CHECK(taken_from.siblings()[0].value.set.empty());  // moved out
  // Another type: WRONGTYPE as ViewOf, nothing moved.
  Object other = one;
  CHECK(TakeViewOf<OrHash>(other, kNow, actors).status().code() == Code::kWrongType);
  CHECK(other == one);
  // Expired: the join of nothing, nothing moved.
  Object expiring;
  expiring.Put(Version::OfSet(copied.value().state, kNow, kNow + 10), a, 10);
  Object e2 = expiring;
  auto gone = TakeViewOf<OrSet>(e2, kNow + 10, actors);
  REQUIRE(gone.ok());
  CHECK_FALSE(gone.value().exists);
  CHECK(e2 == expiring);
  auto live = TakeViewOf<OrSet>(e2, kNow, actors);
  CHECK(live.value().expire_at_ms == kNow + 10);
}

// --- the keyspace with and without the cache ------------------------------

// TakeViewOf gives what ViewOf gives, for every object and type.
template <typename State>
void CheckTakeView(const Object& obj, int64_t now, const ActorTable& actors) {
  Object taken = obj;
  auto moved = TakeViewOf<State>(taken, now, actors);
  auto copied = ViewOf<State>(obj, now, actors);
  REQUIRE(moved.ok() == copied.ok());
  if (!moved.ok()) {
    CHECK(moved.status().code() == copied.status().code());
    return;
  }
  CHECK(moved.value().state == copied.value().state);
  CHECK(moved.value().expire_at_ms == copied.value().expire_at_ms);
  CHECK(moved.value().exists == copied.value().exists);
}

// The two nodes store the same bytes; the cached one reads what its bytes
// decode to.
void CheckSame(Node& on, Node& off, int64_t now, int step) {
  for (const std::string& key : kKeys) {
    CAPTURE(step);
    CAPTURE(key);
    const std::string* a = on.store.Peek(key, now);
    const std::string* b = off.store.Peek(key, now);
    REQUIRE((a == nullptr) == (b == nullptr));
    if (a == nullptr) continue;
    REQUIRE(*a == *b);
    auto decoded = Object::Decode(*a, on.actors);
    REQUIRE(decoded.ok());
    // The causal digest of the cached object, remembered in its entry from
    // the last step unless the object changed since, is the stored one's.
    if (auto d = on.ks.CachedBaseDigest(key, now)) {
      CHECK(*d == BaseDigest(decoded.value(), on.actors));
    }
    auto read = on.ks.Load(key, now);
    (void)off.ks.Load(key, now);  // the same store accesses on both
    REQUIRE(read.ok());
    REQUIRE(read.value() == decoded.value());
    for (int64_t t : {now, now + 1000, now + 3000}) {
      CheckTakeView<OrHash>(decoded.value(), t, on.actors);
      CheckTakeView<OrSet>(decoded.value(), t, on.actors);
      CheckTakeView<OrZset>(decoded.value(), t, on.actors);
    }
  }
}

void RunHistory(const Mode& mode, uint64_t seed, int steps) {
  Node on(true, mode), off(false, mode);
  Node remote(false, Mode{}, 'c');
  Node replica_on(true, mode, 'b'), replica_off(false, mode, 'b');
  std::mt19937_64 rng(seed);
  int64_t now = kNow;
  size_t replicated = 0;
  size_t compared = 0;
  for (int step = 0; step < steps; ++step) {
    Op op;
    const uint64_t r = rng() % 100;
    op.key = kKeys[rng() % kKeys.size()];
    op.a = rng();
    op.b = rng();
    CAPTURE(step);
    CAPTURE(r);
    if (r < 60) {
      // Container writes, mostly of the key's own type (some cross-type:
      // WRONGTYPE).
      const int typed[] = {0, 0, 1, 2, 3, 4, 4, 5, 6, 7, 7, 8, 9, 10};
      op.kind = typed[op.a % 14];
      if (op.b % 10 != 0) {
        const char t = op.key[0];
        op.kind = t == 'h' ? op.kind % 4 : t == 's' ? 4 + op.kind % 3 : 7 + op.kind % 4;
      }
      if (op.a % 50 == 0) op.kind = 11;
      CHECK(Write(on.ks, op, now) == Write(off.ks, op, now));
    } else if (r < 64) {
      CHECK(on.ks.Delete(op.key, now).value() == off.ks.Delete(op.key, now).value());
    } else if (r < 68) {
      const int64_t at = op.a % 3 == 0 ? 0 : op.a % 3 == 1 ? now + 1 + op.b % 3000 : now - 1;
      CHECK(on.ks.SetExpiry(op.key, at, now).code() == off.ks.SetExpiry(op.key, at, now).code());
    } else if (r < 70) {
      CHECK(on.ks.Put(op.key, Version::Bytes("str", now), now).ok());
      CHECK(off.ks.Put(op.key, Version::Bytes("str", now), now).ok());
    } else if (r < 76) {
      // A foreign writer's version of the key (concurrent: siblings).
      Op w = op;
      w.kind = static_cast<int>(op.a % 11);
      (void)Write(remote.ks, w, now);
      auto a = Foreign(remote, on, op.key, now);
      auto b = Foreign(remote, off, op.key, now);
      if (a) {
        CHECK(on.ks.Merge(op.key, *a, now).ok());
        CHECK(off.ks.Merge(op.key, *b, now).ok());
      }
    } else if (r < 78) {
      CHECK(on.ks.Forget(op.key, now) == off.ks.Forget(op.key, now));
    } else if (r < 79) {
      on.ks.FlushAll();
      off.ks.FlushAll();
    } else if (r < 81) {
      auto expected = off.ks.Settled(op.key, now);
      REQUIRE(expected.ok());
      CHECK(on.ks.Purge(op.key, expected.value(), now).value() ==
            off.ks.Purge(op.key, expected.value(), now).value());
    } else if (r < 84) {
      // Behind the keyspace's back: the log's drop record.
      CHECK(on.store.Delete(op.key, now) == off.store.Delete(op.key, now));
    } else if (r < 86) {
      const size_t limit = on.store.used_bytes() / 2;
      auto ea = on.store.EvictUntil(limit, now, op.a);
      auto eb = off.store.EvictUntil(limit, now, op.a);
      CHECK(ea.ok() == eb.ok());
    } else if (r < 91) {
      now += static_cast<int64_t>(op.a % 2500);
      CHECK(on.ks.ActiveExpireCycle(now, 20, op.b) == off.ks.ActiveExpireCycle(now, 20, op.b));
    } else if (r < 95) {
      // A coordinator's quorum merge pinned for a write: the store first
      // gets what the pin adds.
      Op w = op;
      w.kind = 4 + static_cast<int>(op.a % 3);
      (void)Write(remote.ks, w, now);
      for (Node* n : {&on, &off}) {
        auto merged = n->ks.Load(op.key, now);
        REQUIRE(merged.ok());
        if (auto f = Foreign(remote, *n, op.key, now)) {
          merged.value().Merge(*f);
          REQUIRE(n->ks.Merge(op.key, *f, now).ok());
        }
        Keyspace::Pin pin(n->ks, op.key, merged.value());
        Op x = op;
        x.kind = op.key[0] == 'h' ? 0 : op.key[0] == 's' ? 4 : 7;
        (void)Write(n->ks, x, now);
        (void)Write(n->ks, x, now);  // the second write starts from the store
      }
    } else {
      // Reads answer alike (the cached node from its cache).
      auto ha = on.ks.ReadHash(op.key, now), hb = off.ks.ReadHash(op.key, now);
      REQUIRE(ha.ok() == hb.ok());
      if (ha.ok()) CHECK(ha.value().state == hb.value().state);
      auto sa = on.ks.ReadSet(op.key, now), sb = off.ks.ReadSet(op.key, now);
      REQUIRE(sa.ok() == sb.ok());
      if (sa.ok()) CHECK(sa.value().state == sb.value().state);
      auto za = on.ks.ReadZset(op.key, now), zb = off.ks.ReadZset(op.key, now);
      REQUIRE(za.ok() == zb.ok());
      if (za.ok()) CHECK(za.value().expire_at_ms == zb.value().expire_at_ms);
      CHECK(on.ks.Type(op.key, now).value() == off.ks.Type(op.key, now).value());
    }
    CheckSame(on, off, now, step);
    if (mode.listener) {
      CheckSameChanges(on.recorder, off.recorder, &compared);
      REQUIRE(on.recorder.flushes == off.recorder.flushes);
      for (; replicated < on.recorder.changes.size(); ++replicated) {
        Replicate(replica_on, on.recorder.changes[replicated], now);
        Replicate(replica_off, on.recorder.changes[replicated], now);
      }
      CheckSame(replica_on, replica_off, now, step);
    }
  }
  const ContainerCacheStats& stats = on.ks.container_cache().stats();
  MESSAGE("cache hits " << stats.hits << ", misses " << stats.misses);
  CHECK(stats.hits > static_cast<uint64_t>(steps) / 10);
  CHECK(off.ks.container_cache().stats().hits == 0);
  if (mode.listener) {
    CHECK(replica_on.ks.container_cache().stats().hits > 0);
    size_t deltas = 0;
    for (const auto& c : on.recorder.changes) deltas += c.delta.empty() ? 0 : 1;
    CHECK(deltas > 0);
  }
}

TEST_CASE("a keyspace with the container cache stores what one without stores") {
  SUBCASE("single node") {
    RunHistory(Mode{}, 1, 4000);
  }
  SUBCASE("single node, lww") {
    RunHistory(Mode{.lww = true}, 2, 3000);
  }
  SUBCASE("single node, log listener (deltas)") {
    RunHistory(Mode{.listener = true}, 3, 3000);
  }
  SUBCASE("replica (keeps tombstones), no listener") {
    RunHistory(Mode{.keep_tombstones = true}, 4, 4000);
  }
  SUBCASE("replica with listener (deltas)") {
    RunHistory(Mode{.keep_tombstones = true, .listener = true}, 5, 4000);
  }
}

TEST_CASE("the cached keyspace never uses an object the store dropped behind its back") {
  Node n(true, Mode{});
  auto sadd = [&](const std::string& m) {
    return n.ks.ModifySet("s", kNow, [&](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
      s.Add(m, w.dot);
      return true;
    });
  };
  REQUIRE(sadd("a").ok());
  REQUIRE(sadd("b").ok());
  CHECK(n.ks.container_cache().stats().hits == 1);
  CHECK(n.ks.container_cache().size() == 1);
  // Deleted behind the keyspace (eviction, the log's drop record): the next
  // write starts from nothing.
  REQUIRE(n.store.Delete("s", kNow));
  REQUIRE(sadd("c").ok());
  auto view = n.ks.ReadSet("s", kNow);
  REQUIRE(view.ok());
  CHECK(view.value().state.Size() == 1);
  // Expired in the store (lazy expiry).
  REQUIRE(n.ks.SetExpiry("s", kNow + 10, kNow).ok());
  REQUIRE(sadd("d").ok());
  CHECK(n.ks.ReadSet("s", kNow + 10).value().state.Size() == 0);
  REQUIRE(n.ks.ModifySet("s", kNow + 10,
                         [&](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
                           CHECK(s.empty());
                           s.Add("e", w.dot);
                           return true;
                         })
              .ok());
  CHECK(n.ks.ReadSet("s", kNow + 10).value().state.Size() == 1);
  // A string over the container, then a container again.
  REQUIRE(n.ks.Put("s", Version::Bytes("x", kNow + 10), kNow + 10).ok());
  CHECK(n.ks.container_cache().size() == 0);
  CHECK(n.ks.ModifySet("s", kNow + 10,
                       [](OrSet&, Keyspace::ContainerWrite&) -> Result<bool> { return true; })
            .code() == Code::kWrongType);
}

// A listener that takes no deltas (WATCH; the log when it is off).
struct NoDeltas final : ChangeListener {
  std::vector<std::string> deltas;
  void OnChange(const Change& change) override { deltas.emplace_back(change.delta()); }
  void OnFlush() override {}
  bool WantsDeltas() const override { return false; }
};

TEST_CASE("no delta is made unless a listener wants deltas") {
  Node n(true, Mode{});
  NoDeltas quiet;
  n.ks.changes().Subscribe(&quiet);
  auto sadd = [&](const std::string& m) {
    return n.ks.ModifySet("s", kNow, [&](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
      s.Add(m, w.dot);
      return true;
    });
  };
  for (int i = 0; i < 20; ++i) REQUIRE(sadd("member-" + std::to_string(i)).ok());
  REQUIRE(quiet.deltas.size() == 20);
  for (const auto& d : quiet.deltas) CHECK(d.empty());
  Recorder wants;
  n.ks.changes().Subscribe(&wants);
  REQUIRE(sadd("another").ok());
  CHECK_FALSE(quiet.deltas.back().empty());  // made for the one that wants it
  CHECK_FALSE(wants.changes.back().delta.empty());
}

}  // namespace
}  // namespace shoal::storage
