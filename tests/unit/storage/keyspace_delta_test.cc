// Keyspace and container deltas: which writes publish a delta, and that
// another keyspace holding the same base redoes the write byte for byte
// (Keyspace::ApplyDelta), or refuses it (kStale) on any other copy.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/container_delta.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/store.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

// Keeps each change's delta and node-id object.
struct Recorder final : ChangeListener {
  struct Entry {
    std::string key, object, delta;
  };
  std::vector<Entry> changes;
  void OnChange(const Change& change) override {
    changes.push_back(
        {std::string(change.key()), change.NodeIdBytes(), std::string(change.delta())});
  }
  void OnFlush() override {}
};

struct Node {
  explicit Node(char id, bool cluster = true)
      : self(actors.Intern(std::string(40, id)).value()), ks(store, actors, self, dots) {
    KeyspaceOptions o;
    o.keep_tombstones = cluster;
    ks.set_options(o);
    ks.changes().Subscribe(&recorder);
  }
  Status Sadd(std::string_view key, std::vector<std::string> members, int64_t now = kNow) {
    return ks.ModifySet(key, now, [&](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
      for (const auto& m : members) s.Add(m, w.dot);
      return true;
    });
  }
  Status Srem(std::string_view key, std::string member, int64_t now = kNow) {
    return ks.ModifySet(key, now, [&](OrSet& s, Keyspace::ContainerWrite&) -> Result<bool> {
      return s.Remove(member);
    });
  }
  Status Hset(std::string_view key, std::string field, std::string value, int64_t now = kNow) {
    return ks.ModifyHash(key, now, [&](OrHash& h, Keyspace::ContainerWrite& w) -> Result<bool> {
      h.Set(field, value, w.dot, w.now_ms);
      return true;
    });
  }
  std::string Wire(std::string_view key) {
    std::string out;
    ks.Load(key, kNow).value().EncodeWithNodeIds(actors, &out);
    return out;
  }
  const Recorder::Entry& last() const { return recorder.changes.back(); }

  Store store;
  ActorTable actors;
  DotCounter dots;
  ActorId self;
  Keyspace ks;
  Recorder recorder;
};

std::vector<std::string> BigSet(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("member-" + std::to_string(100000000 + i));
  return out;
}

// Copies `key` from one node to the other as replication of a whole
// object does.
void Ship(Node& from, Node& to, std::string_view key) {
  auto obj = Object::DecodeWithNodeIds(from.Wire(key), to.actors);
  REQUIRE(obj.ok());
  REQUIRE(to.ks.Merge(key, obj.value(), kNow).ok());
}

TEST_CASE("a one-member SADD on a big set publishes a small delta another copy redoes exactly") {
  Node a('a'), b('b');
  REQUIRE(a.Sadd("s", BigSet(10000)).ok());
  CHECK(a.last().delta.empty());  // the first write: no base
  Ship(a, b, "s");
  REQUIRE(a.Sadd("s", {"member-new-00001"}).ok());
  const std::string delta = a.last().delta;
  REQUIRE_FALSE(delta.empty());
  CHECK(delta.size() < 100);
  CHECK(a.last().object.size() > 100000);
  MESSAGE("delta " << delta.size() << " bytes, object " << a.last().object.size() << " bytes");
  REQUIRE(b.ks.ApplyDelta("s", delta, kNow).ok());
  CHECK(b.Wire("s") == a.Wire("s"));
  CHECK(b.last().delta == delta);  // published again: b's log takes the delta too
  // Applied twice: its copy is no longer the base.
  CHECK(b.ks.ApplyDelta("s", delta, kNow).code() == Code::kStale);
  CHECK(b.Wire("s") == a.Wire("s"));
  // SREM, HSET the same way.
  REQUIRE(a.Srem("s", "member-100000005").ok());
  REQUIRE_FALSE(a.last().delta.empty());
  REQUIRE(b.ks.ApplyDelta("s", a.last().delta, kNow).ok());
  CHECK(b.Wire("s") == a.Wire("s"));
}

TEST_CASE("a copy that missed a write refuses the next delta, and takes it after a merge") {
  Node a('a'), b('b');
  REQUIRE(a.Sadd("s", BigSet(100)).ok());
  Ship(a, b, "s");
  REQUIRE(a.Sadd("s", {"x"}).ok());  // b misses this one
  REQUIRE(a.Sadd("s", {"y"}).ok());
  const std::string before = b.Wire("s");
  CHECK(b.ks.ApplyDelta("s", a.last().delta, kNow).code() == Code::kStale);
  CHECK(b.Wire("s") == before);  // nothing changed
  Ship(a, b, "s");
  CHECK(b.Wire("s") == a.Wire("s"));
  REQUIRE(a.Hset("h", "f", "1").ok());
  // Another type under the key: stale as well.
  Node c('c');
  REQUIRE(c.Hset("s", "f", "1").ok());
  REQUIRE(a.Sadd("s", {"z"}).ok());
  CHECK(c.ks.ApplyDelta("s", a.last().delta, kNow).code() == Code::kStale);
  // Damaged: corruption, nothing changed.
  CHECK(b.ks.ApplyDelta("s", "\x01\x04garbage", kNow).code() == Code::kCorruption);
}

TEST_CASE("a delta refused after the copy's state was taken leaves the copy as it was") {
  // Same base digest, but it removes a name the copy lacks: refused once
  // the cached copy's state has moved into the result being built.
  Node a('a'), b('b');
  REQUIRE(a.Sadd("s", BigSet(100)).ok());
  Ship(a, b, "s");
  REQUIRE(b.ks.ReadSet("s", kNow).ok());  // b's copy is now cached, decoded
  REQUIRE(a.Srem("s", "member-100000042").ok());
  std::string forged = a.last().delta;
  const size_t at = forged.find("member-100000042");
  REQUIRE(at != std::string::npos);
  forged.replace(at, 16, "member-999999999");
  const std::string before = b.Wire("s");
  CHECK(b.ks.ApplyDelta("s", forged, kNow).code() == Code::kStale);
  CHECK(b.Wire("s") == before);
  CHECK(b.ks.SetContains("s", "member-100000042", kNow).value());
  // The true delta still applies to it.
  REQUIRE(b.ks.ApplyDelta("s", a.last().delta, kNow).ok());
  CHECK(b.Wire("s") == a.Wire("s"));
}

TEST_CASE("no delta for a base with TTL, several versions, a small object or no listener") {
  Node a('a');
  REQUIRE(a.Sadd("s", BigSet(200)).ok());
  REQUIRE(a.Sadd("s", {"one"}).ok());
  CHECK_FALSE(a.last().delta.empty());
  // A TTL: the base could expire and be compacted before the next record.
  REQUIRE(a.ks.SetExpiry("s", kNow + 100000, kNow).ok());
  REQUIRE(a.Sadd("s", {"two"}).ok());
  CHECK(a.last().delta.empty());
  REQUIRE(a.ks.SetExpiry("s", 0, kNow).ok());
  REQUIRE(a.Sadd("s", {"three"}).ok());
  CHECK_FALSE(a.last().delta.empty());
  // Concurrent versions (a merge of another coordinator's write).
  Node b('b');
  Ship(a, b, "s");
  REQUIRE(b.Sadd("s", {"from-b"}).ok());
  REQUIRE(a.Sadd("s", {"from-a"}).ok());
  Ship(b, a, "s");
  REQUIRE(a.ks.Load("s", kNow).value().Size() == 2);
  REQUIRE(a.Sadd("s", {"joined"}).ok());
  CHECK(a.last().delta.empty());
  REQUIRE(a.Sadd("s", {"after"}).ok());
  CHECK_FALSE(a.last().delta.empty());
  // A small set: the delta is not much smaller than the object.
  REQUIRE(a.Sadd("tiny", {"a"}).ok());
  REQUIRE(a.Sadd("tiny", {"b"}).ok());
  CHECK(a.last().delta.empty());
  // No listener: nothing computes a delta.
  Store store;
  ActorTable actors;
  DotCounter dots;
  Keyspace alone(store, actors, actors.Intern(std::string(40, 'd')).value(), dots);
  REQUIRE(alone
              .ModifySet("s", kNow,
                         [](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
                           for (int i = 0; i < 100; ++i) s.Add("m" + std::to_string(i), w.dot);
                           return true;
                         })
              .ok());
}

TEST_CASE("a pinned merge that differs from the store's copy makes no delta") {
  Node a('a'), b('b');
  REQUIRE(a.Sadd("s", BigSet(200)).ok());
  Ship(a, b, "s");
  REQUIRE(b.Sadd("s", {"b-only"}).ok());
  // a's command runs on the merge of a's and b's copies without a's store
  // holding it (as if the merge had not been saved).
  Object merged = a.ks.Load("s", kNow).value();
  auto theirs = Object::DecodeWithNodeIds(b.Wire("s"), a.actors);
  REQUIRE(theirs.ok());
  merged.Merge(theirs.value());
  {
    Keyspace::Pin pin(a.ks, "s", merged);
    REQUIRE(a.Sadd("s", {"x"}).ok());
  }
  CHECK(a.last().delta.empty());
  // Pinned to exactly the store's copy: a delta.
  const Object same = a.ks.Load("s", kNow).value();
  {
    Keyspace::Pin pin(a.ks, "s", same);
    REQUIRE(a.Sadd("s", {"y"}).ok());
  }
  CHECK_FALSE(a.last().delta.empty());
}

TEST_CASE("the dot counter observes this node's own dots from a delta") {
  Node a('a'), b('b');
  REQUIRE(a.Sadd("s", BigSet(200)).ok());
  Ship(a, b, "s");
  REQUIRE(a.Sadd("s", {"x"}).ok());
  // Replayed on a node that shares a's id (its log, after a restart).
  Node a2('a');
  Ship(b, a2, "s");
  const uint64_t before = a2.dots.current();
  REQUIRE(a2.ks.ApplyDelta("s", a.last().delta, kNow).ok());
  CHECK(a2.dots.current() > before);
}

}  // namespace
}  // namespace shoal::storage
