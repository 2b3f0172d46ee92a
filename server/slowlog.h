#pragma once
// SlowLog: the commands that ran longer than slowlog-log-slower-than, the
// last slowlog-max-len of them, as Redis 7.0's slowlog.c keeps them. Each
// entry holds its id (increasing from 0 since start; RESET does not restart
// it), when it ran (unix seconds), how long (microseconds), its arguments
// trimmed as Redis trims them (at most 32: the 32nd becomes "... (N more
// arguments)"; each at most 128 bytes, then "... (N more bytes)"), and the
// client's address and name.
//
// Pure logic: the caller measures and gives the time. Loop thread only.

#include <cstdint>
#include <deque>
#include <span>
#include <string>
#include <vector>

namespace shoal::server {

struct SlowLogEntry {
  uint64_t id = 0;
  int64_t time = 0;  // unix seconds
  uint64_t duration_us = 0;
  std::vector<std::string> args;
  std::string client_addr;
  std::string client_name;
};

class SlowLog {
 public:
  static constexpr size_t kMaxArgs = 32;
  static constexpr size_t kMaxArgBytes = 128;

  // Keeps what an entry needs of `args` (at most kMaxArgs, kMaxArgBytes
  // each, and their full sizes) before the command runs: handlers may move
  // their arguments away. Reuses its buffers, so in a steady state it
  // allocates nothing.
  void Capture(std::span<const std::string> args);
  // Records the command last captured (once: without a new Capture nothing
  // more is recorded) if `duration_us` reaches `slower_than_us`
  // (<0: never, 0: always), then trims the log to `max_len` entries,
  // dropping the oldest.
  void Maybe(uint64_t duration_us, int64_t now_s, const std::string& client_addr,
             const std::string& client_name, int64_t slower_than_us, size_t max_len);
  // Drops entries past `max_len` (after CONFIG SET slowlog-max-len).
  void Trim(size_t max_len);
  void Reset() { entries_.clear(); }

  size_t size() const { return entries_.size(); }
  // Newest first.
  const std::deque<SlowLogEntry>& entries() const { return entries_; }

  // The arguments as an entry keeps them.
  static std::vector<std::string> TrimArgs(std::span<const std::string> args);

 private:
  std::deque<SlowLogEntry> entries_;  // front: newest
  uint64_t next_id_ = 0;
  // The command being run, as Capture() kept it.
  std::vector<std::string> captured_;  // only the first captured_count_ are in use
  std::vector<size_t> captured_sizes_;
  size_t captured_count_ = 0;
  size_t captured_argc_ = 0;
  bool captured_pending_ = false;
};

}  // namespace shoal::server
