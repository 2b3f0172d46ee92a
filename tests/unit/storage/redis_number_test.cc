// Redis's number texts: string2ll, string2ld, ld2string (human mode).

#include <doctest/doctest.h>

#include <limits>

#include "storage/redis_number.h"

namespace shoal::storage {
namespace {

TEST_CASE("ParseStrictInt64 is Redis's string2ll") {
  CHECK(ParseStrictInt64("0") == 0);
  CHECK(ParseStrictInt64("-12") == -12);
  CHECK(ParseStrictInt64("9223372036854775807") == std::numeric_limits<int64_t>::max());
  CHECK(ParseStrictInt64("-9223372036854775808") == std::numeric_limits<int64_t>::min());
  for (const char* bad : {"", "-", "-0", "+1", " 1", "1 ", "01", "1.0", "9223372036854775808"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseStrictInt64(bad).has_value());
  }
}

TEST_CASE("ParseRedisLongDouble and FormatLongDoubleHuman as Redis's HINCRBYFLOAT") {
  CHECK(ParseRedisLongDouble("10.50") == 10.5L);
  CHECK(ParseRedisLongDouble("5.0e3") == 5000.0L);
  for (const char* bad : {"", " 1", "1 ", "abc", "nan", "1e99999"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseRedisLongDouble(bad).has_value());
  }
  CHECK(FormatLongDoubleHuman(10.5L + 0.1L) == "10.6");
  CHECK(FormatLongDoubleHuman(5200.0L) == "5200");
  CHECK(FormatLongDoubleHuman(-0.0L) == "0");
  CHECK(FormatLongDoubleHuman(0.1L + 0.2L) == "0.3");
  // A text it wrote reads back to the same text.
  for (const char* t : {"10.6", "0.3", "-1.25", "3.0000000000000001", "123456789.123"}) {
    CAPTURE(t);
    CHECK(FormatLongDoubleHuman(*ParseRedisLongDouble(FormatLongDoubleHuman(
              *ParseRedisLongDouble(t)))) == FormatLongDoubleHuman(*ParseRedisLongDouble(t)));
  }
}

}  // namespace
}  // namespace shoal::storage
