#include "facade/request_parser.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "facade/args.h"
#include "facade/errors.h"

namespace shoal::facade {
namespace {

// Redis's PROTO_INLINE_MAX_SIZE: the longest header or inline line.
constexpr size_t kMaxLineLen = 64 * 1024;
// Before AUTH (authRequired in networking.c).
constexpr int64_t kUnauthMaxArgs = 10;
constexpr int64_t kUnauthMaxBulk = 16384;
// Arguments vectors grow on demand past this, so a huge declared count
// cannot reserve memory that never arrives (Redis preallocates min(n, 1024)).
constexpr int64_t kArgvPrealloc = 1024;
// Bulk strings reserve their declared size up to this much at once.
constexpr int64_t kBulkPrealloc = 1 << 20;
// A bulk string of kBigBulk bytes or more gets kBulkHeadRoom spare bytes:
// room for the stored object's header, which the keyspace inserts in front
// of a big value in place, so that the value moves into the store instead of
// being copied (storage::Object::EncodeMovingValue, kEncodeHeadRoom).
constexpr int64_t kBigBulk = 64 << 10;
constexpr size_t kBulkHeadRoom = 32;

// Takes one LF-terminated line starting at data[*pos]. Returns true with
// *line set (CR stripped) when the line is complete; otherwise saves the
// fragment in *partial and returns false. *too_long is set when the line
// exceeds kMaxLineLen.
bool TakeLine(const char* data, size_t len, size_t* pos, std::string* partial,
              std::string_view* line, bool* too_long) {
  const char* start = data + *pos;
  size_t avail = len - *pos;
  const char* nl = static_cast<const char*>(std::memchr(start, '\n', avail));
  if (nl == nullptr) {
    partial->append(start, avail);
    *pos = len;
    *too_long = partial->size() > kMaxLineLen;
    return false;
  }
  size_t n = static_cast<size_t>(nl - start);
  *pos += n + 1;
  if (partial->empty()) {
    *line = std::string_view(start, n);
  } else {
    partial->append(start, n);
    *line = *partial;
  }
  if (!line->empty() && line->back() == '\r') line->remove_suffix(1);
  *too_long = line->size() > kMaxLineLen;
  return true;
}

}  // namespace

RequestParser::Status RequestParser::Fail(std::string_view msg) {
  error_.assign(msg);
  return Status::kError;
}

RequestParser::Status RequestParser::FailOwned(std::string msg) {
  error_ = std::move(msg);
  return Status::kError;
}

RequestParser::Status RequestParser::Parse(const char* data, size_t len, const ParserLimits& limits,
                                           size_t* consumed, std::vector<std::string>* argv) {
  size_t pos = 0;
  std::string_view line;
  bool too_long = false;
  for (;;) {
    switch (state_) {
      case State::kStart:
        if (pos == len) {
          *consumed = pos;
          return Status::kNeedMore;
        }
        line_.clear();
        buffered_ = 0;
        argv_bytes_ = 0;
        state_ = data[pos] == '*' ? State::kMultibulkCount : State::kInline;
        break;

      case State::kMultibulkCount: {
        bool complete = TakeLine(data, len, &pos, &line_, &line, &too_long);
        *consumed = pos;
        if (too_long) return Fail(errors::kProtoTooBigMbulkCount);
        if (!complete) {
          buffered_ = line_.size();
          return Status::kNeedMore;
        }
        int64_t count = 0;
        if (!ParseInt64(line.substr(1), &count) || count > INT_MAX) {
          return Fail(errors::kProtoInvalidMultibulkLen);
        }
        if (count > kUnauthMaxArgs && !limits.authenticated) {
          return Fail(errors::kProtoUnauthMultibulkLen);
        }
        line_.clear();
        buffered_ = 0;
        argv->clear();
        if (count <= 0) {  // "*0" and "*-1": nothing to run, as Redis
          state_ = State::kStart;
          break;
        }
        argv->reserve(static_cast<size_t>(std::min(count, kArgvPrealloc)));
        argv_bytes_ = argv->capacity() * sizeof(std::string);
        if (argv_bytes_ > limits.max_request_bytes) return Status::kTooBig;
        multibulk_left_ = count;
        state_ = State::kBulkHeader;
        break;
      }

      case State::kBulkHeader: {
        bool complete = TakeLine(data, len, &pos, &line_, &line, &too_long);
        *consumed = pos;
        if (too_long) return Fail(errors::kProtoTooBigBulkCount);
        if (!complete) return Status::kNeedMore;
        // As Redis, the '$' is checked once the whole line is here.
        if (line.empty() || line[0] != '$') {
          return FailOwned(errors::ProtoExpectedDollar(line.empty() ? '\r' : line[0]));
        }
        int64_t blen = 0;
        if (!ParseInt64(line.substr(1), &blen) || blen < 0 || blen > limits.max_bulk_len) {
          return Fail(errors::kProtoInvalidBulkLen);
        }
        if (blen > kUnauthMaxBulk && !limits.authenticated) {
          return Fail(errors::kProtoUnauthBulkLen);
        }
        line_.clear();
        {
          // The arguments so far and the vector, counting a growth (doubling)
          // before it is allocated.
          size_t cap = argv->capacity();
          if (argv->size() == cap) cap = std::max<size_t>(1, cap * 2);
          if (buffered_ + cap * sizeof(std::string) > limits.max_request_bytes) {
            return Status::kTooBig;
          }
        }
        argv->emplace_back().reserve(static_cast<size_t>(std::min(blen, kBulkPrealloc)) +
                                     (blen >= kBigBulk ? kBulkHeadRoom : 0));
        argv_bytes_ = argv->capacity() * sizeof(std::string);
        bulk_left_ = blen + 2;  // payload and its CRLF
        state_ = State::kBulkData;
        [[fallthrough]];
      }

      case State::kBulkData: {
        if (pos == len) {
          *consumed = pos;
          return Status::kNeedMore;
        }
        std::string& arg = argv->back();
        size_t avail = len - pos;
        if (bulk_left_ > 2) {
          size_t want = static_cast<size_t>(bulk_left_ - 2);
          size_t take = std::min(avail, want);
          // One copy: reserve the whole declared payload once it is arriving.
          if (arg.capacity() < arg.size() + want) arg.reserve(arg.size() + want + kBulkHeadRoom);
          arg.append(data + pos, take);
          pos += take;
          avail -= take;
          bulk_left_ -= static_cast<int64_t>(take);
          buffered_ += take;
        }
        if (bulk_left_ <= 2) {
          // Skip the CRLF after the payload without checking it, as Redis.
          size_t skip = std::min(avail, static_cast<size_t>(bulk_left_));
          pos += skip;
          bulk_left_ -= static_cast<int64_t>(skip);
        }
        if (bulk_left_ > 0) {
          *consumed = pos;
          return Status::kNeedMore;
        }
        if (--multibulk_left_ > 0) {
          state_ = State::kBulkHeader;
          break;
        }
        state_ = State::kStart;
        buffered_ = 0;
        argv_bytes_ = 0;
        *consumed = pos;
        return Status::kRequest;
      }

      case State::kInline: {
        bool complete = TakeLine(data, len, &pos, &line_, &line, &too_long);
        *consumed = pos;
        if (too_long) return Fail(errors::kProtoTooBigInline);
        if (!complete) {
          buffered_ = line_.size();
          return Status::kNeedMore;
        }
        argv->clear();
        bool ok = SplitInlineArgs(line, argv);
        line_.clear();
        buffered_ = 0;
        state_ = State::kStart;
        if (!ok) return Fail(errors::kProtoUnbalancedQuotes);
        if (argv->empty()) break;  // an empty line runs nothing
        return Status::kRequest;
      }
    }
  }
}

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f';
}

}  // namespace

bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out) {
  size_t i = 0;
  const size_t n = line.size();
  for (;;) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i >= n) return true;
    std::string cur;
    bool in_dq = false;
    bool in_sq = false;
    bool done = false;
    while (!done) {
      if (in_dq) {
        if (i >= n) return false;  // unterminated quotes
        char c = line[i];
        if (c == '\\' && i + 3 < n + 0 && line[i + 1] == 'x' && HexValue(line[i + 2]) >= 0 &&
            HexValue(line[i + 3]) >= 0) {
          cur.push_back(static_cast<char>(HexValue(line[i + 2]) * 16 + HexValue(line[i + 3])));
          i += 3;
        } else if (c == '\\' && i + 1 < n) {
          ++i;
          switch (line[i]) {
            case 'n':
              cur.push_back('\n');
              break;
            case 'r':
              cur.push_back('\r');
              break;
            case 't':
              cur.push_back('\t');
              break;
            case 'b':
              cur.push_back('\b');
              break;
            case 'a':
              cur.push_back('\a');
              break;
            default:
              cur.push_back(line[i]);
              break;
          }
        } else if (c == '"') {
          // A closing quote must be followed by a space or the end.
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else {
          cur.push_back(c);
        }
      } else if (in_sq) {
        if (i >= n) return false;
        char c = line[i];
        if (c == '\\' && i + 1 < n && line[i + 1] == '\'') {
          ++i;
          cur.push_back('\'');
        } else if (c == '\'') {
          if (i + 1 < n && !IsSpace(line[i + 1])) return false;
          done = true;
        } else {
          cur.push_back(c);
        }
      } else {
        if (i >= n) {
          done = true;
          break;
        }
        char c = line[i];
        if (IsSpace(c)) {
          done = true;
        } else if (c == '"') {
          in_dq = true;
        } else if (c == '\'') {
          in_sq = true;
        } else {
          cur.push_back(c);
        }
      }
      if (i < n) ++i;
    }
    out->push_back(std::move(cur));
  }
}

}  // namespace shoal::facade
