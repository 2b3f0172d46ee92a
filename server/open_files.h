#pragma once
// How many file descriptors maxclients needs, and what to do when the
// process may not have that many (Redis's adjustOpenFilesLimit): raise
// RLIMIT_NOFILE as far as allowed, else lower maxclients to fit, with
// Redis's warnings.
//
// The decision is pure (PlanOpenFiles, given a function that tries one
// limit); AdjustOpenFilesLimit applies it to the process.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace shoal::server {

// Descriptors kept for everything but clients: Redis's 32
// (CONFIG_MIN_RESERVED_FDS: log, listeners, files) plus shoal's cluster: peer
// connections in both directions, hint files, the append-only log's rewrite.
// 96 covers a cluster of about 40 nodes; each member uses two.
constexpr uint64_t kReservedFds = 32 + 96;

struct OpenFilesPlan {
  int64_t maxclients = 0;  // what maxclients becomes
  uint64_t limit = 0;      // the open-file limit in force afterwards
  bool fatal = false;      // not even the reserve fits: exit
  std::vector<std::string> warnings;
  std::string notice;  // the limit was raised
};

// `current`: RLIMIT_NOFILE's soft limit now. `try_set(n)` tries to set it to
// n; returns 0 or the errno. Tries maxclients + kReservedFds first, then
// less by 16 at a time down to `current`, as Redis.
OpenFilesPlan PlanOpenFiles(int64_t maxclients, uint64_t current,
                            const std::function<int(uint64_t)>& try_set);

// Applies PlanOpenFiles to this process (getrlimit/setrlimit).
OpenFilesPlan AdjustOpenFilesLimit(int64_t maxclients);

}  // namespace shoal::server
