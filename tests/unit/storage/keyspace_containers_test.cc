// Keyspace's container API (Modify*/Read*/element lookups/Type), and how
// containers meet the string commands (WRONGTYPE), DEL, EXPIRE, the change
// feed and the dead-key handling of a replica in a cluster.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/actor_table.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/store.h"

namespace shoal::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

struct Recorder final : ChangeListener {
  std::vector<std::string> changes;
  void OnChange(const Change& change) override {
    changes.push_back(std::string(change.key()) + ":" + std::to_string(change.object().Size()));
  }
  void OnFlush() override {}
};

struct Fixture {
  Store store;
  ActorTable actors;
  DotCounter dots;
  ActorId self = actors.Intern(std::string(40, 'a')).value();
  Keyspace ks{store, actors, self, dots};

  Status Sadd(std::string_view key, std::vector<std::string> members, int64_t now = kNow,
              int* added = nullptr) {
    return ks.ModifySet(key, now, [&](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
      int n = 0;
      for (const auto& m : members) n += s.Add(m, w.dot) ? 1 : 0;
      if (added != nullptr) *added = n;
      return true;
    });
  }
  Status Srem(std::string_view key, std::string member, int64_t now = kNow) {
    return ks.ModifySet(key, now, [&](OrSet& s, Keyspace::ContainerWrite&) -> Result<bool> {
      return s.Remove(member);
    });
  }
  std::vector<std::string> Members(std::string_view key, int64_t now = kNow) {
    auto view = ks.ReadSet(key, now);
    REQUIRE(view.ok());
    std::vector<std::string> out;
    for (const auto& e : view.value().state.map().entries()) out.push_back(e.name);
    return out;
  }
};

using Strings = std::vector<std::string>;

TEST_CASE("SADD/SREM through ModifySet; the last SREM forgets the key on a single node") {
  Fixture f;
  Recorder rec;
  f.ks.changes().Subscribe(&rec);
  int added = 0;
  REQUIRE(f.Sadd("s", {"b", "a", "a"}, kNow, &added).ok());
  CHECK(added == 2);
  CHECK(f.Members("s") == Strings{"a", "b"});
  CHECK(f.ks.Type("s", kNow).value() == KeyType::kSet);
  CHECK(f.ks.Exists("s", kNow));
  CHECK(f.ks.SetContains("s", "a", kNow).value());
  CHECK_FALSE(f.ks.SetContains("s", "c", kNow).value());
  CHECK_FALSE(f.ks.SetContains("missing", "a", kNow).value());
  // A no-op writes nothing.
  REQUIRE(f.Srem("s", "zzz").ok());
  CHECK(rec.changes.size() == 1);
  REQUIRE(f.Srem("s", "a").ok());
  REQUIRE(f.Srem("s", "b").ok());
  CHECK_FALSE(f.ks.Exists("s", kNow));
  CHECK(f.ks.Type("s", kNow).value() == KeyType::kNone);
  CHECK(f.store.size() == 0);
  CHECK(rec.changes.size() == 3);
  CHECK(f.Members("s").empty());
  CHECK_FALSE(f.ks.ReadSet("s", kNow).value().exists);
}

TEST_CASE("WRONGTYPE both ways, in Redis's words") {
  Fixture f;
  REQUIRE(f.ks.Put("str", Version::Bytes("v", kNow), kNow).ok());
  REQUIRE(f.Sadd("set", {"m"}).ok());
  const std::string words = "WRONGTYPE Operation against a key holding the wrong kind of value";
  Status st = f.Sadd("str", {"m"});
  CHECK(st.code() == Code::kWrongType);
  CHECK(st.message() == words);
  CHECK(f.ks.SetContains("str", "m", kNow).status().code() == Code::kWrongType);
  CHECK(f.ks.HashGet("set", "m", kNow).status().code() == Code::kWrongType);
  CHECK(f.ks.ZsetScore("set", "m", kNow).status().code() == Code::kWrongType);
  CHECK(f.ks.ReadHash("set", kNow).status().code() == Code::kWrongType);
  auto get = f.ks.Get("set", kNow);
  CHECK(get.status().code() == Code::kWrongType);
  CHECK(get.status().message() == words);
  CHECK(f.ks.Single("set", kNow).status().code() == Code::kWrongType);
  CHECK(f.ks.IncrBy("set", 1, kNow).status().code() == Code::kWrongType);
  // A plain SET replaces a container, as on Redis.
  REQUIRE(f.ks.Put("set", Version::Bytes("now a string", kNow + 1), kNow + 1).ok());
  CHECK(f.ks.Type("set", kNow + 1).value() == KeyType::kString);
}

TEST_CASE("hashes and sorted sets through Modify, lookups without a full decode") {
  Fixture f;
  REQUIRE(f.ks.ModifyHash("h", kNow,
                          [&](OrHash& h, Keyspace::ContainerWrite& w) -> Result<bool> {
                            h.Set("name", "ann", w.dot, w.now_ms);
                            auto r = h.IncrBy("visits", 3, w.dot, f.actors);
                            if (!r.ok()) return r.status();
                            return true;
                          })
              .ok());
  CHECK(f.ks.HashGet("h", "name", kNow).value() == "ann");
  CHECK(f.ks.HashGet("h", "visits", kNow).value() == "3");
  CHECK_FALSE(f.ks.HashGet("h", "nope", kNow).value().has_value());
  // An error from the command writes nothing.
  Status st = f.ks.ModifyHash("h", kNow, [&](OrHash& h, Keyspace::ContainerWrite& w) {
    return Result<bool>(h.IncrBy("name", 1, w.dot, f.actors).status());
  });
  CHECK(st.code() == Code::kNotInteger);
  CHECK(f.ks.Type("h", kNow).value() == KeyType::kHash);

  REQUIRE(f.ks.ModifyZset("z", kNow,
                          [&](OrZset& z, Keyspace::ContainerWrite& w) -> Result<bool> {
                            z.Add("m", 2.5, w.dot, w.now_ms);
                            return true;
                          })
              .ok());
  CHECK(f.ks.ZsetScore("z", "m", kNow).value() == 2.5);
  CHECK_FALSE(f.ks.ZsetScore("z", "x", kNow).value().has_value());
  CHECK(f.ks.Type("z", kNow).value() == KeyType::kZset);
}

TEST_CASE("container writes keep the TTL; EXPIRE re-puts the state; expiry in the past deletes") {
  Fixture f;
  REQUIRE(f.Sadd("s", {"a"}).ok());
  REQUIRE(f.ks.SetExpiry("s", kNow + 1000, kNow).ok());
  CHECK(f.ks.ExpireAt("s", kNow) == kNow + 1000);
  REQUIRE(f.Sadd("s", {"b"}, kNow + 1).ok());  // Redis keeps a set's TTL on SADD
  CHECK(f.ks.ExpireAt("s", kNow + 1) == kNow + 1000);
  CHECK(f.Members("s", kNow + 1) == Strings{"a", "b"});
  CHECK_FALSE(f.ks.Exists("s", kNow + 1000));
  // PERSIST.
  REQUIRE(f.Sadd("p", {"a"}).ok());
  REQUIRE(f.ks.SetExpiry("p", kNow + 50, kNow).ok());
  REQUIRE(f.ks.SetExpiry("p", 0, kNow + 1).ok());
  CHECK(f.ks.ExpireAt("p", kNow + 1) == 0);
  CHECK(f.Members("p", kNow + 100) == Strings{"a"});
  // An expiry in the past deletes.
  REQUIRE(f.ks.SetExpiry("p", kNow, kNow + 2).ok());
  CHECK_FALSE(f.ks.Exists("p", kNow + 2));
  CHECK(f.ks.SetExpiry("p", kNow + 9, kNow + 3).code() == Code::kNotFound);
  // A write can drop the TTL (the *STORE commands).
  REQUIRE(f.Sadd("d", {"a"}).ok());
  REQUIRE(f.ks.SetExpiry("d", kNow + 50, kNow).ok());
  REQUIRE(f.ks.ModifySet("d", kNow + 1,
                         [](OrSet& s, Keyspace::ContainerWrite& w) -> Result<bool> {
                           CHECK(w.existed);
                           CHECK(w.expire_at_ms == kNow + 50);
                           s.Clear();
                           s.Add("x", w.dot);
                           w.expire_at_ms = 0;
                           return true;
                         })
              .ok());
  CHECK(f.ks.ExpireAt("d", kNow + 1) == 0);
  CHECK(f.Members("d", kNow + 100) == Strings{"x"});
}

TEST_CASE("DEL of a container: forgotten on one node, an empty state in a cluster") {
  Fixture f;
  REQUIRE(f.Sadd("s", {"a", "b"}).ok());
  CHECK(f.ks.Delete("s", kNow).value());
  CHECK(f.store.size() == 0);
  CHECK_FALSE(f.ks.Delete("s", kNow).value());

  KeyspaceOptions opts;
  opts.keep_tombstones = true;
  f.ks.set_options(opts);
  REQUIRE(f.Sadd("c", {"old"}).ok());
  const Object before = f.ks.Load("c", kNow).value();
  CHECK(f.ks.Delete("c", kNow + 1).value());
  CHECK_FALSE(f.ks.Exists("c", kNow + 1));
  CHECK(f.ks.Type("c", kNow + 1).value() == KeyType::kNone);
  CHECK(f.store.size() == 1);
  CHECK(f.ks.stats().tombstones_held == 1);
  const Object dead = f.ks.Load("c", kNow + 1).value();
  REQUIRE(dead.Size() == 1);
  CHECK(dead.siblings()[0].value.kind == VersionKind::kSet);  // the clock is kept
  CHECK(dead.IsTombstonesOnly());
  // A concurrent SADD of a new member from another replica (which had seen
  // "old" only) survives the DEL; "old" does not come back.
  ActorId other = f.actors.Intern(std::string(40, 'b')).value();
  Object remote = before;
  OrSet s = remote.SetView(kNow, f.actors).value().state;
  s.Add("new", remote.NextPutDot(other));
  remote.Put(Version::OfSet(s, kNow + 1), other);
  REQUIRE(f.ks.Merge("c", remote, kNow + 2).ok());
  CHECK(f.Members("c", kNow + 2) == Strings{"new"});
  CHECK(f.ks.stats().tombstones_held == 0);
  // The settled dead key is purgeable and purged.
  CHECK(f.ks.Delete("c", kNow + 3).value());
  const Object settled = f.ks.Settled("c", kNow + 3).value();
  CHECK(settled.IsPurgeable(kNow + 100, kNow + 50));
  CHECK(f.ks.Purge("c", settled, kNow + 100).value());
  CHECK(f.store.size() == 0);
}

}  // namespace
}  // namespace shoal::storage
