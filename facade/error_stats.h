#pragma once
// ErrorStats: error replies counted by their first word, as Redis's INFO
// `errorstats` section (errorstat_ERR:count=3) and `total_error_replies`.
// Connections count each error reply once, when it is queued for the client
// (facade/connection.h), so a reply counts the same whether the command ran
// here, on a replica, or was combined from several nodes.
//
// As Redis (ERROR_STATS_NUMBER), at most 128 distinct prefixes are tracked;
// later new prefixes count in the total only. Pure logic.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace shoal::facade {

class ErrorStats {
 public:
  static constexpr size_t kMaxPrefixes = 128;

  // `reply` is the RESP bytes of one error reply ("-ERR syntax error\r\n").
  void Count(std::string_view reply);
  void Reset();

  uint64_t total() const { return total_; }
  // Prefix ("ERR", "WRONGTYPE", ...) -> count, in name order.
  const std::map<std::string, uint64_t, std::less<>>& by_prefix() const { return by_prefix_; }

 private:
  uint64_t total_ = 0;
  std::map<std::string, uint64_t, std::less<>> by_prefix_;
};

}  // namespace shoal::facade
