#pragma once
// The option parsers shared by the string and key commands, so that SET,
// GETEX, SETEX/PSETEX and the EXPIRE family agree on every rule (Redis's
// parseExtendedStringArgumentsOrReply, getExpireMillisecondsOrReply and
// parseExtendedExpireArgumentsOrReply in t_string.c / expire.c, 7.0).
//
// Pure functions over the argument vector; errors come back as a Status whose
// message is the exact client-facing text.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "storage/status.h"

namespace shoal::server {

// How an expire argument is to be read.
enum class ExpireUnit {
  kNone,  // no expire option given
  kEx,    // relative seconds
  kPx,    // relative milliseconds
  kExat,  // absolute Unix seconds
  kPxat,  // absolute Unix milliseconds
};

// The options of SET (NX XX GET KEEPTTL EX PX EXAT PXAT) or of GETEX
// (PERSIST EX PX EXAT PXAT).
struct SetOptions {
  bool nx = false;
  bool xx = false;
  bool get = false;
  bool keepttl = false;
  bool persist = false;
  ExpireUnit unit = ExpireUnit::kNone;
  std::string_view expire_arg;  // the number after EX/PX/EXAT/PXAT; views args
};

enum class SetOptionsMode { kSet, kGetEx };

// Parses args[first..]. Follows Redis exactly: conflicting options (NX with
// XX, two different expire forms, KEEPTTL or PERSIST with an expire, an
// option of the other command, a missing expire value) are "ERR syntax
// error"; repeating the same option is allowed, the last value wins.
[[nodiscard]] storage::Result<SetOptions> ParseSetOptions(std::span<const std::string> args,
                                                          size_t first, SetOptionsMode mode);

// The absolute expiry in ms for an expire argument of SET/GETEX/SETEX/PSETEX:
// not an integer -> "ERR value is not an integer or out of range"; zero,
// negative, or overflowing when scaled to ms or made absolute ->
// errors::InvalidExpire(command). Relative units are added to now_ms.
[[nodiscard]] storage::Result<int64_t> ExpireArgToAbsoluteMs(std::string_view arg, ExpireUnit unit,
                                                             int64_t now_ms,
                                                             std::string_view command);

// The NX XX GT LT flags of EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT.
struct ExpireFlags {
  bool nx = false;
  bool xx = false;
  bool gt = false;
  bool lt = false;
};

// Parses args[first..]: an unknown word is "ERR Unsupported option <word>";
// NX with any other flag, or GT with LT, is the matching Redis error.
[[nodiscard]] storage::Result<ExpireFlags> ParseExpireFlags(std::span<const std::string> args,
                                                            size_t first);

// The absolute expiry in ms for EXPIRE-family arguments: `value` in seconds
// (`seconds`) or ms, plus `base_ms` (now for EXPIRE/PEXPIRE, 0 for the *AT
// forms). Negative values are allowed (they delete the key); only overflow is
// an error, errors::InvalidExpire(command).
[[nodiscard]] storage::Result<int64_t> ExpireCommandToAbsoluteMs(std::string_view value,
                                                                 bool seconds, int64_t base_ms,
                                                                 std::string_view command);

}  // namespace shoal::server
