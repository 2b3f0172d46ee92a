#pragma once
// LatencyMonitor: LATENCY's time series, as Redis 7.0's latency.c keeps
// them. Each named event ("command", "fast-command", "expire-cycle",
// "aof-write") holds its all-time maximum and the last 160 samples, at most
// one per second (a second's sample keeps its largest latency). Samples are
// added only when latency-monitor-threshold is set and reached; that check
// is the caller's (Server), this class records.
//
// Pure logic: the caller gives the time. Loop thread only.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::server {

struct LatencySample {
  int64_t time = 0;  // unix seconds; 0 = empty slot
  uint64_t latency_ms = 0;
};

class LatencyMonitor {
 public:
  static constexpr size_t kSamples = 160;

  struct Series {
    uint64_t max_ms = 0;
    std::array<LatencySample, kSamples> samples{};
    size_t next = 0;  // slot of the next sample
    // The latest sample.
    const LatencySample& latest() const { return samples[(next + kSamples - 1) % kSamples]; }
    // Non-empty samples, oldest first.
    std::vector<LatencySample> History() const;
  };

  void Add(std::string_view event, int64_t now_s, uint64_t latency_ms);
  // Resets the named events (all when `events` is empty); returns how many
  // existed.
  size_t Reset(const std::vector<std::string_view>& events);

  // By event name.
  const std::map<std::string, Series, std::less<>>& events() const { return events_; }
  // LATENCY DOCTOR's report, plain text.
  std::string Doctor(bool enabled) const;

 private:
  std::map<std::string, Series, std::less<>> events_;
};

}  // namespace shoal::server
