#pragma once
// The value syntax CONFIG and the conf file share (Redis 7's src/config.c):
// its error reasons word for word, memory values with units, yes/no.
// Used by the directive tables (config_table.cc, config_ignored.cc).

#include <cstdint>
#include <string>
#include <string_view>

namespace shoal::server {

// Reasons, word for word as Redis 7's src/config.c gives them.
inline constexpr std::string_view kNotAnInteger = "argument couldn't be parsed into an integer";
inline constexpr std::string_view kNotMemory = "argument must be a memory value";
inline constexpr std::string_view kNotYesNo = "argument must be 'yes' or 'no'";

// Whether CONFIG SET may change a directive.
enum class Mut { kImmutable, kMutable };

// "argument must be between <min> and <max> inclusive".
std::string Between(int64_t min, int64_t max);
std::string Between(uint64_t min, uint64_t max);

// Redis's memtoull (util.c): digits then an optional unit b, k, kb, m, mb, g,
// gb (case-insensitive; k = 1000, kb = 1024). No sign, no spaces. Unlike
// Redis 7.0 values that overflow 64 bits are refused instead of wrapping.
bool ParseMemory(std::string_view s, uint64_t* out);

// yesnotoi: case-insensitive yes|no.
bool ParseBool(std::string_view s, bool* out);
const char* YesNo(bool b);

}  // namespace shoal::server
