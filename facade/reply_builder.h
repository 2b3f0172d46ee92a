#pragma once
// ReplyBuilder: appends replies to a byte buffer in the connection's protocol,
// RESP2 (the default) or RESP3 (after HELLO 3). Every reply a command sends
// goes through these helpers (Redis's addReply* family in networking.c), so
// the wire format lives in one place. RESP3's richer types fall back to their
// RESP2 forms exactly as Redis 7.0 writes them: a map is a flat array of
// key/value pairs, a set an array, a double a bulk string, a boolean an
// integer, a verbatim string a bulk string, every null $-1 (or *-1).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace shoal::facade {

// Bytes a reply sends without copying them into the output buffer (a big
// stored value, issue 13): `keep` keeps them alive and unchanged until they
// are written. It is dropped on the loop thread.
struct SharedBytes {
  std::string_view bytes;
  std::shared_ptr<const void> keep;
};

// Takes SharedBytes into a connection's output at the current end of
// `out`, to be sent there without a copy. Returns false if it cannot (`out`
// is not the buffer it sends from, e.g. a reply held behind a deferred one;
// the bytes are encrypted or sealed): the builder then copies them.
class ReplyAttacher {
 public:
  virtual bool Attach(std::string* out, SharedBytes bytes) = 0;

 protected:
  ~ReplyAttacher() = default;
};

// The protocol versions HELLO accepts.
inline constexpr int kResp2 = 2;
inline constexpr int kResp3 = 3;

class ReplyBuilder {
 public:
  // Appends to `out`, which the caller owns and must outlive the builder.
  // `resp` is kResp2 or kResp3.
  // `attacher` (optional, must outlive the builder) lets BulkShared() send
  // big values without copying them.
  explicit ReplyBuilder(std::string* out, int resp = kResp2, ReplyAttacher* attacher = nullptr)
      : out_(out), resp_(resp), attacher_(attacher) {}

  // Values of this size or more are worth sending as SharedBytes.
  static constexpr size_t kShareBytes = 1u << 20;
  // Whether BulkShared() may avoid the copy of an `n`-byte value (so that
  // the caller only pins a value that will be shared).
  bool CanShare(size_t n) const { return attacher_ != nullptr && n >= kShareBytes; }
  // Bulk(b.bytes), without copying the bytes when the attacher takes them.
  void BulkShared(SharedBytes b);
  int resp() const { return resp_; }
  bool resp3() const { return resp_ == kResp3; }

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
  // A missing value: RESP3 "_", RESP2 "$-1" (nil bulk).
  void Null();
  // A missing aggregate: RESP3 "_", RESP2 "*-1" (nil array).
  void NullArray();
  void ArrayHeader(size_t n);
  // A map of `n` key/value pairs (write 2n elements after it): RESP3 "%n",
  // RESP2 an array of 2n elements.
  void MapHeader(size_t n);
  // A set of `n` elements: RESP3 "~n", RESP2 "*n".
  void SetHeader(size_t n);
  // An out-of-band push of `n` elements: RESP3 ">n", RESP2 "*n" (reserved
  // for pub/sub; nothing sends one yet).
  void PushHeader(size_t n);
  // A double as Redis 7.0 prints it (%.17g; inf, -inf and nan spelled out):
  // RESP3 ",<v>", RESP2 a bulk string.
  void Double(double v);
  // RESP3 "#t"/"#f", RESP2 ":1"/":0".
  void Bool(bool v);
  // A verbatim string of format `format` (three characters, "txt" or "mkd"):
  // RESP3 "=<len>\r\n<format>:<s>", RESP2 a bulk string of `s`.
  void Verbatim(std::string_view format, std::string_view s);
  // A HELP subcommand's reply: an array of status lines.
  void HelpLines(std::span<const std::string_view> lines);
  // Raw bytes, already encoded in this builder's protocol.
  void Raw(std::string_view bytes);

  std::string* buffer() { return out_; }

 private:
  std::string* out_;
  int resp_;
  ReplyAttacher* attacher_;
};

// The bytes of one error reply ("-ERR ...\r\n"), as ReplyBuilder::Error writes
// them (the same in both protocols).
std::string ErrorReply(std::string_view msg);

}  // namespace shoal::facade
