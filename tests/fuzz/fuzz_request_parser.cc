// libFuzzer target: the client request parser (facade/request_parser.h),
// multibulk and inline requests, before and after AUTH.
//
// Input: byte 0 picks the limits (bit 0: authenticated from the start; bits
// 1-3: proto-max-bulk-len, from 0 to 4 MiB), byte 1 seeds how the rest is
// cut into reads, the rest is the byte stream a client sends. A request
// whose first argument is AUTH (any case) authenticates the session, as
// Connection does once AUTH succeeds.
//
// Invariants checked:
//   - the requests and the error are the same however the stream is cut
//     into reads (one read, or pieces of 1..64 bytes);
//   - Parse consumes every byte it is given unless it returns a request or
//     an error, and never more than it is given;
//   - no request exceeds the limits: before AUTH at most 10 arguments of at
//     most 16 KiB, or one inline line's worth (Redis applies the pre-auth
//     limits to multibulk requests only); after, no argument above both proto-max-bulk-len and the
//     64 KiB inline line limit;
//   - a request encoded as a multibulk and parsed again gives the same
//     arguments; so does an inline line quoting every byte as \xHH.
// The largest bulk limit tried is 4 MiB, not the default 512 MiB: a bulk
// payload's declared length is reserved as soon as it starts arriving, and
// reserving 512 MiB on most runs would make the target crawl under ASan.
// Streams longer than 32 KiB are skipped: past Redis's 64 KiB inline limit
// whether a line is too long depends on where a read ends (as in Redis).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "facade/request_parser.h"

namespace {

using shoal::facade::ParserLimits;
using shoal::facade::RequestParser;
using shoal::facade::SplitInlineArgs;

constexpr int64_t kUnauthMaxArgs = 10;
constexpr size_t kUnauthMaxBulk = 16384;
constexpr int64_t kMaxLine = 64 * 1024;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant violated: %s\n", what);
    std::abort();
  }
}

struct Outcome {
  std::vector<std::vector<std::string>> requests;
  std::string error;  // empty: no protocol error
  bool operator==(const Outcome& o) const { return requests == o.requests && error == o.error; }
};

bool IsAuth(const std::vector<std::string>& argv) {
  if (argv.empty() || argv[0].size() != 4) return false;
  static const char kAuth[] = "auth";
  for (size_t i = 0; i < 4; ++i) {
    if ((argv[0][i] | 0x20) != kAuth[i]) return false;
  }
  return true;
}

// Feeds `chunks` as successive reads, as Connection::ProcessInput does.
Outcome Run(const std::vector<std::string_view>& chunks, ParserLimits limits) {
  Outcome out;
  RequestParser parser;
  std::vector<std::string> argv;
  std::string pending;  // bytes received but not consumed yet
  for (std::string_view chunk : chunks) {
    pending.append(chunk);
    size_t start = 0;
    while (start < pending.size()) {
      size_t consumed = 0;
      const size_t avail = pending.size() - start;
      auto st = parser.Parse(pending.data() + start, avail, limits, &consumed, &argv);
      Check(consumed <= avail, "consumed more than given");
      start += consumed;
      if (st == RequestParser::Status::kError) {
        Check(!parser.error().empty(), "error without a message");
        out.error = std::string(parser.error());
        return out;
      }
      if (st == RequestParser::Status::kNeedMore) {
        Check(consumed == avail, "kNeedMore left bytes unconsumed");
        break;
      }
      Check(!argv.empty(), "a request without arguments");
      if (!limits.authenticated) {
        // The pre-auth limits hold for multibulk requests; an inline request
        // (as in Redis) is bounded by its one line instead.
        bool small = static_cast<int64_t>(argv.size()) <= kUnauthMaxArgs;
        int64_t inline_bytes = static_cast<int64_t>(argv.size()) - 1;
        for (const std::string& a : argv) {
          small = small && a.size() <= kUnauthMaxBulk;
          inline_bytes += static_cast<int64_t>(a.size());
        }
        Check(small || inline_bytes <= kMaxLine, "a pre-auth request above the limits");
      }
      out.requests.push_back(argv);
      if (IsAuth(argv)) limits.authenticated = true;
    }
    pending.erase(0, start);
  }
  return out;
}

std::string EncodeMultibulk(const std::vector<std::string>& argv) {
  std::string s = "*" + std::to_string(argv.size()) + "\r\n";
  for (const std::string& a : argv) s += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return s;
}

std::string EncodeInline(const std::vector<std::string>& argv) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (const std::string& a : argv) {
    if (!s.empty()) s += ' ';
    s += '"';
    for (unsigned char c : a) {
      s += "\\x";
      s += kHex[c >> 4];
      s += kHex[c & 15];
    }
    s += '"';
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2 || size > 32 * 1024) return 0;
  ParserLimits limits;
  limits.authenticated = data[0] & 1;
  static const int64_t kBulkLimits[8] = {0, 1, 3, 16, 100, 16384, 1 << 20, 4 << 20};
  limits.max_bulk_len = kBulkLimits[(data[0] >> 1) & 7];
  uint32_t seed = data[1] * 2654435761u + 1;
  std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  const Outcome whole = Run({stream}, limits);

  std::vector<std::string_view> pieces;
  for (size_t pos = 0; pos < stream.size();) {
    seed = seed * 1103515245u + 12345u;
    size_t n = 1 + (seed >> 16) % 64;
    if (n > stream.size() - pos) n = stream.size() - pos;
    pieces.push_back(stream.substr(pos, n));
    pos += n;
  }
  const Outcome cut = Run(pieces, limits);
  Check(whole == cut, "the outcome depends on how the stream is cut into reads");

  for (size_t i = 0; i < whole.requests.size(); ++i) {
    const std::vector<std::string>& argv = whole.requests[i];
    // Multibulk arguments are bounded by proto-max-bulk-len, inline ones by
    // the line length (as in Redis, inline requests ignore the bulk limit).
    for (const std::string& a : argv) {
      Check(static_cast<int64_t>(a.size()) <= std::max<int64_t>(limits.max_bulk_len, kMaxLine),
            "an argument above proto-max-bulk-len and the inline line limit");
    }
    // Round trips through both encodings (authenticated, no bulk limit).
    ParserLimits open;
    const Outcome again = Run({EncodeMultibulk(argv)}, open);
    Check(again.error.empty() && again.requests.size() == 1 && again.requests[0] == argv,
          "multibulk round trip");
    std::vector<std::string> split;
    Check(SplitInlineArgs(EncodeInline(argv), &split) && split == argv, "inline round trip");
  }
  return 0;
}
