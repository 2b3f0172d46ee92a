#pragma once
// The line a MONITOR connection receives for each command this node
// processes, byte for byte as Redis 7.0's replicationFeedMonitors writes it:
//
//   +1339518083.107412 [0 127.0.0.1:60866] "set" "k" "v"\r\n
//
// (a status reply: the time in seconds with microseconds, the database and
// the client's address, then every argument quoted as sdscatrepr does).
// AUTH's credentials and HELLO's AUTH user and password show as
// "(redacted)", as Redis's redactClientCommandArgument makes them. Pure.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace shoal::server {

// Appends `s` quoted as Redis's sdscatrepr: "..." with \\, \", \n, \r, \t,
// \a, \b escaped, other printable bytes as they are, the rest as \xhh.
void AppendRepr(std::string* out, std::string_view s);

// The status line (with its CRLF) for `args` sent by the client at `addr`
// at `now_us` (microseconds since the epoch).
std::string MonitorLine(int64_t now_us, std::string_view addr, std::span<const std::string> args);

}  // namespace shoal::server
