#include "storage/log_rewriter.h"

#include <filesystem>
#include <utility>

#include "storage/log_format.h"

namespace shoal::storage {
namespace {

// Small additions are appended to the last queued chunk, so a rewrite under
// a stream of single-record writes queues a few chunks, not millions.
constexpr size_t kCoalesceLimit = 1u << 20;

std::string ParentDir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

std::string LogRewriter::TempPath(const std::string& live_path) {
  return live_path + ".rewrite.tmp";
}

Result<std::unique_ptr<LogRewriter>> LogRewriter::Start(Env* env, const std::string& live_path,
                                                        RewriteOptions options) {
  std::string temp = TempPath(live_path);
  // A temporary file left by a crash mid-rewrite is garbage; start afresh.
  auto file = env->CreateTruncated(temp);
  if (!file.ok()) return file.status();
  std::unique_ptr<LogRewriter> r(
      new LogRewriter(env, live_path, std::move(options), std::move(file).value()));
  std::string header;
  AppendLogHeader(&header);
  r->Enqueue(header, nullptr);
  r->thread_ = std::thread([p = r.get()] { p->Run(); });
  return r;
}

LogRewriter::LogRewriter(Env* env, std::string live_path, RewriteOptions options,
                         std::shared_ptr<WritableFile> file)
    : env_(env),
      live_path_(std::move(live_path)),
      temp_path_(TempPath(live_path_)),
      options_(std::move(options)),
      file_(std::move(file)) {}

LogRewriter::~LogRewriter() {
  Abort();
}

void LogRewriter::Enqueue(std::string_view bytes, std::string* owned) {
  {
    std::lock_guard lock(mu_);
    if (!status_.ok() || stop_ || bytes.empty()) return;
    queued_bytes_ += bytes.size();
    // The thread pops a chunk before writing it, so the back chunk is never
    // being written and may grow.
    if (!queue_.empty() && queue_.back().size() + bytes.size() <= kCoalesceLimit) {
      queue_.back().append(bytes);
    } else if (owned != nullptr) {
      queue_.push_back(std::move(*owned));
    } else {
      queue_.emplace_back(bytes);
    }
  }
  work_.notify_one();
}

void LogRewriter::AddSnapshotRecords(std::string frames) {
  {
    std::lock_guard lock(mu_);
    snapshot_bytes_ += frames.size();
  }
  Enqueue(frames, &frames);
}

void LogRewriter::AddLiveRecord(std::string_view frames) {
  {
    std::lock_guard lock(mu_);
    live_bytes_ += frames.size();
  }
  Enqueue(frames, nullptr);
}

uint64_t LogRewriter::queued_bytes() const {
  std::lock_guard lock(mu_);
  return queued_bytes_;
}

bool LogRewriter::Drained() const {
  std::lock_guard lock(mu_);
  return (queue_.empty() && !writing_) || !status_.ok();
}

Status LogRewriter::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

uint64_t LogRewriter::bytes_written() const {
  std::lock_guard lock(mu_);
  return bytes_written_;
}

uint64_t LogRewriter::snapshot_bytes() const {
  std::lock_guard lock(mu_);
  return snapshot_bytes_;
}

uint64_t LogRewriter::live_bytes() const {
  std::lock_guard lock(mu_);
  return live_bytes_;
}

void LogRewriter::Run() {
  uint64_t unsynced = 0;
  std::unique_lock lock(mu_);
  while (true) {
    work_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;  // Finish stops only once drained; Abort drops the rest
    std::string chunk = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    lock.unlock();

    Status s = file_->Append(chunk);
    if (s.ok()) {
      unsynced += chunk.size();
      if (options_.incremental_fsync_bytes != 0 && unsynced >= options_.incremental_fsync_bytes) {
        s = file_->Sync();
        unsynced = 0;
      }
    }

    lock.lock();
    writing_ = false;
    queued_bytes_ -= chunk.size();
    bool notify = false;
    if (s.ok()) {
      bytes_written_ += chunk.size();
    } else {
      status_ = std::move(s);
      queue_.clear();  // nothing more will be written
      queued_bytes_ = 0;
      notify = true;
    }
    if (queue_.empty()) {
      drained_.notify_all();
      notify = true;
    }
    if (notify && options_.on_progress) {
      lock.unlock();
      options_.on_progress();
      lock.lock();
    }
    if (!status_.ok()) return;
  }
}

void LogRewriter::StopThread() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LogRewriter::RemoveTemp() {
  file_.reset();
  // Best effort: a leftover temporary file is replaced by the next Start().
  (void)env_->Remove(temp_path_);
}

Result<LogRewriter::Finished> LogRewriter::Finish() {
  if (done_) return Status::Invalid("rewrite already finished or aborted");
  {
    std::unique_lock lock(mu_);
    drained_.wait(lock, [this] { return (queue_.empty() && !writing_) || !status_.ok(); });
  }
  StopThread();
  done_ = true;
  Status s = status();
  if (s.ok()) s = file_->Sync();
  if (s.ok()) s = env_->Rename(temp_path_, live_path_);
  if (!s.ok()) {
    RemoveTemp();
    return Status(s.code(), "rewrite of " + live_path_ + " failed: " + s.message());
  }
  // From here on the live path names the new file: no undo.
  s = env_->SyncDir(ParentDir(live_path_));
  if (!s.ok()) {
    fatal_failure_ = true;
    return Status(s.code(), "rewrite of " + live_path_ +
                                " renamed but the directory fsync failed: " + s.message());
  }
  return Finished{file_, bytes_written()};
}

void LogRewriter::Abort() {
  if (done_) return;
  done_ = true;
  StopThread();
  RemoveTemp();
}

bool ShouldRewrite(uint64_t current_size, uint64_t base_size, int percentage, uint64_t min_size) {
  if (percentage <= 0 || current_size <= min_size) return false;
  const uint64_t base = base_size == 0 ? 1 : base_size;
  // Redis: growth = current * 100 / base - 100 >= percentage, in 128 bits
  // so that no size overflows.
  unsigned __int128 ratio = static_cast<unsigned __int128>(current_size) * 100 / base;
  return ratio >= 100 + static_cast<unsigned __int128>(percentage);
}

void RewriteInfo::Started(int64_t now_ms) {
  in_progress = true;
  started_at_ms = now_ms;
}

void RewriteInfo::Succeeded(int64_t now_ms, uint64_t new_size) {
  in_progress = false;
  last_ok = true;
  last_error.clear();
  ++completed;
  last_duration_ms = now_ms - started_at_ms;
  last_size = new_size;
}

void RewriteInfo::Failed(int64_t now_ms, const Status& why) {
  in_progress = false;
  last_ok = false;
  last_error = why.message();
  last_duration_ms = now_ms - started_at_ms;
}

}  // namespace shoal::storage
