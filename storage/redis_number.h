#pragma once
// Redis's number texts, as util.c reads and writes them: the rules every
// value that is "a number stored as a string" follows (INCR on a string,
// HINCRBY and HINCRBYFLOAT on a hash field, a field of a convergent hash
// that is a counter). Pure functions, no allocation beyond the result.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shoal::storage {

// string2ll: an optional '-', then digits with no leading zero (except "0"
// itself), nothing else, within int64. "-0", "+1", " 1", "01" and "" are
// not integers.
std::optional<int64_t> ParseStrictInt64(std::string_view s);

// string2ld: the whole text is a long double (strtold), no leading space,
// under 5 KiB, not NaN, and no overflow to infinity or underflow to zero
// that strtold reports with ERANGE.
std::optional<long double> ParseRedisLongDouble(std::string_view s);

// ld2string in LD_STR_HUMAN mode: "%.17Lf" with trailing zeros (and a bare
// '.') removed, and "-0" printed as "0" — what HINCRBYFLOAT and INCRBYFLOAT
// store and reply. For a text it produced, Parse then Format gives the same
// text back.
std::string FormatLongDoubleHuman(long double v);

}  // namespace shoal::storage
