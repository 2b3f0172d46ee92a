#pragma once
// Versions reported to clients.

#include <string_view>

namespace shoal::server {

// The Redis release whose behaviour shoal follows; clients read it from
// INFO server (redis_version) and HELLO to pick features.
inline constexpr std::string_view kRedisVersion = "7.0.15";

}  // namespace shoal::server
