#include "server/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <cstdarg>
#include <ctime>

namespace shoal::server {

Logger::~Logger() {
  if (file_ != nullptr) std::fclose(file_);
}

bool Logger::Open(const std::string& path) {
  if (path.empty()) return true;
  FILE* f = std::fopen(path.c_str(), "a");
  if (f == nullptr) return false;
  if (file_ != nullptr) std::fclose(file_);
  file_ = f;
  return true;
}

void Logger::Log(LogLevel level, const char* fmt, ...) {
  if (level < level_) return;
  static constexpr char kMarks[] = {'.', '-', '*', '#'};
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);

  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  localtime_r(&tv.tv_sec, &tm);
  char when[64];
  size_t n = std::strftime(when, sizeof(when), "%d %b %Y %H:%M:%S.", &tm);
  std::snprintf(when + n, sizeof(when) - n, "%03d", static_cast<int>(tv.tv_usec / 1000));

  FILE* out = file_ != nullptr ? file_ : stdout;
  std::fprintf(out, "%d:M %s %c %s\n", static_cast<int>(getpid()), when,
               kMarks[static_cast<int>(level)], msg);
  std::fflush(out);
}

}  // namespace shoal::server
