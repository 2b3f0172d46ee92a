#pragma once
// LogWriter appends records to the append-only log; BackgroundSyncer fsyncs
// it once a second for `appendfsync everysec`. Format: storage/log_format.h.
//
// How the server drives them (group commit):
//
//   start-up   ReplayLog() (cuts a torn tail), then LogWriter::Open().
//   each write command applied to the store:
//              writer.AppendPut(key, object_bytes)   // memory only, no syscall
//              (and rewriter.AddLiveRecord(...) while a rewrite runs)
//   once per loop iteration, before releasing that iteration's replies:
//              writer.Write()                        // one write(2) of the buffer
//              writer.Sync()   under `appendfsync always` only
//   `everysec` BackgroundSyncer started on writer.file(): fsyncs off the loop.
//   `no`       never fsync; the kernel writes back when it likes.
//
// Big records are written off the loop (issue 13: one write(2) of a 512 MB
// record held the loop 2 s). Commit() hands a big buffer, and
// AppendPutParts() a big value it may read in place (the caller keeps it
// alive with a KeepAlive), to the writer's background thread, which writes
// them (and fsyncs when asked) in order. While anything is queued there,
// every later Commit() is queued behind it, so records reach the file in the
// order they were appended. The caller learns progress from written() and
// synced() after Poll() (the thread calls the wake-up function after each
// job so the loop polls at once), and holds back the replies that depend on
// records not written (or not synced) yet. Small records with nothing queued
// are written inline, as before.
//
// Any failed write or fsync is FATAL for the server: it logs the Status and
// exits non-zero. Retrying is not an option: after a failed fsync the kernel
// may have thrown the dirty pages away and will report success next time
// (PostgreSQL's "fsyncgate"), so the writer never reports success again.

#include <chrono>
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

// Keeps bytes a background write reads alive until the write is done (a
// pinned value buffer of the store). It may be dropped on the writer's
// thread.
using KeepAlive = std::shared_ptr<const void>;

// Not thread safe: one LogWriter belongs to the loop thread (its background
// thread is internal). The file it
// writes may be shared with a BackgroundSyncer (see file()).
class LogWriter {
 public:
  // Opens the log at `path` for appending, creating it if missing. A new or
  // empty file gets the file header, written and fsynced, and the directory
  // is fsynced so the file's existence is durable. Call it after ReplayLog()
  // so that appends continue a well-formed file. `env` must outlive the
  // writer.
  static Result<std::unique_ptr<LogWriter>> Open(Env* env, const std::string& path);

  // Adopts an open log file that already holds `size` bytes, header included.
  LogWriter(std::shared_ptr<WritableFile> file, uint64_t size);

  // Writes what is queued for the background thread, then stops it.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Buffer one record in memory. Cheap, no syscall, cannot fail; after a
  // failure (status() not ok) records are dropped.
  void AppendPut(std::string_view key, std::string_view object);
  // AppendPut(key, head + value). A value of kDirectWriteBytes or more is
  // not copied into the buffer. Without `keep` the buffer and the record are
  // written at once, on the calling thread (write(2) reads the value where
  // it is, since the caller's value does not outlive the call). With `keep`,
  // which must keep `value`'s bytes unchanged and alive while it lives, the
  // buffer and the value are queued for the background thread and written
  // there; Commit() and Poll() report when. Failures stick in status().
  void AppendPutParts(std::string_view key, std::string_view head, std::string_view value,
                      KeepAlive keep = {});
  static constexpr size_t kDirectWriteBytes = 64u << 10;
  // Commit() writes a buffer this big on the background thread.
  static constexpr size_t kBackgroundBytes = 1u << 20;
  void AppendFlushAll();
  // Buffers records that are already framed (log_format.h), e.g. the bytes a
  // caller also hands to LogRewriter::AddLiveRecord.
  void AppendFramed(std::string_view frames);

  // The loop iteration's group commit: writes the buffer and, if `sync`,
  // makes everything written durable (fdatasync, also of records the
  // background thread wrote without one). Inline, as Write() then Sync(),
  // unless the background thread has work queued or the buffer holds
  // kBackgroundBytes or more: then the buffer (and the fsync) are queued
  // behind that work and written()/synced() advance when it is done. Returns
  // status() (a background failure shows once Poll() saw it).
  Status Commit(bool sync);

  // Takes in the background thread's progress (written(), synced(),
  // status(), size()) and frees what its finished jobs held. Loop thread.
  Status Poll();
  // Background work queued and not yet seen done by Poll().
  bool busy() const { return queued_bytes_ > 0 || queued_jobs_ > 0; }
  // Blocks until the background thread has done everything queued, then
  // Poll()s (shutdown, a rewrite's switch, tests).
  Status Drain();
  // Called on the background thread after each job it finished (e.g.
  // uv_async_send, so that the loop polls and releases replies at once).
  void SetWakeup(std::function<void()> wakeup);

  // File offsets: the end of every record appended so far (buffered or
  // queued included); the end of what is written (write(2) returned); the
  // end of what is fsynced by Sync()/Commit(true) (the everysec syncer's
  // fsyncs are not counted).
  uint64_t appended() const { return size_ + queued_bytes_ + buffer_.size(); }
  uint64_t written() const { return size_; }
  uint64_t synced() const { return synced_; }

  // Writes the buffer to the file with one write(2) (retrying short writes).
  // Waits for queued background work first (Drain), so order is kept.
  // A buffer that grew large (past 64 KiB) is then freed once it is used to
  // less than a quarter, not kept at its high-water mark, as Redis frees a
  // large aof_buf.
  // A no-op returning status() when nothing is buffered. On failure the
  // error sticks: every later Write() and Sync() returns it.
  Status Write();

  // Frees an empty buffer that a burst grew past 64 KiB (call it
  // periodically: after a burst no Write() may come to do it).
  void ReleaseIdle();

  // fdatasync of everything Write() has written (not of the buffer). Sticky
  // on failure like Write(). Waits for queued background work first.
  Status Sync();

  // Ok, or the first failure.
  const Status& status() const { return status_; }

  // Continues on `file`, which holds `size` bytes, from now on; used by the
  // rewrite (LogRewriter::Finish) to switch to the compacted log. Records
  // still buffered go to the new file on the next Write() (they were handed
  // to the rewriter as live records too, so they may appear twice, which
  // replay's merge makes harmless). Resets base_size() to `size`. The old
  // file is closed when its last user (a BackgroundSyncer) lets go. Call it
  // only when !busy().
  void SwitchFile(std::shared_ptr<WritableFile> file, uint64_t size);

  // The file being appended to, for BackgroundSyncer.
  std::shared_ptr<WritableFile> file() const { return file_; }
  const std::string& path() const { return file_->path(); }

  // For INFO persistence: bytes in the file (aof_current_size), bytes at
  // open or at the last rewrite (aof_base_size), bytes buffered and not yet
  // written (aof_buffer_length).
  uint64_t size() const { return size_; }
  uint64_t base_size() const { return base_size_; }
  // Queued for the background thread counts as buffered.
  uint64_t pending_bytes() const { return buffer_.size() + queued_bytes_; }
  // Memory the buffer holds (its capacity), for tests and INFO.
  uint64_t buffer_capacity() const { return buffer_.capacity(); }

 private:
  // One write for the background thread: owned bytes, or bytes `keep`
  // holds alive; then an fdatasync if `sync`. `end` is the file offset after
  // it.
  struct Job {
    std::shared_ptr<WritableFile> file;
    std::string owned;
    std::string_view ref;
    KeepAlive keep;
    bool sync = false;
    uint64_t end = 0;
  };
  // Queues buffer_ (possibly empty) as a job.
  void QueueBuffer(bool sync);
  void Queue(Job job);
  void RunBackground();

  std::shared_ptr<WritableFile> file_;
  std::string buffer_;
  uint64_t size_;
  uint64_t base_size_;
  uint64_t synced_;
  Status status_;

  // Loop side of the background thread: bytes and jobs queued and not yet
  // seen done.
  uint64_t queued_bytes_ = 0;
  uint64_t queued_jobs_ = 0;
  uint64_t polled_jobs_ = 0;  // bg_jobs_done_ as the last Poll() saw it

  // Shared with the background thread, under mu_.
  std::mutex mu_;
  std::condition_variable wake_;  // to the thread
  std::condition_variable done_;  // to Drain
  std::deque<Job> jobs_;
  bool running_ = false;  // the thread is writing a job it took
  bool stop_ = false;
  uint64_t bg_jobs_done_ = 0;  // jobs finished, failed or dropped
  uint64_t bg_written_ = 0;    // offset the thread has written to
  uint64_t bg_synced_ = 0;     // offset it has fsynced to
  Status bg_status_;
  std::function<void()> wakeup_;
  std::thread thread_;  // started by the first job
};

// fsyncs a log file every `interval` on its own thread, for `appendfsync
// everysec`. All methods are called from the loop thread; the syncing runs
// on the syncer's thread.
//
// The file is held as a shared_ptr: SetFile() swaps it under a mutex while an
// fsync in progress keeps the old file open until it returns, so a rewrite's
// switch never fsyncs a closed or reused fd and never waits for a slow fsync.
class BackgroundSyncer {
 public:
  // `on_failure` (optional) runs on the syncer's thread after a failed fsync,
  // e.g. uv_async_send so the loop notices at once instead of at its next
  // poll of status().
  explicit BackgroundSyncer(std::chrono::milliseconds interval = std::chrono::seconds(1),
                            std::function<void()> on_failure = {});
  ~BackgroundSyncer();  // Stop()
  BackgroundSyncer(const BackgroundSyncer&) = delete;
  BackgroundSyncer& operator=(const BackgroundSyncer&) = delete;

  // Starts the thread syncing `file`. Once only.
  void Start(std::shared_ptr<WritableFile> file);
  // Syncs `file` from now on (after LogWriter::SwitchFile).
  void SetFile(std::shared_ptr<WritableFile> file);
  // Wakes the thread for an fsync now rather than at the next tick.
  void RequestSync();
  // Stops and joins the thread. Idempotent. Does not fsync a last time: at
  // shutdown the server calls LogWriter::Sync() itself.
  void Stop();

  // Ok, or the first failed fsync (then the syncer stops syncing). The server
  // checks it every loop iteration and treats an error as fatal.
  Status status() const;
  // Completed successful fsyncs.
  uint64_t sync_count() const;
  // Blocks until sync_count() >= n, a failure, or `timeout`; true if the
  // count was reached. For tests, which must not sleep.
  bool WaitForSyncCount(uint64_t n, std::chrono::milliseconds timeout);

 private:
  void Run();

  const std::chrono::milliseconds interval_;
  const std::function<void()> on_failure_;
  mutable std::mutex mu_;
  std::condition_variable wake_;  // to the syncer thread
  std::condition_variable done_;  // to WaitForSyncCount
  std::shared_ptr<WritableFile> file_;
  bool stop_ = false;
  bool requested_ = false;
  uint64_t sync_count_ = 0;
  Status status_;
  std::thread thread_;
};

}  // namespace shoal::storage
