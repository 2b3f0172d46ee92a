// Persistence: start-up replay of the append-only log into a keyspace,
// logging through the keyspace's change feed with group commit, flushes and
// drops, and a rewrite that loses nothing written while it runs.

#include "server/persistence.h"

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/config.h"
#include "server/log.h"
#include "storage/actor_table.h"
#include "storage/dot_counter.h"
#include "storage/keyspace.h"
#include "storage/log_format.h"
#include "storage/log_writer.h"
#include "storage/object.h"
#include "storage/store.h"
#include "tests/unit/storage/temp_dir.h"

namespace shoal::server {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

// One node's storage and log over a directory: what Server::Start builds.
struct Node {
  explicit Node(const std::string& dir, AppendFsync fsync = AppendFsync::kNo) {
    config.dir = dir;
    config.appendonly = true;
    config.appendfsync = fsync;
    logger.set_level(LogLevel::kWarning);
  }
  ~Node() { CHECK(persistence.Close().ok()); }

  // Replays the log and subscribes the log to the feed, as the server does.
  void Start() {
    REQUIRE(persistence.Load(keyspace, actors, kNow).ok());
    keyspace.changes().Subscribe(&persistence);
  }

  void Set(const std::string& key, const std::string& value) {
    REQUIRE(keyspace.Put(key, storage::Version::Bytes(value, kNow), kNow).ok());
  }
  // The key's one value, "" if absent.
  std::string Value(const std::string& key) {
    auto v = keyspace.Single(key, kNow);
    REQUIRE(v.ok());
    return v.value().value_or("");
  }
  // What the file holds once the log writer's thread wrote what was queued
  // (a commit of a megabyte or more is written there).
  uint64_t FileSize() {
    REQUIRE(persistence.Drain().ok());
    return std::filesystem::file_size(config.dir + "/" + config.appendfilename);
  }

  Config config;
  Logger logger;
  storage::Store store;
  storage::ActorTable actors;
  storage::DotCounter dots;
  storage::ActorId self = actors.Intern(std::string(40, 'a')).value();
  storage::Keyspace keyspace{store, actors, self, dots};
  Persistence persistence{config, logger, store};
};

TEST_CASE("Load replays a log into the keyspace") {
  storage::testing::TempDir dir("shoal-persistence");
  {
    // A log written record by record, by another node (node id "b...").
    storage::ActorTable actors;
    const storage::ActorId writer = actors.Intern(std::string(40, 'b')).value();
    storage::PosixEnv env;
    auto log = storage::LogWriter::Open(&env, dir.File("appendonly.aof"));
    REQUIRE(log.ok());
    // Each key's object, as that node's keyspace evolves it: a later
    // record of a key supersedes the earlier one.
    std::map<std::string, storage::Object> objects;
    auto put = [&](const std::string& key, const std::string& value) {
      storage::Object& obj = objects[key];
      obj.Put(storage::Version::Bytes(value, kNow), writer);
      std::string bytes;
      obj.EncodeWithNodeIds(actors, &bytes);
      log.value()->AppendPut(key, bytes);
    };
    put("gone", "before the flush");
    log.value()->AppendFlushAll();
    put("a", "1");
    put("b", "2");
    put("a", "3");
    REQUIRE(log.value()->Write().ok());
  }
  Node node(dir.path());
  node.Start();
  CHECK(node.persistence.Info().loaded_records == 5);
  CHECK(node.store.size() == 2);
  CHECK(node.Value("a") == "3");
  CHECK(node.Value("b") == "2");
  CHECK(node.Value("gone").empty());
}

TEST_CASE("changes through the feed are logged, and written on Commit (group commit)") {
  storage::testing::TempDir dir("shoal-persistence");
  {
    Node node(dir.path(), AppendFsync::kAlways);
    node.Start();
    CHECK(node.persistence.enabled());
    const uint64_t empty = node.FileSize();

    node.Set("a", "1");
    node.Set("b", "2");
    REQUIRE(node.keyspace.IncrBy("n", 5, kNow).ok());
    REQUIRE(node.keyspace.Delete("b", kNow).ok());
    // Logged in memory only: nothing reached the file yet.
    CHECK(node.persistence.Info().buffer_length > 0);
    CHECK(node.FileSize() == empty);

    // One Commit writes the whole batch.
    REQUIRE(node.persistence.Commit().ok());
    CHECK(node.persistence.Info().buffer_length == 0);
    CHECK(node.FileSize() > empty);
    CHECK(node.FileSize() == node.persistence.Info().current_size);

    // A drop (eviction) is logged too: the key is not resurrected.
    node.Set("evicted", "x");
    node.persistence.OnDrop("evicted");
    REQUIRE(node.persistence.Commit().ok());
  }
  Node again(dir.path());
  again.Start();
  CHECK(again.Value("a") == "1");
  CHECK(again.Value("b").empty());  // deleted (its tombstone was logged)
  CHECK(again.Value("n") == "5");
  CHECK(again.Value("evicted").empty());
  CHECK(again.persistence.Info().loaded_records == 6);
}

TEST_CASE("a flush is logged") {
  storage::testing::TempDir dir("shoal-persistence");
  {
    Node node(dir.path());
    node.Start();
    node.Set("old", "1");
    node.keyspace.FlushAll();
    node.Set("new", "2");
    REQUIRE(node.persistence.Commit().ok());
  }
  Node again(dir.path());
  again.Start();
  CHECK(again.Value("old").empty());
  CHECK(again.Value("new") == "2");
  CHECK(again.store.size() == 1);
}

TEST_CASE("the replay itself is not logged again") {
  storage::testing::TempDir dir("shoal-persistence");
  uint64_t size = 0;
  {
    Node node(dir.path());
    node.Start();
    for (int i = 0; i < 10; ++i) node.Set("k" + std::to_string(i), "v");
    REQUIRE(node.persistence.Commit().ok());
    size = node.FileSize();
  }
  Node again(dir.path());
  again.Start();
  REQUIRE(again.persistence.Commit().ok());
  CHECK(again.FileSize() == size);
}

TEST_CASE("a rewrite under writes keeps everything, and compacts") {
  storage::testing::TempDir dir("shoal-persistence");
  constexpr int kKeys = 20'000;
  constexpr int kWritingSteps = 50;
  uint64_t before = 0;
  std::vector<std::pair<std::string, std::string>> expected;
  {
    Node node(dir.path());
    node.Start();
    // Every key written twice: the log holds two records a key.
    for (int round = 0; round < 2; ++round) {
      for (int i = 0; i < kKeys; ++i) {
        node.Set("k" + std::to_string(i), "r" + std::to_string(round));
      }
      REQUIRE(node.persistence.Commit().ok());
    }
    before = node.FileSize();

    REQUIRE(node.persistence.StartRewrite().ok());
    CHECK_FALSE(node.persistence.StartRewrite().ok());  // one at a time
    // Loop iterations as the server runs them: writes, group commit, a
    // bounded step of the rewrite. The writes (overwrites of keys copied and
    // not yet copied, new keys, deletes) go to both files. Then no more
    // writes, until the rewrite thread has drained and the file switches.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int step = 0; node.persistence.Info().rewrite_in_progress; ++step) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      if (step < kWritingSteps) {
        for (int j = 0; j < 20; ++j) {
          const int i = (step * 397 + j * 1009) % kKeys;
          node.Set("k" + std::to_string(i), "during");
        }
        node.Set("new" + std::to_string(step), "n");
        REQUIRE(node.keyspace.Delete("k" + std::to_string(kKeys - 1 - step), kNow).ok());
        REQUIRE(node.persistence.Commit().ok());
      } else {
        std::this_thread::yield();  // the rewrite thread is writing
      }
      REQUIRE(node.persistence.RewriteStep(kNow).ok());
    }
    CHECK(node.persistence.Info().rewrites == 1);
    CHECK(node.persistence.Info().last_rewrite_ok);
    // Writes after the switch land in the new file.
    node.Set("after", "yes");
    REQUIRE(node.persistence.Commit().ok());

    // What the node holds is exactly what a replay must give back.
    node.store.ForEach(
        kNow, [&](const storage::EntryView& e) { expected.emplace_back(std::string(e.key), ""); });
    for (auto& [key, value] : expected) value = node.Value(key);
  }
  // Two records a key became one.
  CHECK(std::filesystem::file_size(dir.File("appendonly.aof")) < before * 3 / 4);

  Node again(dir.path());
  again.Start();
  CHECK(again.store.size() == expected.size());
  for (const auto& [key, value] : expected) REQUIRE(again.Value(key) == value);
  CHECK(again.Value("after") == "yes");
}

// SADD of `members` to `key`, as the set commands write it.
void Sadd(storage::Keyspace& ks, const std::string& key, const std::vector<std::string>& members) {
  REQUIRE(ks.ModifySet(key, kNow,
                       [&](storage::OrSet& s,
                           storage::Keyspace::ContainerWrite& w) -> storage::Result<bool> {
                         for (const auto& m : members) s.Add(m, w.dot);
                         return true;
                       })
              .ok());
}

std::string Stored(storage::Keyspace& ks, const std::string& key) {
  auto obj = ks.Load(key, kNow);
  REQUIRE(obj.ok());
  std::string out;
  obj.value().EncodeWithNodeIds(ks.actors(), &out);
  return out;
}

std::vector<std::string> Members(int n, const std::string& prefix) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(prefix + std::to_string(1000000000 + i));
  return out;
}

TEST_CASE("container writes log deltas; replay redoes them exactly") {
  storage::testing::TempDir dir("shoal-persistence");
  std::string expected, expected_hash;
  uint64_t per_sadd = 0;
  {
    Node node(dir.path());
    node.Start();
    Sadd(node.keyspace, "s", Members(10000, "member-"));  // 16-byte members
    REQUIRE(node.persistence.Commit().ok());
    const uint64_t base = node.FileSize();
    for (int i = 0; i < 1000; ++i) {
      Sadd(node.keyspace, "s", {"added-" + std::to_string(1000000000 + i)});
      if (i % 7 == 0) {
        REQUIRE(node.keyspace
                    .ModifySet("s", kNow,
                               [&](storage::OrSet& s,
                                   storage::Keyspace::ContainerWrite&) -> storage::Result<bool> {
                                 return s.Remove("member-" + std::to_string(1000000000 + i));
                               })
                    .ok());
      }
      REQUIRE(node.keyspace
                  .ModifyHash("h", kNow,
                              [&](storage::OrHash& h,
                                  storage::Keyspace::ContainerWrite& w) -> storage::Result<bool> {
                                h.Set("f" + std::to_string(i % 50), std::to_string(i), w.dot,
                                      w.now_ms);
                                return true;
                              })
                  .ok());
      if (i == 500) REQUIRE(node.persistence.Commit().ok());
    }
    REQUIRE(node.persistence.Commit().ok());
    const uint64_t logged = node.FileSize() - base;
    // 1000 SADDs, 143 SREMs and 1000 HSETs of a 50-field hash.
    per_sadd = logged / 2143;
    MESSAGE("log bytes per write on a 10,000-member set (deltas): "
            << per_sadd << "; the set's object is " << Stored(node.keyspace, "s").size()
            << " bytes");
    expected = Stored(node.keyspace, "s");
    expected_hash = Stored(node.keyspace, "h");
  }
  CHECK(per_sadd < 1000);
  Node again(dir.path());
  again.Start();
  CHECK(Stored(again.keyspace, "s") == expected);
  CHECK(Stored(again.keyspace, "h") == expected_hash);
  // Writing on after the replay keeps logging deltas that replay again.
  Sadd(again.keyspace, "s", {"after-restart"});
  REQUIRE(again.persistence.Commit().ok());
  const std::string after = Stored(again.keyspace, "s");
  Node third(dir.path());
  third.Start();
  CHECK(Stored(third.keyspace, "s") == after);
}

TEST_CASE("a rewrite during container writes keeps whole objects; deltas after it replay") {
  storage::testing::TempDir dir("shoal-persistence");
  std::string expected;
  {
    Node node(dir.path());
    node.Start();
    for (int k = 0; k < 50; ++k) Sadd(node.keyspace, "s" + std::to_string(k), Members(300, "m"));
    REQUIRE(node.persistence.Commit().ok());
    REQUIRE(node.persistence.StartRewrite().ok());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int step = 0; node.persistence.Info().rewrite_in_progress; ++step) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      if (step < 20) {
        for (int k = 0; k < 50; k += 3) {
          Sadd(node.keyspace, "s" + std::to_string(k), {"during-" + std::to_string(step)});
        }
        REQUIRE(node.persistence.Commit().ok());
      } else {
        std::this_thread::yield();
      }
      REQUIRE(node.persistence.RewriteStep(kNow).ok());
    }
    CHECK(node.persistence.Info().last_rewrite_ok);
    for (int k = 0; k < 50; ++k) Sadd(node.keyspace, "s" + std::to_string(k), {"after"});
    REQUIRE(node.persistence.Commit().ok());
    for (int k = 0; k < 50; ++k) expected += Stored(node.keyspace, "s" + std::to_string(k));
  }
  Node again(dir.path());
  again.Start();
  std::string replayed;
  for (int k = 0; k < 50; ++k) replayed += Stored(again.keyspace, "s" + std::to_string(k));
  CHECK(replayed == expected);
}

TEST_CASE("a delta whose base is missing from the log is damage") {
  storage::testing::TempDir dir("shoal-persistence");
  std::string delta;
  {
    // A delta record logged on its own (its base's record lost).
    Node node(dir.path());
    node.Start();
    Sadd(node.keyspace, "s", Members(300, "m"));
    struct Grab final : storage::ChangeListener {
      std::string delta;
      void OnChange(const storage::Change& c) override { delta = std::string(c.delta()); }
      void OnFlush() override {}
    } grab;
    node.keyspace.changes().Subscribe(&grab);
    Sadd(node.keyspace, "s", {"x"});
    node.keyspace.changes().Unsubscribe(&grab);
    delta = grab.delta;
    REQUIRE_FALSE(delta.empty());
  }
  std::filesystem::remove(dir.File("appendonly.aof"));
  {
    storage::PosixEnv env;
    auto log = storage::LogWriter::Open(&env, dir.File("appendonly.aof"));
    REQUIRE(log.ok());
    std::string frame;
    storage::AppendDeltaRecord(&frame, "s", delta);
    log.value()->AppendFramed(frame);
    REQUIRE(log.value()->Write().ok());
  }
  {
    Node node(dir.path());
    auto st = node.persistence.Load(node.keyspace, node.actors, kNow);
    CHECK_FALSE(st.ok());
    CHECK(st.message().find("bad delta at offset 16") != std::string::npos);
  }
  Node skipping(dir.path());
  skipping.config.aof_load_corrupt = AofLoadCorrupt::kSkip;
  REQUIRE(skipping.persistence.Load(skipping.keyspace, skipping.actors, kNow).ok());
  CHECK(skipping.store.size() == 0);
}

}  // namespace
}  // namespace shoal::server
