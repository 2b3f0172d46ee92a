#pragma once
// Logger: log lines in Redis's format
//   "<pid>:M 25 Nov 2026 12:00:00.123 * Ready to accept connections"
// with Redis's level marks ('.' debug, '-' verbose, '*' notice, '#' warning).
// Owned by the Server; passed by reference to whoever logs.

#include <cstdio>
#include <string>
#include <string_view>

#include "server/config.h"  // LogLevel

namespace shoal::server {

class Logger {
 public:
  Logger() = default;
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Sends lines to `path` (appending), or to stdout when empty. Returns
  // false with errno set if the file cannot be opened.
  bool Open(const std::string& path);
  void set_level(LogLevel level) { level_ = level; }
  LogLevel level() const { return level_; }

  // printf-style. Lines below the current level are dropped cheaply.
  void Log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

 private:
  FILE* file_ = nullptr;  // nullptr: stdout
  LogLevel level_ = LogLevel::kNotice;
};

#define SHOAL_LOG(logger, lvl, ...)                                  \
  do {                                                               \
    if ((logger).level() <= (lvl)) (logger).Log((lvl), __VA_ARGS__); \
  } while (0)

}  // namespace shoal::server
