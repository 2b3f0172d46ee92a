#pragma once
// Parsing of command arguments with Redis's exact rules (util.c string2ll,
// string2ld): numbers must be the whole argument, no spaces, no leading '+'.

#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::facade {

// Strict signed 64-bit integer, as Redis's string2ll.
bool ParseInt64(std::string_view s, int64_t* out);
// Long double, as Redis's string2ld: no spaces, not NaN. "inf" is allowed.
bool ParseLongDouble(std::string_view s, long double* out);
// ASCII case-insensitive equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// A SCAN cursor, as db.c's parseScanCursorOrReply: strtoul's grammar (so
// "+5", "-1" and "" are accepted, as in Redis), but no leading space, no
// trailing bytes, no overflow.
bool ParseScanCursor(const std::string& s, uint64_t* cursor);

}  // namespace shoal::facade
