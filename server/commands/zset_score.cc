#include "server/commands/zset_score.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

namespace shoal::server {

std::optional<double> ParseZsetScore(const std::string& text) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  // A NUL byte inside the text stops strtod short: refused, as Redis
  // compares the length read with the argument's.
  if (static_cast<size_t>(end - text.c_str()) != text.size()) return std::nullopt;
  if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || std::fpclassify(v) == FP_ZERO)) {
    return std::nullopt;
  }
  if (std::isnan(v)) return std::nullopt;
  return v;
}

std::string FormatZsetScore(double score, ScoreText style) {
  if (std::isinf(score)) return score < 0 ? "-inf" : "inf";
  char buf[64];
  if (style == ScoreText::kSkiplist) {
    const int n = std::snprintf(buf, sizeof(buf), "%.17g", score);
    return std::string(buf, static_cast<size_t>(n));
  }
  if (std::isnan(score)) return "nan";
  if (score == 0) return std::signbit(score) ? "-0" : "0";
  // double2ll: within +-LLONG_MAX/2 and without a fractional part.
  constexpr double kHalf = static_cast<double>(std::numeric_limits<long long>::max() / 2);
  if (score >= -kHalf && score <= kHalf) {
    const auto ll = static_cast<long long>(score);
    if (static_cast<double>(ll) == score) return std::to_string(ll);
  }
  const int n = std::snprintf(buf, sizeof(buf), "%.17g", score);
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace shoal::server
