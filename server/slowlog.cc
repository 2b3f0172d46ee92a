#include "server/slowlog.h"

#include "facade/args.h"
#include "server/config_table.h"

namespace shoal::server {
namespace {

// One argument as an entry shows it, from its first bytes and full size.
std::string Shown(std::string_view head, size_t size) {
  std::string out(head);
  if (size > SlowLog::kMaxArgBytes) {
    out += "... (" + std::to_string(size - SlowLog::kMaxArgBytes) + " more bytes)";
  }
  return out;
}

}  // namespace

std::vector<std::string> SlowLog::TrimArgs(std::span<const std::string> args) {
  SlowLog log;
  log.Capture(args);
  log.Maybe(0, 0, "", "", 0, 1);
  return log.entries_.front().args;
}

void SlowLog::Capture(std::span<const std::string> args) {
  captured_pending_ = true;
  captured_argc_ = args.size();
  captured_count_ = std::min(args.size(), kMaxArgs);
  if (captured_.size() < captured_count_) {
    captured_.resize(captured_count_);
    captured_sizes_.resize(captured_count_);
  }
  for (size_t i = 0; i < captured_count_; ++i) {
    captured_[i].assign(args[i], 0, kMaxArgBytes);
    captured_sizes_[i] = args[i].size();
  }
  // As Redis's redactClientCommandArgument: AUTH's arguments and the values
  // CONFIG SET gives secrets never reach the log.
  auto redact = [&](size_t i) {
    if (i >= captured_count_) return;
    captured_[i] = "(redacted)";
    captured_sizes_[i] = captured_[i].size();
  };
  if (!args.empty() && facade::EqualsIgnoreCase(args[0], "auth")) {
    for (size_t i = 1; i < args.size(); ++i) redact(i);
  } else if (args.size() >= 2 && facade::EqualsIgnoreCase(args[0], "config") &&
             facade::EqualsIgnoreCase(args[1], "set")) {
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      if (IsSecretDirective(args[i])) redact(i + 1);
    }
  }
}

void SlowLog::Maybe(uint64_t duration_us, int64_t now_s, const std::string& client_addr,
                    const std::string& client_name, int64_t slower_than_us, size_t max_len) {
  // Each capture is used once: a command run while the log was off (and so
  // not captured) must not be logged with the previous command's arguments.
  if (!captured_pending_) return;
  captured_pending_ = false;
  if (slower_than_us < 0 || duration_us < static_cast<uint64_t>(slower_than_us)) return;
  SlowLogEntry e;
  e.id = next_id_++;
  e.time = now_s;
  e.duration_us = duration_us;
  e.args.reserve(captured_count_);
  for (size_t i = 0; i < captured_count_; ++i) {
    if (i == kMaxArgs - 1 && captured_argc_ > kMaxArgs) {
      // As slowlogCreateEntry: the last slot says how many were left out.
      e.args.push_back("... (" + std::to_string(captured_argc_ - kMaxArgs + 1) +
                       " more arguments)");
      break;
    }
    e.args.push_back(Shown(captured_[i], captured_sizes_[i]));
  }
  e.client_addr = client_addr;
  e.client_name = client_name;
  entries_.push_front(std::move(e));
  Trim(max_len);
}

void SlowLog::Trim(size_t max_len) {
  while (entries_.size() > max_len) entries_.pop_back();
}

}  // namespace shoal::server
