// PartitionTrees: the trees kept from the change feed equal trees rebuilt
// from the store after any mix of writes, deletes, merges, evictions and
// flushes; unbuilt partitions ignore changes until built; a rebuild counts
// what the kept trees got wrong.

#include "cluster/partition_trees.h"

#include <doctest/doctest.h>

#include <random>
#include <string>

#include "cluster/ring.h"
#include "storage/clock.h"
#include "storage/or_set.h"
#include "tests/unit/cluster/test_node.h"

namespace shoal::cluster {
namespace {

constexpr uint32_t kQ = 8;

uint32_t PartitionOf(std::string_view key) {
  return PartitionOfHash(KeyHash(key), kQ);
}

struct Fixture {
  storage::ManualClock clock{1'700'000'000'000};
  testing::TestNode node{std::string(40, 'a'), clock};
  PartitionTrees trees{node.store(), node.actors()};

  Fixture() {
    storage::KeyspaceOptions ko;
    ko.keep_tombstones = true;
    node.keyspace().set_options(ko);
    node.store().SetPartitioner({kQ, PartitionOf});
    node.keyspace().changes().Subscribe(&trees);
  }
  ~Fixture() { node.keyspace().changes().Unsubscribe(&trees); }

  // Every partition's kept tree equals a fresh one read from the store.
  void CheckMatchesStore() {
    PartitionTrees fresh(node.store(), node.actors());
    fresh.Enable(kQ, PartitionOf);
    (void)fresh.BuildStep(clock.NowMs(), 1'000'000);
    for (uint32_t p = 0; p < kQ; ++p) {
      CAPTURE(p);
      CHECK(trees.tree(p) == fresh.tree(p));
      CHECK(trees.keys(p) == fresh.keys(p));
    }
  }
};

TEST_CASE("kept trees follow writes, deletes and merges") {
  Fixture f;
  f.trees.Enable(kQ, PartitionOf);
  CHECK(f.trees.unbuilt() == kQ);
  (void)f.trees.BuildStep(f.clock.NowMs(), 100);
  CHECK(f.trees.unbuilt() == 0);
  CHECK(f.trees.tree_count() == 0);

  std::mt19937_64 rng(3);
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "k" + std::to_string(rng() % 300);
    switch (rng() % 4) {
      case 0:
        REQUIRE(f.node.keyspace().Delete(key, f.clock.NowMs()).ok());
        break;
      default:
        f.node.Set(key, std::to_string(rng()));
    }
  }
  // A merge from another node (siblings).
  testing::TestNode other(std::string(40, 'b'), f.clock);
  other.Set("k1", "theirs");
  other.CopyTo(f.node, "k1");
  CHECK(f.node.Values("k1").size() >= 1);
  f.CheckMatchesStore();
  CHECK(f.trees.tree_count() > 0);
  CHECK(f.trees.bytes() >= f.trees.tree_count() * TicTacTree::kBytes);
  CHECK(f.trees.DigestOf("k1").has_value());
  CHECK_FALSE(f.trees.DigestOf("never").has_value());

  auto r = f.trees.Rebuild(PartitionOf("k1"), f.clock.NowMs());
  CHECK(r.mismatches == 0);
}

TEST_CASE("a kept digest is ObjectDigest of the key's stored object, strings and sets alike") {
  // Quorum reads use the kept digest in place of ObjectDigest (see
  // Coordinator::Read and LocalReplica): the two must agree.
  Fixture f;
  f.trees.Enable(kQ, PartitionOf);
  (void)f.trees.BuildStep(f.clock.NowMs(), 100);
  testing::TestNode other(std::string(40, 'b'), f.clock);
  std::mt19937_64 rng(11);
  for (int i = 0; i < 600; ++i) {
    f.clock.AdvanceMs(1);
    const std::string key = (i % 2 == 0 ? "s" : "k") + std::to_string(rng() % 40);
    if (key[0] == 's') {
      const std::string member = "m" + std::to_string(rng() % 30);
      REQUIRE(f.node.keyspace()
                  .ModifySet(key, f.clock.NowMs(),
                             [&](storage::OrSet& s,
                                 storage::Keyspace::ContainerWrite& w) -> storage::Result<bool> {
                               if (rng() % 3 == 0) return s.Remove(member);
                               s.Add(member, w.dot);
                               return true;
                             })
                  .ok());
    } else if (rng() % 5 == 0) {
      other.Set(key, std::to_string(rng()));
      other.CopyTo(f.node, key);  // concurrent: siblings
    } else {
      f.node.Set(key, std::to_string(rng()));
    }
    CAPTURE(key);
    const std::string expected = f.node.Digest(key);
    if (f.node.Load(key).Size() == 0) {
      CHECK_FALSE(f.trees.DigestOf(key).has_value());
      continue;
    }
    REQUIRE(f.trees.DigestOf(key).has_value());
    CHECK(DigestBytes(*f.trees.DigestOf(key)) == expected);
  }
}

TEST_CASE("eviction and flush keep trees right") {
  Fixture f;
  f.trees.Enable(kQ, PartitionOf);
  (void)f.trees.BuildStep(f.clock.NowMs(), 100);
  for (int i = 0; i < 100; ++i) f.node.Set("k" + std::to_string(i), "v");
  // The store drops a key without the feed (as eviction does); the observer
  // tells the trees.
  REQUIRE(f.node.store().Delete("k5", f.clock.NowMs()));
  f.trees.OnEvicted("k5");
  f.CheckMatchesStore();
  f.node.keyspace().FlushAll();
  CHECK(f.trees.tree_count() == 0);
  for (uint32_t p = 0; p < kQ; ++p) CHECK(f.trees.tree(p).empty());
  f.CheckMatchesStore();
}

TEST_CASE("unbuilt partitions ignore changes; a build reads the store") {
  Fixture f;
  for (int i = 0; i < 50; ++i) f.node.Set("before" + std::to_string(i), "v");
  f.trees.Enable(kQ, PartitionOf);
  f.node.Set("while-unbuilt", "v");
  CHECK(f.trees.tree_count() == 0);
  // A budget of 1 key builds one partition per step.
  size_t steps = 0;
  while (f.trees.unbuilt() > 0) {
    (void)f.trees.BuildStep(f.clock.NowMs(), 1);
    ++steps;
  }
  CHECK(steps == kQ);
  f.CheckMatchesStore();
}

TEST_CASE("a rebuild counts keys the kept tree got wrong") {
  Fixture f;
  f.trees.Enable(kQ, PartitionOf);
  (void)f.trees.BuildStep(f.clock.NowMs(), 100);
  f.node.Set("a", "1");
  const uint32_t p = PartitionOf("a");
  // Bit rot: the store loses the key behind everyone's back.
  REQUIRE(f.node.store().Delete("a", f.clock.NowMs()));
  auto r = f.trees.Rebuild(p, f.clock.NowMs());
  CHECK(r.mismatches == 1);
  f.CheckMatchesStore();
  CHECK(f.trees.Rebuild(p, f.clock.NowMs()).mismatches == 0);
}

TEST_CASE("ListSegments lists the live keys of the asked segments with their digests") {
  Fixture f;
  f.trees.Enable(kQ, PartitionOf);
  (void)f.trees.BuildStep(f.clock.NowMs(), 100);
  for (int i = 0; i < 200; ++i) f.node.Set("k" + std::to_string(i), "v");
  const uint32_t p = PartitionOf("k7");
  const uint32_t s = TicTacTree::SegmentOf(KeyTreeHash("k7"));
  bool truncated = true;
  auto keys = f.trees.ListSegments(p, {s}, f.clock.NowMs(), 100, &truncated);
  CHECK_FALSE(truncated);
  bool found = false;
  for (const KeyDigest& k : keys) {
    CHECK(TicTacTree::SegmentOf(KeyTreeHash(k.key)) == s);
    CHECK(f.trees.DigestOf(k.key) == k.digest);
    found = found || k.key == "k7";
  }
  CHECK(found);
  // All segments, capped.
  std::vector<uint32_t> all;
  for (uint32_t i = 0; i < TicTacTree::kSegments; ++i) all.push_back(i);
  keys = f.trees.ListSegments(p, all, f.clock.NowMs(), 3, &truncated);
  CHECK(keys.size() == 3);
  CHECK(truncated);
}

// A listener that asks for deltas, as the dispatcher and the log do: without
// one the keyspace makes none and nothing is deferred.
struct WantsDeltas : storage::ChangeListener {
  void OnChange(const storage::Change&) override {}
  void OnFlush() override {}
};

struct DeferringFixture : Fixture {
  WantsDeltas wants;

  DeferringFixture() {
    trees.set_encoder([this](std::string_view key, std::string* out) {
      return node.keyspace().EncodeWithNodeIds(key, clock.NowMs(), out);
    });
    node.keyspace().changes().Subscribe(&wants);
    trees.Enable(kQ, PartitionOf);
    (void)trees.BuildStep(clock.NowMs(), 100);
  }
  ~DeferringFixture() { node.keyspace().changes().Unsubscribe(&wants); }

  void AddMember(const std::string& key, const std::string& member) { node.AddMember(key, member); }
  void RemoveMember(const std::string& key, const std::string& member) {
    REQUIRE(node.keyspace()
                .ModifySet(key, clock.NowMs(),
                           [&](storage::OrSet& s, storage::Keyspace::ContainerWrite&)
                               -> storage::Result<bool> { return s.Remove(member); })
                .ok());
  }
  void SetField(const std::string& key, const std::string& field, const std::string& value) {
    REQUIRE(node.keyspace()
                .ModifyHash(key, clock.NowMs(),
                            [&](storage::OrHash& h,
                                storage::Keyspace::ContainerWrite& w) -> storage::Result<bool> {
                              (void)h.Set(field, value, w.dot, clock.NowMs());
                              return true;  // written, new field or not
                            })
                .ok());
  }
  // A big set, so that a one-member write's delta is well below the object.
  void FillSet(const std::string& key) {
    REQUIRE(node.keyspace()
                .ModifySet(key, clock.NowMs(),
                           [&](storage::OrSet& s,
                               storage::Keyspace::ContainerWrite& w) -> storage::Result<bool> {
                             for (int i = 0; i < 50; ++i) s.Add("fill" + std::to_string(i), w.dot);
                             return true;
                           })
                .ok());
  }
};

TEST_CASE("a delta write's digest waits until it is read, then equals the eager one") {
  DeferringFixture f;
  f.FillSet("s");
  CHECK(f.trees.pending() == 0);  // the first write of a key carries no delta
  const uint64_t encodings = f.node.keyspace().changes().stats().encodings;
  for (int i = 0; i < 20; ++i) {
    f.clock.AdvanceMs(1);
    f.AddMember("s", "m" + std::to_string(i));
  }
  // Twenty writes, no node-id encoding: the key is pending once.
  CHECK(f.node.keyspace().changes().stats().encodings == encodings);
  CHECK(f.trees.pending() == 1);
  REQUIRE(f.trees.DigestOf("s").has_value());
  CHECK(DigestBytes(*f.trees.DigestOf("s")) == f.node.Digest("s"));
  CHECK(f.trees.pending() == 0);

  SUBCASE("a change without a delta settles the key at once") {
    f.AddMember("s", "late");
    CHECK(f.trees.pending() == 1);
    REQUIRE(f.node.keyspace().Delete("s", f.clock.NowMs()).ok());
    CHECK(f.trees.pending() == 0);
    CHECK(DigestBytes(*f.trees.DigestOf("s")) == f.node.Digest("s"));  // the tombstone
    f.CheckMatchesStore();
  }
  SUBCASE("eviction and flush drop pending keys") {
    f.AddMember("s", "late");
    REQUIRE(f.node.store().Delete("s", f.clock.NowMs()));
    f.trees.OnEvicted("s");
    CHECK(f.trees.pending() == 0);
    CHECK_FALSE(f.trees.DigestOf("s").has_value());
    f.FillSet("t");
    f.AddMember("t", "x");
    CHECK(f.trees.pending() == 1);
    f.node.keyspace().FlushAll();
    CHECK(f.trees.pending() == 0);
    f.CheckMatchesStore();
  }
  SUBCASE("a rebuild settles first: pending keys are not mismatches") {
    f.AddMember("s", "late");
    CHECK(f.trees.pending() == 1);
    CHECK(f.trees.Rebuild(PartitionOf("s"), f.clock.NowMs()).mismatches == 0);
    CHECK(f.trees.pending() == 0);
  }
}

TEST_CASE("deferred digests: random container and string histories match the store") {
  DeferringFixture f;
  size_t max_pending = 1000;
  SUBCASE("pending set unbounded") {}
  SUBCASE("pending set of 3: later changes are digested at once") {
    max_pending = 3;
  }
  f.trees.set_max_pending(max_pending);
  std::mt19937_64 rng(29);
  size_t most_pending = 0;
  for (int i = 0; i < 3000; ++i) {
    f.clock.AdvanceMs(1);
    const uint64_t r = rng();
    const std::string key = std::string(1, "shk"[r % 3]) + std::to_string((r >> 8) % 12);
    const std::string name = "n" + std::to_string((r >> 16) % 60);
    if (f.node.Load(key).Size() == 0 && key[0] == 's') f.FillSet(key);
    switch (key[0]) {
      case 's':
        if ((r >> 24) % 4 == 0) {
          f.RemoveMember(key, name);
        } else {
          f.AddMember(key, name);
        }
        break;
      case 'h':
        f.SetField(key, name, std::to_string(rng() % 1000));
        break;
      default:
        f.node.Set(key, std::to_string(rng()));
    }
    switch ((r >> 32) % 50) {
      case 0:
        REQUIRE(f.node.keyspace().Delete(key, f.clock.NowMs()).ok());
        break;
      case 1: {  // another node's version of a string merged in
        if (key[0] != 'k') break;
        testing::TestNode other(std::string(40, 'b'), f.clock);
        other.Set(key, "theirs");
        other.CopyTo(f.node, key);
        break;
      }
      case 2:
        f.CheckMatchesStore();
        break;
      case 3: {
        CAPTURE(key);
        CAPTURE(i);
        std::optional<uint64_t> d = f.trees.DigestOf(key);
        if (f.node.Load(key).Size() == 0) {
          CHECK_FALSE(d.has_value());
        } else {
          REQUIRE(d.has_value());
          CHECK(DigestBytes(*d) == f.node.Digest(key));
        }
        break;
      }
      default:
        break;
    }
    most_pending = std::max(most_pending, f.trees.pending());
    REQUIRE(f.trees.pending() <= max_pending);
  }
  CHECK(most_pending > 0);
  f.CheckMatchesStore();
  CHECK(f.trees.pending() == 0);
  for (uint32_t p = 0; p < kQ; ++p) CHECK(f.trees.Rebuild(p, f.clock.NowMs()).mismatches == 0);
}

}  // namespace
}  // namespace shoal::cluster
