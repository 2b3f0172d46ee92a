// Keyspace: the versioned view over the store (plain writes, context writes,
// counters, expiry as part of the version, tombstone purge, sibling limits,
// the change feed) and DotCounter (never repeats, across restarts too).

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/dot_counter.h"
#include "storage/file.h"
#include "storage/keyspace.h"
#include "storage/store.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

struct Recorder final : ChangeListener {
  std::vector<std::string> changes;
  int flushes = 0;
  void OnChange(const Change& change) override {
    changes.push_back(std::string(change.key()) + ":" + std::to_string(change.object().Size()));
  }
  void OnFlush() override { ++flushes; }
};

struct Fixture {
  Store store;
  ActorTable actors;
  DotCounter dots;
  ActorId self = actors.Intern(std::string(40, 'a')).value();
  Keyspace ks{store, actors, self, dots};

  std::vector<std::string> Values(std::string_view key, int64_t now = kNow) {
    auto v = ks.Get(key, now);
    REQUIRE(v.ok());
    std::vector<std::string> out;
    for (size_t i = 0; i < v.value().count; ++i) out.emplace_back(v.value().value(i));
    return out;
  }
  VersionVector Context(std::string_view key) {
    auto obj = ks.Load(key, kNow);
    REQUIRE(obj.ok());
    return obj.value().Context();
  }
};

TEST_CASE("plain writes supersede: no siblings for sequential writes") {
  Fixture f;
  for (int i = 0; i < 50; ++i) {
    REQUIRE(f.ks.Put("k", Version::Bytes("v" + std::to_string(i), kNow), kNow).ok());
  }
  CHECK(f.Values("k") == std::vector<std::string>{"v49"});
  CHECK(f.Context("k").size() == 1);
}

TEST_CASE("a stale context leaves siblings; a covering context resolves them") {
  Fixture f;
  REQUIRE(f.ks.Put("k", Version::Bytes("a", kNow), kNow).ok());
  VersionVector stale = f.Context("k");
  REQUIRE(f.ks.Update("k", stale, Version::Bytes("b", kNow + 1), kNow).ok());
  REQUIRE(f.ks.Update("k", stale, Version::Bytes("c", kNow + 2), kNow).ok());
  CHECK(f.Values("k") == std::vector<std::string>{"b", "c"});
  auto single = f.ks.Single("k", kNow);
  CHECK(single.status().code() == Code::kConflict);
  CHECK(single.status().message() ==
        "CONFLICT 2 siblings: resolve them with GETV and a SETV carrying its context");
  // INCR on the same key: the same words.
  auto incr = f.ks.IncrBy("k", 1, kNow);
  CHECK(incr.status().message() == single.status().message());
  REQUIRE(f.ks.Update("k", f.Context("k"), Version::Bytes("bc", kNow + 3), kNow).ok());
  CHECK(f.Values("k") == std::vector<std::string>{"bc"});
}

TEST_CASE("max-siblings refuses the write without dropping anything") {
  Fixture f;
  KeyspaceOptions o;
  o.max_siblings = 3;
  o.siblings_warn = 2;
  f.ks.set_options(o);
  VersionVector empty;
  for (const char* v : {"a", "b", "c"}) {
    REQUIRE(f.ks.Update("k", empty, Version::Bytes(v, kNow), kNow).ok());
  }
  Status st = f.ks.Update("k", empty, Version::Bytes("d", kNow), kNow);
  CHECK(st.code() == Code::kConflict);
  CHECK(st.message().rfind("CONFLICT 3 siblings", 0) == 0);
  CHECK(f.Values("k").size() == 3);
  CHECK(f.ks.stats().conflicts == 1);
  CHECK(f.ks.stats().sibling_warnings >= 1);
}

TEST_CASE("lww keeps one value") {
  Fixture f;
  KeyspaceOptions o;
  o.lww = true;
  f.ks.set_options(o);
  VersionVector empty;
  REQUIRE(f.ks.Update("k", empty, Version::Bytes("old", kNow), kNow).ok());
  REQUIRE(f.ks.Update("k", empty, Version::Bytes("new", kNow + 5), kNow).ok());
  CHECK(f.Values("k") == std::vector<std::string>{"new"});
}

TEST_CASE("delete writes a tombstone, publishes it, and purges the key") {
  Fixture f;
  Recorder rec;
  f.ks.changes().Subscribe(&rec);
  REQUIRE(f.ks.Put("k", Version::Bytes("v", kNow), kNow).ok());
  auto del = f.ks.Delete("k", kNow);
  REQUIRE(del.ok());
  CHECK(del.value());
  CHECK_FALSE(f.ks.Exists("k", kNow));
  CHECK(f.store.size() == 0);  // single node: nothing can resurrect it
  REQUIRE(rec.changes.size() == 2);
  CHECK(rec.changes[1] == "k:1");  // the tombstone was logged
  auto again = f.ks.Delete("k", kNow);
  REQUIRE(again.ok());
  CHECK_FALSE(again.value());
  f.ks.FlushAll();
  CHECK(rec.flushes == 1);
}

TEST_CASE("a context from before a purge cannot cover a later write") {
  Fixture f;
  REQUIRE(f.ks.Put("k", Version::Bytes("first", kNow), kNow).ok());
  VersionVector before = f.Context("k");
  REQUIRE(f.ks.Delete("k", kNow).ok());
  REQUIRE(f.ks.Put("k", Version::Bytes("second", kNow), kNow).ok());
  REQUIRE(f.ks.Update("k", before, Version::Bytes("stale", kNow), kNow).ok());
  // Without the dot floor "second" would have reused the purged dot and the
  // stale write would have superseded it.
  CHECK(f.Values("k") == std::vector<std::string>{"second", "stale"});
}

TEST_CASE("expiry is part of the version") {
  Fixture f;
  REQUIRE(f.ks.Put("k", Version::Bytes("v", kNow, kNow + 1000), kNow).ok());
  CHECK(f.store.GetExpireAt("k", kNow).value() == kNow + 1000);
  REQUIRE(f.ks.SetExpiry("k", kNow + 5000, kNow).ok());
  CHECK(f.store.GetExpireAt("k", kNow).value() == kNow + 5000);
  CHECK(f.Values("k", kNow + 4999) == std::vector<std::string>{"v"});
  CHECK(f.ks.Get("k", kNow + 5000).value().count == 0);
  CHECK(f.ks.SetExpiry("missing", kNow + 1, kNow).code() == Code::kNotFound);
  REQUIRE(f.ks.Put("p", Version::Bytes("v", kNow, kNow + 1000), kNow).ok());
  REQUIRE(f.ks.SetExpiry("p", 0, kNow).ok());
  CHECK(f.store.GetExpireAt("p", kNow).value() == 0);
  REQUIRE(f.ks.SetExpiry("p", kNow - 1, kNow).ok());  // in the past: deleted
  CHECK_FALSE(f.ks.Exists("p", kNow));
}

TEST_CASE("counters: INCR on strings and counters, TTL kept, errors") {
  Fixture f;
  CHECK(f.ks.IncrBy("n", 5, kNow).value() == 5);
  CHECK(f.ks.IncrBy("n", -7, kNow).value() == -2);
  CHECK(f.Values("n") == std::vector<std::string>{"-2"});
  REQUIRE(f.ks.Put("s", Version::Bytes("10", kNow, kNow + 9000), kNow).ok());
  CHECK(f.ks.IncrBy("s", 1, kNow).value() == 11);
  CHECK(f.store.GetExpireAt("s", kNow).value() == kNow + 9000);
  REQUIRE(f.ks.Put("x", Version::Bytes("abc", kNow), kNow).ok());
  CHECK(f.ks.IncrBy("x", 1, kNow).status().code() == Code::kNotInteger);
  REQUIRE(f.ks.Put("big", Version::Bytes("9223372036854775807", kNow), kNow).ok());
  CHECK(f.ks.IncrBy("big", 1, kNow).status().code() == Code::kOverflow);
}

TEST_CASE("merge of remote objects: concurrent counters both count") {
  Fixture a;
  ActorId other = a.actors.Intern(std::string(40, 'b')).value();
  REQUIRE(a.ks.IncrBy("n", 2, kNow).ok());
  // A replica that saw nothing of ours incremented by 3.
  Object remote;
  PnCounter c;
  REQUIRE(c.Add(other, 3).ok());
  remote.Put(Version::Counter(c, kNow), other);
  REQUIRE(a.ks.Merge("n", remote, kNow).ok());
  CHECK(a.Values("n") == std::vector<std::string>{"5"});
  CHECK(a.ks.IncrBy("n", 1, kNow).value() == 6);
}

TEST_CASE("dot counter never repeats across restarts") {
  std::string dir = std::filesystem::temp_directory_path() / "shoal-dots-XXXXXX";
  REQUIRE(mkdtemp(dir.data()) != nullptr);
  PosixEnv env;
  uint64_t last = 0;
  {
    DotCounter d;
    REQUIRE(d.Open(&env, dir).ok());
    for (int i = 0; i < 1000; ++i) {
      auto n = d.Next();
      REQUIRE(n.ok());
      CHECK(n.value() > last);
      last = n.value();
    }
  }
  {
    DotCounter d;  // a restart: continues above everything leased before
    REQUIRE(d.Open(&env, dir).ok());
    auto n = d.Next();
    REQUIRE(n.ok());
    CHECK(n.value() > last);
    d.Observe(n.value() + 10 * DotCounter::kLease);
    CHECK(d.Next().value() > n.value() + 10 * DotCounter::kLease);
  }
  {
    std::ofstream(dir + "/" + DotCounter::kFileName) << "garbage\n";
    DotCounter d;
    CHECK(d.Open(&env, dir).code() == Code::kCorruption);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace shoal::storage
