#pragma once
// RequestParser: the incremental RESP2 request decoder of a client session
// (Redis's processMultibulkBuffer / processInlineBuffer). Bytes arrive in any
// fragmentation — one at a time or ten thousand requests in one read — and the
// parser keeps its position between calls, so no byte is scanned twice and a
// bulk payload is copied exactly once, from the read buffer into its argument.
//
// Pure logic: no sockets. The same parser will decode peer-channel frames,
// with the same limits (peer input is never trusted more than client input).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::facade {

struct ParserLimits {
  int64_t max_bulk_len = 512ll * 1024 * 1024;  // proto-max-bulk-len
  // Before authentication (requirepass set, AUTH not yet given) Redis allows
  // only small requests: at most 10 arguments of at most 16 KiB each.
  bool authenticated = true;
  // The most a request being parsed may hold: its arguments' bytes plus its
  // argument vector (sizeof(std::string) per slot of its capacity), so that
  // `*1000000000` followed by empty arguments cannot grow without bound
  // (client-query-buffer-limit; Redis counts the query buffer only).
  size_t max_request_bytes = SIZE_MAX;
};

class RequestParser {
 public:
  enum class Status {
    kNeedMore,  // every byte given was consumed; call again with more
    kRequest,   // a complete request is in *argv
    kError,     // protocol error: reply error() and close the connection
    kTooBig,    // the request passed max_request_bytes: close the connection
  };

  // Consumes bytes from [data, data+len) and stores how many in *consumed.
  // On kRequest, *argv holds exactly the request's arguments (an inline
  // empty line or "*0" yields no request; parsing just goes on).
  Status Parse(const char* data, size_t len, const ParserLimits& limits, size_t* consumed,
               std::vector<std::string>* argv);

  // The error reply (Redis's words, without '-' and CRLF) after kError.
  std::string_view error() const { return error_; }

  // Bytes held inside the parser for the request in progress (partly read
  // arguments), for the query buffer limit.
  size_t buffered_bytes() const { return buffered_; }
  // buffered_bytes() plus the argument vector of the request in progress.
  size_t request_bytes() const { return buffered_ + argv_bytes_; }

  // True when the parser is between requests.
  bool idle() const { return state_ == State::kStart; }

 private:
  enum class State { kStart, kMultibulkCount, kBulkHeader, kBulkData, kInline };

  Status Fail(std::string_view msg);
  Status FailOwned(std::string msg);

  State state_ = State::kStart;
  int64_t multibulk_left_ = 0;  // arguments still to read
  int64_t bulk_left_ = 0;       // payload bytes (plus CRLF) still to read
  size_t buffered_ = 0;
  size_t argv_bytes_ = 0;  // capacity of the argument vector, in bytes
  std::string line_;       // a header or inline line split across reads
  std::string error_;
};

// Splits an inline command line into arguments with redis-cli's quoting rules
// (Redis's sdssplitargs): spaces separate, "double quotes" allow \n \r \t \b
// \a \\ \" and \xHH escapes, 'single quotes' allow \'. Returns false for
// unbalanced quotes or a closing quote not followed by a space.
bool SplitInlineArgs(std::string_view line, std::vector<std::string>* out);

}  // namespace shoal::facade
