// What the sorted-set command files (cmd_zsets.cc, cmd_zset_ranges.cc)
// share: reading a key's sorted set and replying with members.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/commands/command.h"
#include "server/commands/container_reply.h"
#include "storage/keyspace.h"
#include "storage/or_zset.h"

namespace shoal::server {

using ZsetView = storage::ContainerView<storage::OrZset>;

// A member and score copied out of a state about to change.
struct OwnedMember {
  std::string member;
  double score = 0;
};

// Reads `key`'s sorted set into *out; on WRONGTYPE (or damage) replies the
// error and returns false.
inline bool ReadZset(CommandContext& ctx, std::string_view key, ZsetView* out) {
  return TakeContainer(ctx, ctx.keyspace.ReadZset(key, ctx.now_ms), out);
}

// Members with or without their scores: a flat array in RESP2 ([m, s, m, s]),
// in RESP3 pairs ([[m, s], [m, s]]) when `nested` (Redis's zrange result
// handler and ZRANDMEMBER; ZPOPMIN only with a count).
template <typename Item>
void ReplyMembers(ReplyBuilder& r, const std::vector<Item>& items, bool withscores, bool nested) {
  r.ArrayHeader(withscores && !nested ? items.size() * 2 : items.size());
  for (const Item& it : items) {
    if (withscores && nested) r.ArrayHeader(2);
    r.Bulk(it.member);
    if (withscores) r.Double(it.score);
  }
}

inline bool Resp3Pairs(const CommandContext& ctx, bool withscores) {
  return withscores && ctx.reply.resp3();
}

// The range commands (ZRANGE and its variants, ZRANGESTORE, ZCOUNT,
// ZLEXCOUNT, ZREMRANGEBY*); RegisterZsetCommands calls it.
void RegisterZsetRangeCommands(CommandTable& table);

}  // namespace shoal::server
