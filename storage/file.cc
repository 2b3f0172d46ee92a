#include "storage/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace shoal::storage {
namespace {

Status ErrnoStatus(const char* call, const std::string& path, int err) {
  std::string msg = std::string(call) + " " + path + ": " + std::strerror(err);
  if (err == ENOENT) return Status::NotFound(std::move(msg));
  return Status::IOError(std::move(msg));
}

// Closes an fd we are done with. Only read-only fds and fds whose data was
// already fsynced (or never needed to be) are closed here, so a close error
// carries no information we could act on.
void CloseQuietly(int fd) {
  if (fd >= 0) (void)::close(fd);
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixWritableFile() override { CloseQuietly(fd_); }

  Status Append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus("write", path_, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  Status Sync() override {
    // fdatasync also flushes the size change of an append, which is the
    // metadata needed to read the data back; that is all the log needs.
    while (::fdatasync(fd_) != 0) {
      if (errno != EINTR) return ErrnoStatus("fdatasync", path_, errno);
    }
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  const int fd_;
  const std::string path_;
};

class PosixReadableFile final : public ReadableFile {
 public:
  PosixReadableFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixReadableFile() override { CloseQuietly(fd_); }

  Status Read(uint64_t offset, size_t n, std::string* out) const override {
    out->resize(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, out->data() + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        out->clear();
        return ErrnoStatus("pread", path_, errno);
      }
      if (r == 0) break;  // end of file
      got += static_cast<size_t>(r);
    }
    out->resize(got);
    return Status::Ok();
  }

  const std::string& path() const override { return path_; }

 private:
  const int fd_;
  const std::string path_;
};

Result<std::unique_ptr<WritableFile>> OpenWritable(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  return std::unique_ptr<WritableFile>(new PosixWritableFile(fd, path));
}

}  // namespace

// --- PosixEnv ---

Result<std::unique_ptr<WritableFile>> PosixEnv::OpenAppendable(const std::string& path) {
  return OpenWritable(path, O_APPEND);
}

Result<std::unique_ptr<WritableFile>> PosixEnv::CreateTruncated(const std::string& path) {
  // O_APPEND too: the fd may continue as the live log after a rewrite.
  return OpenWritable(path, O_TRUNC | O_APPEND);
}

Result<std::unique_ptr<ReadableFile>> PosixEnv::OpenReadable(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  return std::unique_ptr<ReadableFile>(new PosixReadableFile(fd, path));
}

Result<uint64_t> PosixEnv::FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoStatus("stat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

Status PosixEnv::Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return ErrnoStatus("rename", from + " -> " + to, errno);
  return Status::Ok();
}

Status PosixEnv::Remove(const std::string& path) {
  if (::unlink(path.c_str()) != 0) return ErrnoStatus("unlink", path, errno);
  return Status::Ok();
}

Status PosixEnv::Truncate(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path, errno);
  Status s;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    s = ErrnoStatus("ftruncate", path, errno);
  } else if (::fsync(fd) != 0) {
    s = ErrnoStatus("fsync", path, errno);
  }
  CloseQuietly(fd);
  return s;
}

Status PosixEnv::SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", dir, errno);
  Status s;
  if (::fsync(fd) != 0) s = ErrnoStatus("fsync", dir, errno);
  CloseQuietly(fd);
  return s;
}

// --- FaultInjectionEnv ---

namespace {

bool Matches(const std::string& path, const std::string& filter) {
  return filter.empty() || path.find(filter) != std::string::npos;
}

Status Injected(const char* what, const std::string& path) {
  return Status::IOError(std::string(what) + " " + path + ": injected failure");
}

}  // namespace

class FaultInjectionEnv::File final : public WritableFile {
 public:
  File(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base)
      : env_(env), base_(std::move(base)) {}

  Status Append(std::string_view data) override {
    size_t allowed = env_->ChargeWrite(path(), data.size());
    if (allowed < data.size()) {
      Status s = base_->Append(data.substr(0, allowed));
      if (!s.ok()) return s;
      return Status::IOError("write " + path() + ": No space left on device (injected failure)");
    }
    return base_->Append(data);
  }

  Status Sync() override {
    if (env_->SyncFails(path())) return Injected("fdatasync", path());
    Status s = base_->Sync();
    if (s.ok()) env_->CountSync();
    return s;
  }

  const std::string& path() const override { return base_->path(); }

 private:
  FaultInjectionEnv* env_;
  std::unique_ptr<WritableFile> base_;
};

void FaultInjectionEnv::SetWriteBudget(uint64_t bytes, std::string path_filter) {
  std::lock_guard lock(mu_);
  write_budget_ = bytes;
  write_filter_ = std::move(path_filter);
}

void FaultInjectionEnv::FailSync(bool fail, std::string path_filter) {
  std::lock_guard lock(mu_);
  fail_sync_ = fail;
  sync_filter_ = std::move(path_filter);
}

void FaultInjectionEnv::FailRename(bool fail) {
  std::lock_guard lock(mu_);
  fail_rename_ = fail;
}

void FaultInjectionEnv::FailSyncDir(bool fail) {
  std::lock_guard lock(mu_);
  fail_sync_dir_ = fail;
}

void FaultInjectionEnv::FailCreate(bool fail) {
  std::lock_guard lock(mu_);
  fail_create_ = fail;
}

void FaultInjectionEnv::Reset() {
  std::lock_guard lock(mu_);
  write_budget_ = kUnlimited;
  write_filter_.clear();
  fail_sync_ = fail_rename_ = fail_sync_dir_ = fail_create_ = false;
  sync_filter_.clear();
}

uint64_t FaultInjectionEnv::sync_count() const {
  std::lock_guard lock(mu_);
  return sync_count_;
}

size_t FaultInjectionEnv::ChargeWrite(const std::string& path, size_t n) {
  std::lock_guard lock(mu_);
  if (write_budget_ == kUnlimited || !Matches(path, write_filter_)) return n;
  size_t allowed = n <= write_budget_ ? n : static_cast<size_t>(write_budget_);
  write_budget_ -= allowed;
  return allowed;
}

bool FaultInjectionEnv::SyncFails(const std::string& path) {
  std::lock_guard lock(mu_);
  return fail_sync_ && Matches(path, sync_filter_);
}

void FaultInjectionEnv::CountSync() {
  std::lock_guard lock(mu_);
  ++sync_count_;
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::Wrap(
    Result<std::unique_ptr<WritableFile>> file) {
  if (!file.ok()) return file;
  return std::unique_ptr<WritableFile>(new File(this, std::move(file).value()));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::OpenAppendable(const std::string& path) {
  {
    std::lock_guard lock(mu_);
    if (fail_create_) return Injected("open", path);
  }
  return Wrap(base_->OpenAppendable(path));
}

Result<std::unique_ptr<WritableFile>> FaultInjectionEnv::CreateTruncated(const std::string& path) {
  {
    std::lock_guard lock(mu_);
    if (fail_create_) return Injected("open", path);
  }
  return Wrap(base_->CreateTruncated(path));
}

Result<std::unique_ptr<ReadableFile>> FaultInjectionEnv::OpenReadable(const std::string& path) {
  return base_->OpenReadable(path);
}

Result<uint64_t> FaultInjectionEnv::FileSize(const std::string& path) {
  return base_->FileSize(path);
}

Status FaultInjectionEnv::Rename(const std::string& from, const std::string& to) {
  {
    std::lock_guard lock(mu_);
    if (fail_rename_) return Injected("rename", from + " -> " + to);
  }
  return base_->Rename(from, to);
}

Status FaultInjectionEnv::Remove(const std::string& path) {
  return base_->Remove(path);
}

Status FaultInjectionEnv::Truncate(const std::string& path, uint64_t size) {
  return base_->Truncate(path, size);
}

Status FaultInjectionEnv::SyncDir(const std::string& dir) {
  {
    std::lock_guard lock(mu_);
    if (fail_sync_dir_) return Injected("fsync", dir);
  }
  return base_->SyncDir(dir);
}

}  // namespace shoal::storage
