#pragma once
// CommandStats: per-command counters for INFO commandstats and latencystats,
// as Redis 7.0 keeps them in each redisCommand:
//
//   cmdstat_get:calls=3,usec=12,usec_per_call=4.00,rejected_calls=0,failed_calls=0
//   latency_percentiles_usec_get:p50=4.007,p99=6.015,p99.9=6.015
//
// Commands are named as the table names them, subcommands "client|list".
// A call is a command that ran; a rejected call one refused before it ran
// (arity, authentication, maxmemory); a failed call one that ran and replied
// an error. Latencies go into a small log-linear histogram per command (a
// cheap stand-in for Redis's HdrHistogram, within 1/8 of the value), from
// which the percentiles are read.
//
// Pure logic, no clock: the caller measures. Loop thread only.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::server {

// Latencies in microseconds, bucketed by powers of two each split into 8.
class LatencyHistogram {
 public:
  void Add(uint64_t usec);
  uint64_t count() const { return count_; }
  // The value at percentile `p` (0 < p <= 100): the upper bound of the
  // bucket holding it, never more than the largest value seen. 0 if empty.
  double Percentile(double p) const;

 private:
  static constexpr int kSubBuckets = 8;
  static constexpr int kBuckets = 64 * kSubBuckets;
  static size_t Bucket(uint64_t v);
  static uint64_t UpperBound(size_t bucket);

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

struct CommandStat {
  uint64_t calls = 0;
  uint64_t usec = 0;
  uint64_t rejected_calls = 0;
  uint64_t failed_calls = 0;
  LatencyHistogram latency;
};

class CommandStats {
 public:
  // A call of `name` that took `usec`; `failed` if it replied an error.
  void Record(std::string_view name, uint64_t usec, bool failed);
  // A call of `name` refused before it ran.
  void Reject(std::string_view name);
  // CONFIG RESETSTAT.
  void Reset() { stats_.clear(); }

  // Commands called or rejected since the start or the last Reset, by name.
  const std::map<std::string, CommandStat, std::less<>>& all() const { return stats_; }

  // The INFO lines, without the section header: "cmdstat_<name>:calls=...".
  std::string CommandstatsLines() const;
  // "latency_percentiles_usec_<name>:p50=...,p99=...,p99.9=..." for each
  // command called at least once.
  std::string LatencystatsLines() const;

 private:
  CommandStat& At(std::string_view name);
  std::map<std::string, CommandStat, std::less<>> stats_;
};

}  // namespace shoal::server
