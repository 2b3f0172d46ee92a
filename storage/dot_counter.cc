#include "storage/dot_counter.h"

#include <charconv>

namespace shoal::storage {

Status DotCounter::Open(Env* env, const std::string& dir) {
  env_ = env;
  dir_ = dir;
  const std::string path = dir + "/" + kFileName;
  auto size = env->FileSize(path);
  if (size.ok() && size.value() > 0) {
    auto file = env->OpenReadable(path);
    if (!file.ok()) return file.status();
    std::string text;
    Status st =
        file.value()->Read(0, static_cast<size_t>(std::min<uint64_t>(size.value(), 64)), &text);
    if (!st.ok()) return st;
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    uint64_t stored = 0;
    auto res = std::from_chars(text.data(), text.data() + text.size(), stored);
    if (res.ec != std::errc() || res.ptr != text.data() + text.size()) {
      return Status::Corruption(path + ": not a dot lease (a decimal number)");
    }
    // Every value up to the stored end may have been handed out.
    if (stored > next_) next_ = stored;
  }
  return Persist(next_ + kLease);
}

Status DotCounter::Persist(uint64_t lease_end) {
  if (env_ == nullptr) {
    lease_end_ = lease_end;
    return Status::Ok();
  }
  const std::string path = dir_ + "/" + kFileName;
  const std::string tmp = path + ".tmp";
  auto file = env_->CreateTruncated(tmp);
  if (!file.ok()) return file.status();
  Status st = file.value()->Append(std::to_string(lease_end) + "\n");
  if (st.ok()) st = file.value()->Sync();
  if (st.ok()) st = env_->Rename(tmp, path);
  if (st.ok()) st = env_->SyncDir(dir_);
  if (!st.ok()) return st;
  lease_end_ = lease_end;
  return Status::Ok();
}

Result<uint64_t> DotCounter::Next() {
  if (next_ + 1 > lease_end_) {
    Status st = Persist(next_ + kLease);
    if (!st.ok()) return st;
  }
  return ++next_;
}

}  // namespace shoal::storage
