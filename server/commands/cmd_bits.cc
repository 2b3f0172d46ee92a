// The bit commands (Redis's bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS,
// BITOP, BITFIELD and BITFIELD_RO. They are string commands on the key's one
// value: a counter reads as its decimal string, a key with siblings is
// refused with CONFLICT (as APPEND and SETRANGE), and a write keeps the
// key's TTL. The bit arithmetic is in bitops.h; this file parses arguments
// in Redis's order, so that the first bad argument gives Redis's error.

#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/bitops.h"
#include "server/commands/command.h"
#include "server/commands/versioned_reply.h"
#include "storage/keyspace.h"

namespace shoal::server {
namespace {

// bitops.c, getBitOffsetFromArgument: a bit offset, or with `hash` (BITFIELD)
// "#n" meaning n * bits. The byte it falls in must be below
// proto-max-bulk-len. Replies the error and returns false if not.
bool ParseBitOffset(CommandContext& ctx, std::string_view arg, bool hash, int bits, uint64_t* out) {
  const bool use_hash = hash && bits > 0 && !arg.empty() && arg[0] == '#';
  int64_t offset;
  if (!ParseInt64(arg.substr(use_hash ? 1 : 0), &offset) ||
      (use_hash && __builtin_mul_overflow(offset, bits, &offset)) || offset < 0 ||
      (offset >> 3) >= ctx.proto_max_bulk_len) {
    ctx.reply.Error(errors::kBitOffset);
    return false;
  }
  *out = static_cast<uint64_t>(offset);
  return true;
}

void SetBitCommand(CommandContext& ctx) {
  uint64_t offset;
  if (!ParseBitOffset(ctx, ctx.args[2], false, 0, &offset)) return;
  int64_t on;
  if (!ParseInt64(ctx.args[3], &on) || (on & ~int64_t{1}) != 0) {
    return ctx.reply.Error(errors::kBitValue);
  }
  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  std::string s = v ? std::move(*v) : std::string();
  const bool old = bits::GetBit(s, offset);
  // As Redis: a new key, a longer string or a changed bit is a write;
  // setting a bit to what it holds changes nothing.
  if (!v || (offset >> 3) >= s.size() || old != (on == 1)) {
    bits::SetBit(&s, offset, on == 1);
    if (!StoreResult(ctx, v.has_value(), std::move(s))) return;
  }
  ctx.reply.Integer(old ? 1 : 0);
}

void GetBitCommand(CommandContext& ctx) {
  uint64_t offset;
  if (!ParseBitOffset(ctx, ctx.args[2], false, 0, &offset)) return;
  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  ctx.reply.Integer(v && bits::GetBit(*v, offset) ? 1 : 0);
}

// BYTE or BIT (any case); replies a syntax error and returns false if
// neither.
bool ParseUnit(CommandContext& ctx, std::string_view arg, bits::Unit* unit) {
  if (EqualsIgnoreCase(arg, "bit")) {
    *unit = bits::Unit::kBit;
  } else if (EqualsIgnoreCase(arg, "byte")) {
    *unit = bits::Unit::kByte;
  } else {
    ctx.reply.Error(errors::kSyntax);
    return false;
  }
  return true;
}

void BitCountCommand(CommandContext& ctx) {
  // bitcountCommand's order: the key first (absent: 0 whatever the
  // arguments), then start/end, then the unit.
  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  if (!v) return ctx.reply.Integer(0);
  const size_t argc = ctx.args.size();
  if (argc == 2) return ctx.reply.Integer(static_cast<int64_t>(bits::BitCount(*v, std::nullopt)));
  if (argc != 4 && argc != 5) return ctx.reply.Error(errors::kSyntax);
  int64_t start, end;
  if (!ParseInt64(ctx.args[2], &start) || !ParseInt64(ctx.args[3], &end)) {
    return ctx.reply.Error(errors::kNotInteger);
  }
  // Checked before the unit, as Redis does: "BITCOUNT k -1 -2 FOO" is 0.
  if (start < 0 && end < 0 && start > end) return ctx.reply.Integer(0);
  bits::Unit unit = bits::Unit::kByte;
  if (argc == 5 && !ParseUnit(ctx, ctx.args[4], &unit)) return;
  auto range = bits::ResolveRange(v->size(), start, end, unit);
  ctx.reply.Integer(range ? static_cast<int64_t>(bits::BitCount(*v, range)) : 0);
}

void BitPosCommand(CommandContext& ctx) {
  int64_t bit;
  if (!ParseInt64(ctx.args[2], &bit)) return ctx.reply.Error(errors::kNotInteger);
  if (bit != 0 && bit != 1) return ctx.reply.Error(errors::kBitArgument);
  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  // An absent key is an endless run of zero bits.
  if (!v) return ctx.reply.Integer(bit == 1 ? -1 : 0);
  const size_t argc = ctx.args.size();
  if (argc == 3) return ctx.reply.Integer(bits::BitPos(*v, bit == 1, std::nullopt, false));
  if (argc > 6) return ctx.reply.Error(errors::kSyntax);
  int64_t start;
  if (!ParseInt64(ctx.args[3], &start)) return ctx.reply.Error(errors::kNotInteger);
  bits::Unit unit = bits::Unit::kByte;
  if (argc == 6 && !ParseUnit(ctx, ctx.args[5], &unit)) return;
  int64_t end = -1;  // without an end: to the end of the string
  const bool end_given = argc >= 5;
  if (end_given && !ParseInt64(ctx.args[4], &end)) return ctx.reply.Error(errors::kNotInteger);
  auto range = bits::ResolveRange(v->size(), start, end, unit);
  if (!range) return ctx.reply.Integer(-1);
  ctx.reply.Integer(bits::BitPos(*v, bit == 1, range, end_given));
}

void BitOpCommand(CommandContext& ctx) {
  const std::string& name = ctx.args[1];
  bits::BitOp op;
  if (EqualsIgnoreCase(name, "and")) {
    op = bits::BitOp::kAnd;
  } else if (EqualsIgnoreCase(name, "or")) {
    op = bits::BitOp::kOr;
  } else if (EqualsIgnoreCase(name, "xor")) {
    op = bits::BitOp::kXor;
  } else if (EqualsIgnoreCase(name, "not")) {
    op = bits::BitOp::kNot;
  } else {
    return ctx.reply.Error(errors::kSyntax);
  }
  if (op == bits::BitOp::kNot && ctx.args.size() != 4) {
    return ctx.reply.Error(errors::kBitopNotOneKey);
  }
  // Absent sources are empty strings.
  std::vector<std::string> values;
  values.reserve(ctx.args.size() - 3);
  for (size_t i = 3; i < ctx.args.size(); ++i) {
    std::optional<std::string> v;
    if (!ReadSingle(ctx, ctx.args[i], &v)) return;
    values.push_back(v ? std::move(*v) : std::string());
  }
  std::vector<std::string_view> sources(values.begin(), values.end());
  std::string result = bits::Apply(op, sources);
  const std::string& dest = ctx.args[2];
  const int64_t len = static_cast<int64_t>(result.size());
  if (len == 0) {
    // Every source empty: the destination is deleted, as Redis does.
    auto deleted = ctx.keyspace.Delete(dest, ctx.now_ms);
    if (!deleted.ok()) return ReplyStatus(ctx, deleted.status());
    return ctx.reply.Integer(0);
  }
  // A plain SET of the destination: its old TTL goes.
  storage::Status st = PutBytes(ctx, dest, std::move(result), 0);
  if (!st.ok()) return ReplyStatus(ctx, st);
  ctx.reply.Integer(len);
}

// One BITFIELD operation, parsed.
struct FieldOp {
  enum class Kind { kGet, kSet, kIncrBy } kind;
  bits::FieldType type;
  uint64_t offset = 0;
  int64_t arg = 0;  // SET's value or INCRBY's increment
  bits::Overflow overflow = bits::Overflow::kWrap;
};

// bitops.c, bitfieldGeneric. `read_only`: BITFIELD_RO, which accepts GET only.
void BitFieldGeneric(CommandContext& ctx, bool read_only) {
  std::vector<FieldOp> ops;
  bits::Overflow overflow = bits::Overflow::kWrap;
  bool writes = false;
  uint64_t highest_bit = 0;  // the last bit a SET or INCRBY touches
  const size_t argc = ctx.args.size();
  for (size_t j = 2; j < argc; ++j) {
    const size_t more = argc - j - 1;
    const std::string& sub = ctx.args[j];
    FieldOp op;
    if (EqualsIgnoreCase(sub, "get") && more >= 2) {
      op.kind = FieldOp::Kind::kGet;
    } else if (EqualsIgnoreCase(sub, "set") && more >= 3) {
      op.kind = FieldOp::Kind::kSet;
    } else if (EqualsIgnoreCase(sub, "incrby") && more >= 3) {
      op.kind = FieldOp::Kind::kIncrBy;
    } else if (EqualsIgnoreCase(sub, "overflow") && more >= 1) {
      const std::string& how = ctx.args[++j];
      if (EqualsIgnoreCase(how, "wrap")) {
        overflow = bits::Overflow::kWrap;
      } else if (EqualsIgnoreCase(how, "sat")) {
        overflow = bits::Overflow::kSat;
      } else if (EqualsIgnoreCase(how, "fail")) {
        overflow = bits::Overflow::kFail;
      } else {
        return ctx.reply.Error(errors::kBitfieldOverflowType);
      }
      continue;
    } else {
      return ctx.reply.Error(errors::kSyntax);
    }
    auto type = bits::ParseFieldType(ctx.args[j + 1]);
    if (!type) return ctx.reply.Error(errors::kBitfieldType);
    op.type = *type;
    if (!ParseBitOffset(ctx, ctx.args[j + 2], true, op.type.bits, &op.offset)) return;
    if (op.kind != FieldOp::Kind::kGet) {
      writes = true;
      highest_bit = std::max(highest_bit, op.offset + static_cast<uint64_t>(op.type.bits) - 1);
      if (!ParseInt64(ctx.args[j + 3], &op.arg)) return ctx.reply.Error(errors::kNotInteger);
    }
    op.overflow = overflow;
    ops.push_back(op);
    j += op.kind == FieldOp::Kind::kGet ? 2 : 3;
  }
  if (writes && read_only) return ctx.reply.Error(errors::kBitfieldRoGetOnly);

  std::optional<std::string> v;
  if (!ReadSingle(ctx, ctx.args[1], &v)) return;
  const bool existed = v.has_value();
  std::string s = v ? std::move(*v) : std::string();
  std::string before;
  if (writes) {
    before = s;
    // Room up to the farthest bit written, as lookupStringForBitCommand.
    if ((highest_bit >> 3) >= s.size()) s.resize((highest_bit >> 3) + 1, '\0');
  }

  ctx.reply.ArrayHeader(ops.size());
  for (const FieldOp& op : ops) {
    const int width = op.type.bits;
    if (op.kind == FieldOp::Kind::kGet) {
      ctx.reply.Integer(op.type.is_signed
                            ? bits::GetSigned(s, op.offset, width)
                            : static_cast<int64_t>(bits::GetUnsigned(s, op.offset, width)));
      continue;
    }
    // SET is "add 0 to the new value": the same overflow rules apply to it.
    const bool incr = op.kind == FieldOp::Kind::kIncrBy;
    bits::FieldSum sum;
    int64_t old;
    if (op.type.is_signed) {
      old = bits::GetSigned(s, op.offset, width);
      sum = incr ? bits::AddSigned(old, op.arg, width, op.overflow)
                 : bits::AddSigned(op.arg, 0, width, op.overflow);
    } else {
      old = static_cast<int64_t>(bits::GetUnsigned(s, op.offset, width));
      sum = incr ? bits::AddUnsigned(static_cast<uint64_t>(old), op.arg, width, op.overflow)
                 : bits::AddUnsigned(static_cast<uint64_t>(op.arg), 0, width, op.overflow);
    }
    if (sum.overflow != 0 && op.overflow == bits::Overflow::kFail) {
      ctx.reply.Null();
      continue;
    }
    ctx.reply.Integer(incr ? sum.result : old);
    bits::SetField(&s, op.offset, width, static_cast<uint64_t>(sum.result));
  }
  // Redis creates the key even when every write failed; it stores nothing
  // when no byte changed.
  if (writes && (!existed || s != before)) StoreResult(ctx, existed, std::move(s));
}

void BitFieldCommand(CommandContext& ctx) {
  BitFieldGeneric(ctx, false);
}
void BitFieldRoCommand(CommandContext& ctx) {
  BitFieldGeneric(ctx, true);
}

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadonly;
constexpr uint32_t kF = kCmdFast;
constexpr uint32_t kD = kCmdDenyOom;

const CommandSpec kBitCommands[] = {
    {"setbit", 4, kW | kD, SetBitCommand, 1, 1, 1, "bitmap",
     "Sets or clears the bit at offset in the string value stored at key", "2.2.0"},
    {"getbit", 3, kR | kF, GetBitCommand, 1, 1, 1, "bitmap",
     "Returns the bit value at offset in the string value stored at key", "2.2.0"},
    {"bitcount", -2, kR, BitCountCommand, 1, 1, 1, "bitmap", "Count set bits in a string", "2.6.0"},
    {"bitpos", -3, kR, BitPosCommand, 1, 1, 1, "bitmap", "Find first bit set or clear in a string",
     "2.8.7"},
    // The destination and the sources must share a replica set in a cluster
    // (hash tags), else CROSSSLOT.
    {"bitop",
     -4,
     kW | kD,
     BitOpCommand,
     2,
     -1,
     1,
     "bitmap",
     "Perform bitwise operations between strings",
     "2.6.0",
     {},
     {.split = cluster::Split::kSameReplicas}},
    {"bitfield", -2, kW | kD, BitFieldCommand, 1, 1, 1, "bitmap",
     "Perform arbitrary bitfield integer operations on strings", "3.2.0"},
    {"bitfield_ro", -2, kR | kF, BitFieldRoCommand, 1, 1, 1, "bitmap",
     "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
     "6.0.0"},
};

}  // namespace

void RegisterBitCommands(CommandTable& table) {
  table.Register(kBitCommands);
}

}  // namespace shoal::server
