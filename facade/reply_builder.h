#pragma once
// ReplyBuilder: appends RESP2 replies to a byte buffer. Every reply a command
// sends goes through these helpers (Redis's addReply* family), so the wire
// format lives in one place.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace shoal::facade {

class ReplyBuilder {
 public:
  // Appends to `out`, which the caller owns and must outlive the builder.
  explicit ReplyBuilder(std::string* out) : out_(out) {}

  // +OK style status line. `s` must not contain CR or LF.
  void Simple(std::string_view s);
  void Ok() { Simple("OK"); }
  // -ERR style error line. `msg` is the full text after '-', e.g.
  // "ERR syntax error" or "WRONGTYPE Operation ..."; CR/LF are replaced by
  // spaces as Redis does. A message that does not start with an upper-case
  // code gets "ERR " in front.
  void Error(std::string_view msg);
  void Integer(int64_t v);
  void Bulk(std::string_view s);
  void Null();       // $-1 (nil bulk)
  void NullArray();  // *-1
  void ArrayHeader(size_t n);
  // A double as Redis 7 prints it in RESP2 (a bulk string, %.17g style).
  void Double(double v);
  // A HELP subcommand's reply: an array of status lines.
  void HelpLines(std::span<const std::string_view> lines);
  // Raw bytes, already RESP-encoded.
  void Raw(std::string_view bytes);

  std::string* buffer() { return out_; }

 private:
  std::string* out_;
};

// The bytes of one error reply ("-ERR ...\r\n"), as ReplyBuilder::Error writes them.
std::string ErrorReply(std::string_view msg);

}  // namespace shoal::facade
