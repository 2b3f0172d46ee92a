#include "server/commands/set_options.h"

#include <limits>

#include "facade/args.h"
#include "facade/errors.h"

namespace shoal::server {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

storage::Status Error(std::string_view msg) {
  return storage::Status::Invalid(std::string(msg));
}

}  // namespace

storage::Result<SetOptions> ParseSetOptions(std::span<const std::string> args, size_t first,
                                            SetOptionsMode mode) {
  // Each option is accepted only if nothing it conflicts with was seen, and
  // an expire form only if a value follows; anything else is a syntax error
  // (t_string.c, parseExtendedStringArgumentsOrReply).
  const bool set = mode == SetOptionsMode::kSet;
  SetOptions o;
  for (size_t j = first; j < args.size(); ++j) {
    std::string_view opt = args[j];
    const bool has_next = j + 1 < args.size();
    const ExpireUnit u = o.unit;
    auto expire_ok = [&](ExpireUnit wanted) {
      return !o.keepttl && !o.persist && (u == ExpireUnit::kNone || u == wanted) && has_next;
    };
    if (set && facade::EqualsIgnoreCase(opt, "nx") && !o.xx) {
      o.nx = true;
    } else if (set && facade::EqualsIgnoreCase(opt, "xx") && !o.nx) {
      o.xx = true;
    } else if (set && facade::EqualsIgnoreCase(opt, "get")) {
      o.get = true;
    } else if (set && facade::EqualsIgnoreCase(opt, "keepttl") && !o.persist &&
               u == ExpireUnit::kNone) {
      o.keepttl = true;
    } else if (!set && facade::EqualsIgnoreCase(opt, "persist") && !o.keepttl &&
               u == ExpireUnit::kNone) {
      o.persist = true;
    } else if (facade::EqualsIgnoreCase(opt, "ex") && expire_ok(ExpireUnit::kEx)) {
      o.unit = ExpireUnit::kEx;
      o.expire_arg = args[++j];
    } else if (facade::EqualsIgnoreCase(opt, "px") && expire_ok(ExpireUnit::kPx)) {
      o.unit = ExpireUnit::kPx;
      o.expire_arg = args[++j];
    } else if (facade::EqualsIgnoreCase(opt, "exat") && expire_ok(ExpireUnit::kExat)) {
      o.unit = ExpireUnit::kExat;
      o.expire_arg = args[++j];
    } else if (facade::EqualsIgnoreCase(opt, "pxat") && expire_ok(ExpireUnit::kPxat)) {
      o.unit = ExpireUnit::kPxat;
      o.expire_arg = args[++j];
    } else {
      return Error(facade::errors::kSyntax);
    }
  }
  return o;
}

storage::Result<int64_t> ExpireArgToAbsoluteMs(std::string_view arg, ExpireUnit unit,
                                               int64_t now_ms, std::string_view command) {
  // t_string.c, getExpireMillisecondsOrReply: the value must be positive,
  // must not overflow when scaled to ms, and the absolute time must stay
  // positive (Redis detects the wrapped sum; we refuse before wrapping).
  int64_t v;
  if (!facade::ParseInt64(arg, &v)) return Error(facade::errors::kNotInteger);
  const bool seconds = unit == ExpireUnit::kEx || unit == ExpireUnit::kExat;
  if (v <= 0 || (seconds && v > kMax / 1000)) return Error(facade::errors::InvalidExpire(command));
  if (seconds) v *= 1000;
  if (unit == ExpireUnit::kEx || unit == ExpireUnit::kPx) {
    if (now_ms > 0 && v > kMax - now_ms) return Error(facade::errors::InvalidExpire(command));
    v += now_ms;
    if (v <= 0) return Error(facade::errors::InvalidExpire(command));
  }
  return v;
}

storage::Result<ExpireFlags> ParseExpireFlags(std::span<const std::string> args, size_t first) {
  // expire.c, parseExtendedExpireArgumentsOrReply: every word is checked
  // before the combinations are.
  ExpireFlags f;
  for (size_t j = first; j < args.size(); ++j) {
    std::string_view opt = args[j];
    if (facade::EqualsIgnoreCase(opt, "nx")) {
      f.nx = true;
    } else if (facade::EqualsIgnoreCase(opt, "xx")) {
      f.xx = true;
    } else if (facade::EqualsIgnoreCase(opt, "gt")) {
      f.gt = true;
    } else if (facade::EqualsIgnoreCase(opt, "lt")) {
      f.lt = true;
    } else {
      return Error(facade::errors::UnsupportedOption(opt));
    }
  }
  if (f.nx && (f.xx || f.gt || f.lt)) return Error(facade::errors::kExpireNxAndOthers);
  if (f.gt && f.lt) return Error(facade::errors::kExpireGtAndLt);
  return f;
}

storage::Result<int64_t> ExpireCommandToAbsoluteMs(std::string_view value, bool seconds,
                                                   int64_t base_ms, std::string_view command) {
  // expire.c, expireGenericCommand: negative values are fine (the key is
  // deleted); only the unit conversion and the addition may not overflow.
  int64_t when;
  if (!facade::ParseInt64(value, &when)) return Error(facade::errors::kNotInteger);
  if (seconds) {
    if (when > kMax / 1000 || when < kMin / 1000)
      return Error(facade::errors::InvalidExpire(command));
    when *= 1000;
  }
  if (when > kMax - base_ms) return Error(facade::errors::InvalidExpire(command));
  return when + base_ms;
}

}  // namespace shoal::server
