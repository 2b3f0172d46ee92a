#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "cluster/peer/log_rate_limiter.h"
#include "cluster/peer/log_text.h"

namespace shoal::cluster {
namespace {

TEST_CASE("LogRepr quotes as sdscatrepr does") {
  CHECK(LogRepr("node-1") == "\"node-1\"");
  CHECK(LogRepr("a\nb") == "\"a\\nb\"");
  CHECK(LogRepr(std::string("\r\t\a\b\\\"", 6)) == "\"\\r\\t\\a\\b\\\\\\\"\"");
  CHECK(LogRepr(std::string("\x00\x7f\xff", 3)) == "\"\\x00\\x7f\\xff\"");
  CHECK(LogRepr("") == "\"\"");
  CHECK(LogRepr("abcdef", 3) == "\"abc\"...");
}

TEST_CASE("EscapeLogLine leaves no control byte in a line") {
  CHECK(EscapeLogLine("plain \"text\" \\ ok") == "plain \"text\" \\ ok");
  CHECK(EscapeLogLine("id\n# forged line\r") == "id\\x0a# forged line\\x0d");
  CHECK(EscapeLogLine(std::string("\x00\xe9", 2)) == "\\x00\\xe9");
}

TEST_CASE("LogRateLimiter: one line per interval, with the count held back") {
  LogRateLimiter lim(1000);
  // The first line is written at once, whatever the time.
  REQUIRE(lim.Admit(5000) == std::optional<uint64_t>(0));
  for (int i = 0; i < 20000; ++i) CHECK_FALSE(lim.Admit(5000 + i % 1000).has_value());
  CHECK(lim.suppressed() == 20000);
  CHECK(lim.Admit(6000) == std::optional<uint64_t>(20000));
  CHECK(lim.suppressed() == 0);
  CHECK_FALSE(lim.Admit(6999).has_value());
  CHECK(lim.Admit(7000) == std::optional<uint64_t>(1));
  CHECK(LogRateLimiter::SuppressedSuffix(0).empty());
  CHECK(LogRateLimiter::SuppressedSuffix(3) == " (3 similar lines suppressed)");
}

}  // namespace
}  // namespace shoal::cluster
