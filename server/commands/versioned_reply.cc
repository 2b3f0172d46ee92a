#include "server/commands/versioned_reply.h"

#include "facade/errors.h"
#include "server/server.h"
#include "storage/context_token.h"

namespace shoal::server {

void ReplyStatus(CommandContext& ctx, const storage::Status& st) {
  switch (st.code()) {
    case storage::Code::kNotInteger:
      return ctx.reply.Error(errors::kNotInteger);
    case storage::Code::kOverflow:
      return ctx.reply.Error(errors::kOverflow);
    case storage::Code::kOutOfMemory:
      return ctx.reply.Error(errors::kOom);
    case storage::Code::kConflict:
    case storage::Code::kWrongType:
    case storage::Code::kInvalid:
      return ctx.reply.Error(st.message());
    default:
      return ctx.reply.Error("ERR " + st.message());
  }
}

void ReplyValues(CommandContext& ctx, const storage::Keyspace::View& view, std::string_view key) {
  if (view.count == 0) return ctx.reply.Null();
  if (view.count == 1 && !key.empty() && ctx.server != nullptr &&
      ctx.reply.CanShare(view.single.size())) {
    // Issue 13: a 256 MB GET copied into the output buffer stalled the loop
    // and held the value twice. Only bytes inside the store's own buffer
    // can be pinned (a value being written may sit in another object).
    const std::string* stored = ctx.store.Peek(key, ctx.now_ms);
    if (stored != nullptr && view.single.data() >= stored->data() &&
        view.single.data() + view.single.size() <= stored->data() + stored->size()) {
      return ctx.reply.BulkShared({view.single, ctx.server->lazy_free().Pin(view.single)});
    }
  }
  if (view.count == 1) return ctx.reply.Bulk(view.value(0));
  ctx.reply.ArrayHeader(view.count);
  for (size_t i = 0; i < view.count; ++i) ctx.reply.Bulk(view.value(i));
}

bool ReadSingle(CommandContext& ctx, std::string_view key, std::optional<std::string>* out) {
  auto r = ctx.keyspace.Single(key, ctx.now_ms);
  if (!r.ok()) {
    ReplyStatus(ctx, r.status());
    return false;
  }
  *out = std::move(r.value());
  return true;
}

storage::Status PutBytes(CommandContext& ctx, std::string_view key, std::string value,
                         int64_t expire_at_ms) {
  return ctx.keyspace.Put(key, storage::Version::Bytes(std::move(value), ctx.now_ms, expire_at_ms),
                          ctx.now_ms);
}

void ReplyGetv(CommandContext& ctx, std::string_view key) {
  auto obj = ctx.keyspace.Load(key, ctx.now_ms);
  if (!obj.ok()) return ReplyStatus(ctx, obj.status());
  std::vector<std::string> values = obj.value().LiveValues(ctx.now_ms, ctx.keyspace.actors());
  ctx.reply.ArrayHeader(2);
  ctx.reply.Bulk(storage::EncodeContextToken(obj.value().Context(), ctx.keyspace.actors()));
  ctx.reply.ArrayHeader(values.size());
  for (const std::string& v : values) ctx.reply.Bulk(v);
}

bool StoreResult(CommandContext& ctx, bool existed, std::string result) {
  int64_t expire_at = existed ? ctx.keyspace.ExpireAt(ctx.args[1], ctx.now_ms).value_or(0) : 0;
  storage::Status st = PutBytes(ctx, ctx.args[1], std::move(result), expire_at);
  if (!st.ok()) ReplyStatus(ctx, st);
  return st.ok();
}

}  // namespace shoal::server
