#include "server/command_stats.h"

#include <algorithm>
#include <bit>
#include <cstdio>

namespace shoal::server {

size_t LatencyHistogram::Bucket(uint64_t v) {
  // Values below kSubBuckets get a bucket each; above, the power of two and
  // the top three bits below the leading one pick the bucket.
  if (v < kSubBuckets) return static_cast<size_t>(v);
  int msb = 63 - std::countl_zero(v);  // >= 3
  uint64_t sub = (v >> (msb - 3)) & (kSubBuckets - 1);
  return static_cast<size_t>((msb - 2) * kSubBuckets) + static_cast<size_t>(sub);
}

uint64_t LatencyHistogram::UpperBound(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  int msb = static_cast<int>(bucket / kSubBuckets) + 2;
  uint64_t sub = bucket % kSubBuckets;
  uint64_t low = (uint64_t{1} << msb) | (sub << (msb - 3));
  return low + (uint64_t{1} << (msb - 3)) - 1;
}

void LatencyHistogram::Add(uint64_t usec) {
  ++counts_[Bucket(usec)];
  ++count_;
  max_ = std::max(max_, usec);
}

double LatencyHistogram::Percentile(double p) const {
  if (count_ == 0) return 0;
  // The rank of the value at p, 1-based, as HdrHistogram counts.
  auto rank = static_cast<uint64_t>(p / 100.0 * static_cast<double>(count_) + 0.999999);
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t b = 0; b < counts_.size(); ++b) {
    seen += counts_[b];
    if (seen >= rank) return static_cast<double>(std::min(UpperBound(b), max_));
  }
  return static_cast<double>(max_);
}

CommandStat& CommandStats::At(std::string_view name) {
  auto it = stats_.find(name);
  if (it == stats_.end()) it = stats_.emplace(std::string(name), CommandStat{}).first;
  return it->second;
}

void CommandStats::Record(std::string_view name, uint64_t usec, bool failed) {
  CommandStat& s = At(name);
  ++s.calls;
  s.usec += usec;
  if (failed) ++s.failed_calls;
  s.latency.Add(usec);
}

void CommandStats::Reject(std::string_view name) {
  ++At(name).rejected_calls;
}

std::string CommandStats::CommandstatsLines() const {
  std::string out;
  char buf[256];
  for (const auto& [name, s] : stats_) {
    double per_call = s.calls == 0 ? 0 : static_cast<double>(s.usec) / static_cast<double>(s.calls);
    std::snprintf(buf, sizeof(buf),
                  ":calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu",
                  static_cast<unsigned long long>(s.calls), static_cast<unsigned long long>(s.usec),
                  per_call, static_cast<unsigned long long>(s.rejected_calls),
                  static_cast<unsigned long long>(s.failed_calls));
    out += "cmdstat_" + name + buf + "\r\n";
  }
  return out;
}

std::string CommandStats::LatencystatsLines() const {
  std::string out;
  char buf[160];
  for (const auto& [name, s] : stats_) {
    if (s.latency.count() == 0) continue;
    std::snprintf(buf, sizeof(buf), ":p50=%.3f,p99=%.3f,p99.9=%.3f", s.latency.Percentile(50),
                  s.latency.Percentile(99), s.latency.Percentile(99.9));
    out += "latency_percentiles_usec_" + name + buf + "\r\n";
  }
  return out;
}

}  // namespace shoal::server
