// The string commands (Redis's t_string.c): GET, SET and its variants, the
// multi-key forms, ranges, and the INCR family. Every value is a string (or a
// counter, which reads as one), so WRONGTYPE cannot occur. Variants share helpers as t_string.c
// does: SET, SETNX, SETEX, PSETEX and GETSET all end in SetGeneric().

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/set_options.h"
#include "server/commands/versioned_reply.h"
#include "storage/keyspace.h"
#include "storage/store.h"

namespace shoal::server {
namespace {

constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

// What a SET variant replies when it did (or did not) set the key.
enum class SetReply {
  kOkOrNil,    // SET, SETEX, PSETEX: +OK, or nil when NX/XX refused
  kOneOrZero,  // SETNX: :1 or :0
};

// t_string.c, setGenericCommand. `value` is moved into the new version.
// With GET the reply is the old value (nil if none) whatever happens next;
// GET on a key with siblings is a read-modify-write and refused (CONFLICT).
void SetGeneric(CommandContext& ctx, const SetOptions& o, std::string& value, SetReply kind,
                std::string_view command) {
  const std::string& key = ctx.args[1];
  int64_t expire_at = 0;
  if (o.unit != ExpireUnit::kNone) {
    auto r = ExpireArgToAbsoluteMs(o.expire_arg, o.unit, ctx.now_ms, command);
    if (!r.ok()) return ctx.reply.Error(r.status().message());
    expire_at = r.value();
  }

  std::optional<std::string> old;
  bool found = false;
  if (o.get) {
    auto r = ctx.keyspace.Single(key, ctx.now_ms);
    if (!r.ok()) return ReplyStatus(ctx, r.status());
    old = std::move(r.value());
    found = old.has_value();
  } else if (o.nx || o.xx) {
    found = ctx.keyspace.Exists(key, ctx.now_ms);
  }

  auto reply_old = [&] {
    if (old) {
      ctx.reply.Bulk(*old);
    } else {
      ctx.reply.Null();
    }
  };
  if ((o.nx && found) || (o.xx && !found)) {
    if (o.get) return reply_old();
    if (kind == SetReply::kOneOrZero) return ctx.reply.Integer(0);
    return ctx.reply.Null();
  }

  if (o.keepttl) expire_at = ctx.keyspace.ExpireAt(key, ctx.now_ms).value_or(0);
  storage::Status st = PutBytes(ctx, key, std::move(value), expire_at);
  if (!st.ok()) return ReplyStatus(ctx, st);
  if (o.get) return reply_old();
  if (kind == SetReply::kOneOrZero) return ctx.reply.Integer(1);
  ctx.reply.Ok();
}

void GetCommand(CommandContext& ctx) {
  auto view = ctx.keyspace.Get(ctx.args[1], ctx.now_ms);
  if (!view.ok()) return ReplyStatus(ctx, view.status());
  ReplyValues(ctx, view.value(), ctx.args[1]);
}

void SetCommand(CommandContext& ctx) {
  auto opts = ParseSetOptions(ctx.args, 3, SetOptionsMode::kSet);
  if (!opts.ok()) return ctx.reply.Error(opts.status().message());
  SetGeneric(ctx, opts.value(), ctx.args[2], SetReply::kOkOrNil, "set");
}

void SetNxCommand(CommandContext& ctx) {
  SetOptions o;
  o.nx = true;
  SetGeneric(ctx, o, ctx.args[2], SetReply::kOneOrZero, "setnx");
}

void SetExCommand(CommandContext& ctx) {
  SetOptions o;
  o.unit = ExpireUnit::kEx;
  o.expire_arg = ctx.args[2];
  SetGeneric(ctx, o, ctx.args[3], SetReply::kOkOrNil, "setex");
}

void PSetExCommand(CommandContext& ctx) {
  SetOptions o;
  o.unit = ExpireUnit::kPx;
  o.expire_arg = ctx.args[2];
  SetGeneric(ctx, o, ctx.args[3], SetReply::kOkOrNil, "psetex");
}

void GetSetCommand(CommandContext& ctx) {
  // GETSET is SET key value GET: the TTL is dropped, the old value returned.
  SetOptions o;
  o.get = true;
  SetGeneric(ctx, o, ctx.args[2], SetReply::kOkOrNil, "getset");
}

void GetDelCommand(CommandContext& ctx) {
  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  if (!v) return ctx.reply.Null();
  storage::Status st =
      ctx.keyspace.Put(ctx.args[1], storage::Version::Tombstone(ctx.now_ms), ctx.now_ms);
  if (!st.ok()) return ReplyStatus(ctx, st);
  ctx.reply.Bulk(*v);
}

void GetExCommand(CommandContext& ctx) {
  // t_string.c, getexCommand: options are checked first, the key next, and
  // the expire value only for a key that exists (a missing key is nil even
  // with a bad expire).
  auto opts = ParseSetOptions(ctx.args, 2, SetOptionsMode::kGetEx);
  if (!opts.ok()) return ctx.reply.Error(opts.status().message());
  const SetOptions& o = opts.value();
  const std::string& key = ctx.args[1];
  std::optional<std::string> v;
  if (!ReadSingle(ctx, key, &v)) return;
  if (!v) return ctx.reply.Null();
  int64_t expire_at = 0;
  if (o.unit != ExpireUnit::kNone) {
    auto r = ExpireArgToAbsoluteMs(o.expire_arg, o.unit, ctx.now_ms, "getex");
    if (!r.ok()) return ctx.reply.Error(r.status().message());
    expire_at = r.value();
  }
  storage::Status st;
  if (o.unit != ExpireUnit::kNone) {
    // An EXAT/PXAT already in the past deletes the key.
    st = ctx.keyspace.SetExpiry(key, expire_at, ctx.now_ms);
  } else if (o.persist && ctx.keyspace.ExpireAt(key, ctx.now_ms).value_or(0) != 0) {
    st = ctx.keyspace.SetExpiry(key, 0, ctx.now_ms);
  }
  if (!st.ok()) return ReplyStatus(ctx, st);
  ctx.reply.Bulk(*v);
}

void MGetCommand(CommandContext& ctx) {
  // A key with siblings replies a nested array of its values, as GET does.
  ctx.reply.ArrayHeader(ctx.args.size() - 1);
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    auto view = ctx.keyspace.Get(ctx.args[i], ctx.now_ms);
    if (!view.ok()) {
      ctx.reply.Null();
    } else {
      ReplyValues(ctx, view.value());
    }
  }
}

// MSET and MSETNX take key/value pairs; an odd pair count is an arity error
// (t_string.c, msetGenericCommand).
void MSetGeneric(CommandContext& ctx, bool nx, std::string_view command) {
  if (ctx.args.size() % 2 == 0) return ctx.reply.Error(errors::WrongArity(command));
  if (nx) {
    for (size_t i = 1; i < ctx.args.size(); i += 2) {
      if (ctx.keyspace.Exists(ctx.args[i], ctx.now_ms)) return ctx.reply.Integer(0);
    }
  }
  for (size_t i = 1; i < ctx.args.size(); i += 2) {
    storage::Status st = PutBytes(ctx, ctx.args[i], std::move(ctx.args[i + 1]), 0);
    if (!st.ok()) return ReplyStatus(ctx, st);
  }
  if (nx) return ctx.reply.Integer(1);
  ctx.reply.Ok();
}

void MSetCommand(CommandContext& ctx) {
  MSetGeneric(ctx, false, "mset");
}
void MSetNxCommand(CommandContext& ctx) {
  MSetGeneric(ctx, true, "msetnx");
}

// t_string.c, checkStringLength: would a string of size + append bytes pass
// proto-max-bulk-len? Computed unsigned so that no sum can wrap.
bool StringLengthOk(const CommandContext& ctx, uint64_t size, uint64_t append) {
  return size + append <= static_cast<uint64_t>(ctx.proto_max_bulk_len);
}

void AppendCommand(CommandContext& ctx) {
  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  const std::string& add = ctx.args[2];
  if (v && !StringLengthOk(ctx, v->size(), add.size())) {
    return ctx.reply.Error(errors::kStringTooLong);
  }
  std::string result = v ? std::move(*v) : std::string();
  result.append(add);
  int64_t len = static_cast<int64_t>(result.size());
  if (StoreResult(ctx, v.has_value(), std::move(result))) ctx.reply.Integer(len);
}

void StrLenCommand(CommandContext& ctx) {
  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  ctx.reply.Integer(v ? static_cast<int64_t>(v->size()) : 0);
}

void GetRangeCommand(CommandContext& ctx) {
  // t_string.c, getrangeCommand, including its quirks: both negative with
  // start > end is empty; out-of-range ends are clamped.
  int64_t start, end;
  if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &end)) {
    return ctx.reply.Error(errors::kNotInteger);
  }
  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  if (!v) return ctx.reply.Bulk("");
  const int64_t len = static_cast<int64_t>(v->size());
  if (start < 0 && end < 0 && start > end) return ctx.reply.Bulk("");
  if (start < 0) start += len;
  if (end < 0) end += len;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (start > end || len == 0) return ctx.reply.Bulk("");
  ctx.reply.Bulk(std::string_view(*v).substr(static_cast<size_t>(start),
                                             static_cast<size_t>(end - start + 1)));
}

void SetRangeCommand(CommandContext& ctx) {
  // t_string.c, setrangeCommand: an empty value never creates or grows the
  // key; the result may not exceed proto-max-bulk-len.
  int64_t offset;
  if (!ParseInt64(ctx.args[2], &offset)) return ctx.reply.Error(errors::kNotInteger);
  if (offset < 0) return ctx.reply.Error(errors::kOffsetOutOfRange);
  const std::string& value = ctx.args[3];
  const uint64_t off = static_cast<uint64_t>(offset);
  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  if (value.empty()) return ctx.reply.Integer(v ? static_cast<int64_t>(v->size()) : 0);
  if (!StringLengthOk(ctx, off, value.size())) return ctx.reply.Error(errors::kStringTooLong);
  std::string result = v ? std::move(*v) : std::string();
  if (off + value.size() > result.size()) result.resize(off + value.size(), '\0');
  std::memcpy(result.data() + off, value.data(), value.size());
  int64_t len = static_cast<int64_t>(result.size());
  if (StoreResult(ctx, v.has_value(), std::move(result))) ctx.reply.Integer(len);
}

// INCR and friends act on the convergent counter (storage/pn_counter.h): a
// missing key counts as 0, a string must be a strict integer, concurrent
// increments on different nodes all count.
void IncrDecr(CommandContext& ctx, int64_t incr) {
  auto r = ctx.keyspace.IncrBy(ctx.args[1], incr, ctx.now_ms);
  if (!r.ok()) return ReplyStatus(ctx, r.status());
  ctx.reply.Integer(r.value());
}

void IncrCommand(CommandContext& ctx) {
  IncrDecr(ctx, 1);
}
void DecrCommand(CommandContext& ctx) {
  IncrDecr(ctx, -1);
}

void IncrByCommand(CommandContext& ctx) {
  int64_t incr;
  if (!ParseInt64(ctx.args[2], &incr)) return ctx.reply.Error(errors::kNotInteger);
  IncrDecr(ctx, incr);
}

void DecrByCommand(CommandContext& ctx) {
  int64_t decr;
  if (!ParseInt64(ctx.args[2], &decr)) return ctx.reply.Error(errors::kNotInteger);
  if (decr == kInt64Min) return ctx.reply.Error(errors::kDecrementOverflow);
  IncrDecr(ctx, -decr);
}

// util.c, ld2string in LD_STR_HUMAN mode: "%.17Lf" with trailing zeros (and
// a bare '.') removed, and "-0" printed as "0". 17 digits of an x87 long
// double make small decimals round-trip ("10.5" + "0.1" is "10.6").
std::string FormatLongDoubleHuman(long double v) {
  // The widest finite long double (~1.19e4932) needs under 5000 characters.
  char buf[5 * 1024];
  int n = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(buf)) return "0";
  size_t len = static_cast<size_t>(n);
  if (std::memchr(buf, '.', len) != nullptr) {
    while (buf[len - 1] == '0') --len;
    if (buf[len - 1] == '.') --len;
  }
  if (len == 2 && buf[0] == '-' && buf[1] == '0') return "0";
  return std::string(buf, len);
}

void IncrByFloatCommand(CommandContext& ctx) {
  // t_string.c, incrbyfloatCommand: the stored value is parsed before the
  // increment; both must be valid floats (string2ld).
  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  long double value = 0;
  long double incr = 0;
  if ((v && !ParseLongDouble(*v, &value)) || !ParseLongDouble(ctx.args[2], &incr)) {
    return ctx.reply.Error(errors::kNotFloat);
  }
  value += incr;
  if (std::isnan(value) || std::isinf(value)) return ctx.reply.Error(errors::kNanOrInf);
  std::string result = FormatLongDoubleHuman(value);
  if (StoreResult(ctx, v.has_value(), result)) ctx.reply.Bulk(result);
}

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadonly;
constexpr uint32_t kF = kCmdFast;
constexpr uint32_t kD = kCmdDenyOom;

// SET without NX, XX, GET or KEEPTTL does not depend on the key's current
// value: in a cluster it runs without reading the key first.
bool SetIsBlind(std::span<const std::string> argv) {
  auto opts = ParseSetOptions(argv, 3, SetOptionsMode::kSet);
  if (!opts.ok()) return false;  // the handler replies the error
  const SetOptions& o = opts.value();
  return !o.nx && !o.xx && !o.get && !o.keepttl;
}

// Flags, key positions, summaries and versions as Redis 7.0.15's COMMAND INFO
// and COMMAND DOCS report them (checked against redis-server 7.0.15).
constexpr CommandSpec kStringCommands[] = {
    {"get", 2, kR | kF, GetCommand, 1, 1, 1, "string", "Get the value of a key", "1.0.0"},
    {"set",
     -3,
     kW | kD,
     SetCommand,
     1,
     1,
     1,
     "string",
     "Set the string value of a key",
     "1.0.0",
     {},
     {.blind_if = SetIsBlind}},
    {"setnx", 3, kW | kD | kF, SetNxCommand, 1, 1, 1, "string",
     "Set the value of a key, only if the key does not exist", "1.0.0"},
    {"setex",
     4,
     kW | kD,
     SetExCommand,
     1,
     1,
     1,
     "string",
     "Set the value and expiration of a key",
     "2.0.0",
     {},
     {.access = cluster::Access::kBlindWrite}},
    {"psetex",
     4,
     kW | kD,
     PSetExCommand,
     1,
     1,
     1,
     "string",
     "Set the value and expiration in milliseconds of a key",
     "2.6.0",
     {},
     {.access = cluster::Access::kBlindWrite}},
    {"getset", 3, kW | kD | kF, GetSetCommand, 1, 1, 1, "string",
     "Set the string value of a key and return its old value", "1.0.0"},
    {"getdel", 2, kW | kF, GetDelCommand, 1, 1, 1, "string",
     "Get the value of a key and delete the key", "6.2.0"},
    {"getex", -2, kW | kF, GetExCommand, 1, 1, 1, "string",
     "Get the value of a key and optionally set its expiration", "6.2.0"},
    {"mget",
     -2,
     kR | kF,
     MGetCommand,
     1,
     -1,
     1,
     "string",
     "Get the values of all the given keys",
     "1.0.0",
     {},
     {.split = cluster::Split::kEachKey,
      .part_command = "get",
      .combine = cluster::Combine::kArray}},
    {"mset",
     -3,
     kW | kD,
     MSetCommand,
     1,
     -1,
     2,
     "string",
     "Set multiple keys to multiple values",
     "1.0.1",
     {},
     {.split = cluster::Split::kKeyValuePairs,
      .part_command = "set",
      .combine = cluster::Combine::kOk}},
    {"msetnx",
     -3,
     kW | kD,
     MSetNxCommand,
     1,
     -1,
     2,
     "string",
     "Set multiple keys to multiple values, only if none of the keys exist",
     "1.0.1",
     {},
     {.split = cluster::Split::kSameReplicas}},
    {"append", 3, kW | kD | kF, AppendCommand, 1, 1, 1, "string", "Append a value to a key",
     "2.0.0"},
    {"strlen", 2, kR | kF, StrLenCommand, 1, 1, 1, "string",
     "Get the length of the value stored in a key", "2.2.0"},
    {"getrange", 4, kR, GetRangeCommand, 1, 1, 1, "string",
     "Get a substring of the string stored at a key", "2.4.0"},
    {"substr", 4, kR, GetRangeCommand, 1, 1, 1, "string",
     "Get a substring of the string stored at a key", "1.0.0"},
    {"setrange", 4, kW | kD, SetRangeCommand, 1, 1, 1, "string",
     "Overwrite part of a string at key starting at the specified offset", "2.2.0"},
    {"incr", 2, kW | kD | kF, IncrCommand, 1, 1, 1, "string",
     "Increment the integer value of a key by one", "1.0.0"},
    {"decr", 2, kW | kD | kF, DecrCommand, 1, 1, 1, "string",
     "Decrement the integer value of a key by one", "1.0.0"},
    {"incrby", 3, kW | kD | kF, IncrByCommand, 1, 1, 1, "string",
     "Increment the integer value of a key by the given amount", "1.0.0"},
    {"decrby", 3, kW | kD | kF, DecrByCommand, 1, 1, 1, "string",
     "Decrement the integer value of a key by the given number", "1.0.0"},
    {"incrbyfloat", 3, kW | kD | kF, IncrByFloatCommand, 1, 1, 1, "string",
     "Increment the float value of a key by the given amount", "2.6.0"},
};

}  // namespace

void RegisterStringCommands(CommandTable& table) {
  table.Register(kStringCommands);
}

}  // namespace shoal::server
