#include "cluster/peer/log_rate_limiter.h"

namespace shoal::cluster {

std::optional<uint64_t> LogRateLimiter::Admit(int64_t now_ms) {
  if (written_ && now_ms - last_ms_ < interval_ms_) {
    ++suppressed_;
    return std::nullopt;
  }
  written_ = true;
  last_ms_ = now_ms;
  const uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

std::string LogRateLimiter::SuppressedSuffix(uint64_t suppressed) {
  if (suppressed == 0) return {};
  return " (" + std::to_string(suppressed) + " similar lines suppressed)";
}

}  // namespace shoal::cluster
