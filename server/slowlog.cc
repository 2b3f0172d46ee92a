#include "server/slowlog.h"

namespace shoal::server {

std::vector<std::string> SlowLog::TrimArgs(std::span<const std::string> args) {
  const size_t n = std::min(args.size(), kMaxArgs);
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (i == kMaxArgs - 1 && args.size() > kMaxArgs) {
      // As slowlogCreateEntry: the last slot says how many were left out.
      out.push_back("... (" + std::to_string(args.size() - kMaxArgs + 1) + " more arguments)");
      break;
    }
    const std::string& a = args[i];
    if (a.size() > kMaxArgBytes) {
      out.push_back(a.substr(0, kMaxArgBytes) + "... (" + std::to_string(a.size() - kMaxArgBytes) +
                    " more bytes)");
    } else {
      out.push_back(a);
    }
  }
  return out;
}

void SlowLog::Maybe(std::span<const std::string> args, uint64_t duration_us, int64_t now_s,
                    const std::string& client_addr, const std::string& client_name,
                    int64_t slower_than_us, size_t max_len) {
  if (slower_than_us < 0 || duration_us < static_cast<uint64_t>(slower_than_us)) return;
  SlowLogEntry e;
  e.id = next_id_++;
  e.time = now_s;
  e.duration_us = duration_us;
  e.args = TrimArgs(args);
  e.client_addr = client_addr;
  e.client_name = client_name;
  entries_.push_front(std::move(e));
  Trim(max_len);
}

void SlowLog::Trim(size_t max_len) {
  while (entries_.size() > max_len) entries_.pop_back();
}

}  // namespace shoal::server
