// MonitorLine: MONITOR's lines as redis-server 7.0.15 sends them (checked
// with redis-cli monitor against it).

#include "server/commands/monitor_line.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace shoal::server {
namespace {

std::string Line(std::vector<std::string> args) {
  return MonitorLine(1339518083107412, "127.0.0.1:60866", args);
}

TEST_CASE("a command's line: time, db, address, quoted arguments") {
  CHECK(Line({"keys", "*"}) == "+1339518083.107412 [0 127.0.0.1:60866] \"keys\" \"*\"\r\n");
  CHECK(MonitorLine(5, "a:1", std::vector<std::string>{"ping"}) ==
        "+0.000005 [0 a:1] \"ping\"\r\n");
}

TEST_CASE("arguments are quoted as sdscatrepr") {
  std::string out;
  AppendRepr(&out, std::string("a\"b\\c\n\r\t\a\b\x01\xff ~", 14));
  CHECK(out == "\"a\\\"b\\\\c\\n\\r\\t\\a\\b\\x01\\xff ~\"");
  out.clear();
  AppendRepr(&out, "");
  CHECK(out == "\"\"");
}

TEST_CASE("credentials are redacted as Redis does") {
  CHECK(Line({"AUTH", "secret"}) ==
        "+1339518083.107412 [0 127.0.0.1:60866] \"AUTH\" \"(redacted)\"\r\n");
  CHECK(Line({"auth", "default", "secret"}) ==
        "+1339518083.107412 [0 127.0.0.1:60866] \"auth\" \"(redacted)\" \"(redacted)\"\r\n");
  // Too many arguments: Redis answers a syntax error before redacting.
  CHECK(Line({"auth", "a", "b", "c"}) ==
        "+1339518083.107412 [0 127.0.0.1:60866] \"auth\" \"a\" \"b\" \"c\"\r\n");
  CHECK(Line({"hello", "3", "SETNAME", "n", "AUTH", "u", "p"}) ==
        "+1339518083.107412 [0 127.0.0.1:60866] \"hello\" \"3\" \"SETNAME\" \"n\" \"AUTH\" "
        "\"(redacted)\" \"(redacted)\"\r\n");
  CHECK(Line({"hello", "3"}) == "+1339518083.107412 [0 127.0.0.1:60866] \"hello\" \"3\"\r\n");
}

}  // namespace
}  // namespace shoal::server
