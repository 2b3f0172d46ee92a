#include "server/config_values.h"

#include <cctype>

#include "facade/args.h"

namespace shoal::server {

std::string Between(int64_t min, int64_t max) {
  return "argument must be between " + std::to_string(min) + " and " + std::to_string(max) +
         " inclusive";
}
std::string Between(uint64_t min, uint64_t max) {
  return "argument must be between " + std::to_string(min) + " and " + std::to_string(max) +
         " inclusive";
}

bool ParseMemory(std::string_view s, uint64_t* out) {
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  std::string_view unit = s.substr(digits);
  uint64_t mul;
  if (unit.empty() || facade::EqualsIgnoreCase(unit, "b")) {
    mul = 1;
  } else if (facade::EqualsIgnoreCase(unit, "k")) {
    mul = 1000;
  } else if (facade::EqualsIgnoreCase(unit, "kb")) {
    mul = 1024;
  } else if (facade::EqualsIgnoreCase(unit, "m")) {
    mul = 1000 * 1000;
  } else if (facade::EqualsIgnoreCase(unit, "mb")) {
    mul = 1024 * 1024;
  } else if (facade::EqualsIgnoreCase(unit, "g")) {
    mul = 1000ull * 1000 * 1000;
  } else if (facade::EqualsIgnoreCase(unit, "gb")) {
    mul = 1024ull * 1024 * 1024;
  } else {
    return false;
  }
  // As strtoull on an empty buffer, Redis reads "" (and "kb") as 0.
  uint64_t v = 0;
  for (size_t i = 0; i < digits; ++i) {
    uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  if (v > UINT64_MAX / mul) return false;
  *out = v * mul;
  return true;
}

bool ParseBool(std::string_view s, bool* out) {
  if (facade::EqualsIgnoreCase(s, "yes")) {
    *out = true;
  } else if (facade::EqualsIgnoreCase(s, "no")) {
    *out = false;
  } else {
    return false;
  }
  return true;
}

const char* YesNo(bool b) {
  return b ? "yes" : "no";
}

}  // namespace shoal::server
