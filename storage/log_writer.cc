#include "storage/log_writer.h"

#include <filesystem>
#include <system_error>
#include <utility>

#include "storage/log_format.h"

namespace shoal::storage {
namespace {

// A buffer that grew past this during a burst (large values) is freed after
// the write rather than kept for ever: its memory counts against maxmemory.
// Redis frees its aof_buf past 4000 bytes; 64 KiB keeps the ordinary loop
// iteration's small writes free of reallocations.
constexpr size_t kMaxIdleBufferCapacity = 64u << 10;

std::string ParentDir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

}  // namespace

Result<std::unique_ptr<LogWriter>> LogWriter::Open(Env* env, const std::string& path) {
  uint64_t size = 0;
  Result<uint64_t> existing = env->FileSize(path);
  if (existing.ok()) {
    size = existing.value();
  } else if (existing.status().code() != Code::kNotFound) {
    return existing.status();
  }
  if (size > 0 && size < kLogHeaderSize) {
    // ReplayLog cuts a torn header to nothing; appending after one would
    // bury every later record behind a bad header.
    return Status::Corruption(path + ": log shorter than its header; replay it first");
  }
  auto file = env->OpenAppendable(path);
  if (!file.ok()) return file.status();
  std::shared_ptr<WritableFile> f = std::move(file).value();
  if (size == 0) {
    std::string header;
    AppendLogHeader(&header);
    Status s = f->Append(header);
    if (s.ok()) s = f->Sync();
    if (s.ok()) s = env->SyncDir(ParentDir(path));
    if (!s.ok()) return s;
    size = header.size();
  }
  return std::make_unique<LogWriter>(std::move(f), size);
}

LogWriter::LogWriter(std::shared_ptr<WritableFile> file, uint64_t size)
    : file_(std::move(file)), size_(size), base_size_(size), synced_(size) {}

LogWriter::~LogWriter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  // The thread writes what is queued before it stops: the bytes its jobs
  // point at are kept alive by the jobs themselves.
  if (thread_.joinable()) thread_.join();
}

void LogWriter::AppendPut(std::string_view key, std::string_view object) {
  if (status_.ok()) AppendPutRecord(&buffer_, key, object);
}

void LogWriter::AppendPutParts(std::string_view key, std::string_view head, std::string_view value,
                               KeepAlive keep) {
  if (!status_.ok()) return;
  AppendPutRecordHead(&buffer_, key, head, value);
  if (value.size() < kDirectWriteBytes) {
    buffer_.append(value);
    return;
  }
  if (keep) {
    // The record's start (and whatever was buffered before it), then the
    // value read in place on the background thread.
    QueueBuffer(false);
    Job job;
    job.ref = value;
    job.keep = std::move(keep);
    Queue(std::move(job));
    return;
  }
  if (!Write().ok()) return;
  status_ = file_->Append(value);
  if (status_.ok()) size_ += value.size();
}

void LogWriter::AppendFlushAll() {
  if (status_.ok()) AppendFlushAllRecord(&buffer_);
}

void LogWriter::AppendFramed(std::string_view frames) {
  if (status_.ok()) buffer_.append(frames);
}

Status LogWriter::Commit(bool sync) {
  if (!Poll().ok()) return status_;
  if (busy() || buffer_.size() >= kBackgroundBytes) {
    if (!buffer_.empty() || sync) QueueBuffer(sync);
    return status_;
  }
  if (!Write().ok()) return status_;
  // Also after a background write without an fsync (the queued fsync came
  // after the thread was done, or never came).
  if (sync && synced_ < size_) return Sync();
  return status_;
}

void LogWriter::QueueBuffer(bool sync) {
  Job job;
  job.owned = std::move(buffer_);
  buffer_.clear();
  job.sync = sync;
  Queue(std::move(job));
}

void LogWriter::Queue(Job job) {
  const uint64_t bytes = job.owned.size() + job.ref.size();
  job.file = file_;
  job.end = size_ + queued_bytes_ + bytes;  // buffer_ is not part of this job
  queued_bytes_ += bytes;
  ++queued_jobs_;
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(job));
    if (!thread_.joinable()) {
      try {
        thread_ = std::thread([this] { RunBackground(); });
      } catch (const std::system_error&) {
        // No thread to be had: write it here, slow but correct.
        Job j = std::move(jobs_.back());
        jobs_.pop_back();
        Status st = j.file->Append(j.owned.empty() ? j.ref : std::string_view(j.owned));
        if (st.ok() && j.sync) st = j.file->Sync();
        if (st.ok()) {
          bg_written_ = j.end;
          if (j.sync) bg_synced_ = j.end;
        } else if (bg_status_.ok()) {
          bg_status_ = st;
        }
        ++bg_jobs_done_;
        return;
      }
    }
  }
  wake_.notify_one();
}

void LogWriter::SetWakeup(std::function<void()> wakeup) {
  std::lock_guard lock(mu_);
  wakeup_ = std::move(wakeup);
}

Status LogWriter::Poll() {
  if (queued_jobs_ == 0) return status_;
  uint64_t done_jobs, written, synced;
  Status st;
  {
    std::lock_guard lock(mu_);
    done_jobs = bg_jobs_done_;
    written = bg_written_;
    synced = bg_synced_;
    st = bg_status_;
  }
  // The counters only grow; what the loop saw before is subtracted.
  queued_jobs_ -= done_jobs - polled_jobs_;
  polled_jobs_ = done_jobs;
  if (written > size_) {
    queued_bytes_ -= written - size_;
    size_ = written;
  }
  if (synced > synced_) synced_ = synced;
  if (queued_jobs_ == 0) queued_bytes_ = 0;  // failed or dropped jobs
  if (!st.ok() && status_.ok()) status_ = std::move(st);
  return status_;
}

Status LogWriter::Drain() {
  {
    std::unique_lock lock(mu_);
    done_.wait(lock, [this] { return jobs_.empty() && !running_; });
  }
  return Poll();
}

void LogWriter::RunBackground() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    if (jobs_.empty()) return;  // stop_, and everything written
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    const bool failed = !bg_status_.ok();
    running_ = true;
    lock.unlock();
    // After a failure nothing more is written: the log ends at the failure
    // and the server is going down.
    Status st;
    if (!failed) {
      st = job.file->Append(job.owned.empty() ? job.ref : std::string_view(job.owned));
      if (st.ok() && job.sync) st = job.file->Sync();
    }
    const uint64_t end = job.end;
    const bool synced = job.sync;
    job = Job();  // frees the buffer, drops the pin (off the loop)
    lock.lock();
    running_ = false;
    if (!failed) {
      if (st.ok()) {
        bg_written_ = end;
        if (synced) bg_synced_ = end;
      } else {
        bg_status_ = std::move(st);
      }
    }
    ++bg_jobs_done_;
    std::function<void()> wakeup = wakeup_;
    if (jobs_.empty()) done_.notify_all();
    lock.unlock();
    if (wakeup) wakeup();
    lock.lock();
  }
}

Status LogWriter::Write() {
  if (busy() && !Drain().ok()) return status_;
  if (!status_.ok() || buffer_.empty()) return status_;
  status_ = file_->Append(buffer_);
  if (!status_.ok()) return status_;
  size_ += buffer_.size();
  // A large buffer is kept while it is still used (a quarter or more of it
  // this time: a sustained stream of large writes would otherwise regrow it
  // on every loop iteration), and freed once the burst is over.
  if (buffer_.capacity() > kMaxIdleBufferCapacity && buffer_.size() * 4 < buffer_.capacity()) {
    std::string().swap(buffer_);
  } else {
    buffer_.clear();
  }
  return status_;
}

void LogWriter::ReleaseIdle() {
  if (buffer_.empty() && buffer_.capacity() > kMaxIdleBufferCapacity) std::string().swap(buffer_);
}

Status LogWriter::Sync() {
  if (busy() && !Drain().ok()) return status_;
  if (!status_.ok()) return status_;
  status_ = file_->Sync();
  if (status_.ok()) synced_ = size_;
  return status_;
}

void LogWriter::SwitchFile(std::shared_ptr<WritableFile> file, uint64_t size) {
  file_ = std::move(file);
  size_ = size;
  base_size_ = size;
  // The rewrite fsynced the new file. Offsets from now on are the new
  // file's: the background thread's (idle, as the caller checked) restart
  // there too, or Poll() would take the old file's for progress.
  synced_ = size;
  std::lock_guard lock(mu_);
  bg_written_ = size;
  bg_synced_ = size;
}

// --- BackgroundSyncer ---

BackgroundSyncer::BackgroundSyncer(std::chrono::milliseconds interval,
                                   std::function<void()> on_failure)
    : interval_(interval), on_failure_(std::move(on_failure)) {}

BackgroundSyncer::~BackgroundSyncer() {
  Stop();
}

void BackgroundSyncer::Start(std::shared_ptr<WritableFile> file) {
  std::lock_guard lock(mu_);
  file_ = std::move(file);
  if (!thread_.joinable() && !stop_) thread_ = std::thread([this] { Run(); });
}

void BackgroundSyncer::SetFile(std::shared_ptr<WritableFile> file) {
  std::lock_guard lock(mu_);
  file_ = std::move(file);
}

void BackgroundSyncer::RequestSync() {
  {
    std::lock_guard lock(mu_);
    requested_ = true;
  }
  wake_.notify_one();
}

void BackgroundSyncer::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

Status BackgroundSyncer::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

uint64_t BackgroundSyncer::sync_count() const {
  std::lock_guard lock(mu_);
  return sync_count_;
}

bool BackgroundSyncer::WaitForSyncCount(uint64_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  done_.wait_for(lock, timeout, [&] { return sync_count_ >= n || !status_.ok(); });
  return sync_count_ >= n;
}

void BackgroundSyncer::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait_for(lock, interval_, [this] { return stop_ || requested_; });
    if (stop_) return;
    requested_ = false;
    // Hold a reference, not the lock, across the fsync: SetFile() and the
    // loop thread's calls never wait for the disk.
    std::shared_ptr<WritableFile> file = file_;
    lock.unlock();
    Status s = file ? file->Sync() : Status::Ok();
    file.reset();  // may close an fd a rewrite switched away from
    lock.lock();
    if (!s.ok()) {
      status_ = std::move(s);
      done_.notify_all();
      lock.unlock();
      if (on_failure_) on_failure_();
      return;
    }
    ++sync_count_;
    done_.notify_all();
  }
}

}  // namespace shoal::storage
