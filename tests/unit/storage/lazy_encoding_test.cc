// Lazy (write-back) encoding of cached containers (storage/keyspace.h "Lazy
// encoding", storage/store.h "Stale values"): random histories of container
// writes interleaved with every path that reads bytes, walks the store,
// expires, evicts, forgets, purges, flushes, merges, applies deltas, pins or
// changes a TTL run on a lazy keyspace and an eager one (write-back off) and
// one without the cache. After every step every reader must see the same
// thing on all three: the objects (the lazy node answers from its dirty
// entries, which the check does not write back), and, at random steps, the
// bytes of every key and the walks (which write everything back); the
// published changes are the same (CheckSameChanges: the lazy node may keep
// a delta the others drop, or the reverse) and what replicas replaying them
// store is identical; and a key's value is stale exactly while its dirty
// entry is cached. (lazy_log_replay_test.cc replays their logs.)

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "storage/container_cache.h"
#include "storage/keyspace.h"
#include "storage/store.h"
#include "tests/unit/storage/container_history.h"

namespace shoal::storage {
namespace {

using history::CheckSameChanges;
using history::Foreign;
using history::kKeys;
using history::kNow;
using history::Mode;
using history::Node;
using history::Op;
using history::Recorder;
using history::Replicate;
using history::Write;

// The three nodes of a history, checked alike.
struct Trio {
  Trio(const Mode& mode, ContainerCacheOptions lazy_options, char id)
      : lazy(true, mode, id, lazy_options),
        eager(true, mode, id, EagerOptions(lazy_options)),
        off(false, mode, id) {
    for (Node* n : nodes()) {
      n->recorder.deltas = mode.listener;
      n->ks.changes().Subscribe(&n->recorder);
      // Partitioned walks (a cluster's trees and transfers use them).
      n->store.SetPartitioner(Partitioner{
          4, [](std::string_view key) { return static_cast<uint32_t>(key.back() % 4); }});
    }
  }
  static ContainerCacheOptions EagerOptions(ContainerCacheOptions o) {
    o.write_back = false;
    return o;
  }
  std::vector<Node*> nodes() { return {&lazy, &eager, &off}; }
  Node lazy, eager, off;
};

// Every key's object as the keyspace reads it, without writing anything
// back (the lazy node answers from its cache).
void CheckObjects(Trio& t, int64_t now) {
  for (const std::string& key : kKeys) {
    CAPTURE(key);
    auto a = t.lazy.ks.Load(key, now);
    auto b = t.eager.ks.Load(key, now);
    auto c = t.off.ks.Load(key, now);
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    REQUIRE(c.ok());
    REQUIRE(a.value() == c.value());
    REQUIRE(b.value() == c.value());
    CHECK(t.lazy.store.GetExpireAt(key, now) == t.off.store.GetExpireAt(key, now));
  }
  CHECK(t.lazy.store.size() == t.off.store.size());
  CHECK(t.lazy.store.expires_size() == t.off.store.expires_size());
}

// The invariant: stale values and dirty entries go together, within bounds.
void CheckInvariant(Node& n) {
  const ContainerCache& cache = n.ks.container_cache();
  CHECK(n.store.stale_count() == cache.dirty());
  CHECK(cache.dirty() <= cache.options().max_keys);
  CHECK(cache.bytes() <= cache.options().max_bytes);
}

// What a reader of bytes sees, through one of the store's doors (each
// writes back what it hands out; `door` picks one).
std::vector<std::string> ReadBytes(Node& n, int door, int64_t now, uint32_t partition) {
  std::vector<std::string> out;
  auto collect = [&](const EntryView& e) {
    out.push_back(std::string(e.key) + "=" + std::string(e.value));
  };
  switch (door) {
    case 0:
      for (const std::string& key : kKeys) {
        const std::string* v = n.store.Peek(key, now);
        out.push_back(v == nullptr ? "-" : *v);
      }
      break;
    case 1:
      for (const std::string& key : kKeys) {
        const std::string* v = n.store.Get(key, now);
        out.push_back(v == nullptr ? "-" : *v);
      }
      break;
    case 2:
      for (const std::string& key : kKeys) {
        const std::string* v = n.store.GetMutable(key, now);
        out.push_back(v == nullptr ? "-" : *v);
      }
      break;
    case 3:
      n.store.ForEach(now, collect);
      break;
    case 4: {
      uint64_t cursor = 0;
      do {
        cursor = n.store.Scan(cursor, 2, now, collect);
      } while (cursor != 0);
      break;
    }
    case 5:
      n.store.ForEachInPartition(partition, now, collect);
      break;
    default: {
      uint64_t bound = UINT64_MAX;
      do {
        bound = n.store.ScanPartition(partition, bound, 1, now, collect);
      } while (bound != 0);
      break;
    }
  }
  // (A scan may return a key twice.)
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void RunLazyHistory(const Mode& mode, ContainerCacheOptions lazy_options, uint64_t seed,
                    int steps) {
  Trio t(mode, lazy_options, 'a');
  Node remote(false, Mode{}, 'c');
  Trio replicas(mode, lazy_options, 'b');
  std::mt19937_64 rng(seed);
  int64_t now = kNow;
  size_t replicated = 0;
  size_t lazy_checked = 0;
  uint64_t lazy_writes_seen = 0;
  for (int step = 0; step < steps; ++step) {
    Op op;
    const uint64_t r = rng() % 100;
    op.key = kKeys[rng() % kKeys.size()];
    op.a = rng();
    op.b = rng();
    CAPTURE(step);
    CAPTURE(r);
    const std::vector<Node*> nodes = t.nodes();
    if (r < 55) {
      const char type = op.key[0];
      op.kind = type == 'h' ? op.a % 4 : type == 's' ? 4 + op.a % 3 : 7 + op.a % 4;
      if (op.b % 10 == 0) op.kind = static_cast<int>(op.a % 11);  // WRONGTYPE too
      if (op.a % 40 == 0) op.kind = 11;                           // fails
      const Code code = Write(t.off.ks, op, now);
      CHECK(Write(t.lazy.ks, op, now) == code);
      CHECK(Write(t.eager.ks, op, now) == code);
    } else if (r < 62) {
      // A reader of bytes, through a door of the store.
      const int door = static_cast<int>(op.a % 7);
      const uint32_t partition = static_cast<uint32_t>(op.b % 4);
      const auto expected = ReadBytes(t.off, door, now, partition);
      CHECK(ReadBytes(t.lazy, door, now, partition) == expected);
      CHECK(ReadBytes(t.eager, door, now, partition) == expected);
    } else if (r < 65) {
      // The keyspace's own readers of bytes (GET, introspection).
      const auto c = t.off.ks.Get(op.key, now);
      for (Node* n : {&t.lazy, &t.eager}) {
        auto g = n->ks.Get(op.key, now);
        REQUIRE(g.ok() == c.ok());
        if (g.ok()) CHECK(g.value().count == c.value().count);
        if (!g.ok()) CHECK(g.status().code() == c.status().code());
        CHECK(n->ks.Peek(op.key, now).value() == t.off.ks.Peek(op.key, now).value());
      }
    } else if (r < 68) {
      const bool d = t.off.ks.Delete(op.key, now).value();
      CHECK(t.lazy.ks.Delete(op.key, now).value() == d);
      CHECK(t.eager.ks.Delete(op.key, now).value() == d);
    } else if (r < 73) {
      const int64_t at = op.a % 3 == 0 ? 0 : op.a % 3 == 1 ? now + 1 + op.b % 3000 : now - 1;
      const Code c = t.off.ks.SetExpiry(op.key, at, now).code();
      CHECK(t.lazy.ks.SetExpiry(op.key, at, now).code() == c);
      CHECK(t.eager.ks.SetExpiry(op.key, at, now).code() == c);
    } else if (r < 74) {
      for (Node* n : nodes) CHECK(n->ks.Put(op.key, Version::Bytes("str", now), now).ok());
    } else if (r < 78) {
      // A foreign writer's version (concurrent: siblings).
      Op w = op;
      w.kind = static_cast<int>(op.a % 11);
      (void)Write(remote.ks, w, now);
      for (Node* n : nodes) {
        if (auto f = Foreign(remote, *n, op.key, now)) CHECK(n->ks.Merge(op.key, *f, now).ok());
      }
    } else if (r < 80) {
      const bool f = t.off.ks.Forget(op.key, now);
      CHECK(t.lazy.ks.Forget(op.key, now) == f);
      CHECK(t.eager.ks.Forget(op.key, now) == f);
    } else if (r < 81) {
      for (Node* n : nodes) n->ks.FlushAll();
    } else if (r < 83) {
      auto expected = t.off.ks.Settled(op.key, now);
      REQUIRE(expected.ok());
      const bool p = t.off.ks.Purge(op.key, expected.value(), now).value();
      CHECK(t.lazy.ks.Purge(op.key, expected.value(), now).value() == p);
      CHECK(t.eager.ks.Purge(op.key, expected.value(), now).value() == p);
    } else if (r < 85) {
      // Behind the keyspace's back: the log's drop record.
      const bool d = t.off.store.Delete(op.key, now);
      CHECK(t.lazy.store.Delete(op.key, now) == d);
      CHECK(t.eager.store.Delete(op.key, now) == d);
    } else if (r < 87) {
      // maxmemory: the same number of keys evicted on every node (their
      // byte counts differ while values are stale: the measure counts
      // evictions, the choice is the same random sample).
      const int k = 1 + static_cast<int>(op.b % 2);
      std::vector<std::string> outcome;
      for (Node* n : nodes) {
        int calls = 0;
        auto evicted = n->store.EvictUntil(1, now, op.a, [&] { return calls++ <= k ? 2 : 0; });
        outcome.push_back(evicted.ok() ? std::to_string(evicted.value()) : "oom");
      }
      CHECK(outcome[0] == outcome[2]);
      CHECK(outcome[1] == outcome[2]);
    } else if (r < 92) {
      now += static_cast<int64_t>(op.a % 2500);
      const size_t e = t.off.ks.ActiveExpireCycle(now, 20, op.b);
      CHECK(t.lazy.ks.ActiveExpireCycle(now, 20, op.b) == e);
      CHECK(t.eager.ks.ActiveExpireCycle(now, 20, op.b) == e);
    } else if (r < 95) {
      // A coordinator's quorum merge pinned for a write.
      Op w = op;
      w.kind = 4 + static_cast<int>(op.a % 3);
      (void)Write(remote.ks, w, now);
      for (Node* n : nodes) {
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
        (void)Write(n->ks, x, now);
      }
    } else {
      // Reads of elements and types, answered from the dirty entries.
      for (Node* n : {&t.lazy, &t.eager}) {
        auto h = n->ks.HashGet(op.key, history::Elem(op.a), now);
        auto hc = t.off.ks.HashGet(op.key, history::Elem(op.a), now);
        REQUIRE(h.ok() == hc.ok());
        if (h.ok()) CHECK(h.value() == hc.value());
        auto s = n->ks.SetContains(op.key, history::Elem(op.a), now);
        auto sc = t.off.ks.SetContains(op.key, history::Elem(op.a), now);
        REQUIRE(s.ok() == sc.ok());
        if (s.ok()) CHECK(s.value() == sc.value());
        auto z = n->ks.ZsetScore(op.key, history::Elem(op.a), now);
        auto zc = t.off.ks.ZsetScore(op.key, history::Elem(op.a), now);
        REQUIRE(z.ok() == zc.ok());
        if (z.ok()) CHECK(z.value() == zc.value());
        CHECK(n->ks.Type(op.key, now).value() == t.off.ks.Type(op.key, now).value());
        CHECK(n->ks.Exists(op.key, now) == t.off.ks.Exists(op.key, now));
        CHECK(n->ks.ExpireAt(op.key, now) == t.off.ks.ExpireAt(op.key, now));
      }
    }
    lazy_writes_seen += t.lazy.store.stale_count();
    CheckInvariant(t.lazy);
    CheckObjects(t, now);
    CheckSameChanges(t.lazy.recorder, t.off.recorder, &lazy_checked);
    REQUIRE(t.eager.recorder.changes == t.off.recorder.changes);
    REQUIRE(t.lazy.recorder.flushes == t.off.recorder.flushes);
    for (; replicated < t.off.recorder.changes.size(); ++replicated) {
      for (Node* n : replicas.nodes()) Replicate(*n, t.off.recorder.changes[replicated], now);
    }
    CheckInvariant(replicas.lazy);
    CheckObjects(replicas, now);
    if (rng() % 8 == 0) {
      // Now and then every byte: the walks write everything back, and the
      // byte counts then agree to the byte.
      for (Trio* trio : {&t, &replicas}) {
        const auto expected = ReadBytes(trio->off, 3, now, 0);
        CHECK(ReadBytes(trio->lazy, 3, now, 0) == expected);
        CHECK(ReadBytes(trio->eager, 3, now, 0) == expected);
        CHECK(trio->lazy.store.stale_count() == 0);
        CHECK(trio->lazy.store.used_bytes() == trio->off.store.used_bytes());
      }
    }
  }
  const ContainerCacheStats& stats = t.lazy.ks.container_cache().stats();
  MESSAGE("stale keys summed over steps " << lazy_writes_seen << ", write-backs "
                                          << stats.write_backs << ", cache hits " << stats.hits);
  // The lazy path ran; on a replica (keep_tombstones) only live containers
  // without TTL take it.
  CHECK(lazy_writes_seen > static_cast<uint64_t>(steps) / (mode.keep_tombstones ? 50 : 10));
  CHECK(stats.write_backs > 0);
  CHECK(t.eager.store.stale_count() == 0);
}

TEST_CASE("lazy encoding: every reader sees what eager encoding stores") {
  const ContainerCacheOptions normal;
  SUBCASE("single node") {
    RunLazyHistory(Mode{}, normal, 11, 4000);
  }
  SUBCASE("single node, lww") {
    RunLazyHistory(Mode{.lww = true}, normal, 12, 2000);
  }
  SUBCASE("single node, a listener that wants deltas (lazy too: the change carries the delta)") {
    RunLazyHistory(Mode{.listener = true}, normal, 13, 2000);
  }
  SUBCASE("tight bounds: the LRU writes dirty entries back") {
    RunLazyHistory(Mode{}, {.max_keys = 2, .max_bytes = 1u << 20, .max_lazy_writes = 3}, 14, 3000);
    RunLazyHistory(Mode{}, {.max_keys = 100, .max_bytes = 3000}, 15, 3000);
  }
  SUBCASE("replica (keeps tombstones): eager") {
    RunLazyHistory(Mode{.keep_tombstones = true}, normal, 16, 1000);
  }
}

// A listener that looks at the store, and writes, while a lazy save is
// being published (the pending object answers the write-back).
struct Meddler final : ChangeListener {
  explicit Meddler(Node& node) : n(node) {}
  void OnChange(const Change& change) override {
    if (change.key() != "h0") return;
    const std::string* bytes = n.store.Peek("h0", kNow);
    seen.push_back(bytes == nullptr ? "-" : *bytes);
    if (nested) {
      nested = false;
      Op op;
      op.key = "s0";
      op.kind = 4;
      (void)Write(n.ks, op, kNow);
      op.key = "h0";  // the same key, from inside its own publication
      op.kind = 0;
      op.a = 5;
      (void)Write(n.ks, op, kNow);
    }
  }
  void OnFlush() override {}
  bool WantsDeltas() const override { return false; }
  Node& n;
  bool nested = false;
  std::vector<std::string> seen;
};

TEST_CASE("lazy encoding: a listener reading or writing during the publication") {
  Node lazy(true, Mode{}), eager(true, Mode{}, 'a', Trio::EagerOptions({}));
  Meddler ml(lazy), me(eager);
  lazy.ks.changes().Subscribe(&ml);
  eager.ks.changes().Subscribe(&me);
  for (int i = 0; i < 30; ++i) {
    Op op;
    op.key = "h0";
    op.kind = 0;
    op.a = static_cast<uint64_t>(i);
    op.b = static_cast<uint64_t>(i * 7);
    ml.nested = me.nested = i % 5 == 4;
    CHECK(Write(lazy.ks, op, kNow) == Write(eager.ks, op, kNow));
    // Reading during the publication wrote the pending object back: later
    // writes start from a clean entry, and stay lazy when nobody looks.
    CheckInvariant(lazy);
  }
  CHECK(ml.seen == me.seen);
  CHECK(lazy.recorder.changes == eager.recorder.changes);
  for (const char* key : {"h0", "s0"}) {
    const std::string* a = lazy.store.Peek(key, kNow);
    const std::string* b = eager.store.Peek(key, kNow);
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(*a == *b);
  }
  // Without the meddler reading, the writes are lazy (the first after the
  // nested write misses: that write's publication dropped the entry).
  lazy.ks.changes().Unsubscribe(&ml);
  Op op;
  op.key = "h0";
  (void)Write(lazy.ks, op, kNow);
  (void)Write(lazy.ks, op, kNow);
  CHECK(lazy.store.stale_count() == 1);
  CHECK(lazy.ks.container_cache().dirty() == 1);
}

TEST_CASE("lazy encoding: LRU drops, eviction, deletion and destruction of dirty keys") {
  Store store;
  ActorTable actors;
  DotCounter dots;
  const ActorId self = actors.Intern(std::string(40, 'a')).value();
  std::string encoded;
  {
    KeyspaceOptions o;
    o.container_cache.max_keys = 2;
    Keyspace ks(store, actors, self, dots, o);
    auto sadd = [&](const std::string& key, const std::string& m) {
      return ks.ModifySet(key, kNow, [&](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
        s.Add(m, w.dot);
        return true;
      });
    };
    for (const char* key : {"a", "b", "c"}) {
      REQUIRE(sadd(key, "1").ok());  // eager: a miss
      REQUIRE(sadd(key, "2").ok());  // lazy
    }
    // "a" was least recently used: written back as the cache dropped it.
    CHECK(store.stale_count() == 2);
    CHECK(ks.container_cache().dirty() == 2);
    CHECK(ks.container_cache().stats().write_backs == 1);
    CHECK(ks.ReadSet("a", kNow).value().state.Size() == 2);
    // Deleted behind the keyspace's back: the dirty object goes with it.
    REQUIRE(store.Delete("b", kNow));
    CHECK(store.stale_count() == 1);
    CHECK(ks.container_cache().dirty() == 1);
    CHECK_FALSE(ks.Exists("b", kNow));
    // Evicted: likewise; the store's byte count is back to what it holds.
    store.SetEvictionPolicy(EvictionPolicy::kAllKeysRandom);
    (void)store.EvictUntil(0, kNow, 7);  // everything (then OOM: nothing left)
    CHECK(store.size() == 0);
    CHECK(store.stale_count() == 0);
    CHECK(ks.container_cache().dirty() == 0);
    REQUIRE(sadd("d", "1").ok());
    REQUIRE(sadd("d", "2").ok());
    CHECK(store.stale_count() == 1);
    auto obj = ks.Load("d", kNow);
    REQUIRE(obj.ok());
    encoded = obj.value().Encode();
  }
  // The keyspace's destruction wrote "d" back.
  CHECK(store.stale_count() == 0);
  REQUIRE(store.Peek("d", kNow) != nullptr);
  CHECK(*store.Peek("d", kNow) == encoded);
}

}  // namespace
}  // namespace shoal::storage
