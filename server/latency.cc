#include "server/latency.h"

namespace shoal::server {

std::vector<LatencySample> LatencyMonitor::Series::History() const {
  std::vector<LatencySample> out;
  for (size_t j = 0; j < kSamples; ++j) {
    const LatencySample& s = samples[(next + j) % kSamples];
    if (s.time != 0) out.push_back(s);
  }
  return out;
}

void LatencyMonitor::Add(std::string_view event, int64_t now_s, uint64_t latency_ms) {
  auto it = events_.find(event);
  if (it == events_.end()) it = events_.emplace(std::string(event), Series{}).first;
  Series& ts = it->second;
  if (latency_ms > ts.max_ms) ts.max_ms = latency_ms;
  // As latencyAddSample: one sample a second, keeping the second's largest.
  LatencySample& prev = ts.samples[(ts.next + kSamples - 1) % kSamples];
  if (prev.time == now_s) {
    if (latency_ms > prev.latency_ms) prev.latency_ms = latency_ms;
    return;
  }
  ts.samples[ts.next] = {now_s, latency_ms};
  ts.next = (ts.next + 1) % kSamples;
}

size_t LatencyMonitor::Reset(const std::vector<std::string_view>& events) {
  if (events.empty()) {
    size_t n = events_.size();
    events_.clear();
    return n;
  }
  size_t n = 0;
  for (std::string_view e : events) {
    auto it = events_.find(e);
    if (it == events_.end()) continue;
    events_.erase(it);
    ++n;
  }
  return n;
}

std::string LatencyMonitor::Doctor(bool enabled) const {
  if (!enabled) {
    return "Latency monitoring is disabled in this shoal instance. Use \"CONFIG SET "
           "latency-monitor-threshold <milliseconds>.\" to enable it.\n";
  }
  if (events_.empty()) {
    return "No latency spike was observed during the lifetime of this shoal instance.\n";
  }
  std::string out = "Latency spikes observed by this shoal instance:\n\n";
  int i = 1;
  for (const auto& [name, ts] : events_) {
    std::vector<LatencySample> h = ts.History();
    uint64_t sum = 0;
    for (const LatencySample& s : h) sum += s.latency_ms;
    out += std::to_string(i++) + ". " + name + ": " + std::to_string(h.size()) +
           " latency spikes (average " + std::to_string(h.empty() ? 0 : sum / h.size()) +
           "ms, worst all time " + std::to_string(ts.max_ms) + "ms).\n";
  }
  out +=
      "\nSee SLOWLOG GET for the slow commands themselves; expire-cycle and aof-write spikes "
      "point at many keys expiring at once and a slow disk.\n";
  return out;
}

}  // namespace shoal::server
