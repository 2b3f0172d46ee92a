#pragma once
// The peer channel's reply values: what hiredis's reader parses a peer's
// RESP reply into, copied out of hiredis's structures, and the conversions
// the cluster needs (a RESP byte string parsed into a value, and back).

#include <string>
#include <string_view>

#include "cluster/peer/client.h"
#include "facade/reply_builder.h"
#include "storage/status.h"

struct redisReply;

namespace shoal::cluster {

// A copy of a hiredis reply.
PeerReply FromRedisReply(const redisReply& r);

// Parses exactly one complete RESP reply (hiredis's reader). Anything else
// (incomplete, malformed, trailing bytes) is kInvalid.
storage::Result<PeerReply> ParseReply(std::string_view resp);

// Writes `reply` back as RESP.
void WriteReply(const PeerReply& reply, facade::ReplyBuilder& out);

}  // namespace shoal::cluster
