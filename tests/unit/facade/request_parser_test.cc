// RequestParser: byte-by-byte and bulk feeds, every error path, the limits.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "facade/request_parser.h"

namespace shoal::facade {
namespace {

struct Feed {
  std::vector<std::vector<std::string>> requests;
  std::string error;
  size_t consumed_total = 0;
};

// Feeds `input` in chunks of `chunk` bytes (0 = all at once), collecting
// requests until the input ends or an error stops parsing.
Feed Run(const std::string& input, size_t chunk = 0, ParserLimits limits = {}) {
  RequestParser p;
  Feed f;
  std::vector<std::string> argv;
  size_t off = 0;
  if (chunk == 0) chunk = input.size() == 0 ? 1 : input.size();
  while (off < input.size()) {
    size_t len = std::min(chunk, input.size() - off);
    size_t pos = 0;
    while (pos < len) {
      size_t consumed = 0;
      auto st = p.Parse(input.data() + off + pos, len - pos, limits, &consumed, &argv);
      pos += consumed;
      if (st == RequestParser::Status::kRequest) {
        f.requests.push_back(argv);
      } else if (st == RequestParser::Status::kError) {
        f.error = std::string(p.error());
        f.consumed_total = off + pos;
        return f;
      } else {
        REQUIRE(pos == len);  // kNeedMore consumes everything given
      }
    }
    off += len;
  }
  f.consumed_total = off;
  return f;
}

using Args = std::vector<std::string>;

TEST_CASE("multibulk requests parse whole, byte by byte and in odd chunks") {
  const std::string input =
      "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"
      "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"
      "*1\r\n$0\r\n\r\n";
  for (size_t chunk : {0, 1, 2, 3, 5, 7, 13}) {
    CAPTURE(chunk);
    Feed f = Run(input, chunk);
    CHECK(f.error.empty());
    REQUIRE(f.requests.size() == 3);
    CHECK(f.requests[0] == Args{"SET", "key", "value"});
    CHECK(f.requests[1] == Args{"GET", "key"});
    CHECK(f.requests[2] == Args{""});
  }
}

TEST_CASE("binary payloads keep CR, LF and NUL bytes") {
  std::string value("a\r\nb\0c", 6);
  std::string input = "*2\r\n$4\r\nECHO\r\n$6\r\n" + value + "\r\n";
  for (size_t chunk : {0, 1, 4}) {
    Feed f = Run(input, chunk);
    REQUIRE(f.requests.size() == 1);
    CHECK(f.requests[0][1] == value);
  }
}

TEST_CASE("ten thousand pipelined requests in one buffer") {
  std::string input;
  for (int i = 0; i < 10000; ++i) {
    std::string k = "k" + std::to_string(i);
    input += "*2\r\n$3\r\nGET\r\n$" + std::to_string(k.size()) + "\r\n" + k + "\r\n";
  }
  Feed f = Run(input);
  REQUIRE(f.requests.size() == 10000);
  CHECK(f.requests[9999][1] == "k9999");
}

TEST_CASE("empty multibulk counts run nothing") {
  Feed f = Run("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n");
  CHECK(f.error.empty());
  REQUIRE(f.requests.size() == 1);
  CHECK(f.requests[0] == Args{"PING"});
}

TEST_CASE("inline commands with quotes and escapes") {
  struct Case {
    std::string line;
    Args want;
  };
  const Case cases[] = {
      {"PING\r\n", {"PING"}},
      {"PING\n", {"PING"}},
      {"  set  k   v  \r\n", {"set", "k", "v"}},
      {"set k \"a b\"\r\n", {"set", "k", "a b"}},
      {"set k \"\\x41\\n\\t\\\\\"\r\n", {"set", "k", "A\n\t\\"}},
      {"set k 'it\\'s'\r\n", {"set", "k", "it's"}},
      {"set k \"\"\r\n", {"set", "k", ""}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.line);
    for (size_t chunk : {0, 1}) {
      Feed f = Run(c.line, chunk);
      CHECK(f.error.empty());
      REQUIRE(f.requests.size() == 1);
      CHECK(f.requests[0] == c.want);
    }
  }
}

TEST_CASE("empty inline lines are skipped") {
  Feed f = Run("\r\n\r\n   \r\nPING\r\n");
  REQUIRE(f.requests.size() == 1);
  CHECK(f.requests[0] == Args{"PING"});
}

TEST_CASE("protocol errors carry Redis's words") {
  struct Case {
    std::string input;
    std::string error;
  };
  const Case cases[] = {
      {"*abc\r\n", "ERR Protocol error: invalid multibulk length"},
      {"*99999999999\r\n", "ERR Protocol error: invalid multibulk length"},
      {"*1\r\n$-5\r\n", "ERR Protocol error: invalid bulk length"},
      {"*1\r\n$abc\r\n", "ERR Protocol error: invalid bulk length"},
      {"*3\r\nxx\r\n", "ERR Protocol error: expected '$', got 'x'"},
      {"set k \"abc\r\n", "ERR Protocol error: unbalanced quotes in request"},
      {"set k 'abc\r\n", "ERR Protocol error: unbalanced quotes in request"},
      {"set k \"a\"b\r\n", "ERR Protocol error: unbalanced quotes in request"},
      {"*1\r\n" + std::string(70000, '$'), "ERR Protocol error: too big bulk count string"},
      {"*" + std::string(70000, '1'), "ERR Protocol error: too big mbulk count string"},
      {std::string(70000, 'a'), "ERR Protocol error: too big inline request"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.input.substr(0, 40));
    for (size_t chunk : {0, 1, 1000}) {
      CAPTURE(chunk);
      Feed f = Run(c.input, chunk);
      CHECK(f.error == c.error);
      CHECK(f.requests.empty());
    }
  }
}

TEST_CASE("a bad bulk header is judged only once its line is complete") {
  // Redis waits for the CRLF before it looks at the '$'.
  Feed f = Run("*3\r\nxx");
  CHECK(f.error.empty());
  CHECK(f.requests.empty());
}

TEST_CASE("bulk length is limited by proto-max-bulk-len") {
  ParserLimits limits;
  limits.max_bulk_len = 1024;
  CHECK(Run("*1\r\n$1024\r\n", 0, limits).error.empty());
  CHECK(Run("*1\r\n$1025\r\n", 0, limits).error == "ERR Protocol error: invalid bulk length");
}

TEST_CASE("a huge declared count does not reserve memory up front") {
  // INT_MAX arguments are allowed by the protocol; only what arrives is kept.
  RequestParser p;
  std::vector<std::string> argv;
  size_t consumed = 0;
  std::string input = "*2147483647\r\n$1\r\na\r\n";
  auto st = p.Parse(input.data(), input.size(), {}, &consumed, &argv);
  CHECK(st == RequestParser::Status::kNeedMore);
  CHECK(argv.size() == 1);
  CHECK(argv.capacity() <= 1024);
}

TEST_CASE("stricter limits before authentication") {
  ParserLimits unauth;
  unauth.authenticated = false;
  std::string eleven = "*11\r\n";
  CHECK(Run(eleven, 0, unauth).error == "ERR Protocol error: unauthenticated multibulk length");
  CHECK(Run("*10\r\n", 0, unauth).error.empty());
  CHECK(Run("*1\r\n$16385\r\n", 0, unauth).error ==
        "ERR Protocol error: unauthenticated bulk length");
  CHECK(Run("*1\r\n$16384\r\n", 0, unauth).error.empty());
}

TEST_CASE("buffered_bytes counts the request in progress") {
  RequestParser p;
  std::vector<std::string> argv;
  size_t consumed = 0;
  std::string part = "*2\r\n$3\r\nSET\r\n$100\r\n" + std::string(60, 'x');
  auto st = p.Parse(part.data(), part.size(), {}, &consumed, &argv);
  CHECK(st == RequestParser::Status::kNeedMore);
  CHECK(p.buffered_bytes() >= 60);
  CHECK_FALSE(p.idle());
}

TEST_CASE("the argument vector counts against max_request_bytes") {
  // `*1000000000` then empty arguments: each costs a std::string in the
  // vector, and the vector's growth is refused before it passes the limit.
  ParserLimits limits;
  limits.max_request_bytes = 1 << 20;
  RequestParser p;
  std::vector<std::string> argv;
  std::string input = "*1000000000\r\n";
  for (int i = 0; i < 100000; ++i) input += "$0\r\n\r\n";
  size_t off = 0;
  RequestParser::Status st = RequestParser::Status::kNeedMore;
  while (off < input.size() && st == RequestParser::Status::kNeedMore) {
    size_t len = std::min<size_t>(16384, input.size() - off);
    size_t consumed = 0;
    st = p.Parse(input.data() + off, len, limits, &consumed, &argv);
    off += consumed;
    CHECK(p.request_bytes() <= limits.max_request_bytes);
  }
  CHECK(st == RequestParser::Status::kTooBig);
  CHECK(argv.capacity() * sizeof(std::string) <= limits.max_request_bytes);
  CHECK(argv.size() > 1000);  // it did read arguments until the limit

  // A request within the limit parses, and its bytes are counted.
  std::vector<std::string>().swap(argv);  // the capacity too
  RequestParser q;
  std::string ok = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n";
  size_t consumed = 0;
  CHECK(q.Parse(ok.data(), ok.size(), limits, &consumed, &argv) ==
        RequestParser::Status::kNeedMore);
  CHECK(q.request_bytes() >= 2 * sizeof(std::string) + 4);
  ok = "0123456789\r\n";
  CHECK(q.Parse(ok.data(), ok.size(), limits, &consumed, &argv) == RequestParser::Status::kRequest);
  CHECK(argv == Args{"SET", "k", "0123456789"});
}

TEST_CASE("a payload past max_request_bytes is refused at the next argument") {
  ParserLimits limits;
  limits.max_request_bytes = 4096;
  std::string big(5000, 'x');
  std::string input = "*3\r\n$3\r\nSET\r\n$5000\r\n" + big + "\r\n$1\r\nv\r\n";
  RequestParser p;
  std::vector<std::string> argv;
  size_t consumed = 0;
  CHECK(p.Parse(input.data(), input.size(), limits, &consumed, &argv) ==
        RequestParser::Status::kTooBig);
}

TEST_CASE("SplitInlineArgs matches sdssplitargs") {
  Args out;
  CHECK(SplitInlineArgs("a \"b c\" 'd e' \"\\x4a\\x4B\"", &out));
  CHECK(out == Args{"a", "b c", "d e", "JK"});
  out.clear();
  CHECK(SplitInlineArgs("foo\"bar baz\"", &out));
  CHECK(out == Args{"foobar baz"});
  out.clear();
  CHECK_FALSE(SplitInlineArgs("\"unterminated", &out));
  CHECK_FALSE(SplitInlineArgs("'x'y", &out));
}

}  // namespace
}  // namespace shoal::facade
