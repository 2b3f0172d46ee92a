#pragma once
// Glue between the command handlers and the versioned keyspace
// (storage/keyspace.h): how a keyspace outcome becomes a reply. Shared by the
// string, key and versioned (GETV/SETV/DELV) command families.

#include <optional>
#include <string>
#include <string_view>

#include "server/commands/command.h"
#include "storage/keyspace.h"
#include "storage/status.h"

namespace shoal::server {

// Replies the error for a failed keyspace operation in Redis's words
// (CONFLICT messages pass through as they are).
void ReplyStatus(CommandContext& ctx, const storage::Status& st);

// GET's reply for a key: nil, a bulk string, or an array of its siblings.
// Given `key`, a big single value still in the store is sent from there
// without a copy (pinned while the connection sends it).
void ReplyValues(CommandContext& ctx, const storage::Keyspace::View& view,
                 std::string_view key = {});

// Reads the one live value of `key` for a read-modify-write command into
// *out (nullopt: absent). On siblings or damage, replies the error and
// returns false.
bool ReadSingle(CommandContext& ctx, std::string_view key, std::optional<std::string>* out);

// GETV's reply for `key` from this node's store: [context, [value, ...]].
void ReplyGetv(CommandContext& ctx, std::string_view key);

// A plain string write of `key` (SET and friends).
storage::Status PutBytes(CommandContext& ctx, std::string_view key, std::string value,
                         int64_t expire_at_ms);

// Stores the result of a read-modify-write of key args[1] (APPEND, SETRANGE,
// SETBIT...). An existing key keeps its TTL, as Redis's dbOverwrite; a new
// one has none. On failure replies the error and returns false.
bool StoreResult(CommandContext& ctx, bool existed, std::string result);

}  // namespace shoal::server
