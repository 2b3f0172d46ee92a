#pragma once
// Glue shared by the container command families (hashes, sets, sorted
// sets): argument rules and reply shapes that t_hash.c, t_set.c and t_zset.c
// share in Redis.

#include <cstdint>
#include <string>
#include <utility>

#include "server/commands/command.h"
#include "storage/status.h"

namespace shoal::server {

// Replies the error of a container read or write. The containers' own
// errors (storage/or_hash.h: "ERR hash value is not an integer", ...) carry
// Redis's words and pass through; the rest as ReplyStatus.
void ReplyContainerStatus(CommandContext& ctx, const storage::Status& st);

// A Keyspace::ReadHash/ReadSet/ReadZset result into *out (an absent key
// reads as empty). On WRONGTYPE or damage replies the error and returns
// false.
template <typename View>
bool TakeContainer(CommandContext& ctx, storage::Result<View> r, View* out) {
  if (!r.ok()) {
    ReplyContainerStatus(ctx, r.status());
    return false;
  }
  *out = std::move(r.value());
  return true;
}

// The count argument of SRANDMEMBER, HRANDFIELD and ZRANDMEMBER: an integer
// in [-LONG_MAX, LONG_MAX] (getRangeLongFromObjectOrReply); the error's
// message is Redis's reply.
storage::Result<int64_t> ParseRandomCount(const std::string& arg);

// The reply of HSCAN/SSCAN/ZSCAN on a missing key (shared.emptyscan).
void ReplyEmptyScan(ReplyBuilder& reply);

}  // namespace shoal::server
