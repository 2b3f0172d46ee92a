#include "storage/atomic_file.h"

namespace shoal::storage {

Status WriteFileAtomically(Env* env, const std::string& dir, const std::string& name,
                           std::string_view contents) {
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  auto file = env->CreateTruncated(tmp);
  if (!file.ok()) return file.status();
  Status st = file.value()->Append(contents);
  if (st.ok()) st = file.value()->Sync();
  if (st.ok()) st = env->Rename(tmp, path);
  if (st.ok()) st = env->SyncDir(dir);
  return st;
}

Result<std::optional<std::string>> ReadSmallFile(Env* env, const std::string& path,
                                                 uint64_t max_bytes) {
  auto size = env->FileSize(path);
  if (!size.ok()) {
    if (size.status().code() == Code::kNotFound) return std::optional<std::string>();
    return size.status();
  }
  if (size.value() > max_bytes) {
    return Status::Corruption(path + ": " + std::to_string(size.value()) +
                              " bytes, larger than such a file can be");
  }
  auto file = env->OpenReadable(path);
  if (!file.ok()) return file.status();
  std::string text;
  Status st = file.value()->Read(0, static_cast<size_t>(size.value()), &text);
  if (!st.ok()) return st;
  return std::optional<std::string>(std::move(text));
}

}  // namespace shoal::storage
