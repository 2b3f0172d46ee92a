#pragma once
// File access for the append-only log, behind a small interface (LevelDB's
// Env) so tests can swap in a file system that fails on demand.
//
//   Env            opens files and does the directory-level operations
//                  (rename, remove, truncate, fsync of a directory).
//   WritableFile   an append-only file: Append() = write(2) of all bytes,
//                  Sync() = fdatasync(2).
//   ReadableFile   positional reads (pread(2)) for recovery.
//
//   PosixEnv            the real thing.
//   FaultInjectionEnv   wraps another Env and makes writes, syncs, renames,
//                       directory syncs or file creation fail on request.
//                       Used by the unit tests; the server may use it behind
//                       a debug switch to exercise its fatal paths for real.
//
// Every fallible call returns Status/Result; messages name the path and the
// failing system call with strerror, e.g.
//   "fdatasync /data/appendonly.aof: Input/output error".
//
// Thread safety: an Env may be used from several threads. A WritableFile may
// have Append() on one thread while Sync() runs on another (the everysec
// background syncer does exactly that); two concurrent Append() calls are not
// allowed.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "storage/status.h"

namespace shoal::storage {

class WritableFile {
 public:
  virtual ~WritableFile() = default;

  // Writes all of `data` at the end of the file. Short writes and EINTR are
  // retried; any other failure returns IOError and may have written a prefix
  // of `data` (the log reader treats that as a torn tail).
  virtual Status Append(std::string_view data) = 0;

  // Makes everything appended so far durable (fdatasync). After a failure the
  // kernel may have dropped the dirty pages and cleared the error, so callers
  // must treat a failed Sync() as permanent (see LogWriter).
  virtual Status Sync() = 0;

  virtual const std::string& path() const = 0;
};

class ReadableFile {
 public:
  virtual ~ReadableFile() = default;

  // Reads up to `n` bytes at `offset` into *out (replacing its contents).
  // Fewer bytes only at the end of the file.
  virtual Status Read(uint64_t offset, size_t n, std::string* out) const = 0;

  virtual const std::string& path() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // Opens `path` for appending, creating it (mode 0644) if missing.
  virtual Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) = 0;

  // Creates `path` empty, truncating any existing file.
  virtual Result<std::unique_ptr<WritableFile>> CreateTruncated(const std::string& path) = 0;

  // Opens an existing file for reading; NotFound if it does not exist.
  virtual Result<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) = 0;

  // Size of `path` in bytes; NotFound if it does not exist.
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;

  // rename(2): atomically replaces `to` (same file system).
  virtual Status Rename(const std::string& from, const std::string& to) = 0;

  // Removes `path`; NotFound if it did not exist.
  virtual Status Remove(const std::string& path) = 0;

  // Cuts `path` to `size` bytes and fsyncs it.
  virtual Status Truncate(const std::string& path, uint64_t size) = 0;

  // fsyncs directory `dir`, making creates/renames/removes in it durable.
  virtual Status SyncDir(const std::string& dir) = 0;
};

// The operating system's files. Stateless; the server owns one.
class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> CreateTruncated(const std::string& path) override;
  Result<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;
};

// Wraps `base` (not owned, must outlive this) and injects failures. Each
// fault applies to files whose path contains `path_filter` (empty = every
// file), including files opened before the fault was set. Injected errors are
// IOError with "(injected)" in the message. Thread safe.
class FaultInjectionEnv final : public Env {
 public:
  explicit FaultInjectionEnv(Env* base) : base_(base) {}

  // Lets `bytes` more bytes be appended to matching files; the Append() that
  // crosses the budget writes only what is left of it and fails (a full
  // disk). kUnlimited lifts the limit.
  static constexpr uint64_t kUnlimited = ~uint64_t{0};
  void SetWriteBudget(uint64_t bytes, std::string path_filter = {});
  void FailSync(bool fail, std::string path_filter = {});
  void FailRename(bool fail);
  void FailSyncDir(bool fail);
  void FailCreate(bool fail);  // OpenAppendable and CreateTruncated
  // Lifts every fault.
  void Reset();

  // Successful Sync() calls on any file (to count fsyncs in tests).
  uint64_t sync_count() const;

  Result<std::unique_ptr<WritableFile>> OpenAppendable(const std::string& path) override;
  Result<std::unique_ptr<WritableFile>> CreateTruncated(const std::string& path) override;
  Result<std::unique_ptr<ReadableFile>> OpenReadable(const std::string& path) override;
  Result<uint64_t> FileSize(const std::string& path) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status Truncate(const std::string& path, uint64_t size) override;
  Status SyncDir(const std::string& dir) override;

 private:
  class File;
  friend class File;

  // How many of `n` bytes an append to `path` may write; charges the budget.
  size_t ChargeWrite(const std::string& path, size_t n);
  bool SyncFails(const std::string& path);
  void CountSync();
  Result<std::unique_ptr<WritableFile>> Wrap(Result<std::unique_ptr<WritableFile>> file);

  Env* base_;
  mutable std::mutex mu_;
  uint64_t write_budget_ = kUnlimited;
  std::string write_filter_;
  bool fail_sync_ = false;
  std::string sync_filter_;
  bool fail_rename_ = false;
  bool fail_sync_dir_ = false;
  bool fail_create_ = false;
  uint64_t sync_count_ = 0;
};

}  // namespace shoal::storage
