#pragma once
// How cluster/ logs: through a sink the server supplies (cluster/ does not
// know the server's logger), with severities the server maps to its own.

#include <functional>
#include <string>

namespace shoal::cluster {

enum class LogSeverity { kDebug, kVerbose, kNotice, kWarning };

using LogSink = std::function<void(LogSeverity, const std::string&)>;

}  // namespace shoal::cluster
