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
// Any failed write or fsync is FATAL for the server: it logs the Status and
// exits non-zero. Retrying is not an option: after a failed fsync the kernel
// may have thrown the dirty pages away and will report success next time
// (PostgreSQL's "fsyncgate"), so the writer never reports success again.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "storage/file.h"
#include "storage/status.h"

namespace shoal::storage {

// Not thread safe: one LogWriter belongs to the loop thread. The file it
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

  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Buffer one record in memory. Cheap, no syscall, cannot fail; after a
  // failure (status() not ok) records are dropped.
  void AppendPut(std::string_view key, std::string_view object);
  // AppendPut(key, head + value). A value of kDirectWriteBytes or more is
  // not copied into the buffer: the buffer and the record are written at
  // once (write(2) reads the value where it is, as it must, since the
  // caller's value does not outlive the call). Failures stick in status().
  void AppendPutParts(std::string_view key, std::string_view head, std::string_view value);
  static constexpr size_t kDirectWriteBytes = 64u << 10;
  void AppendFlushAll();
  // Buffers records that are already framed (log_format.h), e.g. the bytes a
  // caller also hands to LogRewriter::AddLiveRecord.
  void AppendFramed(std::string_view frames);

  // Writes the buffer to the file with one write(2) (retrying short writes).
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
  // on failure like Write().
  Status Sync();

  // Ok, or the first failure.
  const Status& status() const { return status_; }

  // Continues on `file`, which holds `size` bytes, from now on; used by the
  // rewrite (LogRewriter::Finish) to switch to the compacted log. Records
  // still buffered go to the new file on the next Write() (they were handed
  // to the rewriter as live records too, so they may appear twice, which
  // replay's merge makes harmless). Resets base_size() to `size`. The old
  // file is closed when its last user (a BackgroundSyncer) lets go.
  void SwitchFile(std::shared_ptr<WritableFile> file, uint64_t size);

  // The file being appended to, for BackgroundSyncer.
  std::shared_ptr<WritableFile> file() const { return file_; }
  const std::string& path() const { return file_->path(); }

  // For INFO persistence: bytes in the file (aof_current_size), bytes at
  // open or at the last rewrite (aof_base_size), bytes buffered and not yet
  // written (aof_buffer_length).
  uint64_t size() const { return size_; }
  uint64_t base_size() const { return base_size_; }
  uint64_t pending_bytes() const { return buffer_.size(); }
  // Memory the buffer holds (its capacity), for tests and INFO.
  uint64_t buffer_capacity() const { return buffer_.capacity(); }

 private:
  std::shared_ptr<WritableFile> file_;
  std::string buffer_;
  uint64_t size_;
  uint64_t base_size_;
  Status status_;
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
