#include "cluster/hint_store.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "storage/file.h"
#include "storage/log_format.h"
#include "storage/log_rewriter.h"
#include "tests/unit/storage/temp_dir.h"

namespace shoal::cluster {
namespace {

using storage::Code;
using storage::FaultInjectionEnv;
using storage::PosixEnv;
using storage::Result;
using storage::Status;
using storage::testing::TempDir;

// target -> key -> object
using Model = std::map<std::string, std::map<std::string, std::string>>;

// Objects in these tests are sets of comma-separated tokens and merge is set
// union: associative, commutative and idempotent, as object merge is.
Result<std::string> UnionMerge(std::string_view a, std::string_view b) {
  std::set<std::string> tokens;
  for (std::string_view s : {a, b}) {
    std::stringstream in{std::string(s)};
    std::string tok;
    while (std::getline(in, tok, ',')) {
      if (!tok.empty()) tokens.insert(tok);
    }
  }
  std::string out;
  for (const std::string& t : tokens) {
    if (!out.empty()) out += ',';
    out += t;
  }
  return out;
}

HintStoreOptions TestOptions() {
  HintStoreOptions o;
  o.merge = UnionMerge;
  o.max_age_ms = 0;
  o.max_bytes = 0;
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << bytes;
  REQUIRE(out.good());
}

std::unique_ptr<HintStore> OpenOk(storage::Env* env, const std::string& dir,
                                  const HintStoreOptions& options = TestOptions()) {
  auto s = HintStore::Open(env, dir, options);
  if (!s.ok()) FAIL(s.status().message());
  return std::move(s).value();
}

void AddOk(HintStore& store, std::string_view target, std::string_view key, std::string_view object,
           int64_t now_ms = 0) {
  auto r = store.Add(target, key, object, now_ms);
  if (!r.ok()) FAIL(r.status().message());
}

std::vector<HintItem> All(const HintStore& store, std::string_view target) {
  return store.NextBatch(target, std::numeric_limits<size_t>::max(),
                         std::numeric_limits<uint64_t>::max());
}

// Everything pending, as the model sees it.
Model Dump(const HintStore& store) {
  Model m;
  for (const std::string& t : store.Targets()) {
    for (HintItem& h : All(store, t)) m[t][h.key] = std::move(h.object);
  }
  return m;
}

uint64_t SeqOf(const HintStore& store, std::string_view target, std::string_view key) {
  for (const HintItem& h : All(store, target)) {
    if (h.key == key) return h.seq;
  }
  FAIL("no hint for " << key);
  return 0;
}

TEST_CASE("hint store: committed hints come back after reopen, uncommitted ones do not") {
  TempDir dir;
  PosixEnv env;
  {
    auto store = OpenOk(&env, dir.path());
    AddOk(*store, "node-b", "k1", "v1", 10);
    AddOk(*store, "node-b", "k2", "v2", 11);
    AddOk(*store, "node-c", "k1", "w1", 12);
    REQUIRE(store->Commit().ok());
    AddOk(*store, "node-c", "lost", "x", 13);  // never committed: a crash loses it
  }
  auto store = OpenOk(&env, dir.path());
  CHECK(store->recovery_warnings().empty());
  CHECK(Dump(*store) ==
        Model{{"node-b", {{"k1", "v1"}, {"k2", "v2"}}}, {"node-c", {{"k1", "w1"}}}});
  CHECK(store->Targets() == std::vector<std::string>{"node-b", "node-c"});
  CHECK(store->Pending("node-b").hints == 2);
  CHECK(store->Pending("node-b").bytes == 8);
  CHECK(store->Pending("node-z").hints == 0);
  CHECK(store->stats().recovered_hints == 3);
  CHECK(store->stats().pending_bytes == 12);
  auto b = All(*store, "node-b");
  REQUIRE(b.size() == 2);
  CHECK(b[0].first_ms == 10);
  CHECK(b[1].first_ms == 11);

  // Sequence numbers keep growing across restarts.
  const uint64_t before = SeqOf(*store, "node-c", "k1");
  AddOk(*store, "node-d", "k", "v");
  CHECK(SeqOf(*store, "node-d", "k") > before);
  REQUIRE(store->Close().ok());
  store = OpenOk(&env, dir.path());
  CHECK(Dump(*store).at("node-d").at("k") == "v");
}

TEST_CASE("hint store: delivered hints do not come back") {
  TempDir dir;
  PosixEnv env;
  {
    auto store = OpenOk(&env, dir.path());
    AddOk(*store, "b", "k1", "v1");
    AddOk(*store, "b", "k2", "v2");
    REQUIRE(store->Commit().ok());
    auto batch = store->NextBatch("b", 10, 1000);
    REQUIRE(batch.size() == 2);
    CHECK(store->Delivered("b", batch[0].key, batch[0].seq));
    CHECK_FALSE(store->Delivered("b", batch[0].key, batch[0].seq));  // already gone
    CHECK_FALSE(store->Delivered("nobody", "k2", batch[1].seq));
    REQUIRE(store->Commit().ok());
    CHECK(store->stats().delivered == 1);
    CHECK(store->stats().delivered_bytes == 4);
  }
  auto store = OpenOk(&env, dir.path());
  CHECK(Dump(*store) == Model{{"b", {{"k2", "v2"}}}});
  auto batch = store->NextBatch("b", 10, 1000);
  REQUIRE(batch.size() == 1);
  CHECK(store->Delivered("b", "k2", batch[0].seq));
  REQUIRE(store->Commit().ok());
  CHECK(store->Targets().empty());
  store = OpenOk(&env, dir.path());
  CHECK(Dump(*store).empty());
}

TEST_CASE("hint store: a newer hint merges, and an ack of the older one keeps it") {
  TempDir dir;
  PosixEnv env;
  auto store = OpenOk(&env, dir.path());
  AddOk(*store, "b", "k", "a,c");
  auto sent = store->NextBatch("b", 1, 100);  // in flight
  REQUIRE(sent.size() == 1);
  auto r = store->Add("b", "k", "b", 5);
  REQUIRE(r.ok());
  CHECK(r.value().merged);
  CHECK(r.value().seq > sent[0].seq);
  CHECK(store->Pending("b").hints == 1);
  CHECK(Dump(*store) == Model{{"b", {{"k", "a,b,c"}}}});
  CHECK(store->stats().stored == 1);
  CHECK(store->stats().merged == 1);

  CHECK_FALSE(store->Delivered("b", "k", sent[0].seq));  // the owner has only "a,c"
  REQUIRE(store->Commit().ok());
  store = OpenOk(&env, dir.path());
  CHECK(Dump(*store) == Model{{"b", {{"k", "a,b,c"}}}});
  CHECK(SeqOf(*store, "b", "k") == r.value().seq);
  CHECK(store->Delivered("b", "k", r.value().seq));
  CHECK(store->Pending("b").hints == 0);
}

TEST_CASE("hint store: without a merge function a newer hint replaces the older") {
  TempDir dir;
  PosixEnv env;
  HintStoreOptions o = TestOptions();
  o.merge = nullptr;
  auto store = OpenOk(&env, dir.path(), o);
  AddOk(*store, "b", "k", "old");
  AddOk(*store, "b", "k", "new");
  CHECK(Dump(*store) == Model{{"b", {{"k", "new"}}}});
}

TEST_CASE("hint store: a failing merge refuses the add and changes nothing") {
  TempDir dir;
  PosixEnv env;
  HintStoreOptions o = TestOptions();
  o.merge = [](std::string_view, std::string_view) -> Result<std::string> {
    return Status::Corruption("bad object");
  };
  auto store = OpenOk(&env, dir.path(), o);
  AddOk(*store, "b", "k", "v");
  auto r = store->Add("b", "k", "w", 0);
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == Code::kCorruption);
  CHECK(Dump(*store) == Model{{"b", {{"k", "v"}}}});
  CHECK(store->Add("", "k", "v", 0).status().code() == Code::kInvalid);
}

TEST_CASE("hint store: NextBatch respects items, bytes and the cursor") {
  TempDir dir;
  PosixEnv env;
  auto store = OpenOk(&env, dir.path());
  for (char c = 'a'; c <= 'e'; ++c) AddOk(*store, "b", std::string(1, c), "0123456789");
  auto first = store->NextBatch("b", 2, 1000);
  REQUIRE(first.size() == 2);
  CHECK(first[0].key == "a");
  CHECK(first[1].key == "b");
  auto next = store->NextBatch("b", 10, 22, std::string_view(first.back().key));
  REQUIRE(next.size() == 2);  // 11 bytes each
  CHECK(next[0].key == "c");
  CHECK(next[1].key == "d");
  // A hint larger than max_bytes still goes out alone.
  auto big = store->NextBatch("b", 10, 1, std::string_view("d"));
  REQUIRE(big.size() == 1);
  CHECK(big[0].key == "e");
  CHECK(store->NextBatch("b", 10, 1000, std::string_view("e")).empty());
  CHECK(store->NextBatch("nobody", 10, 1000).empty());
}

// A log written one record per commit, with the model state after each.
struct History {
  std::string bytes;
  std::vector<uint64_t> ends;  // log size after each commit
  std::vector<Model> states;   // pending hints after each commit
};

History WriteHistory(const std::string& dir) {
  PosixEnv env;
  History h;
  auto store = OpenOk(&env, dir);
  auto commit = [&] {
    REQUIRE(store->Commit().ok());
    h.ends.push_back(store->stats().log_bytes);
    h.states.push_back(Dump(*store));
  };
  commit();  // header and marker only
  AddOk(*store, "b", "k1", "v1");
  commit();
  AddOk(*store, "c", "k1", "w");
  commit();
  AddOk(*store, "b", "k2", "v2");
  commit();
  AddOk(*store, "b", "k1", "v3");
  commit();
  CHECK(store->Delivered("b", "k2", SeqOf(*store, "b", "k2")));
  commit();
  CHECK(store->DropTarget("c") == 1);
  commit();
  AddOk(*store, "c", "k9", std::string(300, 'x'));
  commit();
  h.bytes = ReadFile(store->path());
  REQUIRE(h.bytes.size() == h.ends.back());
  return h;
}

TEST_CASE("hint store: a torn tail at every offset recovers the committed prefix") {
  TempDir src;
  History h = WriteHistory(src.path());
  PosixEnv env;
  for (size_t cut = 0; cut <= h.bytes.size(); ++cut) {
    CAPTURE(cut);
    TempDir dir;
    WriteFile(dir.File("hints.log"), h.bytes.substr(0, cut));
    auto store = OpenOk(&env, dir.path());
    // The state of the last commit whose records lie wholly before the cut.
    Model expected;
    // An empty file and a bare header are well-formed logs, not torn ones.
    bool boundary = cut == 0 || cut == storage::kLogHeaderSize;
    for (size_t i = 0; i < h.ends.size(); ++i) {
      if (h.ends[i] <= cut) expected = h.states[i];
      if (h.ends[i] == cut) boundary = true;
    }
    CHECK(Dump(*store) == expected);
    CHECK(store->recovery_warnings().empty() == boundary);
    // The torn record is cut off, so appending continues a well-formed log.
    AddOk(*store, "z", "after", "cut");
    REQUIRE(store->Commit().ok());
    store.reset();
    store = OpenOk(&env, dir.path());
    CHECK(store->recovery_warnings().empty());
    expected["z"]["after"] = "cut";
    CHECK(Dump(*store) == expected);
  }
}

TEST_CASE("hint store: a bit flip before the last record is reported as corruption") {
  TempDir src;
  History h = WriteHistory(src.path());
  PosixEnv env;
  const size_t last_frame = h.ends[h.ends.size() - 2];
  // Every written value of each (target, key), for the skip_corrupt check.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> ever;
  for (const Model& m : h.states) {
    for (const auto& [t, keys] : m) {
      for (const auto& [k, v] : keys) ever[{t, k}].insert(v);
    }
  }
  for (size_t at = 0; at < last_frame; ++at) {
    for (int bit : {0, 5}) {
      CAPTURE(at);
      CAPTURE(bit);
      TempDir dir;
      std::string bytes = h.bytes;
      bytes[at] = static_cast<char>(bytes[at] ^ (1 << bit));
      WriteFile(dir.File("hints.log"), bytes);
      auto bad = HintStore::Open(&env, dir.path(), TestOptions());
      REQUIRE_FALSE(bad.ok());
      CHECK(bad.status().code() == Code::kCorruption);
      CHECK(bad.status().message().find(dir.File("hints.log")) == 0);

      if (at < storage::kLogHeaderSize) continue;  // a bad header is never skipped
      HintStoreOptions skip = TestOptions();
      skip.skip_corrupt = true;
      auto store = HintStore::Open(&env, dir.path(), skip);
      REQUIRE(store.ok());
      CHECK_FALSE(store.value()->recovery_warnings().empty());
      for (const auto& [t, keys] : Dump(*store.value())) {
        for (const auto& [k, v] : keys) CHECK(ever[{t, k}].count(v) == 1);
      }
    }
  }
}

TEST_CASE("hint store: a file that is not a hint log is refused") {
  TempDir dir;
  PosixEnv env;
  std::string bytes;
  storage::AppendLogHeader(&bytes);
  storage::AppendPutRecord(&bytes, "key", "an append-only log record");
  WriteFile(dir.File("hints.log"), bytes);
  auto r = HintStore::Open(&env, dir.path(), TestOptions());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().message().find("not a hint log") != std::string::npos);
}

// Adds and delivers until most of the log is dead.
Model Churn(HintStore& store, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    std::string key = "k" + std::to_string(i % 7);
    AddOk(store, "b", key, "v" + std::to_string(i));
    if (i % 3 != 0) CHECK(store.Delivered("b", key, SeqOf(store, "b", key)));
  }
  AddOk(store, "c", "kc", "only");
  REQUIRE(store.Commit().ok());
  return Dump(store);
}

TEST_CASE("hint store: compaction keeps exactly the live hints") {
  TempDir dir;
  PosixEnv env;
  HintStoreOptions o = TestOptions();
  o.compact_min_bytes = std::numeric_limits<uint64_t>::max();  // by hand only
  auto store = OpenOk(&env, dir.path(), o);
  Model live = Churn(*store, 300);
  const uint64_t before = store->stats().log_bytes;
  const std::string old_bytes = ReadFile(store->path());
  REQUIRE(store->CompactNow().ok());
  CHECK(store->stats().compactions == 1);
  CHECK(store->stats().log_bytes < before / 5);
  CHECK(store->stats().log_bytes == std::filesystem::file_size(store->path()));
  CHECK_FALSE(std::filesystem::exists(storage::LogRewriter::TempPath(store->path())));
  CHECK(Dump(*store) == live);

  // Appends continue on the new file.
  AddOk(*store, "d", "k", "v");
  REQUIRE(store->Commit().ok());
  live["d"]["k"] = "v";
  const uint64_t seq = SeqOf(*store, "d", "k");
  store.reset();
  store = OpenOk(&env, dir.path(), o);
  CHECK(store->recovery_warnings().empty());
  CHECK(Dump(*store) == live);
  // Sequence numbers survive compaction (the marker carries the next one).
  AddOk(*store, "d", "k2", "v");
  CHECK(SeqOf(*store, "d", "k2") > seq);

  // Until the directory fsync a crash may leave either file: both hold the
  // same pending hints.
  TempDir old_dir;
  WriteFile(old_dir.File("hints.log"), old_bytes);
  auto old_store = OpenOk(&env, old_dir.path(), o);
  live["d"].erase("k");
  if (live["d"].empty()) live.erase("d");
  CHECK(Dump(*old_store) == live);
}

TEST_CASE("hint store: Commit compacts in steps while hints keep changing") {
  TempDir dir;
  PosixEnv env;
  HintStoreOptions o = TestOptions();
  o.compact_min_bytes = 4096;
  o.compact_step_bytes = 1;  // one hint copied per Commit
  auto store = OpenOk(&env, dir.path(), o);
  for (int i = 0; i < 40; ++i)
    AddOk(*store, "t" + std::to_string(i % 4), "k" + std::to_string(i), "v");
  int i = 0;
  while (!store->compacting()) {  // churn one key until the log is mostly dead
    REQUIRE(i < 10000);
    AddOk(*store, "t0", "churn", "v" + std::to_string(i++));
    CHECK(store->Delivered("t0", "churn", SeqOf(*store, "t0", "churn")));
    REQUIRE(store->Commit().ok());
  }
  // Change hints behind and ahead of the copy's cursor, one commit at a time.
  std::mt19937 rng(7);
  for (int step = 0; step < 120; ++step) {
    const std::string target = "t" + std::to_string(rng() % 5);
    const std::string key = "k" + std::to_string(rng() % 50);
    switch (rng() % 4) {
      case 0:
      case 1:
        AddOk(*store, target, key, "s" + std::to_string(step));
        break;
      case 2:
        for (const HintItem& h : store->NextBatch(target, 2, 100)) {
          CHECK(store->Delivered(target, h.key, h.seq));
        }
        break;
      default:
        if (step % 40 == 3) store->DropTarget(target);
        break;
    }
    REQUIRE(store->Commit().ok());
  }
  while (store->compacting()) REQUIRE(store->Commit().ok());  // the disk catches up
  CHECK(store->stats().compactions >= 1);                     // the churn may have started another
  CHECK(store->stats().compaction_failures == 0);
  const Model live = Dump(*store);
  CHECK_FALSE(live.empty());
  store.reset();
  store = OpenOk(&env, dir.path(), o);
  CHECK(Dump(*store) == live);
}

TEST_CASE("hint store: a compaction failing at any step leaves a good log") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  HintStoreOptions o = TestOptions();
  o.compact_min_bytes = std::numeric_limits<uint64_t>::max();
  const std::string tmp = ".rewrite.tmp";

  // Runs one compaction with `inject`ed; false if it did not fail.
  auto run = [&](const std::function<void(FaultInjectionEnv&)>& inject) {
    TempDir d;
    auto store = OpenOk(&env, d.path(), o);
    Model live = Churn(*store, 60);
    const std::string before = ReadFile(store->path());
    inject(env);
    Status s = store->CompactNow();
    env.Reset();
    if (s.ok()) return false;
    CHECK(store->status().ok());  // not fatal
    CHECK(store->stats().compaction_failures == 1);
    CHECK(store->last_compaction_error() == s.message());
    CHECK(ReadFile(store->path()) == before);
    CHECK_FALSE(std::filesystem::exists(storage::LogRewriter::TempPath(store->path())));

    // A crash now finds the old log; carrying on works too.
    auto crashed = OpenOk(&env, d.path(), o);
    CHECK(Dump(*crashed) == live);
    crashed.reset();
    AddOk(*store, "e", "k", "v");
    REQUIRE(store->Commit().ok());
    live["e"]["k"] = "v";
    REQUIRE(store->CompactNow().ok());
    store.reset();
    store = OpenOk(&env, d.path(), o);
    CHECK(Dump(*store) == live);
    return true;
  };
  SUBCASE("creating the temporary file") {
    CHECK(run([](FaultInjectionEnv& e) { e.FailCreate(true); }));
  }
  SUBCASE("fsync of the temporary file") {
    CHECK(run([&](FaultInjectionEnv& e) { e.FailSync(true, tmp); }));
  }
  SUBCASE("rename") {
    CHECK(run([](FaultInjectionEnv& e) { e.FailRename(true); }));
  }
  SUBCASE("a full disk after every byte of the temporary file") {
    uint64_t budget = 0;
    while (run([&](FaultInjectionEnv& e) { e.SetWriteBudget(budget, tmp); })) {
      CAPTURE(budget);
      ++budget;
      REQUIRE(budget < 100000);
    }
    CHECK(budget > storage::kLogHeaderSize);
  }
}

TEST_CASE("hint store: a compaction failing under Commit is retried once the log doubled") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  HintStoreOptions o = TestOptions();
  o.compact_min_bytes = 4096;
  auto store = OpenOk(&env, dir.path(), o);
  AddOk(*store, "b", "stays", "v");
  int i = 0;
  auto churn = [&] {
    AddOk(*store, "b", "churn", "v" + std::to_string(i++));
    CHECK(store->Delivered("b", "churn", SeqOf(*store, "b", "churn")));
    REQUIRE(store->Commit().ok());  // never fatal
  };
  env.SetWriteBudget(0, ".rewrite.tmp");
  while (store->stats().compaction_failures == 0) {
    REQUIRE(i < 100000);
    churn();
  }
  CHECK(store->last_compaction_error().find("injected") != std::string::npos);
  const uint64_t failed_at = store->stats().log_bytes;
  while (store->stats().log_bytes < 2 * failed_at) {
    CHECK_FALSE(store->compacting());
    churn();
  }
  env.Reset();
  while (store->stats().compactions == 0) {
    REQUIRE(i < 100000);
    churn();
  }
  // At least the injected one. Under a loaded machine a second attempt was
  // once counted too (ctest -j2 beside the fault tests); the property that
  // matters, no retry before the log doubled, is checked in the loop above.
  CHECK(store->stats().compaction_failures >= 1);
  CHECK(store->stats().log_bytes < failed_at);
  store.reset();
  store = OpenOk(&env, dir.path(), o);
  CHECK(Dump(*store) == Model{{"b", {{"stays", "v"}}}});
}

TEST_CASE("hint store: a failed directory fsync after the rename is fatal") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  HintStoreOptions o = TestOptions();
  o.compact_min_bytes = std::numeric_limits<uint64_t>::max();
  auto store = OpenOk(&env, dir.path(), o);
  Model live = Churn(*store, 60);
  env.FailSyncDir(true);
  Status s = store->CompactNow();
  env.Reset();
  CHECK_FALSE(s.ok());
  CHECK_FALSE(store->status().ok());
  CHECK_FALSE(store->Commit().ok());
  CHECK_FALSE(store->Add("b", "k", "v", 0).ok());
  store.reset();
  store = OpenOk(&env, dir.path(), o);
  CHECK(Dump(*store) == live);
}

TEST_CASE("hint store: a temporary file left by a crashed compaction is ignored") {
  TempDir dir;
  PosixEnv env;
  Model live;
  {
    auto store = OpenOk(&env, dir.path());
    live = Churn(*store, 30);
  }
  const std::string tmp = storage::LogRewriter::TempPath(dir.File("hints.log"));
  WriteFile(tmp, "SHOALAOF garbage of a half-written rewrite");
  auto store = OpenOk(&env, dir.path());
  CHECK(Dump(*store) == live);
  CHECK_FALSE(std::filesystem::exists(tmp));
}

TEST_CASE("hint store: a failed write or fsync is fatal and sticky") {
  PosixEnv posix;
  SUBCASE("write") {
    TempDir dir;
    FaultInjectionEnv env(&posix);
    auto store = OpenOk(&env, dir.path());
    AddOk(*store, "b", "k", "v");
    env.SetWriteBudget(3, "hints.log");
    Status s = store->Commit();
    REQUIRE_FALSE(s.ok());
    CHECK(s.message().find("injected") != std::string::npos);
    env.Reset();
    CHECK_FALSE(store->Commit().ok());
    CHECK_FALSE(store->Add("b", "k2", "v", 0).ok());
    CHECK_FALSE(store->Close().ok());
    store.reset();
    // What reached the disk is a torn tail.
    store = OpenOk(&env, dir.path());
    CHECK(Dump(*store).empty());
    CHECK_FALSE(store->recovery_warnings().empty());
  }
  SUBCASE("fsync") {
    TempDir dir;
    FaultInjectionEnv env(&posix);
    auto store = OpenOk(&env, dir.path());
    AddOk(*store, "b", "k", "v");
    env.FailSync(true, "hints.log");
    CHECK_FALSE(store->Commit().ok());
    env.Reset();
    CHECK_FALSE(store->Commit().ok());
  }
  SUBCASE("appendfsync no does not fsync") {
    TempDir dir;
    FaultInjectionEnv env(&posix);
    HintStoreOptions o = TestOptions();
    o.sync = HintSync::kNo;
    auto store = OpenOk(&env, dir.path(), o);
    const uint64_t syncs = env.sync_count();
    AddOk(*store, "b", "k", "v");
    REQUIRE(store->Commit().ok());
    REQUIRE(store->Close().ok());
    CHECK(env.sync_count() == syncs);
  }
  SUBCASE("appendfsync always fsyncs once per commit that wrote") {
    TempDir dir;
    FaultInjectionEnv env(&posix);
    auto store = OpenOk(&env, dir.path());
    const uint64_t syncs = env.sync_count();
    AddOk(*store, "b", "k", "v");
    AddOk(*store, "b", "k2", "v");
    REQUIRE(store->Commit().ok());
    REQUIRE(store->Commit().ok());  // nothing to write
    CHECK(env.sync_count() == syncs + 1);
  }
  SUBCASE("everysec") {
    TempDir dir;
    HintStoreOptions o = TestOptions();
    o.sync = HintSync::kEverysec;
    auto store = OpenOk(&posix, dir.path(), o);
    AddOk(*store, "b", "k", "v");
    REQUIRE(store->Commit().ok());
    REQUIRE(store->Close().ok());
    store = OpenOk(&posix, dir.path(), o);
    CHECK(Dump(*store) == Model{{"b", {{"k", "v"}}}});
  }
}

TEST_CASE("hint store: hints past the age window are dropped and counted") {
  TempDir dir;
  PosixEnv env;
  HintStoreOptions o = TestOptions();
  o.max_age_ms = 1000;
  auto store = OpenOk(&env, dir.path(), o);
  AddOk(*store, "b", "old", "v", 0);
  AddOk(*store, "b", "young", "v", 600);
  AddOk(*store, "b", "merged", "a", 100);
  AddOk(*store, "b", "merged", "b", 900);  // keeps the first write's age
  CHECK(store->Expire(1000) == 0);         // exactly at the window: kept
  CHECK(store->Expire(1101) == 2);
  CHECK(Dump(*store) == Model{{"b", {{"young", "v"}}}});
  CHECK(store->stats().dropped_expired == 2);
  CHECK(store->stats().dropped() == 2);
  // Add applies the window too; a key re-added after expiry starts afresh.
  AddOk(*store, "b", "merged", "c", 1700);
  CHECK(Dump(*store) == Model{{"b", {{"merged", "c"}}}});
  CHECK(store->stats().dropped_expired == 3);
  REQUIRE(store->Commit().ok());
  store = OpenOk(&env, dir.path(), o);
  CHECK(Dump(*store) == Model{{"b", {{"merged", "c"}}}});
  CHECK(All(*store, "b")[0].first_ms == 1700);
}

TEST_CASE("hint store: the byte budget drops the oldest hints and refuses a too large one") {
  TempDir dir;
  PosixEnv env;
  HintStoreOptions o = TestOptions();
  o.max_bytes = 30;  // key + object bytes
  auto store = OpenOk(&env, dir.path(), o);
  AddOk(*store, "b", "k1", "12345678", 1);  // 10 bytes each
  AddOk(*store, "c", "k2", "12345678", 2);
  AddOk(*store, "b", "k3", "12345678", 3);
  CHECK(store->stats().pending_bytes == 30);
  auto r = store->Add("c", "k4", "12345678", 4);
  REQUIRE(r.ok());
  CHECK(r.value().evicted == 1);
  CHECK(Dump(*store) ==
        Model{{"b", {{"k3", "12345678"}}}, {"c", {{"k2", "12345678"}, {"k4", "12345678"}}}});
  CHECK(store->stats().dropped_over_budget == 1);

  // Merging into the oldest hint evicts others, never the hint just added.
  r = store->Add("c", "k2", "x", 5);
  REQUIRE(r.ok());
  CHECK(r.value().merged);
  CHECK(r.value().evicted == 1);
  CHECK(Dump(*store) == Model{{"c", {{"k2", "12345678,x"}, {"k4", "12345678"}}}});

  auto too_big = store->Add("b", "big", std::string(40, 'x'), 6);
  REQUIRE_FALSE(too_big.ok());
  CHECK(too_big.status().code() == Code::kOutOfMemory);
  CHECK(store->stats().rejected == 1);
  CHECK(Dump(*store) == Model{{"c", {{"k2", "12345678,x"}, {"k4", "12345678"}}}});
  REQUIRE(store->Commit().ok());

  // A smaller budget at the next start applies at the first Expire.
  o.max_bytes = 15;
  store = OpenOk(&env, dir.path(), o);
  CHECK(store->stats().pending_bytes == 22);
  CHECK(store->Expire(7) == 1);
  CHECK(Dump(*store) == Model{{"c", {{"k4", "12345678"}}}});
}

TEST_CASE("hint store: DropTarget forgets a node's hints for good") {
  TempDir dir;
  PosixEnv env;
  auto store = OpenOk(&env, dir.path());
  AddOk(*store, "b", "k1", "v");
  AddOk(*store, "b", "k2", "v");
  AddOk(*store, "c", "k1", "v");
  CHECK(store->DropTarget("b") == 2);
  CHECK(store->DropTarget("b") == 0);
  CHECK(store->stats().dropped_forgotten == 2);
  AddOk(*store, "b", "k3", "new");  // after the forget: kept
  REQUIRE(store->Commit().ok());
  store = OpenOk(&env, dir.path());
  CHECK(Dump(*store) == Model{{"b", {{"k3", "new"}}}, {"c", {{"k1", "v"}}}});
}

// Random operations against a model, with crashes (the store destroyed
// without Close: what was not committed is lost), clean restarts and
// compactions at random points.
TEST_CASE("hint store: random operations match a model across reopens") {
  uint64_t auto_compactions = 0;  // Commit() calls that left one running
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    CAPTURE(seed);
    std::mt19937 rng(seed);
    auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    TempDir dir;
    PosixEnv env;
    HintStoreOptions o = TestOptions();
    o.compact_min_bytes = 512;  // Commit compacts now and then,
    o.compact_step_bytes = 64;  // over several commits
    auto store = OpenOk(&env, dir.path(), o);
    Model current;
    Model committed;
    uint64_t last_seq = 0;
    int token = 0;
    uint64_t compactions = 0;
    for (int step = 0; step < 1500; ++step) {
      CAPTURE(step);
      const uint32_t op = pick(100);
      const std::string target = "n" + std::to_string(pick(3));
      const std::string key = "k" + std::to_string(pick(12));
      if (op < 45) {
        std::string obj = "t" + std::to_string(++token);
        auto r = store->Add(target, key, obj, step);
        REQUIRE(r.ok());
        CHECK(r.value().seq > last_seq);
        last_seq = r.value().seq;
        std::string& cur = current[target][key];
        cur = UnionMerge(cur, obj).value();
      } else if (op < 70) {
        auto batch = store->NextBatch(target, 1 + pick(4), 64);
        for (const HintItem& h : batch) {
          bool stale = pick(4) == 0;
          bool dropped = store->Delivered(target, h.key, stale ? h.seq - 1 : h.seq);
          CHECK(dropped == !stale);
          if (dropped) current[target].erase(h.key);
        }
      } else if (op < 72) {
        store->DropTarget(target);
        current.erase(target);
      } else if (op < 90) {
        REQUIRE(store->Commit().ok());
        committed = current;
        auto_compactions += store->compacting() ? 1 : 0;
      } else if (op < 95) {
        compactions += store->stats().compactions;
        store.reset();  // crash
        current = committed;
        last_seq = 0;  // numbers taken by lost records may be handed out again
        store = OpenOk(&env, dir.path(), o);
      } else if (op < 98) {
        REQUIRE(store->Close().ok());
        committed = current;
        compactions += store->stats().compactions;
        store = OpenOk(&env, dir.path(), o);
      } else {
        REQUIRE(store->CompactNow().ok());  // writes everything, fsynced
        committed = current;
      }
      for (auto it = current.begin(); it != current.end();) {
        it = it->second.empty() ? current.erase(it) : std::next(it);
      }
      for (auto it = committed.begin(); it != committed.end();) {
        it = it->second.empty() ? committed.erase(it) : std::next(it);
      }
      REQUIRE(Dump(*store) == current);
    }
    compactions += store->stats().compactions;
    CHECK(compactions > 0);
    REQUIRE(store->Close().ok());
    store = OpenOk(&env, dir.path(), o);
    CHECK(Dump(*store) == current);
    CHECK(store->recovery_warnings().empty());
  }
  CHECK(auto_compactions > 0);
}

}  // namespace
}  // namespace shoal::cluster
