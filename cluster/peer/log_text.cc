#include "cluster/peer/log_text.h"

#include <algorithm>

namespace shoal::cluster {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

bool Printable(unsigned char c) {
  return c >= 0x20 && c < 0x7f;
}

void AppendHex(std::string* out, unsigned char c) {
  out->append("\\x");
  out->push_back(kHexDigits[c >> 4]);
  out->push_back(kHexDigits[c & 0xf]);
}

}  // namespace

std::string LogRepr(std::string_view s, size_t max_bytes) {
  const std::string_view shown = s.substr(0, std::min(s.size(), max_bytes));
  std::string out;
  out.reserve(shown.size() + 8);
  out.push_back('"');
  for (unsigned char c : shown) {
    switch (c) {
      case '\\':
      case '"':
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\a':
        out.append("\\a");
        break;
      case '\b':
        out.append("\\b");
        break;
      default:
        if (Printable(c)) {
          out.push_back(static_cast<char>(c));
        } else {
          AppendHex(&out, c);
        }
    }
  }
  out.push_back('"');
  if (shown.size() < s.size()) out.append("...");
  return out;
}

std::string EscapeLogLine(std::string_view line) {
  if (std::all_of(line.begin(), line.end(),
                  [](char c) { return Printable(static_cast<unsigned char>(c)); })) {
    return std::string(line);
  }
  std::string out;
  out.reserve(line.size() + 16);
  for (unsigned char c : line) {
    if (Printable(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      AppendHex(&out, c);
    }
  }
  return out;
}

}  // namespace shoal::cluster
