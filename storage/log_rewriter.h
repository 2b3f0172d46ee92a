#pragma once
// LogRewriter compacts the append-only log while the server keeps serving:
// no fork, no pause. Format: storage/log_format.h.
//
// How the server drives one rewrite (BGREWRITEAOF, or ShouldRewrite() true):
//
//   1. rewriter = LogRewriter::Start(env, live_path)
//        creates <live_path>.rewrite.tmp (a stale one is replaced) and a
//        background thread that writes to it.
//   2. Every loop iteration, until a SCAN-style cursor over the store
//      completes: encode a bounded batch of keys as kPut records
//      (AppendPutRecord into one string) and AddSnapshotRecords(batch).
//      Pause the scan while queued_bytes() is above a limit, so memory stays
//      bounded when the disk is slower than the scan.
//   3. Meanwhile every write the server logs goes to the live log as usual
//      AND to AddLiveRecord(), with the same framed bytes.
//   4. When the scan is complete and Drained() is true (poll each iteration,
//      or wake on options.on_progress): writer.Write(), then Finish(), then
//      writer.SwitchFile(finished.file, finished.size) and
//      syncer.SetFile(finished.file) under everysec.
//
// Why the result is right: the background thread writes snapshot batches and
// live records in the order the loop thread handed them over, so the new
// file is a history of the store as the loop thread saw it, interleaved.
// Replay MERGES each kPut, and each object the server logs for a key is its
// whole current state, which causally covers the earlier ones; so a key
// appearing both in a snapshot batch and as a live record, in either order,
// replays to its latest state. A kFlushAll during the rewrite lands after
// the snapshot records taken before it and before those taken after it,
// exactly where it happened. (Writing live records as they come, rather than
// holding a catch-up buffer until Finish, keeps memory bounded and leaves
// Finish little to do.)
//
// Failure: a failed write, fsync or rename removes the temporary file and
// leaves the live log untouched; the server reports
// aof_last_bgrewrite_status:err and keeps going. The only fatal case is a
// failed fsync of the directory after the rename (fatal_failure()): the live
// path may or may not name the new file after a crash, like any failed fsync.
//
// Threads: all methods are called from the loop thread; writing happens on
// the rewriter's own thread.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "storage/file.h"
#include "storage/status.h"

namespace shoal::storage {

struct RewriteOptions {
  // fsync the temporary file every this many bytes written (Redis's
  // aof-rewrite-incremental-fsync), so Finish's final fsync is short and
  // the disk never sees one huge burst. 0 = only in Finish.
  uint64_t incremental_fsync_bytes = 4u << 20;
  // Runs on the rewriter's thread whenever its queue becomes empty or the
  // rewrite fails, e.g. uv_async_send to make the loop check Drained().
  std::function<void()> on_progress;
};

class LogRewriter {
 public:
  // The temporary file for `live_path`: "<live_path>.rewrite.tmp".
  static std::string TempPath(const std::string& live_path);

  // Starts a rewrite of the log at `live_path`. Fails if the temporary file
  // cannot be created. `env` must outlive the rewriter.
  static Result<std::unique_ptr<LogRewriter>> Start(Env* env, const std::string& live_path,
                                                    RewriteOptions options = {});

  // Aborts the rewrite unless Finish() succeeded.
  ~LogRewriter();
  LogRewriter(const LogRewriter&) = delete;
  LogRewriter& operator=(const LogRewriter&) = delete;

  // Queues framed kPut records of the store's current contents.
  void AddSnapshotRecords(std::string frames);
  // Queues framed records of a write applied during the rewrite (the same
  // bytes given to the live log).
  void AddLiveRecord(std::string_view frames);

  // Bytes queued and not yet written (for back-pressure on the scan).
  uint64_t queued_bytes() const;
  // True when everything queued is written, or the rewrite failed: either
  // way Finish() will not wait for the disk beyond one last fsync.
  bool Drained() const;
  // Ok, or the first failure of the background writing so far.
  Status status() const;

  struct Finished {
    std::shared_ptr<WritableFile> file;  // the new live log, open for appending
    uint64_t size = 0;                   // its size in bytes
  };
  // Waits for the queue to drain, fsyncs the temporary file, renames it over
  // the live log and fsyncs the directory. On success the old file's name is
  // gone (the writer's old fd still works until SwitchFile drops it). On
  // failure the temporary file is removed; see fatal_failure(). Once only.
  Result<Finished> Finish();

  // True if Finish() failed after the rename (the directory fsync): the
  // server must treat it like any failed fsync, as fatal.
  bool fatal_failure() const { return fatal_failure_; }

  // Stops the background thread and removes the temporary file. Idempotent;
  // a no-op after a successful Finish().
  void Abort();

  // For INFO: bytes written to the new file so far, header included, and
  // how many bytes arrived as snapshot batches and as live records.
  uint64_t bytes_written() const;
  uint64_t snapshot_bytes() const;
  uint64_t live_bytes() const;

 private:
  LogRewriter(Env* env, std::string live_path, RewriteOptions options,
              std::shared_ptr<WritableFile> file);
  void Enqueue(std::string_view bytes, std::string* owned);
  void Run();
  void StopThread();
  void RemoveTemp();

  Env* const env_;
  const std::string live_path_;
  const std::string temp_path_;
  const RewriteOptions options_;
  std::shared_ptr<WritableFile> file_;

  mutable std::mutex mu_;
  std::condition_variable work_;     // to the rewriter thread
  std::condition_variable drained_;  // to Finish
  std::deque<std::string> queue_;    // written front to back
  bool writing_ = false;             // the thread holds a chunk it popped
  bool stop_ = false;
  Status status_;
  uint64_t queued_bytes_ = 0;
  uint64_t bytes_written_ = 0;
  uint64_t snapshot_bytes_ = 0;
  uint64_t live_bytes_ = 0;

  bool done_ = false;  // finished or aborted
  bool fatal_failure_ = false;
  std::thread thread_;
};

// Redis's automatic rewrite rule (auto-aof-rewrite-percentage and
// auto-aof-rewrite-min-size): rewrite when the log is bigger than
// `min_size` and has grown by at least `percentage` percent over
// `base_size`, its size after the last rewrite or at start-up (0 counts as
// 1). A percentage of 0 or less disables automatic rewrites.
bool ShouldRewrite(uint64_t current_size, uint64_t base_size, int percentage, uint64_t min_size);

// What INFO persistence reports about rewrites. The server owns one and
// updates it around each rewrite; times are passed in (milliseconds).
struct RewriteInfo {
  bool in_progress = false;       // aof_rewrite_in_progress
  bool last_ok = true;            // aof_last_bgrewrite_status: ok / err
  std::string last_error;         // why the last rewrite failed, for the log
  uint64_t completed = 0;         // successful rewrites since start
  int64_t started_at_ms = 0;      // of the one in progress
  int64_t last_duration_ms = -1;  // aof_last_rewrite_time_sec is this / 1000; -1 = none yet
  uint64_t last_size = 0;         // size of the file the last success produced

  void Started(int64_t now_ms);
  void Succeeded(int64_t now_ms, uint64_t new_size);
  void Failed(int64_t now_ms, const Status& why);
};

}  // namespace shoal::storage
