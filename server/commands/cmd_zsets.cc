// The sorted-set commands (Redis's t_zset.c, 7.0) over the convergent sorted
// set of storage/or_zset.h: every read takes the key's joined state
// (Keyspace::ReadZset / ZsetScore), every write is one read-modify-write of
// it (Keyspace::ModifyZset), as INCR is for counters. Argument parsing and
// range selection are pure (zadd_options.h, zrange_spec.h, element_scan.h);
// the handlers here look the key up, apply and reply.
//
// Ordering is Redis's: members by (score, member bytes). Replies match
// redis-server 7.0.15 byte for byte in RESP2 and RESP3 except where a
// choice is random (ZRANDMEMBER) or a cursor is an implementation's own
// (ZSCAN beyond 128 members): see README, Commands.
//
// In a cluster (the convergence rules a client sees, from or_zset.h):
// ZADD on both sides of a partition keeps the later write's score (last
// writer wins by timestamp); ZINCRBY on both sides counts both increments;
// ZADD on one side and ZINCRBY on the other gives the ZADD's score plus the
// concurrent increments; ZREM (and ZPOPMIN/ZPOPMAX, which are ZREMs of what
// the coordinator saw) concurrent with a ZADD/ZINCRBY of the same member
// keeps the member. Two ZPOPMINs on two sides each pop the minimum they see:
// the same member may be popped by both ("at least once", never lost).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/container_reply.h"
#include "server/commands/element_scan.h"
#include "server/commands/glob.h"
#include "server/commands/versioned_reply.h"
#include "server/commands/zadd_options.h"
#include "server/commands/zrange_spec.h"
#include "server/commands/zset_common.h"
#include "server/commands/zset_score.h"
#include "storage/keyspace.h"
#include "storage/or_zset.h"

namespace shoal::server {
namespace {

using storage::OrZset;
using storage::ScoredMember;

inline constexpr std::string_view kNotPositive = "ERR value is out of range, must be positive";
inline constexpr std::string_view kRandCountRange =
    "ERR value is out of range, value must between -9223372036854775807 and "
    "9223372036854775807";
inline constexpr std::string_view kOutOfRange = "ERR value is out of range";

// Redis's listpack limits (zset-max-listpack-entries / -value defaults): a
// set within them is one listpack in Redis, which ZSCAN returns whole.
constexpr size_t kListpackEntries = 128;
constexpr size_t kListpackValue = 64;
// ZRANDMEMBER with a negative count repeats members: shoal builds the reply
// in memory, so it refuses counts past this many (Redis streams until the
// client's output limit closes it).
constexpr uint64_t kMaxRandomRepeats = 10'000'000;

// --- ZADD, ZINCRBY, ZREM ----------------------------------------------------

// t_zset.c, zaddGenericCommand and zsetAdd: NX/XX/GT/LT decide per member,
// INCR goes through the member's counter (OrZset::IncrBy). On a lone node a
// score that does not change writes nothing, as on Redis; in a cluster
// ZADD (not INCR) re-adds the member with the write's dot, as SADD does,
// so that a ZREM elsewhere that did not see this ZADD cannot remove it.
void ZaddGeneric(CommandContext& ctx, bool incr_command) {
  auto parsed = ParseZaddOptions(ctx.args, incr_command);
  if (!parsed.ok()) return ctx.reply.Error(parsed.status().message());
  const ZaddOptions& o = parsed.value();
  const storage::ActorTable& actors = ctx.keyspace.actors();
  int64_t added = 0, updated = 0, processed = 0, readded = 0;
  double last = 0;
  const bool lone = ctx.keyspace.Lone();
  storage::Status st = ctx.keyspace.ModifyZset(
      ctx.args[1], ctx.now_ms,
      [&](OrZset& z, storage::Keyspace::ContainerWrite& w) -> storage::Result<bool> {
        for (const ZaddOptions::Pair& pair : o.pairs) {
          // A score of -0 reads back as 0 from Redis's listpack (it stores
          // "-0" as the integer 0): shoal stores 0, so ZSCORE shows "0".
          const ZaddOptions::Pair p{pair.score == 0 ? 0.0 : pair.score, pair.member};
          const std::optional<double> cur = z.Score(p.member, actors);
          if (cur) {
            if (o.nx) continue;
            const double next = o.incr ? *cur + p.score : p.score;
            if (std::isnan(next)) return storage::Status::Invalid(std::string(kZsetNanScore));
            if ((o.lt && next >= *cur) || (o.gt && next <= *cur)) continue;
            ++processed;
            last = next;
            if (next == *cur) {
              if (lone || o.incr) continue;
              ++readded;
            } else {
              ++updated;
            }
          } else {
            if (o.xx) continue;
            ++processed;
            ++added;
            last = p.score;
          }
          if (o.incr) {
            auto r = z.IncrBy(p.member, p.score, w.dot, actors);
            if (!r.ok()) return r.status();
            last = r.value();
          } else {
            z.Add(p.member, p.score, w.dot, w.now_ms);
          }
        }
        return added + updated + readded > 0;
      });
  if (!st.ok()) return ReplyStatus(ctx, st);
  if (o.incr) {
    if (processed == 0) return ctx.reply.Null();
    return ctx.reply.Double(last);
  }
  ctx.reply.Integer(o.ch ? added + updated : added);
}

void ZaddCommand(CommandContext& ctx) {
  ZaddGeneric(ctx, false);
}

void ZincrbyCommand(CommandContext& ctx) {
  ZaddGeneric(ctx, true);
}

void ZremCommand(CommandContext& ctx) {
  int64_t deleted = 0;
  storage::Status st = ctx.keyspace.ModifyZset(
      ctx.args[1], ctx.now_ms,
      [&](OrZset& z, storage::Keyspace::ContainerWrite&) -> storage::Result<bool> {
        for (size_t i = 2; i < ctx.args.size(); ++i) {
          if (z.Remove(ctx.args[i])) ++deleted;
        }
        return deleted > 0;
      });
  if (!st.ok()) return ReplyStatus(ctx, st);
  ctx.reply.Integer(deleted);
}

// --- one-member reads --------------------------------------------------------

void ZscoreCommand(CommandContext& ctx) {
  auto r = ctx.keyspace.ZsetScore(ctx.args[1], ctx.args[2], ctx.now_ms);
  if (!r.ok()) return ReplyStatus(ctx, r.status());
  if (!r.value()) return ctx.reply.Null();
  ctx.reply.Double(*r.value());
}

void ZmscoreCommand(CommandContext& ctx) {
  ZsetView v;
  if (!ReadZset(ctx, ctx.args[1], &v)) return;
  const storage::ActorTable& actors = ctx.keyspace.actors();
  ctx.reply.ArrayHeader(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    const std::optional<double> s = v.state.Score(ctx.args[i], actors);
    if (s) {
      ctx.reply.Double(*s);
    } else {
      ctx.reply.Null();
    }
  }
}

void ZcardCommand(CommandContext& ctx) {
  ZsetView v;
  if (!ReadZset(ctx, ctx.args[1], &v)) return;
  ctx.reply.Integer(static_cast<int64_t>(v.state.Size()));
}

// ZRANK/ZREVRANK: the member's position in (score, member) order, counted
// in one pass without sorting.
void ZrankGeneric(CommandContext& ctx, bool reverse) {
  ZsetView v;
  if (!ReadZset(ctx, ctx.args[1], &v)) return;
  const storage::ActorTable& actors = ctx.keyspace.actors();
  const std::string& member = ctx.args[2];
  const std::optional<double> score = v.state.Score(member, actors);
  if (!score) return ctx.reply.Null();
  int64_t before = 0;
  for (const OrZset::Map::Entry& e : v.state.map().entries()) {
    const double s = OrZset::ScoreOf(e, actors);
    if (s < *score || (s == *score && e.name < member)) ++before;
  }
  const int64_t size = static_cast<int64_t>(v.state.Size());
  ctx.reply.Integer(reverse ? size - 1 - before : before);
}

void ZrankCommand(CommandContext& ctx) {
  ZrankGeneric(ctx, false);
}

void ZrevrankCommand(CommandContext& ctx) {
  ZrankGeneric(ctx, true);
}

// --- ZPOPMIN, ZPOPMAX ------------------------------------------------------

// t_zset.c, zpopMinMaxCommand and genericZpopCommand. A flat array, or in
// RESP3 with a count, [member, score] pairs.
void ZpopGeneric(CommandContext& ctx, bool max) {
  if (ctx.args.size() > 3) return ctx.reply.Error(errors::kSyntax);
  int64_t count = -1;  // no count: one member, a flat reply
  if (ctx.args.size() == 3) {
    // getPositiveLongFromObjectOrReply: one message for both failures.
    if (!ParseInt64(ctx.args[2], &count) || count < 0) return ctx.reply.Error(kNotPositive);
  }
  std::vector<OwnedMember> popped;
  storage::Status st = ctx.keyspace.ModifyZset(
      ctx.args[1], ctx.now_ms,
      [&](OrZset& z, storage::Keyspace::ContainerWrite&) -> storage::Result<bool> {
        if (z.empty() || count == 0) return false;
        const size_t want = count < 0 ? 1 : static_cast<size_t>(count);
        {
          const std::vector<ScoredMember> ranked = z.Ranked(ctx.keyspace.actors());
          const size_t n = std::min(want, ranked.size());
          for (size_t i = 0; i < n; ++i) {
            const ScoredMember& m = max ? ranked[ranked.size() - 1 - i] : ranked[i];
            popped.push_back({std::string(m.member), m.score});
          }
        }
        for (const OwnedMember& m : popped) (void)z.Remove(m.member);
        return true;
      });
  if (!st.ok()) return ReplyStatus(ctx, st);
  ReplyMembers(ctx.reply, popped, true, ctx.reply.resp3() && count != -1);
}

void ZpopminCommand(CommandContext& ctx) {
  ZpopGeneric(ctx, false);
}
void ZpopmaxCommand(CommandContext& ctx) {
  ZpopGeneric(ctx, true);
}

// --- ZRANDMEMBER -------------------------------------------------------------

// splitmix64: the command's random number stretched into a stream.
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// t_zset.c, zrandmemberCommand: without a count one member (nil if the key
// is absent); a positive count that many distinct members (all of them, in
// order, if the set is no bigger); a negative count that many draws with
// repetition. Which members is random: the choice is shoal's own.
void ZrandmemberCommand(CommandContext& ctx) {
  int64_t l = 0;
  bool withscores = false;
  const bool has_count = ctx.args.size() >= 3;
  if (has_count) {
    if (!ParseInt64(ctx.args[2], &l)) return ctx.reply.Error(errors::kNotInteger);
    if (l == INT64_MIN) return ctx.reply.Error(kRandCountRange);
    if (ctx.args.size() > 4 ||
        (ctx.args.size() == 4 && !EqualsIgnoreCase(ctx.args[3], "withscores"))) {
      return ctx.reply.Error(errors::kSyntax);
    }
    if (ctx.args.size() == 4) {
      withscores = true;
      if (l < -INT64_MAX / 2 || l > INT64_MAX / 2) return ctx.reply.Error(kOutOfRange);
    }
  }
  ZsetView v;
  if (!ReadZset(ctx, ctx.args[1], &v)) return;
  const std::vector<ScoredMember> ranked = v.state.Ranked(ctx.keyspace.actors());
  uint64_t rng = ctx.random;
  if (!has_count) {
    if (ranked.empty()) return ctx.reply.Null();
    return ctx.reply.Bulk(ranked[NextRandom(&rng) % ranked.size()].member);
  }
  if (ranked.empty() || l == 0) return ctx.reply.ArrayHeader(0);
  std::vector<ScoredMember> picked;
  if (l < 0) {
    const uint64_t n = static_cast<uint64_t>(-l);
    if (n > kMaxRandomRepeats) return ctx.reply.Error(kOutOfRange);
    picked.reserve(n);
    for (uint64_t i = 0; i < n; ++i) picked.push_back(ranked[NextRandom(&rng) % ranked.size()]);
  } else if (static_cast<uint64_t>(l) >= ranked.size()) {
    // Every member, as Redis's zuiNext walks them: from the highest down.
    picked.assign(ranked.rbegin(), ranked.rend());
  } else {
    // A partial Fisher-Yates shuffle: the first l positions are a uniform
    // sample of distinct members.
    std::vector<size_t> idx(ranked.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    for (size_t i = 0; i < static_cast<size_t>(l); ++i) {
      const size_t j = i + NextRandom(&rng) % (idx.size() - i);
      std::swap(idx[i], idx[j]);
      picked.push_back(ranked[idx[i]]);
    }
  }
  ReplyMembers(ctx.reply, picked, withscores, Resp3Pairs(ctx, withscores));
}

// --- ZSCAN -------------------------------------------------------------------

// db.c, scanGenericCommand over a sorted set. A set Redis would keep as a
// listpack (up to 128 members of up to 64 bytes) comes back whole, in
// (score, member) order, with cursor 0, exactly as Redis replies; a bigger
// one is walked by member hash (element_scan.h), about COUNT members a call.
void ZscanCommand(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[2], &cursor)) return ctx.reply.Error(errors::kInvalidCursor);
  ZsetView v;
  if (!ReadZset(ctx, ctx.args[1], &v)) return;
  if (!v.exists) {
    ctx.reply.ArrayHeader(2);
    ctx.reply.Bulk("0");
    return ctx.reply.ArrayHeader(0);
  }
  auto opts = ParseElementScanOptions(ctx.args, 3);
  if (!opts.ok()) return ctx.reply.Error(opts.status().message());
  const std::string* pattern = opts.value().pattern;
  const storage::ActorTable& actors = ctx.keyspace.actors();
  const auto& entries = v.state.map().entries();
  bool listpack = entries.size() <= kListpackEntries;
  for (size_t i = 0; listpack && i < entries.size(); ++i) {
    listpack = entries[i].name.size() <= kListpackValue;
  }
  std::vector<OwnedMember> items;
  uint64_t next = 0;
  if (listpack) {
    for (const ScoredMember& m : v.state.Ranked(actors)) {
      items.push_back({std::string(m.member), m.score});
    }
  } else {
    std::vector<std::string_view> names;
    names.reserve(entries.size());
    for (const auto& e : entries) names.push_back(e.name);
    ElementScanStep step = ScanElements(names, cursor, static_cast<size_t>(opts.value().count));
    for (size_t i : step.picked) {
      items.push_back({entries[i].name, OrZset::ScoreOf(entries[i], actors)});
    }
    next = step.next;
  }
  const ScoreText style = listpack ? ScoreText::kListpack : ScoreText::kSkiplist;
  size_t kept = 0;
  for (const OwnedMember& m : items) kept += pattern == nullptr || GlobMatch(*pattern, m.member);
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(std::to_string(next));
  ctx.reply.ArrayHeader(kept * 2);
  for (const OwnedMember& m : items) {
    if (pattern != nullptr && !GlobMatch(*pattern, m.member)) continue;
    ctx.reply.Bulk(m.member);
    ctx.reply.Bulk(FormatZsetScore(m.score, style));
  }
}

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadonly;
constexpr uint32_t kF = kCmdFast;
constexpr uint32_t kD = kCmdDenyOom;

// Arity, flags, key positions, summaries and versions as Redis 7.0.15's
// src/commands/*.json give them. Every write reads the key first (the
// default routing): a container write starts from the joined state.
constexpr CommandSpec kZsetCommands[] = {
    {"zadd", -4, kW | kD | kF, ZaddCommand, 1, 1, 1, "sorted-set",
     "Add one or more members to a sorted set, or update its score if it already exists", "1.2.0"},
    {"zincrby", 4, kW | kD | kF, ZincrbyCommand, 1, 1, 1, "sorted-set",
     "Increment the score of a member in a sorted set", "1.2.0"},
    {"zrem", -3, kW | kF, ZremCommand, 1, 1, 1, "sorted-set",
     "Remove one or more members from a sorted set", "1.2.0"},
    {"zscore", 3, kR | kF, ZscoreCommand, 1, 1, 1, "sorted-set",
     "Get the score associated with the given member in a sorted set", "1.2.0"},
    {"zmscore", -3, kR | kF, ZmscoreCommand, 1, 1, 1, "sorted-set",
     "Get the score associated with the given members in a sorted set", "6.2.0"},
    {"zcard", 2, kR | kF, ZcardCommand, 1, 1, 1, "sorted-set",
     "Get the number of members in a sorted set", "1.2.0"},
    {"zrank", 3, kR | kF, ZrankCommand, 1, 1, 1, "sorted-set",
     "Determine the index of a member in a sorted set", "2.0.0"},
    {"zrevrank", 3, kR | kF, ZrevrankCommand, 1, 1, 1, "sorted-set",
     "Determine the index of a member in a sorted set, with scores ordered from high to low",
     "2.0.0"},
    {"zpopmin", -2, kW | kF, ZpopminCommand, 1, 1, 1, "sorted-set",
     "Remove and return members with the lowest scores in a sorted set", "5.0.0"},
    {"zpopmax", -2, kW | kF, ZpopmaxCommand, 1, 1, 1, "sorted-set",
     "Remove and return members with the highest scores in a sorted set", "5.0.0"},
    {"zrandmember", -2, kR, ZrandmemberCommand, 1, 1, 1, "sorted-set",
     "Get one or multiple random elements from a sorted set", "6.2.0"},
    {"zscan", -3, kR, ZscanCommand, 1, 1, 1, "sorted-set",
     "Incrementally iterate sorted sets elements and associated scores", "2.8.0"},

};

}  // namespace

void RegisterZsetCommands(CommandTable& table) {
  table.Register(kZsetCommands);
  RegisterZsetRangeCommands(table);
}

}  // namespace shoal::server
