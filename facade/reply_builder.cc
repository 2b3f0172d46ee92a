#include "facade/reply_builder.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

namespace shoal::facade {
namespace {

void AppendPrefixed(std::string* out, char prefix, int64_t v) {
  char buf[24];
  buf[0] = prefix;
  auto res = std::to_chars(buf + 1, buf + sizeof(buf) - 2, v);
  *res.ptr++ = '\r';
  *res.ptr++ = '\n';
  out->append(buf, res.ptr - buf);
}

}  // namespace

void ReplyBuilder::Simple(std::string_view s) {
  out_->push_back('+');
  out_->append(s);
  out_->append("\r\n", 2);
}

void ReplyBuilder::Error(std::string_view msg) {
  out_->push_back('-');
  // Redis: an error without a code gets the generic ERR code.
  bool has_code = !msg.empty() && msg[0] >= 'A' && msg[0] <= 'Z';
  if (has_code) {
    size_t sp = msg.find(' ');
    std::string_view code = msg.substr(0, sp);
    for (char c : code) {
      if (!(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') && c != '_' && c != '-') {
        has_code = false;
        break;
      }
    }
  }
  if (!has_code) out_->append("ERR ");
  size_t start = out_->size();
  out_->append(msg);
  for (size_t i = start; i < out_->size(); ++i) {
    if ((*out_)[i] == '\r' || (*out_)[i] == '\n') (*out_)[i] = ' ';
  }
  out_->append("\r\n", 2);
}

void ReplyBuilder::Integer(int64_t v) {
  AppendPrefixed(out_, ':', v);
}

void ReplyBuilder::BulkShared(SharedBytes b) {
  if (attacher_ == nullptr) return Bulk(b.bytes);
  const std::string_view s = b.bytes;
  AppendPrefixed(out_, '$', static_cast<int64_t>(s.size()));
  if (!attacher_->Attach(out_, std::move(b))) {
    out_->reserve(out_->size() + s.size() + 2);
    out_->append(s);
  }
  out_->append("\r\n", 2);
}

void ReplyBuilder::Bulk(std::string_view s) {
  // A big value is copied once, into a buffer sized for it, not through
  // the string's doubling (a copy per doubling, and twice the memory).
  if (s.size() >= (64u << 10)) out_->reserve(out_->size() + s.size() + 32);
  AppendPrefixed(out_, '$', static_cast<int64_t>(s.size()));
  out_->append(s);
  out_->append("\r\n", 2);
}

void ReplyBuilder::Null() {
  if (resp3()) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("$-1\r\n", 5);
  }
}

void ReplyBuilder::NullArray() {
  if (resp3()) {
    out_->append("_\r\n", 3);
  } else {
    out_->append("*-1\r\n", 5);
  }
}

void ReplyBuilder::ArrayHeader(size_t n) {
  AppendPrefixed(out_, '*', static_cast<int64_t>(n));
}

void ReplyBuilder::MapHeader(size_t n) {
  if (resp3()) {
    AppendPrefixed(out_, '%', static_cast<int64_t>(n));
  } else {
    AppendPrefixed(out_, '*', static_cast<int64_t>(2 * n));
  }
}

void ReplyBuilder::SetHeader(size_t n) {
  AppendPrefixed(out_, resp3() ? '~' : '*', static_cast<int64_t>(n));
}

void ReplyBuilder::PushHeader(size_t n) {
  AppendPrefixed(out_, resp3() ? '>' : '*', static_cast<int64_t>(n));
}

void ReplyBuilder::Double(double v) {
  // Redis 7.0's addReplyDouble: infinities spelled out explicitly (libc
  // spellings vary), everything else (nan included) by %.17g.
  char buf[64];
  int n;
  if (std::isinf(v)) {
    n = std::snprintf(buf, sizeof(buf), "%s", v > 0 ? "inf" : "-inf");
  } else {
    n = std::snprintf(buf, sizeof(buf), "%.17g", v);
  }
  std::string_view text(buf, static_cast<size_t>(n));
  if (!resp3()) return Bulk(text);
  out_->push_back(',');
  out_->append(text);
  out_->append("\r\n", 2);
}

void ReplyBuilder::Bool(bool v) {
  if (resp3()) {
    out_->append(v ? "#t\r\n" : "#f\r\n", 4);
  } else {
    Integer(v ? 1 : 0);
  }
}

void ReplyBuilder::Verbatim(std::string_view format, std::string_view s) {
  if (!resp3()) return Bulk(s);
  AppendPrefixed(out_, '=', static_cast<int64_t>(s.size() + format.size() + 1));
  out_->append(format);
  out_->push_back(':');
  out_->append(s);
  out_->append("\r\n", 2);
}

void ReplyBuilder::Raw(std::string_view bytes) {
  out_->append(bytes);
}

void ReplyBuilder::HelpLines(std::span<const std::string_view> lines) {
  ArrayHeader(lines.size());
  for (std::string_view l : lines) Simple(l);
}

std::string ErrorReply(std::string_view msg) {
  std::string out;
  ReplyBuilder(&out).Error(msg);
  return out;
}

}  // namespace shoal::facade
