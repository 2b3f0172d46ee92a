#pragma once
// The peer channel's reply values: what hiredis's reader parses a peer's
// RESP reply into, copied out of hiredis's structures, and the conversions
// the cluster needs (a RESP byte string parsed into a value, and back).

#include <string>
#include <string_view>

#include "cluster/peer/client.h"
#include "facade/reply_builder.h"
#include "storage/status.h"

struct redisReader;
struct redisReply;

namespace shoal::cluster {

// Most elements a peer reply array may declare. hiredis 0.14 allocates an
// array's element pointers as soon as it reads "*<n>", before any element
// arrives, so without a bound 20 bytes from a peer ("*1000000000\r\n...")
// make it allocate gigabytes. 2^24 elements is 128 MiB of pointers; a
// cluster-wide KEYS whose one member holds more keys fails.
inline constexpr size_t kMaxPeerReplyElements = size_t{1} << 24;

// A hiredis reader (free it with redisReaderFree) whose arrays may declare at
// most `max_elements` elements: a longer one is a reader error ("Out of
// memory", hiredis's word for a refused object). nullptr if out of memory.
redisReader* NewPeerReplyReader(size_t max_elements);

// A copy of a hiredis reply.
PeerReply FromRedisReply(const redisReply& r);

// Parses exactly one complete RESP reply (hiredis's reader). Anything else
// (incomplete, malformed, trailing bytes) is kInvalid.
storage::Result<PeerReply> ParseReply(std::string_view resp);

// Writes `reply` back as RESP.
void WriteReply(const PeerReply& reply, facade::ReplyBuilder& out);

}  // namespace shoal::cluster
