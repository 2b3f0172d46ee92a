#include "storage/log_writer.h"

#include <filesystem>
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
    : file_(std::move(file)), size_(size), base_size_(size) {}

void LogWriter::AppendPut(std::string_view key, std::string_view object) {
  if (status_.ok()) AppendPutRecord(&buffer_, key, object);
}

void LogWriter::AppendPutParts(std::string_view key, std::string_view head,
                               std::string_view value) {
  if (!status_.ok()) return;
  AppendPutRecordHead(&buffer_, key, head, value);
  if (value.size() < kDirectWriteBytes) {
    buffer_.append(value);
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

Status LogWriter::Write() {
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
  if (!status_.ok()) return status_;
  status_ = file_->Sync();
  return status_;
}

void LogWriter::SwitchFile(std::shared_ptr<WritableFile> file, uint64_t size) {
  file_ = std::move(file);
  size_ = size;
  base_size_ = size;
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
