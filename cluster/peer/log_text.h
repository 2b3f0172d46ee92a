// Peer-supplied strings (node ids, addresses, error texts) on their way to
// the log. A peer controls these bytes: a node id holding a newline could
// forge a whole log line, so they are written the way Redis's sdscatrepr
// writes untrusted strings.
//
// Pure and thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace shoal::cluster {

// `s` quoted as Redis's sdscatrepr: "..." with \\, \", \n, \r, \t, \a, \b
// escaped, other printable ASCII bytes as they are, the rest as \xhh. At most
// `max_bytes` of `s` are shown; a longer string ends in "..." after the
// closing quote, so a peer cannot flood one line either.
std::string LogRepr(std::string_view s, size_t max_bytes = 128);

// A whole log line made safe: bytes that are not printable ASCII (CR, LF
// and every other control byte included) become \xhh escapes, the rest is
// kept as it is. The last guard of the cluster's log sinks; strings known to
// come from a peer are quoted with LogRepr where they are written.
std::string EscapeLogLine(std::string_view line);

}  // namespace shoal::cluster
