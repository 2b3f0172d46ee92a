#include "storage/clean_shutdown.h"

#include "storage/atomic_file.h"

namespace shoal::storage {

Result<bool> TakeCleanShutdownMarker(Env* env, const std::string& dir) {
  const std::string path = dir + "/" + kCleanShutdownFile;
  Status removed = env->Remove(path);
  if (removed.code() == Code::kNotFound) return false;
  if (!removed.ok()) return removed;
  Status synced = env->SyncDir(dir);
  if (!synced.ok()) return synced;
  return true;
}

Status MarkCleanShutdown(Env* env, const std::string& dir) {
  return WriteFileAtomically(env, dir, kCleanShutdownFile, "clean\n");
}

}  // namespace shoal::storage
