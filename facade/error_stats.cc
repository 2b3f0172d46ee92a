#include "facade/error_stats.h"

namespace shoal::facade {

void ErrorStats::Count(std::string_view reply) {
  ++total_;
  if (!reply.empty() && reply[0] == '-') reply.remove_prefix(1);
  size_t end = reply.find_first_of(" \r\n");
  std::string_view prefix = reply.substr(0, end == std::string_view::npos ? reply.size() : end);
  auto it = by_prefix_.find(prefix);
  if (it != by_prefix_.end()) {
    ++it->second;
  } else if (by_prefix_.size() < kMaxPrefixes) {
    by_prefix_.emplace(std::string(prefix), 1);
  }
}

void ErrorStats::Reset() {
  total_ = 0;
  by_prefix_.clear();
}

}  // namespace shoal::facade
