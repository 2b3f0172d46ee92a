// Dead keys in a cluster (KeyspaceOptions::keep_tombstones): an expired
// version keeps dominating older ones until purged, its remains are
// deterministic (Object::CompactExpired), reads treat it as absent, and
// Keyspace::Purge is a compare-and-delete that publishes an empty object.
// Also the store's keep-expired mode.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/object.h"
#include "storage/store.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

struct Recorder final : ChangeListener {
  std::vector<size_t> sizes;
  void OnChange(const Change& change) override { sizes.push_back(change.object().Size()); }
  void OnFlush() override {}
};

struct Replica {
  Store store;
  ActorTable actors;
  DotCounter dots;
  ActorId self;
  Keyspace ks;
  explicit Replica(char id, bool cluster = true)
      : self(actors.Intern(std::string(40, id)).value()), ks(store, actors, self, dots) {
    KeyspaceOptions o;
    o.keep_tombstones = cluster;
    ks.set_options(o);
  }
  Object Load(std::string_view key, int64_t now) {
    auto obj = ks.Load(key, now);
    REQUIRE(obj.ok());
    return obj.value();
  }
  // Ships `key` to `to` in the node-id form, as the peer channel does.
  void SendTo(Replica& to, std::string_view key, int64_t now) {
    std::string bytes;
    Load(key, now).EncodeWithNodeIds(actors, &bytes);
    auto obj = Object::DecodeWithNodeIds(bytes, to.actors);
    REQUIRE(obj.ok());
    REQUIRE(to.ks.Merge(key, obj.value(), now).ok());
  }
  // The object in the node-id form: comparable across replicas.
  std::string Canonical(std::string_view key, int64_t now) {
    std::string bytes;
    Load(key, now).EncodeWithNodeIds(actors, &bytes);
    return bytes;
  }
  size_t Live(std::string_view key, int64_t now) {
    auto v = ks.Get(key, now);
    REQUIRE(v.ok());
    return v.value().count;
  }
};

TEST_CASE("the resurrection case: an expired version still dominates an older one") {
  Replica a('a'), c('c');
  REQUIRE(a.ks.Put("k", Version::Bytes("v1", kNow), kNow).ok());
  a.SendTo(c, "k", kNow);  // C holds v1, no TTL
  REQUIRE(a.ks.Put("k", Version::Bytes("v2", kNow + 1, kNow + 100), kNow + 1).ok());
  const int64_t later = kNow + 1000;
  CHECK(a.Live("k", later) == 0);
  CHECK_FALSE(a.ks.Exists("k", later));
  CHECK_FALSE(a.ks.ExpireAt("k", later).has_value());
  // Active expiry keeps the remains instead of deleting the key.
  CHECK(a.ks.ActiveExpireCycle(later, 100, 7) == 1);
  CHECK(a.store.size() == 1);
  CHECK(a.ks.stats().tombstones_held == 1);
  CHECK(a.Load("k", later).IsTombstonesOnly());
  // Read repair both ways: v1 never comes back.
  c.SendTo(a, "k", later);
  CHECK(a.Live("k", later) == 0);
  a.SendTo(c, "k", later);
  CHECK(c.Live("k", later) == 0);
  CHECK(c.Canonical("k", later) == a.Canonical("k", later));
}

TEST_CASE("a lone node still forgets expired keys (Redis's expiry)") {
  Replica a('a', /*cluster=*/false);
  REQUIRE(a.ks.Put("k", Version::Bytes("v", kNow, kNow + 100), kNow).ok());
  CHECK(a.ks.ActiveExpireCycle(kNow + 1000, 100, 7) == 1);
  CHECK(a.store.size() == 0);
  CHECK(a.ks.stats().tombstones_held == 0);
}

TEST_CASE("the remains are the same bytes whenever they are compacted") {
  Replica a('a'), b('b');
  REQUIRE(a.ks.Put("k", Version::Bytes(std::string(1000, 'x'), kNow, kNow + 100), kNow).ok());
  a.SendTo(b, "k", kNow);
  a.ks.ActiveExpireCycle(kNow + 200, 100, 1);    // compacted early on A
  b.ks.ActiveExpireCycle(kNow + 50000, 100, 2);  // much later on B
  std::string ea, eb;
  a.Load("k", kNow + 60000).EncodeWithNodeIds(a.actors, &ea);
  b.Load("k", kNow + 60000).EncodeWithNodeIds(b.actors, &eb);
  CHECK(ea == eb);
  CHECK(ea.size() < 80);  // the value is gone
  // A merge of the two forms of one dot agrees once saved.
  Replica c('c');
  REQUIRE(a.ks.Put("j", Version::Bytes("v", kNow, kNow + 100), kNow).ok());
  a.SendTo(c, "j", kNow);
  a.ks.ActiveExpireCycle(kNow + 200, 100, 1);
  a.SendTo(c, "j", kNow + 200);  // C still holds the bytes form of the dot
  CHECK(c.Canonical("j", kNow + 200) == a.Canonical("j", kNow + 200));
}

TEST_CASE("TTL and friends: a live key keeps its expiry, a dead one has none") {
  Replica a('a');
  REQUIRE(a.ks.Put("k", Version::Bytes("v", kNow, kNow + 100), kNow).ok());
  CHECK(a.ks.ExpireAt("k", kNow) == std::optional<int64_t>(kNow + 100));
  CHECK_FALSE(a.ks.ExpireAt("k", kNow + 100).has_value());
  REQUIRE(a.ks.Delete("k", kNow).ok());
  CHECK_FALSE(a.ks.ExpireAt("k", kNow).has_value());  // a kept tombstone
  CHECK_FALSE(a.ks.ExpireAt("absent", kNow).has_value());
}

TEST_CASE("a write over an expired key supersedes its remains: no sibling") {
  Replica a('a');
  REQUIRE(a.ks.Put("k", Version::Bytes("old", kNow, kNow + 100), kNow).ok());
  REQUIRE(a.ks.Put("k", Version::Bytes("new", kNow + 500), kNow + 500).ok());
  CHECK(a.Load("k", kNow + 500).Size() == 1);
  CHECK(a.Live("k", kNow + 500) == 1);
}

TEST_CASE("Purge: compare-and-delete, published as an empty object, counted") {
  Replica a('a');
  Recorder rec;
  a.ks.changes().Subscribe(&rec);
  REQUIRE(a.ks.Put("k", Version::Bytes("v", kNow), kNow).ok());
  // A live key is never purged.
  CHECK_FALSE(a.ks.Purge("k", a.Load("k", kNow), kNow).value());
  REQUIRE(a.ks.Delete("k", kNow).ok());
  CHECK(a.ks.stats().tombstones_held == 1);
  CHECK(a.ks.stats().tombstone_bytes > 0);
  auto settled = a.ks.Settled("k", kNow);
  REQUIRE(settled.ok());
  CHECK(settled.value().IsPurgeable(kNow + 10, kNow + 5));
  // Another object (a write landed since): kept.
  Object other = settled.value();
  other.Put(Version::Tombstone(kNow + 1), a.self);
  CHECK_FALSE(a.ks.Purge("k", other, kNow).value());
  CHECK(a.store.size() == 1);
  auto purged = a.ks.Purge("k", settled.value(), kNow);
  REQUIRE(purged.ok());
  CHECK(purged.value());
  CHECK(a.store.size() == 0);
  CHECK(a.ks.stats().tombstones_held == 0);
  CHECK(a.ks.stats().tombstone_bytes == 0);
  CHECK(a.ks.stats().tombstones_purged == 1);
  CHECK(rec.sizes.back() == 0);
  CHECK_FALSE(a.ks.Purge("k", settled.value(), kNow).value());  // already gone
}

TEST_CASE("IsPurgeable: an expired version died at its expiry") {
  Object obj;
  obj.Put(Version::Bytes("v", kNow, kNow + 100), 1);
  CHECK_FALSE(obj.IsPurgeable(kNow + 50, kNow + 50));    // live
  CHECK_FALSE(obj.IsPurgeable(kNow + 200, kNow + 100));  // died at the cutoff
  CHECK(obj.IsPurgeable(kNow + 200, kNow + 101));
  REQUIRE(obj.CompactExpired(kNow + 200));
  CHECK_FALSE(obj.CompactExpired(kNow + 300));           // nothing left to compact
  CHECK_FALSE(obj.IsPurgeable(kNow + 200, kNow + 100));  // the remains keep the expiry
  CHECK(obj.IsPurgeable(kNow + 200, kNow + 101));
}

TEST_CASE("Store keep-expired mode: nothing is deleted by time; active expiry hands keys over") {
  Store s;
  s.set_keep_expired(true);
  s.Set("k", "v", kNow + 10, kNow);
  s.Set("live", "v", 0, kNow);
  CHECK(s.GetMutable("k", kNow + 20) != nullptr);
  CHECK(s.Exists("k", kNow + 20));
  size_t seen = 0;
  s.ForEach(kNow + 20, [&](const EntryView&) { ++seen; });
  CHECK(seen == 2);
  std::vector<std::string> expired;
  CHECK(s.ActiveExpireCycle(kNow + 20, 100, 3, &expired) == 1);
  CHECK(expired == std::vector<std::string>{"k"});
  CHECK(s.size() == 2);
  CHECK(s.expires_size() == 0);
  s.set_keep_expired(false);
  s.Set("k", "v", kNow + 10, kNow);
  CHECK(s.GetMutable("k", kNow + 20) == nullptr);  // Redis's lazy expiry again
}

TEST_CASE("Store::ScanPartition walks a partition in bounded steps") {
  Store s;
  s.SetPartitioner({2, [](std::string_view key) { return key.size() % 2 == 0 ? 0u : 1u; }});
  for (int i = 0; i < 25; ++i) s.Set(std::string(2, static_cast<char>('a' + i)), "v", 0, kNow);
  s.Set("odd", "v", 0, kNow);
  std::vector<std::string> seen;
  uint64_t bound = UINT64_MAX;
  int steps = 0;
  do {
    bound =
        s.ScanPartition(0, bound, 10, kNow, [&](const EntryView& e) { seen.emplace_back(e.key); });
    ++steps;
  } while (bound != 0);
  CHECK(seen.size() == 25);
  CHECK(steps == 3);
  CHECK(s.ScanPartition(7, UINT64_MAX, 10, kNow, [](const EntryView&) {}) == 0);
}

}  // namespace
}  // namespace shoal::storage
