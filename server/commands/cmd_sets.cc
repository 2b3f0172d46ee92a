// The set commands (Redis's t_set.c) over the convergent set
// (storage/or_set.h: an add-wins observed-remove set). Reads take the key's
// joined state (Keyspace::ReadSet, or SetContains for one member); every
// write is one Keyspace::ModifySet, a read-modify-write stored as one new
// version, as INCR is. In a cluster they are coordinated by the key's first
// reachable primary after a quorum read; the multi-key commands (SMOVE, the
// SINTER/SUNION/SDIFF family) need all their keys on one replica set
// (hash tags), else CROSSSLOT.
//
// Concurrency (partition sides, or replicas that have not yet seen a
// write): a member added on one side and removed on the other stays (add
// wins: a remove takes only the adds it saw). SPOP is a random member's
// observed remove, so two sides popping concurrently may pop the same
// member — each pop returns it — and after healing it is gone once: a
// member is popped AT LEAST once, not exactly once. (Without failures the
// key's primary coordinates every SPOP, one after another, as on Redis.)

#include <algorithm>
#include <optional>
#include <span>
#include <string>
#include <string_view>
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

using SetView = storage::ContainerView<storage::OrSet>;
using storage::Keyspace;
using storage::OrSet;

// The joined set of `key` into *out (an absent key reads as empty). On
// WRONGTYPE or damage replies the error and returns false.
bool ReadSet(CommandContext& ctx, const std::string& key, SetView* out) {
  return TakeContainer(ctx, ctx.keyspace.ReadSet(key, ctx.now_ms), out);
}

void ReplyMembers(CommandContext& ctx, const std::vector<std::string_view>& members) {
  ctx.reply.SetHeader(members.size());
  for (std::string_view m : members) ctx.reply.Bulk(m);
}

// True if every member of the SADD is in the set (false on any error: the
// write then replies it).
bool AllMembersPresent(CommandContext& ctx) {
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    auto r = ctx.keyspace.SetContains(ctx.args[1], ctx.args[i], ctx.now_ms);
    if (!r.ok() || !r.value()) return false;
  }
  return true;
}

void SAddCommand(CommandContext& ctx) {
  // In a cluster every SADD is a write, even of members already there: each
  // gets the write's dot, so an SREM elsewhere that did not see this SADD
  // cannot remove them. A lone node has no replica whose SREM could be
  // concurrent: as on Redis, a member already there is left alone, and an
  // SADD that adds nothing writes nothing (no log, no WATCH, no event).
  const bool lone = ctx.keyspace.Lone();
  if (lone && AllMembersPresent(ctx)) return ctx.reply.Integer(0);
  int64_t added = 0;
  storage::Status st =
      ctx.keyspace.ModifySet(ctx.args[1], ctx.now_ms,
                             [&](OrSet& set, Keyspace::ContainerWrite& w) -> storage::Result<bool> {
                               for (size_t i = 2; i < ctx.args.size(); ++i) {
                                 if (lone && set.Contains(ctx.args[i])) continue;
                                 if (set.Add(ctx.args[i], w.dot)) ++added;
                               }
                               return !lone || added > 0;
                             });
  if (!st.ok()) return ReplyContainerStatus(ctx, st);
  ctx.reply.Integer(added);
}

void SRemCommand(CommandContext& ctx) {
  int64_t removed = 0;
  storage::Status st = ctx.keyspace.ModifySet(
      ctx.args[1], ctx.now_ms, [&](OrSet& set, Keyspace::ContainerWrite&) -> storage::Result<bool> {
        for (size_t i = 2; i < ctx.args.size(); ++i) {
          if (set.Remove(ctx.args[i])) ++removed;
        }
        return removed > 0;
      });
  if (!st.ok()) return ReplyContainerStatus(ctx, st);
  ctx.reply.Integer(removed);
}

void SIsMemberCommand(CommandContext& ctx) {
  auto r = ctx.keyspace.SetContains(ctx.args[1], ctx.args[2], ctx.now_ms);
  if (!r.ok()) return ReplyContainerStatus(ctx, r.status());
  ctx.reply.Integer(r.value() ? 1 : 0);
}

void SMIsMemberCommand(CommandContext& ctx) {
  SetView view;
  if (!ReadSet(ctx, ctx.args[1], &view)) return;
  ctx.reply.ArrayHeader(ctx.args.size() - 2);
  for (size_t i = 2; i < ctx.args.size(); ++i) {
    ctx.reply.Integer(view.state.Contains(ctx.args[i]) ? 1 : 0);
  }
}

void SCardCommand(CommandContext& ctx) {
  SetView view;
  if (!ReadSet(ctx, ctx.args[1], &view)) return;
  ctx.reply.Integer(static_cast<int64_t>(view.state.Size()));
}

// t_set.c, srandmemberCommand: a positive count returns distinct members
// (at most all), a negative one |count| members that may repeat; always an
// array (not a set: it may repeat).
void SRandMemberCommand(CommandContext& ctx) {
  if (ctx.args.size() > 3) return ctx.reply.Error(errors::kSyntax);
  PickRandom rng(ctx.random);
  std::optional<int64_t> count;
  if (ctx.args.size() == 3) {
    auto c = ParseRandomCount(ctx.args[2]);
    if (!c.ok()) return ctx.reply.Error(c.status().message());
    count = c.value();
  }
  SetView view;
  if (!ReadSet(ctx, ctx.args[1], &view)) return;
  const auto& entries = view.state.map().entries();
  if (!count) {
    if (!view.exists) return ctx.reply.Null();
    return ctx.reply.Bulk(entries[rng.Below(entries.size())].name);
  }
  if (!view.exists || *count == 0) return ctx.reply.ArrayHeader(0);
  const bool repeats = *count < 0;
  const uint64_t n = repeats ? static_cast<uint64_t>(-*count) : static_cast<uint64_t>(*count);
  if (repeats && n > kMaxRepeatedPicks) return ctx.reply.Error(errors::kOutOfRange);
  std::vector<size_t> picks =
      repeats ? PickWithRepeats(entries.size(), n, rng) : PickDistinct(entries.size(), n, rng);
  ctx.reply.ArrayHeader(picks.size());
  for (size_t i : picks) ctx.reply.Bulk(entries[i].name);
}

// t_set.c, spopCommand / spopWithCountCommand: random members removed (an
// observed remove each; see the top of this file). With a count the reply
// is a set (RESP3 "~"), without one a bulk string or nil.
void SPopCommand(CommandContext& ctx) {
  if (ctx.args.size() > 3) return ctx.reply.Error(errors::kSyntax);
  std::optional<int64_t> count;
  if (ctx.args.size() == 3) {
    int64_t c;
    // getPositiveLongFromObjectOrReply: one message for both failures.
    if (!ParseInt64(ctx.args[2], &c) || c < 0) return ctx.reply.Error(errors::kMustBePositive);
    count = c;
  }
  PickRandom rng(ctx.random);
  std::vector<std::string> popped;
  bool existed = false;
  storage::Status st =
      ctx.keyspace.ModifySet(ctx.args[1], ctx.now_ms,
                             [&](OrSet& set, Keyspace::ContainerWrite& w) -> storage::Result<bool> {
                               existed = w.existed;
                               if (!w.existed || (count && *count == 0)) return false;
                               const auto& entries = set.map().entries();
                               const size_t n = count ? static_cast<size_t>(*count) : 1;
                               if (n >= entries.size()) {
                                 for (const auto& e : entries) popped.push_back(e.name);
                                 set.Clear();
                                 return true;
                               }
                               for (size_t i : PickDistinct(entries.size(), n, rng))
                                 popped.push_back(entries[i].name);
                               for (const std::string& m : popped) set.Remove(m);
                               return true;
                             });
  if (!st.ok()) return ReplyContainerStatus(ctx, st);
  if (!count) {
    if (!existed) return ctx.reply.Null();
    return ctx.reply.Bulk(popped[0]);
  }
  ctx.reply.SetHeader(popped.size());
  for (const std::string& m : popped) ctx.reply.Bulk(m);
}

// The type of `key` is a set or none; else replies WRONGTYPE and returns
// false.
bool CheckSetOrNone(CommandContext& ctx, const std::string& key) {
  auto type = ctx.keyspace.Type(key, ctx.now_ms);
  if (!type.ok()) {
    ReplyContainerStatus(ctx, type.status());
    return false;
  }
  if (type.value() != storage::KeyType::kNone && type.value() != storage::KeyType::kSet) {
    ctx.reply.Error(errors::kWrongType);
    return false;
  }
  return true;
}

// t_set.c, smoveCommand: a missing source replies 0 before any type check;
// then both keys must be sets (or the destination absent). The move is an
// observed remove from the source and an add to the destination, two
// writes of keys that share a replica set.
void SMoveCommand(CommandContext& ctx) {
  const std::string& src = ctx.args[1];
  const std::string& dst = ctx.args[2];
  const std::string& member = ctx.args[3];
  auto type = ctx.keyspace.Type(src, ctx.now_ms);
  if (!type.ok()) return ReplyContainerStatus(ctx, type.status());
  if (type.value() == storage::KeyType::kNone) return ctx.reply.Integer(0);
  SetView view;
  if (!ReadSet(ctx, src, &view)) return;
  if (!CheckSetOrNone(ctx, dst)) return;
  if (src == dst || !view.state.Contains(member)) {
    return ctx.reply.Integer(src == dst && view.state.Contains(member) ? 1 : 0);
  }
  storage::Status st = ctx.keyspace.ModifySet(
      src, ctx.now_ms, [&](OrSet& set, Keyspace::ContainerWrite&) -> storage::Result<bool> {
        return set.Remove(member);
      });
  if (st.ok()) {
    st = ctx.keyspace.ModifySet(
        dst, ctx.now_ms, [&](OrSet& set, Keyspace::ContainerWrite& w) -> storage::Result<bool> {
          set.Add(member, w.dot);
          return true;
        });
  }
  if (!st.ok()) return ReplyContainerStatus(ctx, st);
  ctx.reply.Integer(1);
}

enum class SetOp { kInter, kUnion, kDiff };

// The joined sets of args[first..last] (absent keys: empty, flagged in
// *missing). WRONGTYPE on the first key of another type.
bool ReadSets(CommandContext& ctx, size_t first, size_t last, std::vector<SetView>* sets,
              bool* missing) {
  sets->resize(last - first + 1);
  *missing = false;
  for (size_t i = first; i <= last; ++i) {
    if (!ReadSet(ctx, ctx.args[i], &(*sets)[i - first])) return false;
    if (!(*sets)[i - first].exists) *missing = true;
  }
  return true;
}

// The members of the operation, in bytewise order (each OrSet is sorted).
// `limit` (SINTERCARD) stops an intersection once it has that many; 0: no
// limit.
std::vector<std::string_view> Compute(const std::vector<SetView>& sets, SetOp op, bool missing,
                                      size_t limit = 0) {
  std::vector<std::string_view> out;
  if (sets.empty()) return out;
  if (op == SetOp::kInter) {
    if (missing) return out;
    // Walk the smallest set, look the others up (t_set.c does the same).
    size_t smallest = 0;
    for (size_t j = 1; j < sets.size(); ++j) {
      if (sets[j].state.Size() < sets[smallest].state.Size()) smallest = j;
    }
    for (const auto& e : sets[smallest].state.map().entries()) {
      bool all = true;
      for (size_t j = 0; j < sets.size() && all; ++j) {
        if (j != smallest && !sets[j].state.Contains(e.name)) all = false;
      }
      if (!all) continue;
      out.push_back(e.name);
      if (limit != 0 && out.size() >= limit) break;
    }
    return out;
  }
  if (op == SetOp::kUnion) {
    for (const SetView& s : sets) {
      for (const auto& e : s.state.map().entries()) out.push_back(e.name);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  for (const auto& e : sets[0].state.map().entries()) {
    bool elsewhere = false;
    for (size_t j = 1; j < sets.size() && !elsewhere; ++j) {
      elsewhere = sets[j].state.Contains(e.name);
    }
    if (!elsewhere) out.push_back(e.name);
  }
  return out;
}

// SINTER, SUNION, SDIFF (and SMEMBERS, which is SINTER of one key in
// Redis 7.0): a set reply.
void SetOpCommand(CommandContext& ctx, SetOp op) {
  std::vector<SetView> sets;
  bool missing;
  if (!ReadSets(ctx, 1, ctx.args.size() - 1, &sets, &missing)) return;
  ReplyMembers(ctx, Compute(sets, op, missing));
}

void SMembersCommand(CommandContext& ctx) {
  SetOpCommand(ctx, SetOp::kInter);
}
void SInterCommand(CommandContext& ctx) {
  SetOpCommand(ctx, SetOp::kInter);
}
void SUnionCommand(CommandContext& ctx) {
  SetOpCommand(ctx, SetOp::kUnion);
}
void SDiffCommand(CommandContext& ctx) {
  SetOpCommand(ctx, SetOp::kDiff);
}

// The *STORE forms: the destination (args[1], of any type) is replaced by
// the result without a TTL, or deleted when the result is empty (t_set.c's
// setKey / dbDelete). A container destination keeps its clock (the write
// is an observed remove of what it held, then the adds); another type is
// deleted first.
void SetOpStoreCommand(CommandContext& ctx, SetOp op) {
  std::vector<SetView> sets;
  bool missing;
  if (!ReadSets(ctx, 2, ctx.args.size() - 1, &sets, &missing)) return;
  // Copies: the writes below may change the keys the views came from.
  std::vector<std::string> members;
  for (std::string_view m : Compute(sets, op, missing)) members.emplace_back(m);
  const std::string& dst = ctx.args[1];
  if (members.empty()) {
    auto deleted = ctx.keyspace.Delete(dst, ctx.now_ms);
    if (!deleted.ok()) return ReplyContainerStatus(ctx, deleted.status());
    return ctx.reply.Integer(0);
  }
  auto type = ctx.keyspace.Type(dst, ctx.now_ms);
  if (!type.ok()) return ReplyContainerStatus(ctx, type.status());
  if (type.value() != storage::KeyType::kNone && type.value() != storage::KeyType::kSet) {
    auto deleted = ctx.keyspace.Delete(dst, ctx.now_ms);
    if (!deleted.ok()) return ReplyContainerStatus(ctx, deleted.status());
  }
  storage::Status st = ctx.keyspace.ModifySet(
      dst, ctx.now_ms, [&](OrSet& set, Keyspace::ContainerWrite& w) -> storage::Result<bool> {
        set.Clear();
        for (const std::string& m : members) set.Add(m, w.dot);
        w.expire_at_ms = 0;
        return true;
      });
  if (!st.ok()) return ReplyContainerStatus(ctx, st);
  ctx.reply.Integer(static_cast<int64_t>(members.size()));
}

void SInterStoreCommand(CommandContext& ctx) {
  SetOpStoreCommand(ctx, SetOp::kInter);
}
void SUnionStoreCommand(CommandContext& ctx) {
  SetOpStoreCommand(ctx, SetOp::kUnion);
}
void SDiffStoreCommand(CommandContext& ctx) {
  SetOpStoreCommand(ctx, SetOp::kDiff);
}

// SINTERCARD numkeys key [key ...] [LIMIT limit] (t_set.c, sinterCardCommand).
// The number of keys is checked against the arguments before the options;
// Redis's range checks give their own message for a non-number too.
storage::Result<size_t> SInterCardNumkeys(std::span<const std::string> argv) {
  int64_t numkeys;
  if (!ParseInt64(argv[1], &numkeys) || numkeys < 1) {
    return storage::Status::Invalid(std::string(errors::kNumkeysNotPositive));
  }
  if (static_cast<uint64_t>(numkeys) > argv.size() - 2) {
    return storage::Status::Invalid(std::string(errors::kNumkeysTooMany));
  }
  return static_cast<size_t>(numkeys);
}

void SInterCardCommand(CommandContext& ctx) {
  auto numkeys = SInterCardNumkeys(ctx.args);
  if (!numkeys.ok()) return ctx.reply.Error(numkeys.status().message());
  int64_t limit = 0;
  for (size_t j = 2 + numkeys.value(); j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "limit") && j + 1 < ctx.args.size()) {
      ++j;
      if (!ParseInt64(ctx.args[j], &limit) || limit < 0) {
        return ctx.reply.Error(errors::kLimitNegative);
      }
    } else {
      return ctx.reply.Error(errors::kSyntax);
    }
  }
  std::vector<SetView> sets;
  bool missing;
  if (!ReadSets(ctx, 2, 1 + numkeys.value(), &sets, &missing)) return;
  ctx.reply.Integer(static_cast<int64_t>(
      Compute(sets, SetOp::kInter, missing, static_cast<size_t>(limit)).size()));
}

// SINTERCARD's key positions in a cluster: the counted list (none when the
// count is bad: the handler replies the error).
std::vector<size_t> SInterCardKeys(std::span<const std::string> argv) {
  std::vector<size_t> out;
  if (argv.size() < 3) return out;
  auto numkeys = SInterCardNumkeys(argv);
  if (!numkeys.ok()) return out;
  for (size_t i = 0; i < numkeys.value(); ++i) out.push_back(2 + i);
  return out;
}

// SSCAN key cursor [MATCH pattern] [COUNT count]: as HSCAN (cmd_hashes.cc).
void SScanCommand(CommandContext& ctx) {
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[2], &cursor)) return ctx.reply.Error(errors::kInvalidCursor);
  SetView view;
  if (!ReadSet(ctx, ctx.args[1], &view)) return;
  if (!view.exists) return ReplyEmptyScan(ctx.reply);
  auto opts = ParseElementScanOptions(ctx.args, 3);
  if (!opts.ok()) return ctx.reply.Error(opts.status().message());
  const auto& entries = view.state.map().entries();
  ElementScanStep step;
  if (SetIsCompact(view.state)) {
    for (size_t i = 0; i < entries.size(); ++i) step.picked.push_back(i);
  } else {
    std::vector<std::string_view> names;
    names.reserve(entries.size());
    for (const auto& e : entries) names.push_back(e.name);
    step = ScanElements(names, cursor, static_cast<size_t>(opts.value().count));
  }
  const std::string* pattern = opts.value().pattern;
  std::vector<std::string_view> shown;
  for (size_t i : step.picked) {
    if (pattern == nullptr || GlobMatch(*pattern, entries[i].name))
      shown.push_back(entries[i].name);
  }
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(std::to_string(step.next));
  ctx.reply.ArrayHeader(shown.size());
  for (std::string_view m : shown) ctx.reply.Bulk(m);
}

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadonly;
constexpr uint32_t kF = kCmdFast;
constexpr uint32_t kD = kCmdDenyOom;

constexpr cluster::Routing kSameReplicas = {.split = cluster::Split::kSameReplicas};

// Arity, flags, key positions, summaries and versions as Redis 7.0.15's
// COMMAND INFO and COMMAND DOCS report them (SINTERCARD's keys are counted:
// first key 2 here, found per call by SInterCardKeys).
constexpr CommandSpec kSetCommands[] = {
    {"sadd", -3, kW | kD | kF, SAddCommand, 1, 1, 1, "set", "Add one or more members to a set",
     "1.0.0"},
    {"srem", -3, kW | kF, SRemCommand, 1, 1, 1, "set", "Remove one or more members from a set",
     "1.0.0"},
    {"smembers", 2, kR, SMembersCommand, 1, 1, 1, "set", "Get all the members in a set", "1.0.0"},
    {"sismember", 3, kR | kF, SIsMemberCommand, 1, 1, 1, "set",
     "Determine if a given value is a member of a set", "1.0.0"},
    {"smismember", -3, kR | kF, SMIsMemberCommand, 1, 1, 1, "set",
     "Returns the membership associated with the given elements for a set", "6.2.0"},
    {"scard", 2, kR | kF, SCardCommand, 1, 1, 1, "set", "Get the number of members in a set",
     "1.0.0"},
    {"srandmember", -2, kR, SRandMemberCommand, 1, 1, 1, "set",
     "Get one or multiple random members from a set", "1.0.0"},
    {"spop", -2, kW | kF, SPopCommand, 1, 1, 1, "set",
     "Remove and return one or multiple random members from a set", "1.0.0"},
    {"smove",
     4,
     kW | kF,
     SMoveCommand,
     1,
     2,
     1,
     "set",
     "Move a member from one set to another",
     "1.0.0",
     {},
     kSameReplicas},
    {"sinter",
     -2,
     kR,
     SInterCommand,
     1,
     -1,
     1,
     "set",
     "Intersect multiple sets",
     "1.0.0",
     {},
     kSameReplicas},
    {"sintercard",
     -3,
     kR,
     SInterCardCommand,
     2,
     2,
     1,
     "set",
     "Intersect multiple sets and return the cardinality of the result",
     "7.0.0",
     {},
     {.split = cluster::Split::kSameReplicas, .keys_of = SInterCardKeys}},
    {"sinterstore",
     -3,
     kW | kD,
     SInterStoreCommand,
     1,
     -1,
     1,
     "set",
     "Intersect multiple sets and store the resulting set in a key",
     "1.0.0",
     {},
     kSameReplicas},
    {"sunion",
     -2,
     kR,
     SUnionCommand,
     1,
     -1,
     1,
     "set",
     "Add multiple sets",
     "1.0.0",
     {},
     kSameReplicas},
    {"sunionstore",
     -3,
     kW | kD,
     SUnionStoreCommand,
     1,
     -1,
     1,
     "set",
     "Add multiple sets and store the resulting set in a key",
     "1.0.0",
     {},
     kSameReplicas},
    {"sdiff",
     -2,
     kR,
     SDiffCommand,
     1,
     -1,
     1,
     "set",
     "Subtract multiple sets",
     "1.0.0",
     {},
     kSameReplicas},
    {"sdiffstore",
     -3,
     kW | kD,
     SDiffStoreCommand,
     1,
     -1,
     1,
     "set",
     "Subtract multiple sets and store the resulting set in a key",
     "1.0.0",
     {},
     kSameReplicas},
    {"sscan", -3, kR, SScanCommand, 1, 1, 1, "set", "Incrementally iterate Set elements", "2.8.0"},
};

}  // namespace

void RegisterSetCommands(CommandTable& table) {
  table.Register(kSetCommands);
}

}  // namespace shoal::server
