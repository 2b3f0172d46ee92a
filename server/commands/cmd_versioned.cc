// The versioned commands, shoal's own: GETV, SETV, DELV. They expose what
// plain GET/SET hide — a key's sibling versions and its causal context — so
// that a client can resolve concurrent writes (read all siblings and the
// context with GETV, write the merged value back with SETV and that context).
//
//   GETV key                        -> [context, [value, ...]]
//   SETV key context value [EX s|PX ms|EXAT s|PXAT ms] -> +OK
//   DELV key context                -> :1 if live versions were superseded, else :0
//
// The context is an opaque printable token (storage/context_token.h). A
// write supersedes exactly the versions its context covers; the others stay
// as siblings. Past max-siblings the write is refused with CONFLICT.

#include <optional>

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/set_options.h"
#include "server/commands/versioned_reply.h"
#include "storage/context_token.h"
#include "storage/keyspace.h"

namespace shoal::server {
namespace {

// Parses the context argument; replies the error and returns false if bad.
bool ParseContext(CommandContext& ctx, std::string_view token, storage::VersionVector* out) {
  auto r = storage::DecodeContextToken(token, ctx.keyspace.actors());
  if (!r.ok()) {
    ctx.reply.Error(r.status().message());
    return false;
  }
  *out = std::move(r.value());
  return true;
}

void GetvCommand(CommandContext& ctx) {
  ReplyGetv(ctx, ctx.args[1]);
}

void SetvCommand(CommandContext& ctx) {
  int64_t expire_at = 0;
  if (ctx.args.size() != 4) {
    // One expiry option and its value, as SET takes them.
    if (ctx.args.size() != 6) return ctx.reply.Error(errors::kSyntax);
    const std::string& opt = ctx.args[4];
    ExpireUnit unit = ExpireUnit::kNone;
    if (EqualsIgnoreCase(opt, "EX")) unit = ExpireUnit::kEx;
    if (EqualsIgnoreCase(opt, "PX")) unit = ExpireUnit::kPx;
    if (EqualsIgnoreCase(opt, "EXAT")) unit = ExpireUnit::kExat;
    if (EqualsIgnoreCase(opt, "PXAT")) unit = ExpireUnit::kPxat;
    if (unit == ExpireUnit::kNone) return ctx.reply.Error(errors::kSyntax);
    auto r = ExpireArgToAbsoluteMs(ctx.args[5], unit, ctx.now_ms, "setv");
    if (!r.ok()) return ctx.reply.Error(r.status().message());
    expire_at = r.value();
  }
  storage::VersionVector context;
  if (!ParseContext(ctx, ctx.args[2], &context)) return;
  storage::Status st = ctx.keyspace.Update(
      ctx.args[1], context, storage::Version::Bytes(std::move(ctx.args[3]), ctx.now_ms, expire_at),
      ctx.now_ms);
  if (!st.ok()) return ReplyStatus(ctx, st);
  ctx.reply.Ok();
}

void DelvCommand(CommandContext& ctx) {
  storage::VersionVector context;
  if (!ParseContext(ctx, ctx.args[2], &context)) return;
  size_t before = 0;
  {
    auto obj = ctx.keyspace.Load(ctx.args[1], ctx.now_ms);
    if (!obj.ok()) return ReplyStatus(ctx, obj.status());
    before = obj.value().LiveCount(ctx.now_ms);
  }
  storage::Status st = ctx.keyspace.Update(ctx.args[1], context,
                                           storage::Version::Tombstone(ctx.now_ms), ctx.now_ms);
  if (!st.ok()) return ReplyStatus(ctx, st);
  auto after = ctx.keyspace.Load(ctx.args[1], ctx.now_ms);
  size_t left = after.ok() ? after.value().LiveCount(ctx.now_ms) : 0;
  ctx.reply.Integer(left < before ? 1 : 0);
}

constexpr CommandSpec kVersionedCommands[] = {
    {"getv", 2, kCmdReadonly | kCmdFast, GetvCommand, 1, 1, 1, "string",
     "Get every sibling version of a key and its causal context", "shoal 0.1"},
    {"setv",
     -4,
     kCmdWrite | kCmdDenyOom,
     SetvCommand,
     1,
     1,
     1,
     "string",
     "Set a key, superseding the versions its context covers",
     "shoal 0.1",
     {},
     {.access = cluster::Access::kBlindWrite}},
    {"delv",
     3,
     kCmdWrite | kCmdFast,
     DelvCommand,
     1,
     1,
     1,
     "string",
     "Delete the versions of a key its context covers",
     "shoal 0.1",
     {},
     {.access = cluster::Access::kBlindWrite}},
};

}  // namespace

void RegisterVersionedCommands(CommandTable& table) {
  table.Register(kVersionedCommands);
}

}  // namespace shoal::server
