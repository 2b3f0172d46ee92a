// A log line that a remote party can trigger at will (a failed peer
// handshake, a refused peer connection) is written at most once per
// interval; the lines held back in between are counted and reported with the
// next one written ("... (37 similar lines suppressed)").
//
// Pure: the caller passes the time. Not thread-safe (one loop thread).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace shoal::cluster {

class LogRateLimiter {
 public:
  explicit LogRateLimiter(int64_t interval_ms = 1000) : interval_ms_(interval_ms) {}

  // Whether a line may be written at `now_ms`: if so, returns the number of
  // lines suppressed since the last one written (and resets it); if not,
  // counts this one as suppressed and returns nullopt.
  std::optional<uint64_t> Admit(int64_t now_ms);

  // " (N similar lines suppressed)" for N > 0, else "": the suffix of an
  // admitted line.
  static std::string SuppressedSuffix(uint64_t suppressed);

  uint64_t suppressed() const { return suppressed_; }

 private:
  int64_t interval_ms_;
  int64_t last_ms_ = 0;
  bool written_ = false;
  uint64_t suppressed_ = 0;
};

}  // namespace shoal::cluster
