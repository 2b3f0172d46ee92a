// The hash commands (Redis's t_hash.c) over the convergent hash
// (storage/or_hash.h). Reads take the key's joined state (Keyspace::ReadHash,
// or HashGet for one field); every write is one Keyspace::ModifyHash, a
// read-modify-write of that state stored as one new version, as INCR is. In
// a cluster they run like INCR: coordinated by the key's first reachable
// primary after a quorum read, the result replicated with W. Concurrent
// writes on two partition sides merge by the rules of or_hash.h (add wins
// over HDEL, both HINCRBYs count, the later HSET wins a field).

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/container_encoding.h"
#include "server/commands/container_reply.h"
#include "server/commands/element_scan.h"
#include "server/commands/glob.h"
#include "server/commands/random_pick.h"
#include "server/commands/versioned_reply.h"
#include "storage/keyspace.h"

namespace shoal::server {
namespace {

using HashView = storage::ContainerView<storage::OrHash>;
using storage::Keyspace;
using storage::OrHash;

// The joined hash of `key` into *out (an absent key reads as empty). On
// WRONGTYPE or damage replies the error and returns false.
bool ReadHash(CommandContext& ctx, const std::string& key, HashView* out) {
  return TakeContainer(ctx, ctx.keyspace.ReadHash(key, ctx.now_ms), out);
}

// One field's value (nullopt: no such field or key).
bool GetField(CommandContext& ctx, const std::string& key, const std::string& field,
              std::optional<std::string>* out) {
  auto r = ctx.keyspace.HashGet(key, field, ctx.now_ms);
  if (!r.ok()) {
    ReplyContainerStatus(ctx, r.status());
    return false;
  }
  *out = std::move(r.value());
  return true;
}

// HSET and HMSET: field/value pairs; an odd count is an arity error.
void HSetGeneric(CommandContext& ctx, bool reply_ok, std::string_view command) {
  if (ctx.args.size() % 2 == 1) return ctx.reply.Error(errors::WrongArity(command));
  int64_t created = 0;
  storage::Status st = ctx.keyspace.ModifyHash(
      ctx.args[1], ctx.now_ms,
      [&](OrHash& hash, Keyspace::ContainerWrite& w) -> storage::Result<bool> {
        for (size_t i = 2; i < ctx.args.size(); i += 2) {
          if (hash.Set(ctx.args[i], ctx.args[i + 1], w.dot, w.now_ms)) ++created;
        }
        return true;
      });
  if (!st.ok()) return ReplyContainerStatus(ctx, st);
  if (reply_ok) return ctx.reply.Ok();
  ctx.reply.Integer(created);
}

void HSetCommand(CommandContext& ctx) {
  HSetGeneric(ctx, false, "hset");
}
void HMSetCommand(CommandContext& ctx) {
  HSetGeneric(ctx, true, "hmset");
}

void HSetNxCommand(CommandContext& ctx) {
  bool set = false;
  storage::Status st = ctx.keyspace.ModifyHash(
      ctx.args[1], ctx.now_ms,
      [&](OrHash& hash, Keyspace::ContainerWrite& w) -> storage::Result<bool> {
        if (hash.Contains(ctx.args[2])) return false;
        hash.Set(ctx.args[2], ctx.args[3], w.dot, w.now_ms);
        set = true;
        return true;
      });
  if (!st.ok()) return ReplyContainerStatus(ctx, st);
  ctx.reply.Integer(set ? 1 : 0);
}

void HGetCommand(CommandContext& ctx) {
  std::optional<std::string> v;
  if (!GetField(ctx, ctx.args[1], ctx.args[2], &v)) return;
  if (!v) return ctx.reply.Null();
  ctx.reply.Bulk(*v);
}

void HMGetCommand(CommandContext& ctx) {
  HashView view;
  if (!ReadHash(ctx, ctx.args[1], &view)) return;
  const auto& actors = ctx.keyspace.actors();
  ctx.reply.ArrayHeader(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    std::optional<std::string> v = view.state.Get(ctx.args[i], actors);
    if (v) {
      ctx.reply.Bulk(*v);
    } else {
      ctx.reply.Null();
    }
  }
}

void HExistsCommand(CommandContext& ctx) {
  std::optional<std::string> v;
  if (!GetField(ctx, ctx.args[1], ctx.args[2], &v)) return;
  ctx.reply.Integer(v ? 1 : 0);
}

void HStrLenCommand(CommandContext& ctx) {
  std::optional<std::string> v;
  if (!GetField(ctx, ctx.args[1], ctx.args[2], &v)) return;
  ctx.reply.Integer(v ? static_cast<int64_t>(v->size()) : 0);
}

void HLenCommand(CommandContext& ctx) {
  HashView view;
  if (!ReadHash(ctx, ctx.args[1], &view)) return;
  ctx.reply.Integer(static_cast<int64_t>(view.state.Size()));
}

void HDelCommand(CommandContext& ctx) {
  int64_t deleted = 0;
  storage::Status st = ctx.keyspace.ModifyHash(
      ctx.args[1], ctx.now_ms,
      [&](OrHash& hash, Keyspace::ContainerWrite&) -> storage::Result<bool> {
        for (size_t i = 2; i < ctx.args.size(); ++i) {
          if (hash.Remove(ctx.args[i])) ++deleted;
        }
        return deleted > 0;
      });
  if (!st.ok()) return ReplyContainerStatus(ctx, st);
  ctx.reply.Integer(deleted);
}

// HGETALL (a map in RESP3), HKEYS and HVALS (arrays), in field order.
enum class HashPart { kFields, kValues, kBoth };

void HGetAllGeneric(CommandContext& ctx, HashPart part) {
  HashView view;
  if (!ReadHash(ctx, ctx.args[1], &view)) return;
  const auto& entries = view.state.map().entries();
  const auto& actors = ctx.keyspace.actors();
  if (part == HashPart::kBoth) {
    ctx.reply.MapHeader(entries.size());
  } else {
    ctx.reply.ArrayHeader(entries.size());
  }
  for (const auto& e : entries) {
    if (part != HashPart::kValues) ctx.reply.Bulk(e.name);
    if (part != HashPart::kFields) ctx.reply.Bulk(OrHash::Value(e, actors));
  }
}

void HGetAllCommand(CommandContext& ctx) {
  HGetAllGeneric(ctx, HashPart::kBoth);
}
void HKeysCommand(CommandContext& ctx) {
  HGetAllGeneric(ctx, HashPart::kFields);
}
void HValsCommand(CommandContext& ctx) {
  HGetAllGeneric(ctx, HashPart::kValues);
}

void HIncrByCommand(CommandContext& ctx) {
  int64_t incr;
  if (!ParseInt64(ctx.args[3], &incr)) return ctx.reply.Error(errors::kNotInteger);
  int64_t result = 0;
  storage::Status st = ctx.keyspace.ModifyHash(
      ctx.args[1], ctx.now_ms,
      [&](OrHash& hash, Keyspace::ContainerWrite& w) -> storage::Result<bool> {
        auto r = hash.IncrBy(ctx.args[2], incr, w.dot, ctx.keyspace.actors());
        if (!r.ok()) return r.status();
        result = r.value();
        return true;
      });
  if (!st.ok()) return ReplyContainerStatus(ctx, st);
  ctx.reply.Integer(result);
}

void HIncrByFloatCommand(CommandContext& ctx) {
  // t_hash.c, hincrbyfloatCommand: the increment is checked before the key.
  long double incr;
  if (!ParseLongDouble(ctx.args[3], &incr)) return ctx.reply.Error(errors::kNotFloat);
  if (std::isnan(incr) || std::isinf(incr)) return ctx.reply.Error(errors::kIncrNanOrInf);
  std::string result;
  storage::Status st = ctx.keyspace.ModifyHash(
      ctx.args[1], ctx.now_ms,
      [&](OrHash& hash, Keyspace::ContainerWrite& w) -> storage::Result<bool> {
        auto r = hash.IncrByFloat(ctx.args[2], incr, w.dot, ctx.keyspace.actors());
        if (!r.ok()) return r.status();
        result = std::move(r.value());
        return true;
      });
  if (!st.ok()) return ReplyContainerStatus(ctx, st);
  ctx.reply.Bulk(result);
}

// One field (and its value) of HRANDFIELD's reply: with values, a pair
// (an array of two in RESP3, two flat elements in RESP2).
void ReplyRandomField(CommandContext& ctx, const OrHash::Map::Entry& e, bool withvalues) {
  if (withvalues && ctx.reply.resp3()) ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(e.name);
  if (withvalues) ctx.reply.Bulk(OrHash::Value(e, ctx.keyspace.actors()));
}

// t_hash.c, hrandfieldCommand: the count is checked first, then the
// options, then the key. A positive count returns distinct fields (at most
// all), a negative one |count| fields that may repeat.
void HRandFieldCommand(CommandContext& ctx) {
  PickRandom rng(ctx.random);
  if (ctx.args.size() == 2) {
    HashView view;
    if (!ReadHash(ctx, ctx.args[1], &view)) return;
    if (!view.exists) return ctx.reply.Null();
    const auto& entries = view.state.map().entries();
    return ctx.reply.Bulk(entries[rng.Below(entries.size())].name);
  }
  auto count = ParseRandomCount(ctx.args[2]);
  if (!count.ok()) return ctx.reply.Error(count.status().message());
  const int64_t l = count.value();
  bool withvalues = false;
  if (ctx.args.size() > 4 ||
      (ctx.args.size() == 4 && !EqualsIgnoreCase(ctx.args[3], "withvalues"))) {
    return ctx.reply.Error(errors::kSyntax);
  }
  if (ctx.args.size() == 4) {
    withvalues = true;
    if (l < -(INT64_MAX / 2) || l > INT64_MAX / 2) return ctx.reply.Error(errors::kOutOfRange);
  }
  HashView view;
  if (!ReadHash(ctx, ctx.args[1], &view)) return;
  const auto& entries = view.state.map().entries();
  if (!view.exists || l == 0) return ctx.reply.ArrayHeader(0);
  const bool repeats = l < 0;
  const uint64_t n = repeats ? static_cast<uint64_t>(-l) : static_cast<uint64_t>(l);
  if (repeats && n > kMaxRepeatedPicks) return ctx.reply.Error(errors::kOutOfRange);
  std::vector<size_t> picks =
      repeats ? PickWithRepeats(entries.size(), n, rng) : PickDistinct(entries.size(), n, rng);
  ctx.reply.ArrayHeader(withvalues && !ctx.reply.resp3() ? picks.size() * 2 : picks.size());
  for (size_t i : picks) ReplyRandomField(ctx, entries[i], withvalues);
}

// HSCAN key cursor [MATCH pattern] [COUNT count] (t_hash.c, hscanCommand:
// the cursor is checked first, then the key, then the options). The cursor
// is element_scan.h's; a hash Redis would keep as a listpack comes whole.
void HScanCommand(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[2], &cursor)) return ctx.reply.Error(errors::kInvalidCursor);
  HashView view;
  if (!ReadHash(ctx, ctx.args[1], &view)) return;
  if (!view.exists) return ReplyEmptyScan(ctx.reply);
  auto opts = ParseElementScanOptions(ctx.args, 3);
  if (!opts.ok()) return ctx.reply.Error(opts.status().message());
  const auto& entries = view.state.map().entries();
  const auto& actors = ctx.keyspace.actors();
  ElementScanStep step;
  if (HashIsCompact(view.state, actors)) {
    for (size_t i = 0; i < entries.size(); ++i) step.picked.push_back(i);
  } else {
    std::vector<std::string_view> names;
    names.reserve(entries.size());
    for (const auto& e : entries) names.push_back(e.name);
    step = ScanElements(names, cursor, static_cast<size_t>(opts.value().count));
  }
  const std::string* pattern = opts.value().pattern;
  std::vector<size_t> shown;
  for (size_t i : step.picked) {
    if (pattern == nullptr || GlobMatch(*pattern, entries[i].name)) shown.push_back(i);
  }
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(std::to_string(step.next));
  ctx.reply.ArrayHeader(shown.size() * 2);
  for (size_t i : shown) {
    ctx.reply.Bulk(entries[i].name);
    ctx.reply.Bulk(OrHash::Value(entries[i], actors));
  }
}

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadonly;
constexpr uint32_t kF = kCmdFast;
constexpr uint32_t kD = kCmdDenyOom;

// Arity, flags, key positions, summaries and versions as Redis 7.0.15's
// COMMAND INFO and COMMAND DOCS report them. Every write reads the key from
// a read quorum first (the default routing): it is a read-modify-write.
constexpr CommandSpec kHashCommands[] = {
    {"hset", -4, kW | kD | kF, HSetCommand, 1, 1, 1, "hash", "Set the string value of a hash field",
     "2.0.0"},
    {"hmset", -4, kW | kD | kF, HMSetCommand, 1, 1, 1, "hash",
     "Set multiple hash fields to multiple values", "2.0.0"},
    {"hsetnx", 4, kW | kD | kF, HSetNxCommand, 1, 1, 1, "hash",
     "Set the value of a hash field, only if the field does not exist", "2.0.0"},
    {"hget", 3, kR | kF, HGetCommand, 1, 1, 1, "hash", "Get the value of a hash field", "2.0.0"},
    {"hmget", -3, kR | kF, HMGetCommand, 1, 1, 1, "hash",
     "Get the values of all the given hash fields", "2.0.0"},
    {"hgetall", 2, kR, HGetAllCommand, 1, 1, 1, "hash", "Get all the fields and values in a hash",
     "2.0.0"},
    {"hkeys", 2, kR, HKeysCommand, 1, 1, 1, "hash", "Get all the fields in a hash", "2.0.0"},
    {"hvals", 2, kR, HValsCommand, 1, 1, 1, "hash", "Get all the values in a hash", "2.0.0"},
    {"hdel", -3, kW | kF, HDelCommand, 1, 1, 1, "hash", "Delete one or more hash fields", "2.0.0"},
    {"hexists", 3, kR | kF, HExistsCommand, 1, 1, 1, "hash", "Determine if a hash field exists",
     "2.0.0"},
    {"hlen", 2, kR | kF, HLenCommand, 1, 1, 1, "hash", "Get the number of fields in a hash",
     "2.0.0"},
    {"hstrlen", 3, kR | kF, HStrLenCommand, 1, 1, 1, "hash",
     "Get the length of the value of a hash field", "3.2.0"},
    {"hincrby", 4, kW | kD | kF, HIncrByCommand, 1, 1, 1, "hash",
     "Increment the integer value of a hash field by the given number", "2.0.0"},
    {"hincrbyfloat", 4, kW | kD | kF, HIncrByFloatCommand, 1, 1, 1, "hash",
     "Increment the float value of a hash field by the given amount", "2.6.0"},
    {"hrandfield", -2, kR, HRandFieldCommand, 1, 1, 1, "hash",
     "Get one or multiple random fields from a hash", "6.2.0"},
    {"hscan", -3, kR, HScanCommand, 1, 1, 1, "hash",
     "Incrementally iterate hash fields and associated values", "2.8.0"},
};

}  // namespace

void RegisterHashCommands(CommandTable& table) {
  table.Register(kHashCommands);
}

}  // namespace shoal::server
