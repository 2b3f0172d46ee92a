// ReplyBuilder: the bytes of each reply type in RESP2 and RESP3, as Redis
// 7.0's addReply* functions write them (networking.c).

#include "facade/reply_builder.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

namespace shoal::facade {
namespace {

std::string Build(int resp, const std::function<void(ReplyBuilder&)>& fn) {
  std::string out;
  ReplyBuilder rb(&out, resp);
  fn(rb);
  return out;
}

struct Case {
  const char* name;
  std::function<void(ReplyBuilder&)> write;
  const char* resp2;
  const char* resp3;
};

TEST_CASE("each reply type in RESP2 and RESP3") {
  const double inf = std::numeric_limits<double>::infinity();
  const Case cases[] = {
      {"simple", [](ReplyBuilder& r) { r.Simple("PONG"); }, "+PONG\r\n", "+PONG\r\n"},
      {"error", [](ReplyBuilder& r) { r.Error("bad\nthing"); }, "-ERR bad thing\r\n",
       "-ERR bad thing\r\n"},
      {"integer", [](ReplyBuilder& r) { r.Integer(-42); }, ":-42\r\n", ":-42\r\n"},
      {"bulk", [](ReplyBuilder& r) { r.Bulk("hi"); }, "$2\r\nhi\r\n", "$2\r\nhi\r\n"},
      {"empty bulk", [](ReplyBuilder& r) { r.Bulk(""); }, "$0\r\n\r\n", "$0\r\n\r\n"},
      {"null", [](ReplyBuilder& r) { r.Null(); }, "$-1\r\n", "_\r\n"},
      {"null array", [](ReplyBuilder& r) { r.NullArray(); }, "*-1\r\n", "_\r\n"},
      {"array", [](ReplyBuilder& r) { r.ArrayHeader(3); }, "*3\r\n", "*3\r\n"},
      {"map", [](ReplyBuilder& r) { r.MapHeader(7); }, "*14\r\n", "%7\r\n"},
      {"empty map", [](ReplyBuilder& r) { r.MapHeader(0); }, "*0\r\n", "%0\r\n"},
      {"set", [](ReplyBuilder& r) { r.SetHeader(2); }, "*2\r\n", "~2\r\n"},
      {"push", [](ReplyBuilder& r) { r.PushHeader(3); }, "*3\r\n", ">3\r\n"},
      {"double", [](ReplyBuilder& r) { r.Double(1.5); }, "$3\r\n1.5\r\n", ",1.5\r\n"},
      {"double %.17g", [](ReplyBuilder& r) { r.Double(0.1); }, "$19\r\n0.10000000000000001\r\n",
       ",0.10000000000000001\r\n"},
      {"double integral", [](ReplyBuilder& r) { r.Double(3); }, "$1\r\n3\r\n", ",3\r\n"},
      {"inf", [inf](ReplyBuilder& r) { r.Double(inf); }, "$3\r\ninf\r\n", ",inf\r\n"},
      {"-inf", [inf](ReplyBuilder& r) { r.Double(-inf); }, "$4\r\n-inf\r\n", ",-inf\r\n"},
      {"nan", [](ReplyBuilder& r) { r.Double(std::nan("")); }, "$3\r\nnan\r\n", ",nan\r\n"},
      {"true", [](ReplyBuilder& r) { r.Bool(true); }, ":1\r\n", "#t\r\n"},
      {"false", [](ReplyBuilder& r) { r.Bool(false); }, ":0\r\n", "#f\r\n"},
      {"verbatim", [](ReplyBuilder& r) { r.Verbatim("txt", "a\r\nb"); }, "$4\r\na\r\nb\r\n",
       "=8\r\ntxt:a\r\nb\r\n"},
      {"empty verbatim", [](ReplyBuilder& r) { r.Verbatim("txt", ""); }, "$0\r\n\r\n",
       "=4\r\ntxt:\r\n"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(Build(kResp2, c.write) == c.resp2);
    CHECK(Build(kResp3, c.write) == c.resp3);
  }
}

TEST_CASE("the default protocol is RESP2") {
  std::string out;
  ReplyBuilder rb(&out);
  CHECK(rb.resp() == kResp2);
  CHECK_FALSE(rb.resp3());
  rb.Null();
  CHECK(out == "$-1\r\n");
}

TEST_CASE("a map nests in RESP3 as HELLO's reply does") {
  const auto hello = [](ReplyBuilder& r) {
    r.MapHeader(2);
    r.Bulk("proto");
    r.Integer(3);
    r.Bulk("modules");
    r.ArrayHeader(0);
  };
  CHECK(Build(kResp3, hello) == "%2\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n");
  CHECK(Build(kResp2, hello) == "*4\r\n$5\r\nproto\r\n:3\r\n$7\r\nmodules\r\n*0\r\n");
}

}  // namespace
}  // namespace shoal::facade
