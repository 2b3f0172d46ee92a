// The transaction bookkeeping (server/commands/transaction.h): queueing,
// and which keyspace changes count as modifying a watched key (Redis's
// touchWatchedKey and isWatchedKeyExpired rules).

#include "server/commands/transaction.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "storage/actor_table.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/store.h"

namespace shoal::server {
namespace {

struct Fixture {
  Fixture() { keyspace.changes().Subscribe(&txns); }
  ~Fixture() { keyspace.changes().Unsubscribe(&txns); }
  storage::Status Set(std::string_view key, int64_t expire_at = 0) {
    return keyspace.Put(key, storage::Version::Bytes("v", now, expire_at), now);
  }
  bool Live(std::string_view key) { return keyspace.Exists(key, now); }

  int64_t now = 1'700'000'000'000;
  storage::Store store;
  storage::ActorTable actors;
  storage::DotCounter dots;
  storage::ActorId self = actors.Intern(std::string(40, 'a')).value();
  storage::Keyspace keyspace{store, actors, self, dots};
  Transactions txns;
};

TEST_CASE("Transaction: queueing counts commands, bytes and deny-oom") {
  Transaction t;
  t.Begin();
  CHECK(t.in_multi);
  t.Queue(nullptr, {"SET", "k", "v"}, true);
  t.Queue(nullptr, {"GET", "k"}, false);
  CHECK(t.queue.size() == 2);
  CHECK(t.queued_bytes == 3 + 1 + 1 + 3 + 1);
  CHECK(t.deny_oom);
  t.dirty_exec = true;
  t.EndMulti();
  CHECK_FALSE(t.in_multi);
  CHECK(t.queue.empty());
  CHECK(t.queued_bytes == 0);
  CHECK_FALSE(t.dirty_exec);
  CHECK_FALSE(t.deny_oom);
}

TEST_CASE("Transactions: a write to a watched key marks its watchers only") {
  Fixture f;
  REQUIRE(f.Set("k").ok());
  f.txns.Watch(1, "k", f.Live("k"));
  f.txns.Watch(2, "other", f.Live("other"));
  f.txns.Watch(1, "k", true);  // again: one entry
  CHECK(f.txns.Of(1).watched->size() == 1);
  CHECK(f.txns.watched_keys() == 2);
  REQUIRE(f.Set("unrelated").ok());
  CHECK_FALSE(f.txns.Of(1).dirty_cas);
  REQUIRE(f.Set("k").ok());
  CHECK(f.txns.Of(1).dirty_cas);
  CHECK_FALSE(f.txns.Of(2).dirty_cas);
  f.txns.Unwatch(1);
  CHECK_FALSE(f.txns.Of(1).dirty_cas);
  CHECK(f.txns.Of(1).watched->empty());
  CHECK(f.txns.watched_keys() == 1);
  f.txns.Forget(2);
  CHECK(f.txns.watched_keys() == 0);
  CHECK(f.txns.Find(2) == nullptr);
}

TEST_CASE("Transactions: deleting a watched key modifies it; an absent key stays unmodified") {
  Fixture f;
  REQUIRE(f.Set("live").ok());
  f.txns.Watch(1, "live", f.Live("live"));
  f.txns.Watch(2, "absent", f.Live("absent"));
  REQUIRE(f.keyspace.Delete("live", f.now).ok());
  CHECK(f.txns.Of(1).dirty_cas);
  // DEL of an absent key writes nothing.
  REQUIRE(f.keyspace.Delete("absent", f.now).ok());
  CHECK_FALSE(f.txns.Of(2).dirty_cas);
  // Created after WATCH: modified.
  REQUIRE(f.Set("absent").ok());
  CHECK(f.txns.Of(2).dirty_cas);
}

TEST_CASE("Transactions: FLUSHALL modifies watched keys that existed") {
  Fixture f;
  REQUIRE(f.Set("k").ok());
  f.txns.Watch(1, "k", f.Live("k"));
  f.txns.Watch(2, "absent", f.Live("absent"));
  f.keyspace.FlushAll();
  CHECK(f.txns.Of(1).dirty_cas);
  CHECK_FALSE(f.txns.Of(2).dirty_cas);
}

TEST_CASE("Transactions: a watched key that expired since WATCH is stale") {
  Fixture f;
  REQUIRE(f.Set("k", f.now + 100).ok());
  f.txns.Watch(1, "k", f.Live("k"));
  auto live = [&](std::string_view key) { return f.Live(key); };
  CHECK_FALSE(f.txns.Stale(f.txns.Of(1), live));
  f.now += 100;
  CHECK(f.txns.Stale(f.txns.Of(1), live));
  // Already expired when watched: not stale.
  f.txns.Unwatch(1);
  f.txns.Watch(1, "k", f.Live("k"));
  CHECK_FALSE(f.txns.Stale(f.txns.Of(1), live));
}

}  // namespace
}  // namespace shoal::server
