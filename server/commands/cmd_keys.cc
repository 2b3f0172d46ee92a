// The generic key commands (Redis's db.c and expire.c): deletion, existence,
// RENAME and COPY, TTLs, TYPE, KEYS, SCAN, RANDOMKEY, DBSIZE and the flushes.

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/glob.h"
#include "server/commands/set_options.h"
#include "server/commands/versioned_reply.h"
#include "storage/keyspace.h"
#include "storage/store.h"

namespace shoal::server {
namespace {

// TYPE's name of a key type (counters read as strings, as in Redis).
std::string_view TypeName(storage::KeyType type) {
  switch (type) {
    case storage::KeyType::kString:
      return "string";
    case storage::KeyType::kHash:
      return "hash";
    case storage::KeyType::kSet:
      return "set";
    case storage::KeyType::kZset:
      return "zset";
    case storage::KeyType::kNone:
      break;
  }
  return "none";
}

// The type of a stored entry, for SCAN ... TYPE: a single live string costs
// no decoding; an entry that does not decode counts as none.
storage::KeyType EntryType(CommandContext& ctx, const storage::EntryView& e) {
  if (storage::Object::PeekSingleValue(e.value, ctx.now_ms)) return storage::KeyType::kString;
  auto obj = storage::Object::Decode(e.value, ctx.keyspace.actors());
  if (!obj.ok()) return storage::KeyType::kNone;
  return obj.value().TypeAt(ctx.now_ms, ctx.keyspace.actors());
}

void DelCommand(CommandContext& ctx) {
  int64_t deleted = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    // A delete is a version too: a tombstone superseding what this node saw.
    auto r = ctx.keyspace.Delete(ctx.args[i], ctx.now_ms);
    if (!r.ok()) return ReplyStatus(ctx, r.status());
    if (r.value()) ++deleted;
  }
  ctx.reply.Integer(deleted);
}

// EXISTS and TOUCH count every argument naming a live key, repeats included.
void CountExisting(CommandContext& ctx) {
  int64_t n = 0;
  for (size_t i = 1; i < ctx.args.size(); ++i) {
    if (ctx.keyspace.Exists(ctx.args[i], ctx.now_ms)) ++n;
  }
  ctx.reply.Integer(n);
}

// expire.c, expireGenericCommand. `base_ms` is now for EXPIRE/PEXPIRE and 0
// for the *AT forms. Flags are checked before the number, the number before
// the key; a time at or before now deletes the key and replies 1.
void ExpireGeneric(CommandContext& ctx, bool seconds, int64_t base_ms, std::string_view command) {
  auto flags = ParseExpireFlags(ctx.args, 3);
  if (!flags.ok()) return ctx.reply.Error(flags.status().message());
  auto when = ExpireCommandToAbsoluteMs(ctx.args[2], seconds, base_ms, command);
  if (!when.ok()) return ctx.reply.Error(when.status().message());
  const std::string& key = ctx.args[1];
  std::optional<int64_t> current = ctx.keyspace.ExpireAt(key, ctx.now_ms);
  if (!current) return ctx.reply.Integer(0);

  const ExpireFlags& f = flags.value();
  const int64_t at = when.value();
  const bool has_ttl = *current != 0;
  // A key without a TTL counts as expiring at infinity for GT and LT.
  if ((f.nx && has_ttl) || (f.xx && !has_ttl) || (f.gt && (!has_ttl || at <= *current)) ||
      (f.lt && has_ttl && at >= *current)) {
    return ctx.reply.Integer(0);
  }
  // The TTL is part of the version: a new version with the new expiry.
  storage::Status st = ctx.keyspace.SetExpiry(key, at, ctx.now_ms);
  if (!st.ok()) return ReplyStatus(ctx, st);
  ctx.reply.Integer(1);
}

void ExpireCommand(CommandContext& ctx) {
  ExpireGeneric(ctx, true, ctx.now_ms, "expire");
}
void PExpireCommand(CommandContext& ctx) {
  ExpireGeneric(ctx, false, ctx.now_ms, "pexpire");
}
void ExpireAtCommand(CommandContext& ctx) {
  ExpireGeneric(ctx, true, 0, "expireat");
}
void PExpireAtCommand(CommandContext& ctx) {
  ExpireGeneric(ctx, false, 0, "pexpireat");
}

// expire.c, ttlGenericCommand: -2 for no key, -1 for no TTL. Seconds are
// rounded to the nearest ((ms + 500) / 1000); Redis's compiler does that sum
// unsigned, so an expiry near INT64_MAX does not wrap and neither do we.
void TtlGeneric(CommandContext& ctx, bool in_ms, bool absolute) {
  std::optional<int64_t> at = ctx.keyspace.ExpireAt(ctx.args[1], ctx.now_ms);
  if (!at) return ctx.reply.Integer(-2);
  if (*at == 0) return ctx.reply.Integer(-1);
  int64_t t = absolute ? *at : *at - ctx.now_ms;
  if (t < 0) t = 0;
  if (in_ms) return ctx.reply.Integer(t);
  ctx.reply.Integer(static_cast<int64_t>((static_cast<uint64_t>(t) + 500) / 1000));
}

void TtlCommand(CommandContext& ctx) {
  TtlGeneric(ctx, false, false);
}
void PTtlCommand(CommandContext& ctx) {
  TtlGeneric(ctx, true, false);
}
void ExpireTimeCommand(CommandContext& ctx) {
  TtlGeneric(ctx, false, true);
}
void PExpireTimeCommand(CommandContext& ctx) {
  TtlGeneric(ctx, true, true);
}

void PersistCommand(CommandContext& ctx) {
  std::optional<int64_t> at = ctx.keyspace.ExpireAt(ctx.args[1], ctx.now_ms);
  if (!at || *at == 0) return ctx.reply.Integer(0);
  storage::Status st = ctx.keyspace.SetExpiry(ctx.args[1], 0, ctx.now_ms);
  if (!st.ok()) return ReplyStatus(ctx, st);
  ctx.reply.Integer(1);
}

void TypeCommand(CommandContext& ctx) {
  auto type = ctx.keyspace.Type(ctx.args[1], ctx.now_ms);
  if (!type.ok()) return ReplyStatus(ctx, type.status());
  ctx.reply.Simple(TypeName(type.value()));
}

void KeysCommand(CommandContext& ctx) {
  // Replies are built aside and counted, then sent behind their header.
  const std::string& pattern = ctx.args[1];
  const bool all = pattern == "*";
  std::string body;
  ReplyBuilder items(&body);
  size_t n = 0;
  ctx.store.ForEach(ctx.now_ms, [&](const storage::EntryView& e) {
    if (ctx.key_filter != nullptr && !(*ctx.key_filter)(e)) return;
    if (all || GlobMatch(pattern, e.key)) {
      items.Bulk(e.key);
      ++n;
    }
  });
  ctx.reply.ArrayHeader(n);
  ctx.reply.Raw(body);
}

void ScanCommand(CommandContext& ctx) {
  // db.c, scanGenericCommand (7.0): COUNT must be >= 1; an unknown TYPE just
  // matches nothing; MATCH and TYPE filter after the COUNT budget is spent.
  uint64_t cursor;
  if (!ParseScanCursor(ctx.args[1], &cursor)) return ctx.reply.Error(errors::kInvalidCursor);
  int64_t count = 10;
  const std::string* pattern = nullptr;
  const std::string* type = nullptr;
  for (size_t i = 2; i < ctx.args.size(); i += 2) {
    const bool has_value = i + 1 < ctx.args.size();
    if (EqualsIgnoreCase(ctx.args[i], "count") && has_value) {
      if (!ParseInt64(ctx.args[i + 1], &count)) return ctx.reply.Error(errors::kNotInteger);
      if (count < 1) return ctx.reply.Error(errors::kSyntax);
    } else if (EqualsIgnoreCase(ctx.args[i], "match") && has_value) {
      pattern = &ctx.args[i + 1];
      if (*pattern == "*") pattern = nullptr;
    } else if (EqualsIgnoreCase(ctx.args[i], "type") && has_value) {
      type = &ctx.args[i + 1];
    } else {
      return ctx.reply.Error(errors::kSyntax);
    }
  }

  // An unknown type name matches nothing (kNone is never a live key's).
  storage::KeyType wanted = storage::KeyType::kNone;
  for (auto t : {storage::KeyType::kString, storage::KeyType::kHash, storage::KeyType::kSet,
                 storage::KeyType::kZset}) {
    if (type != nullptr && EqualsIgnoreCase(*type, TypeName(t))) wanted = t;
  }
  std::string body;
  ReplyBuilder items(&body);
  size_t n = 0;
  auto visit = [&](const storage::EntryView& e) {
    if (type != nullptr && wanted == storage::KeyType::kNone) return;
    if (ctx.key_filter != nullptr && !(*ctx.key_filter)(e)) return;
    if (pattern != nullptr && !GlobMatch(*pattern, e.key)) return;
    if (type != nullptr && EntryType(ctx, e) != wanted) return;
    items.Bulk(e.key);
    ++n;
  };
  uint64_t next = 0;
  if (ctx.key_filter != nullptr && ctx.key_filter->scan_partition >= 0) {
    // One partition of a cluster-wide SCAN: its cursor is the partition
    // walk's bound (0 starts it).
    next = ctx.store.ScanPartition(static_cast<uint32_t>(ctx.key_filter->scan_partition),
                                   cursor == 0 ? UINT64_MAX : cursor, static_cast<size_t>(count),
                                   ctx.now_ms, visit);
  } else {
    next = ctx.store.Scan(cursor, static_cast<size_t>(count), ctx.now_ms, visit);
  }
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(std::to_string(next));
  ctx.reply.ArrayHeader(n);
  ctx.reply.Raw(body);
}

void RandomKeyCommand(CommandContext& ctx) {
  if (ctx.key_filter != nullptr) {
    // A cluster node: a random one of the keys it owns. Drawing until one
    // passes the filter could take long when this node owns few keys, so
    // pick uniformly from one pass instead (O(N), as KEYS).
    std::optional<std::string> pick;
    uint64_t seen = 0;
    uint64_t state = ctx.random | 1;
    ctx.store.ForEach(ctx.now_ms, [&](const storage::EntryView& e) {
      if (!(*ctx.key_filter)(e)) return;
      ++seen;
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      if (state % seen == 0) pick = std::string(e.key);  // reservoir sampling
    });
    if (!pick) return ctx.reply.Null();
    return ctx.reply.Bulk(*pick);
  }
  std::optional<std::string> key = ctx.store.RandomKey(ctx.now_ms, ctx.random);
  if (!key) return ctx.reply.Null();
  ctx.reply.Bulk(*key);
}

void DbSizeCommand(CommandContext& ctx) {
  if (ctx.key_filter != nullptr) {
    int64_t n = 0;
    ctx.store.ForEach(ctx.now_ms, [&](const storage::EntryView& e) {
      if ((*ctx.key_filter)(e)) ++n;
    });
    return ctx.reply.Integer(n);
  }
  ctx.reply.Integer(static_cast<int64_t>(ctx.store.size()));
}

// FLUSHALL and FLUSHDB (one database): an optional SYNC or ASYNC, which
// makes no difference here (db.c, getFlushCommandFlags).
void FlushCommand(CommandContext& ctx) {
  if (ctx.args.size() > 2 || (ctx.args.size() == 2 && !EqualsIgnoreCase(ctx.args[1], "sync") &&
                              !EqualsIgnoreCase(ctx.args[1], "async"))) {
    return ctx.reply.Error(errors::kSyntax);
  }
  ctx.keyspace.FlushAll();
  ctx.reply.Ok();
}

// The live versions of `src` become new versions of `dst`, as one write
// superseding everything `dst` held: a single value is one plain write; a
// key with siblings gives `dst` the same siblings (each a new version,
// concurrent with the others, all superseding dst's old ones), so a RENAME
// never picks a winner. Counter versions are joined into one counter (as GET
// shows them), which keeps every node's increments. Each version keeps its
// absolute expiry: the TTL travels with the value, as Redis's RENAME and
// COPY carry it. `src` must have a live version.
storage::Status CopyVersions(CommandContext& ctx, const storage::Object& src,
                             const std::string& dst) {
  // A hash, set or sorted set is copied as its joined state (one version,
  // its clock included, removes applied), with the TTL a write keeps.
  const auto& actors = ctx.keyspace.actors();
  const storage::KeyType type = src.TypeAt(ctx.now_ms, actors);
  if (type == storage::KeyType::kHash) {
    auto view = src.HashView(ctx.now_ms, actors);
    if (!view.ok()) return view.status();
    return ctx.keyspace.Put(dst,
                            storage::Version::OfHash(std::move(view.value().state), ctx.now_ms,
                                                     view.value().expire_at_ms),
                            ctx.now_ms);
  }
  if (type == storage::KeyType::kSet) {
    auto view = src.SetView(ctx.now_ms, actors);
    if (!view.ok()) return view.status();
    return ctx.keyspace.Put(dst,
                            storage::Version::OfSet(std::move(view.value().state), ctx.now_ms,
                                                    view.value().expire_at_ms),
                            ctx.now_ms);
  }
  if (type == storage::KeyType::kZset) {
    auto view = src.ZsetView(ctx.now_ms, actors);
    if (!view.ok()) return view.status();
    return ctx.keyspace.Put(dst,
                            storage::Version::OfZset(std::move(view.value().state), ctx.now_ms,
                                                     view.value().expire_at_ms),
                            ctx.now_ms);
  }
  std::vector<storage::Version> out;
  std::optional<size_t> counter;
  for (const auto& sibling : src.siblings()) {
    const storage::Version& v = sibling.value;
    // A container version that lost the type to a string is not shown.
    if (!v.IsLive(ctx.now_ms) || v.IsContainer()) continue;
    if (v.kind == storage::VersionKind::kCounter && counter) {
      storage::Version& joined = out[*counter];
      joined.counter.Merge(v.counter);
      // The join lives as long as its longest-lived part (0: no TTL).
      if (joined.expire_at_ms != 0) {
        joined.expire_at_ms =
            v.expire_at_ms == 0 ? 0 : std::max(joined.expire_at_ms, v.expire_at_ms);
      }
      continue;
    }
    if (v.kind == storage::VersionKind::kCounter) counter = out.size();
    out.push_back(v);
    out.back().timestamp_ms = ctx.now_ms;
  }
  auto before = ctx.keyspace.Load(dst, ctx.now_ms);
  if (!before.ok()) return before.status();
  const storage::VersionVector old_context = before.value().Context();
  for (size_t i = 0; i < out.size(); ++i) {
    // The first supersedes what this node saw of dst; the others supersede
    // only that too, so they stay siblings of the first.
    storage::Status st = i == 0
                             ? ctx.keyspace.Put(dst, std::move(out[i]), ctx.now_ms)
                             : ctx.keyspace.Update(dst, old_context, std::move(out[i]), ctx.now_ms);
    if (!st.ok()) return st;
  }
  return storage::Status::Ok();
}

// db.c, renameGenericCommand: the source must exist (even when it is the
// destination); a key renamed onto itself is left alone; the destination is
// replaced (RENAME) or kept (RENAMENX replies 0). A RENAME is a write of the
// destination plus a delete of the source.
void RenameGeneric(CommandContext& ctx, bool nx) {
  const std::string& src = ctx.args[1];
  const std::string& dst = ctx.args[2];
  auto obj = ctx.keyspace.Load(src, ctx.now_ms);
  if (!obj.ok()) return ReplyStatus(ctx, obj.status());
  if (obj.value().IsAbsent(ctx.now_ms)) return ctx.reply.Error(errors::kNoSuchKey);
  if (src == dst) return nx ? ctx.reply.Integer(0) : ctx.reply.Ok();
  if (nx && ctx.keyspace.Exists(dst, ctx.now_ms)) return ctx.reply.Integer(0);
  storage::Status st = CopyVersions(ctx, obj.value(), dst);
  if (!st.ok()) return ReplyStatus(ctx, st);
  auto deleted = ctx.keyspace.Delete(src, ctx.now_ms);
  if (!deleted.ok()) return ReplyStatus(ctx, deleted.status());
  nx ? ctx.reply.Integer(1) : ctx.reply.Ok();
}

void RenameCommand(CommandContext& ctx) {
  RenameGeneric(ctx, false);
}
void RenameNxCommand(CommandContext& ctx) {
  RenameGeneric(ctx, true);
}

// db.c, copyCommand: options first (REPLACE, DB <n>), then "same object",
// then the source, then the destination. shoal has one database: DB 0 is
// accepted, any other index gets the reply Redis gives for an index past
// `databases`.
void CopyCommand(CommandContext& ctx) {
  bool replace = false;
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    const bool has_value = j + 1 < ctx.args.size();
    if (EqualsIgnoreCase(ctx.args[j], "replace")) {
      replace = true;
    } else if (EqualsIgnoreCase(ctx.args[j], "db") && has_value) {
      int64_t db = 0;
      // getIntFromObjectOrReply: an int.
      if (!ParseInt64(ctx.args[j + 1], &db) || db < INT32_MIN || db > INT32_MAX) {
        return ctx.reply.Error(errors::kNotInteger);
      }
      if (db != 0) return ctx.reply.Error(errors::kDbIndexOutOfRange);
      ++j;
    } else {
      return ctx.reply.Error(errors::kSyntax);
    }
  }
  const std::string& src = ctx.args[1];
  const std::string& dst = ctx.args[2];
  if (src == dst) return ctx.reply.Error(errors::kSameObject);
  auto obj = ctx.keyspace.Load(src, ctx.now_ms);
  if (!obj.ok()) return ReplyStatus(ctx, obj.status());
  if (obj.value().IsAbsent(ctx.now_ms)) return ctx.reply.Integer(0);
  if (!replace && ctx.keyspace.Exists(dst, ctx.now_ms)) return ctx.reply.Integer(0);
  storage::Status st = CopyVersions(ctx, obj.value(), dst);
  if (!st.ok()) return ReplyStatus(ctx, st);
  ctx.reply.Integer(1);
}

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadonly;
constexpr uint32_t kF = kCmdFast;

// Flags, key positions, groups, summaries and versions as Redis 7.0.15's
// COMMAND INFO and COMMAND DOCS report them (checked against redis-server
// 7.0.15; DBSIZE and the flushes are in Redis's "server" group).
constexpr CommandSpec kKeyCommands[] = {
    {"del",
     -2,
     kW,
     DelCommand,
     1,
     -1,
     1,
     "generic",
     "Delete a key",
     "1.0.0",
     {},
     {.split = cluster::Split::kEachKey, .combine = cluster::Combine::kSum}},
    {"unlink",
     -2,
     kW | kF,
     DelCommand,
     1,
     -1,
     1,
     "generic",
     "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non "
     "blocking.",
     "4.0.0",
     {},
     {.split = cluster::Split::kEachKey, .combine = cluster::Combine::kSum}},
    {"exists",
     -2,
     kR | kF,
     CountExisting,
     1,
     -1,
     1,
     "generic",
     "Determine if a key exists",
     "1.0.0",
     {},
     {.split = cluster::Split::kEachKey, .combine = cluster::Combine::kSum}},
    {"touch",
     -2,
     kR | kF,
     CountExisting,
     1,
     -1,
     1,
     "generic",
     "Alters the last access time of a key(s). Returns the number of existing keys specified.",
     "3.2.1",
     {},
     {.split = cluster::Split::kEachKey, .combine = cluster::Combine::kSum}},
    // Both keys must share a replica set in a cluster (hash tags), else
    // CROSSSLOT; both are read from a read quorum first.
    {"rename",
     3,
     kW,
     RenameCommand,
     1,
     2,
     1,
     "generic",
     "Rename a key",
     "1.0.0",
     {},
     {.split = cluster::Split::kSameReplicas}},
    {"renamenx",
     3,
     kW | kF,
     RenameNxCommand,
     1,
     2,
     1,
     "generic",
     "Rename a key, only if the new key does not exist",
     "1.0.0",
     {},
     {.split = cluster::Split::kSameReplicas}},
    {"copy",
     -3,
     kW | kCmdDenyOom,
     CopyCommand,
     1,
     2,
     1,
     "generic",
     "Copy a key",
     "6.2.0",
     {},
     {.split = cluster::Split::kSameReplicas}},
    {"expire", -3, kW | kF, ExpireCommand, 1, 1, 1, "generic",
     "Set a key's time to live in seconds", "1.0.0"},
    {"pexpire", -3, kW | kF, PExpireCommand, 1, 1, 1, "generic",
     "Set a key's time to live in milliseconds", "2.6.0"},
    {"expireat", -3, kW | kF, ExpireAtCommand, 1, 1, 1, "generic",
     "Set the expiration for a key as a UNIX timestamp", "1.2.0"},
    {"pexpireat", -3, kW | kF, PExpireAtCommand, 1, 1, 1, "generic",
     "Set the expiration for a key as a UNIX timestamp specified in milliseconds", "2.6.0"},
    {"ttl", 2, kR | kF, TtlCommand, 1, 1, 1, "generic", "Get the time to live for a key in seconds",
     "1.0.0"},
    {"pttl", 2, kR | kF, PTtlCommand, 1, 1, 1, "generic",
     "Get the time to live for a key in milliseconds", "2.6.0"},
    {"expiretime", 2, kR | kF, ExpireTimeCommand, 1, 1, 1, "generic",
     "Get the expiration Unix timestamp for a key", "7.0.0"},
    {"pexpiretime", 2, kR | kF, PExpireTimeCommand, 1, 1, 1, "generic",
     "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0"},
    {"persist", 2, kW | kF, PersistCommand, 1, 1, 1, "generic", "Remove the expiration from a key",
     "2.2.0"},
    {"type", 2, kR | kF, TypeCommand, 1, 1, 1, "generic", "Determine the type stored at key",
     "1.0.0"},
    {"keys",
     2,
     kR,
     KeysCommand,
     0,
     0,
     0,
     "generic",
     "Find all keys matching the given pattern",
     "1.0.0",
     {},
     {.scope = cluster::Scope::kClusterWide, .combine = cluster::Combine::kConcatAll}},
    {"scan",
     -2,
     kR,
     ScanCommand,
     0,
     0,
     0,
     "generic",
     "Incrementally iterate the keys space",
     "2.8.0",
     {},
     {.scope = cluster::Scope::kClusterWide, .combine = cluster::Combine::kScanAll}},
    {"randomkey",
     1,
     kR,
     RandomKeyCommand,
     0,
     0,
     0,
     "generic",
     "Return a random key from the keyspace",
     "1.0.0",
     {},
     {.scope = cluster::Scope::kClusterWide, .combine = cluster::Combine::kPickOne}},
    {"dbsize",
     1,
     kR | kF,
     DbSizeCommand,
     0,
     0,
     0,
     "server",
     "Return the number of keys in the selected database",
     "1.0.0",
     {},
     {.scope = cluster::Scope::kClusterWide, .combine = cluster::Combine::kSumAll}},
    {"flushall",
     -1,
     kW,
     FlushCommand,
     0,
     0,
     0,
     "server",
     "Remove all keys from all databases",
     "1.0.0",
     {},
     {.scope = cluster::Scope::kClusterWide, .combine = cluster::Combine::kOkAll}},
    {"flushdb",
     -1,
     kW,
     FlushCommand,
     0,
     0,
     0,
     "server",
     "Remove all keys from the current database",
     "1.0.0",
     {},
     {.scope = cluster::Scope::kClusterWide, .combine = cluster::Combine::kOkAll}},
};

}  // namespace

void RegisterKeyCommands(CommandTable& table) {
  table.Register(kKeyCommands);
}

}  // namespace shoal::server
