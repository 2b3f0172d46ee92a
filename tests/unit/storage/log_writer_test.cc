#include "storage/log_writer.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/file.h"
#include "storage/log_format.h"
#include "storage/log_reader.h"
#include "tests/unit/storage/temp_dir.h"

namespace shoal::storage {
namespace {

// Generous: only reached if the code under test is broken.
constexpr std::chrono::milliseconds kDeadline{10000};
constexpr std::chrono::milliseconds kNever{3600 * 1000};

using testing::TempDir;

uint64_t SizeOf(const std::string& path) {
  return std::filesystem::file_size(path);
}

std::vector<std::string> Keys(Env* env, const std::string& path, ReplayReport* report = nullptr) {
  std::vector<std::string> keys;
  auto r = ReplayLog(env, path, {}, [&](const LogRecord& rec) {
    keys.push_back(rec.type == RecordType::kPut ? std::string(rec.key) : "<flushall>");
    return Status::Ok();
  });
  REQUIRE(r.ok());
  if (report != nullptr) *report = r.value();
  return keys;
}

std::unique_ptr<LogWriter> OpenOrDie(Env* env, const std::string& path) {
  auto w = LogWriter::Open(env, path);
  REQUIRE(w.ok());
  return std::move(w).value();
}

TEST_CASE("open creates a log with a header, reopening continues it") {
  TempDir dir;
  PosixEnv env;
  const std::string path = dir.File("appendonly.aof");
  {
    auto w = OpenOrDie(&env, path);
    CHECK(w->size() == kLogHeaderSize);
    CHECK(w->base_size() == kLogHeaderSize);
    CHECK(SizeOf(path) == kLogHeaderSize);
    w->AppendPut("a", "1");
    REQUIRE(w->Write().ok());
  }
  auto w = OpenOrDie(&env, path);
  CHECK(w->size() == SizeOf(path));
  CHECK(w->base_size() == w->size());
  w->AppendPut("b", "2");
  REQUIRE(w->Write().ok());
  CHECK(Keys(&env, path) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("append buffers, write writes, sizes add up") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv faulty(&posix);
  const std::string path = dir.File("a.aof");
  auto w = OpenOrDie(&faulty, path);
  uint64_t syncs_after_open = faulty.sync_count();
  w->AppendPut("k1", "v1");
  w->AppendFlushAll();
  std::string framed;
  AppendPutRecord(&framed, "k2", "v2");
  w->AppendFramed(framed);
  const uint64_t expected = PutFrameSize(2, 2) * 2 + FrameSize(0);
  CHECK(w->pending_bytes() == expected);
  CHECK(SizeOf(path) == kLogHeaderSize);  // nothing written yet
  REQUIRE(w->Write().ok());
  CHECK(w->pending_bytes() == 0);
  CHECK(w->size() == kLogHeaderSize + expected);
  CHECK(SizeOf(path) == w->size());
  CHECK(faulty.sync_count() == syncs_after_open);  // Write() never fsyncs
  REQUIRE(w->Sync().ok());
  CHECK(faulty.sync_count() == syncs_after_open + 1);
  REQUIRE(w->Write().ok());  // nothing buffered: a no-op
  CHECK(Keys(&posix, path) == std::vector<std::string>{"k1", "<flushall>", "k2"});
}

TEST_CASE("the buffer is given back after a burst of large records") {
  TempDir dir;
  PosixEnv posix;
  auto w = OpenOrDie(&posix, dir.File("b.aof"));
  const std::string big(1 << 20, 'x');
  // A burst: many large records in one batch.
  for (int i = 0; i < 8; ++i) w->AppendPut("k" + std::to_string(i), big);
  REQUIRE(w->Write().ok());
  // Still in use to more than a quarter: kept for the next batch...
  CHECK(w->buffer_capacity() >= 8u << 20);
  // ... and freed once idle (the server's cron calls ReleaseIdle).
  w->ReleaseIdle();
  CHECK(w->buffer_capacity() <= 64u << 10);
  // A large batch after a burst: kept; a small one after it frees it at once.
  w->AppendPut("k", big);
  REQUIRE(w->Write().ok());
  CHECK(w->buffer_capacity() >= 1u << 20);
  w->AppendPut("k", "small");
  REQUIRE(w->Write().ok());
  CHECK(w->buffer_capacity() <= 64u << 10);
  // Small batches keep their small buffer (no reallocation each time).
  w->AppendPut("k", std::string(1000, 'y'));
  REQUIRE(w->Write().ok());
  const size_t cap = w->buffer_capacity();
  CHECK(cap >= 1000);
  w->ReleaseIdle();
  CHECK(w->buffer_capacity() == cap);
  CHECK(Keys(&posix, dir.File("b.aof")).size() == 11);
}

TEST_CASE("group commit: one write and one fsync per batch") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  auto w = OpenOrDie(&env, dir.File("g.aof"));
  uint64_t base = env.sync_count();
  for (int batch = 0; batch < 5; ++batch) {
    for (int i = 0; i < 100; ++i) w->AppendPut("key" + std::to_string(batch * 100 + i), "v");
    REQUIRE(w->Write().ok());
    REQUIRE(w->Sync().ok());
  }
  CHECK(env.sync_count() == base + 5);
  CHECK(Keys(&posix, dir.File("g.aof")).size() == 500);
}

TEST_CASE("a failed write is sticky and leaves a recoverable log") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  const std::string path = dir.File("w.aof");
  auto w = OpenOrDie(&env, path);
  w->AppendPut("ok1", "v");
  w->AppendPut("ok2", "v");
  REQUIRE(w->Write().ok());
  const uint64_t good_size = w->size();
  // The disk fills up in the middle of the second record of the next batch.
  env.SetWriteBudget(PutFrameSize(3, 1) + 5);
  w->AppendPut("ok3", "v");
  w->AppendPut("bad", "v");
  Status s = w->Write();
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == Code::kIOError);
  CHECK(s.message().find("No space left on device") != std::string::npos);
  CHECK(w->size() == good_size);  // the failed batch is not counted
  // Sticky: the disk has room again, but the writer never claims success.
  env.Reset();
  w->AppendPut("later", "v");
  CHECK(w->pending_bytes() == PutFrameSize(3, 1) * 2);  // dropped after the failure
  CHECK_FALSE(w->Write().ok());
  CHECK_FALSE(w->Sync().ok());
  CHECK(w->status().message() == s.message());
  // Recovery cuts the half-written record and keeps the whole ones.
  ReplayReport report;
  CHECK(Keys(&posix, path, &report) == std::vector<std::string>{"ok1", "ok2", "ok3"});
  CHECK(report.torn_tail);
  CHECK(report.torn_bytes == 5);
}

TEST_CASE("a big value with a keep-alive is written on the background thread, in order") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  const std::string path = dir.File("bg.aof");
  auto w = OpenOrDie(&env, path);
  const std::string big(LogWriter::kBackgroundBytes + 3, 'v');
  auto keep = std::make_shared<int>(0);
  const uint64_t syncs = env.sync_count();
  w->AppendPut("a", "1");
  w->AppendPutParts("big", "head", big, keep);
  CHECK(w->busy());
  w->AppendPut("c", "3");  // buffered behind it
  const uint64_t end = w->appended();
  REQUIRE(w->Commit(/*sync=*/true).ok());  // queued: the thread is busy
  REQUIRE(w->Drain().ok());
  CHECK_FALSE(w->busy());
  CHECK(w->written() == end);
  CHECK(w->synced() == end);  // the queued fsync came last
  CHECK(w->size() == SizeOf(path));
  CHECK(env.sync_count() > syncs);
  CHECK(keep.use_count() == 1);  // dropped once written
  CHECK(Keys(&posix, path) == std::vector<std::string>{"a", "big", "c"});
  // Back to inline writes once idle.
  w->AppendPut("d", "4");
  REQUIRE(w->Commit(false).ok());
  CHECK(w->written() == w->appended());
}

TEST_CASE("commit hands a big buffer to the background thread; sync catches up inline") {
  TempDir dir;
  PosixEnv env;
  const std::string path = dir.File("bb.aof");
  auto w = OpenOrDie(&env, path);
  w->AppendPut("big", std::string(LogWriter::kBackgroundBytes, 'x'));
  const uint64_t end = w->appended();
  REQUIRE(w->Commit(false).ok());
  REQUIRE(w->Drain().ok());
  CHECK(w->written() == end);
  CHECK(w->synced() < end);       // no fsync asked for
  REQUIRE(w->Commit(true).ok());  // nothing buffered: fsyncs what was written
  CHECK(w->synced() == end);
  CHECK(Keys(&env, path) == std::vector<std::string>{"big"});
}

TEST_CASE("background writes after a switch to a smaller file count from its size") {
  TempDir dir;
  PosixEnv env;
  auto w = OpenOrDie(&env, dir.File("old.aof"));
  const std::string big(LogWriter::kBackgroundBytes, 'v');
  // The old file ends well past where the new one will (a stale offset
  // from it would show as progress on the new one).
  const std::string old_big(4 * LogWriter::kBackgroundBytes, 'o');
  w->AppendPutParts("big", "head", old_big, std::make_shared<int>(0));
  REQUIRE(w->Commit(false).ok());
  REQUIRE(w->Drain().ok());
  auto fresh = OpenOrDie(&env, dir.File("new.aof"));  // as a rewrite's compacted file
  w->SwitchFile(fresh->file(), fresh->size());
  fresh.reset();
  w->AppendPutParts("big2", "head", big, std::make_shared<int>(0));
  const uint64_t end = w->appended();
  CHECK(end < 2 * LogWriter::kBackgroundBytes);
  REQUIRE(w->Poll().ok());
  CHECK(w->written() <= end);
  REQUIRE(w->Drain().ok());
  CHECK(w->written() == end);
  CHECK(w->size() == SizeOf(dir.File("new.aof")));
  CHECK(Keys(&env, dir.File("new.aof")) == std::vector<std::string>{"big2"});
}

TEST_CASE("a failed background write is sticky and seen by Poll") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  const std::string path = dir.File("bf.aof");
  auto w = OpenOrDie(&env, path);
  env.SetWriteBudget(100);
  const std::string big(LogWriter::kBackgroundBytes, 'v');
  w->AppendPutParts("big", "head", big, std::make_shared<int>(0));
  w->AppendPut("after", "v");
  CHECK(w->Commit(false).ok());  // queued; the failure is not known yet
  Status st = w->Drain();
  CHECK_FALSE(st.ok());
  CHECK(st.code() == Code::kIOError);
  CHECK_FALSE(w->Commit(false).ok());
  env.Reset();
  w->AppendPut("later", "v");
  CHECK_FALSE(w->Write().ok());
}

TEST_CASE("a failed fsync is sticky") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  auto w = OpenOrDie(&env, dir.File("s.aof"));
  w->AppendPut("a", "1");
  REQUIRE(w->Write().ok());
  env.FailSync(true);
  Status s = w->Sync();
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("fdatasync") != std::string::npos);
  env.Reset();
  CHECK_FALSE(w->Sync().ok());
  w->AppendPut("b", "2");
  CHECK_FALSE(w->Write().ok());
  CHECK(w->status().message() == s.message());
}

TEST_CASE("open reports failures") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  env.FailCreate(true);
  CHECK_FALSE(LogWriter::Open(&env, dir.File("x.aof")).ok());
  env.Reset();
  env.FailSync(true);
  CHECK_FALSE(LogWriter::Open(&env, dir.File("y.aof")).ok());  // header fsync
  env.Reset();
  env.FailSyncDir(true);
  CHECK_FALSE(LogWriter::Open(&env, dir.File("z.aof")).ok());
  CHECK_FALSE(LogWriter::Open(&posix, dir.File("no/such/dir.aof")).ok());
  // A torn header must be replayed (cut) first, never appended to.
  {
    std::ofstream torn(dir.File("torn.aof"), std::ios::binary);
    torn << "SHOAL";
  }
  auto torn = LogWriter::Open(&posix, dir.File("torn.aof"));
  REQUIRE_FALSE(torn.ok());
  CHECK(torn.status().code() == Code::kCorruption);
}

TEST_CASE("switching files continues on the new one") {
  TempDir dir;
  PosixEnv env;
  auto w = OpenOrDie(&env, dir.File("old.aof"));
  w->AppendPut("old", "v");
  REQUIRE(w->Write().ok());
  auto other = OpenOrDie(&env, dir.File("new.aof"));
  std::shared_ptr<WritableFile> f = other->file();
  w->AppendPut("buffered", "v");
  w->SwitchFile(f, other->size());
  CHECK(w->size() == kLogHeaderSize);
  CHECK(w->base_size() == kLogHeaderSize);
  REQUIRE(w->Write().ok());
  CHECK(w->size() == kLogHeaderSize + PutFrameSize(8, 1));
  CHECK(w->base_size() == kLogHeaderSize);
  CHECK(Keys(&env, dir.File("old.aof")) == std::vector<std::string>{"old"});
  CHECK(Keys(&env, dir.File("new.aof")) == std::vector<std::string>{"buffered"});
}

TEST_CASE("background syncer: syncs on request while the loop appends, stops") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  auto w = OpenOrDie(&env, dir.File("e.aof"));
  BackgroundSyncer syncer(kNever);
  syncer.Start(w->file());
  CHECK(syncer.sync_count() == 0);
  uint64_t before = env.sync_count();
  w->AppendPut("a", "1");
  REQUIRE(w->Write().ok());
  syncer.RequestSync();
  REQUIRE(syncer.WaitForSyncCount(1, kDeadline));
  CHECK(env.sync_count() == before + 1);

  // Appends on this thread while the syncer fsyncs on its own.
  for (int i = 0; i < 200; ++i) {
    w->AppendPut("k" + std::to_string(i), "v");
    REQUIRE(w->Write().ok());
    if (i % 20 == 0) syncer.RequestSync();
  }
  REQUIRE(syncer.WaitForSyncCount(2, kDeadline));

  syncer.Stop();
  syncer.Stop();
  CHECK(syncer.status().ok());
}

TEST_CASE("background syncer: after SetFile only the new file is synced") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  auto w = OpenOrDie(&env, dir.File("e.aof"));
  BackgroundSyncer syncer(kNever);
  syncer.Start(w->file());
  auto other = OpenOrDie(&env, dir.File("f.aof"));
  w->SwitchFile(other->file(), other->size());
  other.reset();  // the writer and the syncer keep the file open
  syncer.SetFile(w->file());
  env.FailSync(true, "e.aof");  // syncing the old file would fail
  syncer.RequestSync();
  REQUIRE(syncer.WaitForSyncCount(1, kDeadline));
  CHECK(syncer.status().ok());
  w->AppendPut("after", "switch");
  REQUIRE(w->Write().ok());
  syncer.Stop();
  CHECK(Keys(&posix, dir.File("f.aof")) == std::vector<std::string>{"after"});
}

TEST_CASE("background syncer: a failed fsync is reported and stops it") {
  TempDir dir;
  PosixEnv posix;
  FaultInjectionEnv env(&posix);
  auto w = OpenOrDie(&env, dir.File("e.aof"));
  std::atomic<int> failures{0};
  BackgroundSyncer syncer(kNever, [&] { failures++; });
  syncer.Start(w->file());
  env.FailSync(true);
  syncer.RequestSync();
  CHECK_FALSE(syncer.WaitForSyncCount(1, kDeadline));  // returns on the failure
  Status s = syncer.status();
  REQUIRE_FALSE(s.ok());
  CHECK(s.message().find("injected") != std::string::npos);
  env.Reset();
  syncer.RequestSync();
  syncer.Stop();
  CHECK(failures == 1);
  CHECK(syncer.sync_count() == 0);
  CHECK_FALSE(syncer.status().ok());
}

TEST_CASE("background syncer: periodic ticks, and stop without start") {
  TempDir dir;
  PosixEnv env;
  auto w = OpenOrDie(&env, dir.File("p.aof"));
  {
    BackgroundSyncer idle;  // never started
    idle.Stop();
  }
  // A 1 ms interval ticks on its own, with nobody requesting.
  BackgroundSyncer syncer(std::chrono::milliseconds(1));
  syncer.Start(w->file());
  REQUIRE(syncer.WaitForSyncCount(3, kDeadline));
}

}  // namespace
}  // namespace shoal::storage
