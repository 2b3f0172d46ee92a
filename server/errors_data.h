#pragma once
// Error replies of the string and key commands that server/errors.h does not
// have yet, word for word as Redis 7.0 sends them (t_string.c, expire.c).
// To be merged into server/errors.h by the lead.

#include <string>
#include <string_view>

namespace shoal::server::errors {

// DECRBY with LLONG_MIN: negating it would overflow (t_string.c, decrbyCommand).
inline constexpr std::string_view kDecrementOverflow = "ERR decrement would overflow";
// EXPIRE family flags (expire.c, parseExtendedExpireArgumentsOrReply).
inline constexpr std::string_view kExpireNxAndOthers =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
inline constexpr std::string_view kExpireGtAndLt =
    "ERR GT and LT options at the same time are not compatible";

// "ERR Unsupported option foo" (an unknown EXPIRE-family flag, as sent).
inline std::string UnsupportedOption(std::string_view option) {
  std::string s = "ERR Unsupported option ";
  s.append(option);
  return s;
}

}  // namespace shoal::server::errors
