#include "storage/log_rewriter.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "storage/file.h"
#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "storage/log_writer.h"
#include "tests/unit/storage/temp_dir.h"

namespace shoal::storage {
namespace {

using testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

using Model = std::map<std::string, std::string>;

// Objects in these tests are zero-padded sequence numbers and merge keeps the
// greater: commutative, idempotent, and a later write covers an earlier one,
// as the server's versioned objects do.
void Merge(Model* m, std::string_view key, std::string_view object) {
  std::string& cur = (*m)[std::string(key)];
  if (std::string(object) > cur) cur = object;
}

Model ReplayToModel(Env* env, const std::string& path) {
  Model m;
  auto r = ReplayLog(env, path, {}, [&](const LogRecord& rec) {
    if (rec.type == RecordType::kFlushAll) {
      m.clear();
    } else {
      Merge(&m, rec.key, rec.object);
    }
    return Status::Ok();
  });
  REQUIRE(r.ok());
  CHECK(r.value().warnings.empty());
  return m;
}

// A toy server: a store, its live log, and the rewrite hooks.
class Harness {
 public:
  Harness(Env* env, std::string path) : env_(env), path_(std::move(path)) {
    auto w = LogWriter::Open(env, path_);
    REQUIRE(w.ok());
    writer_ = std::move(w).value();
  }

  void Put(const std::string& key) {
    char obj[16];
    std::snprintf(obj, sizeof(obj), "%010llu", static_cast<unsigned long long>(++seq_));
    store_[key] = obj;
    std::string frame;
    AppendPutRecord(&frame, key, obj);
    Log(frame);
  }
  void FlushAll() {
    store_.clear();
    std::string frame;
    AppendFlushAllRecord(&frame);
    Log(frame);
  }
  // One loop iteration's group commit.
  void Commit() { REQUIRE(writer_->Write().ok()); }

  // One scan step: up to `n` keys after the cursor, from the store as it is
  // now (keys present for the whole scan are all visited, as SCAN promises).
  // False when the scan is complete.
  bool ScanStep(size_t n) {
    std::string batch;
    auto it = scan_started_ ? store_.upper_bound(cursor_) : store_.begin();
    scan_started_ = true;
    for (size_t i = 0; i < n && it != store_.end(); ++i, ++it) {
      AppendPutRecord(&batch, it->first, it->second);
      cursor_ = it->first;
    }
    if (!batch.empty()) rewriter_->AddSnapshotRecords(std::move(batch));
    return it != store_.end();
  }

  Env* env_;
  std::string path_;
  std::unique_ptr<LogWriter> writer_;
  std::unique_ptr<LogRewriter> rewriter_;
  Model store_;
  uint64_t seq_ = 0;
  std::string cursor_;
  bool scan_started_ = false;

 private:
  void Log(const std::string& frame) {
    writer_->AppendFramed(frame);
    if (rewriter_) rewriter_->AddLiveRecord(frame);
  }
};

std::string Key(std::mt19937* rng, int keyspace) {
  return "key:" + std::to_string(std::uniform_int_distribution<int>(0, keyspace - 1)(*rng));
}

void BuildHistory(Harness* h, std::mt19937* rng, int ops, int keyspace) {
  for (int i = 0; i < ops; ++i) {
    h->Put(Key(rng, keyspace));
    if (i % 50 == 49) h->Commit();
  }
  h->Commit();
}

TEST_CASE("rewrite under concurrent writes replays to the same content") {
  for (unsigned seed = 1; seed <= 6; ++seed) {
    CAPTURE(seed);
    TempDir dir;
    PosixEnv env;
    const std::string live = dir.File("appendonly.aof");
    Harness h(&env, live);
    std::mt19937 rng(seed);
    BuildHistory(&h, &rng, 3000, 300);
    const uint64_t old_size = h.writer_->size();

    std::atomic<int> progress{0};
    RewriteOptions opts;
    opts.incremental_fsync_bytes = seed % 2 == 0 ? 0 : 2000;
    opts.on_progress = [&] { progress++; };
    auto r = LogRewriter::Start(&env, live, opts);
    REQUIRE(r.ok());
    h.rewriter_ = std::move(r).value();
    CHECK(std::filesystem::exists(LogRewriter::TempPath(live)));

    // The scan interleaved with live writes; seeds 3 and 6 FLUSHALL midway.
    int step = 0;
    while (h.ScanStep(7)) {
      for (int i = 0; i < 5; ++i) h.Put(Key(&rng, 400));
      if (seed % 3 == 0 && step == 10) h.FlushAll();
      h.Commit();
      ++step;
    }
    for (int i = 0; i < 20; ++i) h.Put(Key(&rng, 400));
    h.Commit();
    // Only for comparison: the old log as it stands before the switch.
    std::filesystem::copy_file(live, dir.File("old.copy"));

    auto done = h.rewriter_->Finish();
    REQUIRE(done.ok());
    CHECK(h.rewriter_->Drained());
    CHECK(h.rewriter_->queued_bytes() == 0);
    CHECK(done.value().size == std::filesystem::file_size(live));
    CHECK(done.value().size == h.rewriter_->bytes_written());
    CHECK(h.rewriter_->bytes_written() ==
          kLogHeaderSize + h.rewriter_->snapshot_bytes() + h.rewriter_->live_bytes());
    CHECK(progress > 0);
    CHECK_FALSE(std::filesystem::exists(LogRewriter::TempPath(live)));
    h.writer_->SwitchFile(done.value().file, done.value().size);
    h.rewriter_.reset();

    CHECK(ReplayToModel(&env, live) == h.store_);
    CHECK(ReplayToModel(&env, dir.File("old.copy")) == h.store_);
    CHECK(h.writer_->size() < old_size);

    // Writes after the switch land in the new file.
    h.Put("after");
    h.Put("key:1");
    h.Commit();
    CHECK(ReplayToModel(&env, live) == h.store_);
    CHECK(h.writer_->base_size() == done.value().size);
  }
}

TEST_CASE("an empty store rewrites to a bare header") {
  TempDir dir;
  PosixEnv env;
  const std::string live = dir.File("a.aof");
  Harness h(&env, live);
  std::mt19937 rng(7);
  BuildHistory(&h, &rng, 100, 10);
  h.FlushAll();
  h.Commit();
  auto r = LogRewriter::Start(&env, live);
  REQUIRE(r.ok());
  h.rewriter_ = std::move(r).value();
  while (h.ScanStep(10)) {
  }
  auto done = h.rewriter_->Finish();
  REQUIRE(done.ok());
  CHECK(done.value().size == kLogHeaderSize);
  CHECK(ReplayToModel(&env, live).empty());
}

// Runs a rewrite with faults set by `inject` and checks that it fails, the
// temporary file is gone, the live log is byte for byte what it was and the
// writer carries on.
void ExpectFailedRewrite(const std::function<void(FaultInjectionEnv*)>& inject,
                         const std::string& expected_in_message) {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  const std::string live = dir.File("appendonly.aof");
  Harness h(&env, live);
  std::mt19937 rng(11);
  BuildHistory(&h, &rng, 500, 50);
  auto r = LogRewriter::Start(&env, live);
  REQUIRE(r.ok());
  h.rewriter_ = std::move(r).value();
  inject(&env);
  while (h.ScanStep(5)) {
    h.Put(Key(&rng, 60));
    h.Commit();
  }
  const std::string before = ReadAll(live);
  auto done = h.rewriter_->Finish();
  REQUIRE_FALSE(done.ok());
  CHECK(done.status().message().find(expected_in_message) != std::string::npos);
  CHECK_FALSE(h.rewriter_->fatal_failure());
  CHECK_FALSE(std::filesystem::exists(LogRewriter::TempPath(live)));
  CHECK(ReadAll(live) == before);
  h.rewriter_.reset();
  env.Reset();
  h.Put("after");
  h.Commit();
  CHECK(ReplayToModel(&posix, live) == h.store_);

  RewriteInfo info;
  info.Started(1000);
  info.Failed(1500, done.status());
  CHECK_FALSE(info.last_ok);
  CHECK_FALSE(info.in_progress);
  CHECK(info.last_duration_ms == 500);
  CHECK(info.last_error == done.status().message());
}

TEST_CASE("a failed write to the new file aborts the rewrite, the live log intact") {
  ExpectFailedRewrite([](FaultInjectionEnv* env) { env->SetWriteBudget(300, ".rewrite.tmp"); },
                      "No space left on device");
}

TEST_CASE("a failed fsync of the new file aborts the rewrite") {
  ExpectFailedRewrite([](FaultInjectionEnv* env) { env->FailSync(true, ".rewrite.tmp"); },
                      "fdatasync");
}

TEST_CASE("a failed rename aborts the rewrite") {
  ExpectFailedRewrite([](FaultInjectionEnv* env) { env->FailRename(true); }, "rename");
}

TEST_CASE("a failed directory fsync after the rename is fatal") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  const std::string live = dir.File("appendonly.aof");
  Harness h(&env, live);
  std::mt19937 rng(5);
  BuildHistory(&h, &rng, 100, 20);
  auto r = LogRewriter::Start(&env, live);
  REQUIRE(r.ok());
  h.rewriter_ = std::move(r).value();
  while (h.ScanStep(5)) {
  }
  env.FailSyncDir(true);
  auto done = h.rewriter_->Finish();
  REQUIRE_FALSE(done.ok());
  CHECK(h.rewriter_->fatal_failure());
  CHECK(done.status().message().find("directory fsync failed") != std::string::npos);
}

TEST_CASE("start failures, stale temp files, abort and double finish") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  const std::string live = dir.File("appendonly.aof");
  const std::string temp = LogRewriter::TempPath(live);
  CHECK(temp == live + ".rewrite.tmp");
  Harness h(&env, live);
  h.Put("a");
  h.Commit();
  const std::string before = ReadAll(live);

  env.FailCreate(true);
  CHECK_FALSE(LogRewriter::Start(&env, live).ok());
  env.Reset();

  {
    std::ofstream stale(temp);
    stale << "left over by a crash";
  }
  {
    auto r = LogRewriter::Start(&env, live);
    REQUIRE(r.ok());
    r.value()->AddSnapshotRecords(std::string(100, 'x'));
    // Destroyed without Finish: aborted.
  }
  CHECK_FALSE(std::filesystem::exists(temp));
  CHECK(ReadAll(live) == before);

  auto r = LogRewriter::Start(&env, live);
  REQUIRE(r.ok());
  LogRewriter& rw = *r.value();
  rw.Abort();
  rw.Abort();
  CHECK_FALSE(std::filesystem::exists(temp));
  CHECK(rw.Finish().status().code() == Code::kInvalid);

  auto ok = LogRewriter::Start(&env, live);
  REQUIRE(ok.ok());
  REQUIRE(ok.value()->Finish().ok());
  CHECK(ok.value()->Finish().status().code() == Code::kInvalid);
  ok.value()->Abort();  // no-op after success
  CHECK(std::filesystem::exists(live));
}

TEST_CASE("ShouldRewrite follows auto-aof-rewrite-percentage and -min-size") {
  constexpr uint64_t kMB = 1 << 20;
  struct Case {
    uint64_t current, base;
    int percentage;
    uint64_t min_size;
    bool expected;
  };
  const Case cases[] = {
      {64 * kMB, 0, 100, 64 * kMB, false},          // not above the minimum
      {64 * kMB + 1, 0, 100, 64 * kMB, true},       // base 0 counts as 1
      {200 * kMB, 100 * kMB, 100, 64 * kMB, true},  // grown by exactly 100%
      {200 * kMB - 1, 100 * kMB, 100, 64 * kMB, false},
      {150 * kMB, 100 * kMB, 50, 64 * kMB, true},
      {149 * kMB, 100 * kMB, 50, 64 * kMB, false},
      {500 * kMB, 100 * kMB, 0, 64 * kMB, false},  // disabled
      {500 * kMB, 100 * kMB, -1, 64 * kMB, false},
      {50 * kMB, 100 * kMB, 1, 0, false},                    // shrank
      {uint64_t{1} << 63, uint64_t{1} << 62, 100, 0, true},  // no overflow
      {uint64_t{1} << 63, uint64_t{1} << 62, 101, 0, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.current);
    CAPTURE(c.base);
    CAPTURE(c.percentage);
    CHECK(ShouldRewrite(c.current, c.base, c.percentage, c.min_size) == c.expected);
  }
}

TEST_CASE("RewriteInfo tracks the last rewrite") {
  RewriteInfo info;
  CHECK(info.last_ok);
  CHECK(info.last_duration_ms == -1);
  info.Started(100);
  CHECK(info.in_progress);
  info.Failed(150, Status::IOError("disk"));
  CHECK_FALSE(info.last_ok);
  info.Started(200);
  info.Succeeded(450, 1234);
  CHECK_FALSE(info.in_progress);
  CHECK(info.last_ok);
  CHECK(info.last_error.empty());
  CHECK(info.completed == 1);
  CHECK(info.last_duration_ms == 250);
  CHECK(info.last_size == 1234);
}

}  // namespace
}  // namespace shoal::storage
