#include "storage/dot_counter.h"

#include <charconv>

#include "storage/atomic_file.h"

namespace shoal::storage {

Status DotCounter::Open(Env* env, const std::string& dir) {
  env_ = env;
  dir_ = dir;
  const std::string path = dir + "/" + kFileName;
  auto read = ReadSmallFile(env, path, 64);
  if (!read.ok()) return read.status();
  if (read.value().has_value() && !read.value()->empty()) {
    std::string text = std::move(*read.value());
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
  Status st = WriteFileAtomically(env_, dir_, kFileName, std::to_string(lease_end) + "\n");
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
