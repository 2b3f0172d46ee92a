// The sorted-set range commands (Redis's t_zset.c, 7.0): ZRANGE and its
// older variants, ZRANGESTORE, ZCOUNT, ZLEXCOUNT and ZREMRANGEBYRANK/SCORE/
// LEX. Range parsing and selection are pure (zrange_spec.h); the handlers
// read the key's joined state (or modify it in one write) and reply. The
// rest of the sorted-set commands, and what the convergent sorted set gives
// in a cluster, are in cmd_zsets.cc.

#include <string>
#include <utility>
#include <vector>

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/versioned_reply.h"
#include "server/commands/zrange_spec.h"
#include "server/commands/zset_common.h"
#include "storage/keyspace.h"
#include "storage/or_zset.h"

namespace shoal::server {
namespace {

using storage::OrZset;
using storage::ScoredMember;

// t_zset.c, zrangeGenericCommand for the commands that reply (not STORE).
void ZrangeGeneric(CommandContext& ctx, ZrangeBy by, ZrangeDirection direction) {
  auto spec = ParseZrange(ctx.args, 1, false, by, direction);
  if (!spec.ok()) return ctx.reply.Error(spec.status().message());
  ZsetView v;
  if (!ReadZset(ctx, ctx.args[1], &v)) return;
  const std::vector<ScoredMember> ranked = v.state.Ranked(ctx.keyspace.actors());
  std::vector<ScoredMember> picked;
  for (size_t i : SelectZrange(spec.value(), ranked)) picked.push_back(ranked[i]);
  const bool ws = spec.value().withscores;
  ReplyMembers(ctx.reply, picked, ws, Resp3Pairs(ctx, ws));
}

void ZrangeCommand(CommandContext& ctx) {
  ZrangeGeneric(ctx, ZrangeBy::kAuto, ZrangeDirection::kAuto);
}
void ZrevrangeCommand(CommandContext& ctx) {
  ZrangeGeneric(ctx, ZrangeBy::kRank, ZrangeDirection::kReverse);
}
void ZrangebyscoreCommand(CommandContext& ctx) {
  ZrangeGeneric(ctx, ZrangeBy::kScore, ZrangeDirection::kForward);
}
void ZrevrangebyscoreCommand(CommandContext& ctx) {
  ZrangeGeneric(ctx, ZrangeBy::kScore, ZrangeDirection::kReverse);
}
void ZrangebylexCommand(CommandContext& ctx) {
  ZrangeGeneric(ctx, ZrangeBy::kLex, ZrangeDirection::kForward);
}
void ZrevrangebylexCommand(CommandContext& ctx) {
  ZrangeGeneric(ctx, ZrangeBy::kLex, ZrangeDirection::kReverse);
}

// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]:
// the destination is replaced whatever its type (Redis's setKey) and loses
// its TTL; an empty result deletes it.
void ZrangestoreCommand(CommandContext& ctx) {
  auto spec = ParseZrange(ctx.args, 2, true, ZrangeBy::kAuto, ZrangeDirection::kAuto);
  if (!spec.ok()) return ctx.reply.Error(spec.status().message());
  ZsetView v;
  if (!ReadZset(ctx, ctx.args[2], &v)) return;
  std::vector<OwnedMember> picked;
  {
    const std::vector<ScoredMember> ranked = v.state.Ranked(ctx.keyspace.actors());
    for (size_t i : SelectZrange(spec.value(), ranked)) {
      picked.push_back({std::string(ranked[i].member), ranked[i].score});
    }
  }
  const std::string& dst = ctx.args[1];
  if (picked.empty()) {
    auto r = ctx.keyspace.Delete(dst, ctx.now_ms);
    if (!r.ok()) return ReplyStatus(ctx, r.status());
    return ctx.reply.Integer(0);
  }
  auto type = ctx.keyspace.Type(dst, ctx.now_ms);
  if (!type.ok()) return ReplyStatus(ctx, type.status());
  if (type.value() != storage::KeyType::kNone && type.value() != storage::KeyType::kZset) {
    auto r = ctx.keyspace.Delete(dst, ctx.now_ms);
    if (!r.ok()) return ReplyStatus(ctx, r.status());
  }
  storage::Status st = ctx.keyspace.ModifyZset(
      dst, ctx.now_ms,
      [&](OrZset& z, storage::Keyspace::ContainerWrite& w) -> storage::Result<bool> {
        z.Clear();
        for (const OwnedMember& m : picked) z.Add(m.member, m.score, w.dot, w.now_ms);
        w.expire_at_ms = 0;
        return true;
      });
  if (!st.ok()) return ReplyStatus(ctx, st);
  ctx.reply.Integer(static_cast<int64_t>(picked.size()));
}

void ZcountCommand(CommandContext& ctx) {
  auto range = ParseScoreRange(ctx.args[2], ctx.args[3]);
  if (!range) return ctx.reply.Error(kZsetMinMaxNotFloat);
  ZsetView v;
  if (!ReadZset(ctx, ctx.args[1], &v)) return;
  const std::vector<ScoredMember> ranked = v.state.Ranked(ctx.keyspace.actors());
  ctx.reply.Integer(static_cast<int64_t>(CountInScoreRange(*range, ranked)));
}

void ZlexcountCommand(CommandContext& ctx) {
  auto range = ParseLexRange(ctx.args[2], ctx.args[3]);
  if (!range) return ctx.reply.Error(kZsetLexRangeInvalid);
  ZsetView v;
  if (!ReadZset(ctx, ctx.args[1], &v)) return;
  const std::vector<ScoredMember> ranked = v.state.Ranked(ctx.keyspace.actors());
  ctx.reply.Integer(static_cast<int64_t>(CountInLexRange(*range, ranked)));
}

// ZREMRANGEBYRANK/SCORE/LEX (zremrangeGenericCommand): the range is parsed
// first, then the members it selects are removed in one write.
void ZremrangeGeneric(CommandContext& ctx, ZrangeBy by) {
  ZrangeSpec spec;
  spec.by = by;
  if (by == ZrangeBy::kRank) {
    if (!ParseInt64(ctx.args[2], &spec.start) || !ParseInt64(ctx.args[3], &spec.stop)) {
      return ctx.reply.Error(errors::kNotInteger);
    }
  } else if (by == ZrangeBy::kScore) {
    auto r = ParseScoreRange(ctx.args[2], ctx.args[3]);
    if (!r) return ctx.reply.Error(kZsetMinMaxNotFloat);
    spec.score = *r;
  } else {
    auto r = ParseLexRange(ctx.args[2], ctx.args[3]);
    if (!r) return ctx.reply.Error(kZsetLexRangeInvalid);
    spec.lex = std::move(*r);
  }
  int64_t deleted = 0;
  storage::Status st = ctx.keyspace.ModifyZset(
      ctx.args[1], ctx.now_ms,
      [&](OrZset& z, storage::Keyspace::ContainerWrite&) -> storage::Result<bool> {
        std::vector<std::string> names;
        {
          const std::vector<ScoredMember> ranked = z.Ranked(ctx.keyspace.actors());
          for (size_t i : SelectZrange(spec, ranked)) names.emplace_back(ranked[i].member);
        }
        for (const std::string& n : names) {
          if (z.Remove(n)) ++deleted;
        }
        return deleted > 0;
      });
  if (!st.ok()) return ReplyStatus(ctx, st);
  ctx.reply.Integer(deleted);
}

void ZremrangebyrankCommand(CommandContext& ctx) {
  ZremrangeGeneric(ctx, ZrangeBy::kRank);
}
void ZremrangebyscoreCommand(CommandContext& ctx) {
  ZremrangeGeneric(ctx, ZrangeBy::kScore);
}
void ZremrangebylexCommand(CommandContext& ctx) {
  ZremrangeGeneric(ctx, ZrangeBy::kLex);
}

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadonly;
constexpr uint32_t kF = kCmdFast;
constexpr uint32_t kD = kCmdDenyOom;

// As kZsetCommands (cmd_zsets.cc): Redis 7.0.15's arity, flags, keys,
// summaries and versions.
constexpr CommandSpec kZsetRangeCommands[] = {
    {"zcount", 4, kR | kF, ZcountCommand, 1, 1, 1, "sorted-set",
     "Count the members in a sorted set with scores within the given values", "2.0.0"},
    {"zlexcount", 4, kR | kF, ZlexcountCommand, 1, 1, 1, "sorted-set",
     "Count the number of members in a sorted set between a given lexicographical range", "2.8.9"},
    {"zrange", -4, kR, ZrangeCommand, 1, 1, 1, "sorted-set",
     "Return a range of members in a sorted set", "1.2.0"},
    {"zrevrange", -4, kR, ZrevrangeCommand, 1, 1, 1, "sorted-set",
     "Return a range of members in a sorted set, by index, with scores ordered from high to "
     "low",
     "1.2.0"},
    {"zrangebyscore", -4, kR, ZrangebyscoreCommand, 1, 1, 1, "sorted-set",
     "Return a range of members in a sorted set, by score", "1.0.5"},
    {"zrevrangebyscore", -4, kR, ZrevrangebyscoreCommand, 1, 1, 1, "sorted-set",
     "Return a range of members in a sorted set, by score, with scores ordered from high to "
     "low",
     "2.2.0"},
    {"zrangebylex", -4, kR, ZrangebylexCommand, 1, 1, 1, "sorted-set",
     "Return a range of members in a sorted set, by lexicographical range", "2.8.9"},
    {"zrevrangebylex", -4, kR, ZrevrangebylexCommand, 1, 1, 1, "sorted-set",
     "Return a range of members in a sorted set, by lexicographical range, ordered from higher "
     "to lower strings.",
     "2.8.9"},
    // ZRANGESTORE's destination and source must share a replica set (hash
    // tags), else CROSSSLOT; both are read from a read quorum first.
    {"zrangestore",
     -5,
     kW | kD,
     ZrangestoreCommand,
     1,
     2,
     1,
     "sorted-set",
     "Store a range of members from sorted set into another key",
     "6.2.0",
     {},
     {.split = cluster::Split::kSameReplicas}},
    {"zremrangebyrank", 4, kW, ZremrangebyrankCommand, 1, 1, 1, "sorted-set",
     "Remove all members in a sorted set within the given indexes", "2.0.0"},
    {"zremrangebyscore", 4, kW, ZremrangebyscoreCommand, 1, 1, 1, "sorted-set",
     "Remove all members in a sorted set within the given scores", "1.2.0"},
    {"zremrangebylex", 4, kW, ZremrangebylexCommand, 1, 1, 1, "sorted-set",
     "Remove all members in a sorted set between the given lexicographical range", "2.8.9"},
};

}  // namespace

void RegisterZsetRangeCommands(CommandTable& table) {
  table.Register(kZsetRangeCommands);
}

}  // namespace shoal::server
