#include "server/commands/monitor_line.h"

#include <cctype>
#include <cstdio>

#include "facade/args.h"

namespace shoal::server {
namespace {

constexpr std::string_view kRedacted = "(redacted)";

// Which arguments Redis redacts before MONITOR sees them: AUTH's (when its
// arity is right, authCommand redacts first), HELLO's AUTH pair.
bool Redacted(std::span<const std::string> args, size_t j) {
  using facade::EqualsIgnoreCase;
  if (EqualsIgnoreCase(args[0], "auth")) return args.size() <= 3 && j >= 1;
  if (!EqualsIgnoreCase(args[0], "hello")) return false;
  // helloCommand's option walk, from after the protocol version.
  for (size_t i = 2; i < args.size(); ++i) {
    const size_t more = args.size() - 1 - i;
    if (EqualsIgnoreCase(args[i], "auth") && more >= 2) {
      if (j == i + 1 || j == i + 2) return true;
      i += 2;
    } else if (EqualsIgnoreCase(args[i], "setname") && more >= 1) {
      i += 1;
    } else {
      break;
    }
  }
  return false;
}

}  // namespace

void AppendRepr(std::string* out, std::string_view s) {
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '\\':
      case '"':
        out->push_back('\\');
        out->push_back(static_cast<char>(c));
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\a':
        out->append("\\a");
        break;
      case '\b':
        out->append("\\b");
        break;
      default:
        if (std::isprint(c)) {
          out->push_back(static_cast<char>(c));
        } else {
          char buf[5];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out->append(buf, 4);
        }
    }
  }
  out->push_back('"');
}

std::string MonitorLine(int64_t now_us, std::string_view addr, std::span<const std::string> args) {
  char head[64];
  const int n = std::snprintf(head, sizeof(head), "+%lld.%06lld [0 ",
                              static_cast<long long>(now_us / 1000000),
                              static_cast<long long>(now_us % 1000000));
  std::string line(head, static_cast<size_t>(n));
  line.append(addr);
  line.append("] ");
  for (size_t j = 0; j < args.size(); ++j) {
    if (Redacted(args, j)) {
      AppendRepr(&line, kRedacted);
    } else {
      AppendRepr(&line, args[j]);
    }
    if (j + 1 != args.size()) line.push_back(' ');
  }
  line.append("\r\n");
  return line;
}

}  // namespace shoal::server
