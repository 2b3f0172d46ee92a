#include "server/open_files.h"

#include <sys/resource.h>

#include <cerrno>
#include <cstring>

namespace shoal::server {

OpenFilesPlan PlanOpenFiles(int64_t maxclients, uint64_t current,
                            const std::function<int(uint64_t)>& try_set) {
  OpenFilesPlan plan;
  plan.maxclients = maxclients;
  plan.limit = current;
  const uint64_t wanted = static_cast<uint64_t>(maxclients) + kReservedFds;
  if (current >= wanted) return plan;
  uint64_t best = wanted;
  int error = 0;
  constexpr uint64_t kStep = 16;
  while (best > current) {
    error = try_set(best);
    if (error == 0) break;
    if (best < kStep) break;
    best -= kStep;
  }
  if (best < current || error != 0) best = current;
  plan.limit = best;
  if (best >= wanted) {
    plan.notice = "Increased maximum number of open files to " + std::to_string(wanted) +
                  " (it was originally set to " + std::to_string(current) + ").";
    return plan;
  }
  if (best <= kReservedFds) {
    plan.fatal = true;
    plan.warnings.push_back("Your current 'ulimit -n' of " + std::to_string(current) +
                            " is not enough for the server to start. Please increase your open "
                            "file limit to at least " +
                            std::to_string(wanted) + ". Exiting.");
    return plan;
  }
  plan.maxclients = static_cast<int64_t>(best - kReservedFds);
  plan.warnings.push_back("You requested maxclients of " + std::to_string(maxclients) +
                          " requiring at least " + std::to_string(wanted) +
                          " max file descriptors.");
  plan.warnings.push_back("Server can't set maximum open files to " + std::to_string(wanted) +
                          " because of OS error: " + std::strerror(error != 0 ? error : EPERM) +
                          ".");
  plan.warnings.push_back("Current maximum open files is " + std::to_string(best) +
                          ". maxclients has been reduced to " + std::to_string(plan.maxclients) +
                          " to compensate for low ulimit. If you need higher maxclients "
                          "increase 'ulimit -n'.");
  return plan;
}

OpenFilesPlan AdjustOpenFilesLimit(int64_t maxclients) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    OpenFilesPlan plan;
    plan.maxclients = maxclients;
    plan.warnings.push_back(std::string("Unable to obtain the current NOFILE limit (") +
                            std::strerror(errno) +
                            "), assuming 1024 and setting the max clients configuration "
                            "accordingly.");
    plan.limit = 1024;
    if (static_cast<uint64_t>(maxclients) + kReservedFds > 1024) {
      plan.maxclients = static_cast<int64_t>(1024 - kReservedFds);
    }
    return plan;
  }
  return PlanOpenFiles(maxclients, rl.rlim_cur, [&](uint64_t n) {
    rlimit want = rl;
    want.rlim_cur = n;
    if (want.rlim_max < n) want.rlim_max = n;  // only root may raise the hard limit
    return setrlimit(RLIMIT_NOFILE, &want) == 0 ? 0 : errno;
  });
}

}  // namespace shoal::server
