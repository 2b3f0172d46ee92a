#pragma once
// Error replies, word for word as Redis 7 sends them (src/server.c,
// src/networking.c, src/t_string.c). Tests compare these bytes; keep every
// client-visible error string here rather than inline in handlers.

#include <string>
#include <string_view>

namespace shoal::facade::errors {

inline constexpr std::string_view kSyntax = "ERR syntax error";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kNotFloat = "ERR value is not a valid float";
inline constexpr std::string_view kOverflow = "ERR increment or decrement would overflow";
inline constexpr std::string_view kNanOrInf = "ERR increment would produce NaN or Infinity";
inline constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
inline constexpr std::string_view kNoAuth = "NOAUTH Authentication required.";
inline constexpr std::string_view kWrongPass =
    "WRONGPASS invalid username-password pair or user is disabled.";
inline constexpr std::string_view kAuthNotConfigured =
    "ERR AUTH <password> called without any password configured for the default user. Are "
    "you sure your configuration is correct?";
inline constexpr std::string_view kMaxClients = "ERR max number of clients reached";
// Redis 7.0's protected-mode reply (networking.c), naming shoal and without
// its CONFIG REWRITE hint (shoal has no CONFIG REWRITE).
inline constexpr std::string_view kProtectedMode =
    "DENIED shoal is running in protected mode because protected mode is enabled and no "
    "password is set for the default user. In this mode connections are only accepted from "
    "the loopback interface. If you want to connect from external computers to shoal you may "
    "adopt one of the following solutions: 1) Just disable protected mode sending the command "
    "'CONFIG SET protected-mode no' from the loopback interface by connecting to shoal from "
    "the same host the server is running, however MAKE SURE shoal is not publicly accessible "
    "from internet if you do so. 2) Alternatively you can just disable the protected mode by "
    "editing the shoal configuration file, and setting the protected mode option to 'no', and "
    "then restarting the server. 3) If you started the server manually just for testing, "
    "restart it with the '--protected-mode no' option. 4) Setup a an authentication password "
    "for the default user. NOTE: You only need to do one of the above things in order for the "
    "server to start accepting connections from the outside.";
inline constexpr std::string_view kOom = "OOM command not allowed when used memory > 'maxmemory'.";
inline constexpr std::string_view kNoProto = "NOPROTO unsupported protocol version";
inline constexpr std::string_view kDbIndexOutOfRange = "ERR DB index is out of range";
inline constexpr std::string_view kStringTooLong =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
inline constexpr std::string_view kOffsetOutOfRange = "ERR offset is out of range";
inline constexpr std::string_view kInvalidCursor = "ERR invalid cursor";
inline constexpr std::string_view kNoSuchClient = "ERR No such client";
// CLIENT TRACKING ON: shoal has no client-side caching (no invalidation
// messages), so it says so instead of accepting and never invalidating.
inline constexpr std::string_view kTrackingUnsupported =
    "ERR CLIENT TRACKING is not supported by shoal: it has no client-side caching";
// DECRBY with LLONG_MIN: negating it would overflow (t_string.c, decrbyCommand).
inline constexpr std::string_view kDecrementOverflow = "ERR decrement would overflow";
// EXPIRE family flags (expire.c, parseExtendedExpireArgumentsOrReply).
inline constexpr std::string_view kExpireNxAndOthers =
    "ERR NX and XX, GT or LT options at the same time are not compatible";
inline constexpr std::string_view kExpireGtAndLt =
    "ERR GT and LT options at the same time are not compatible";
// Bit commands (bitops.c).
inline constexpr std::string_view kBitOffset = "ERR bit offset is not an integer or out of range";
inline constexpr std::string_view kBitValue = "ERR bit is not an integer or out of range";
inline constexpr std::string_view kBitArgument = "ERR The bit argument must be 1 or 0.";
inline constexpr std::string_view kBitopNotOneKey =
    "ERR BITOP NOT must be called with a single source key.";
inline constexpr std::string_view kBitfieldType =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but "
    "i64 is.";
inline constexpr std::string_view kBitfieldOverflowType = "ERR Invalid OVERFLOW type specified";
inline constexpr std::string_view kBitfieldRoGetOnly =
    "ERR BITFIELD_RO only supports the GET subcommand";
// LCS (t_string.c, lcsCommand).
inline constexpr std::string_view kLcsLenAndIdx =
    "ERR If you want both the length and indexes, please just use IDX.";
inline constexpr std::string_view kLcsTooLong = "ERR String too long for LCS";
inline constexpr std::string_view kLcsExceedsLimit =
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
inline constexpr std::string_view kLcsNoMemory =
    "ERR Insufficient memory, failed allocating transient memory for LCS";
// OBJECT FREQ / IDLETIME under the wrong kind of maxmemory-policy (object.c).
inline constexpr std::string_view kObjectFreqNeedsLfu =
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time to "
    "adjust.";
inline constexpr std::string_view kObjectIdleWithLfu =
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust.";
// RENAME, RENAMENX, COPY (shared.nokeyerr, shared.sameobjecterr).
inline constexpr std::string_view kNoSuchKey = "ERR no such key";
inline constexpr std::string_view kSameObject = "ERR source and destination objects are the same";
// Hashes and sets (t_hash.c, t_set.c, object.c's range checks).
inline constexpr std::string_view kIncrNanOrInf = "ERR value is NaN or Infinity";
inline constexpr std::string_view kOutOfRange = "ERR value is out of range";
inline constexpr std::string_view kMustBePositive = "ERR value is out of range, must be positive";
// getRangeLongFromObjectOrReply(-LONG_MAX, LONG_MAX): the count of
// SRANDMEMBER, HRANDFIELD (and ZRANDMEMBER).
inline constexpr std::string_view kRandomCountRange =
    "ERR value is out of range, value must between -9223372036854775807 and "
    "9223372036854775807";
inline constexpr std::string_view kNumkeysNotPositive = "ERR numkeys should be greater than 0";
inline constexpr std::string_view kNumkeysTooMany =
    "ERR Number of keys can't be greater than number of args";
inline constexpr std::string_view kLimitNegative = "ERR LIMIT can't be negative";
// Transactions (multi.c, server.c).
inline constexpr std::string_view kExecAbort =
    "EXECABORT Transaction discarded because of previous errors.";
// EXEC itself refused (OOM, arity): the reason follows (execCommandAbort).
inline constexpr std::string_view kExecAbortBecause =
    "EXECABORT Transaction discarded because of: ";
inline constexpr std::string_view kMultiNested = "ERR MULTI calls can not be nested";
inline constexpr std::string_view kExecWithoutMulti = "ERR EXEC without MULTI";
inline constexpr std::string_view kDiscardWithoutMulti = "ERR DISCARD without MULTI";
inline constexpr std::string_view kWatchInsideMulti = "ERR WATCH inside MULTI is not allowed";
// Cluster (Redis Cluster's words where it has them).
inline constexpr std::string_view kCrossSlot =
    "CROSSSLOT Keys in request don't hash to the same slot";
inline constexpr std::string_view kPeerPortError =
    "ERR this is the shoal cluster bus port, for shoal nodes only; clients use the client port";
inline constexpr std::string_view kPeerAuthError = "ERR peer authentication failed";
// A peer's reply that does not parse, or has the wrong shape.
inline constexpr std::string_view kBadNodeReply = "ERR bad reply from a cluster node";

// Protocol errors (the connection is closed after the reply, as Redis does).
inline constexpr std::string_view kProtoInvalidMultibulkLen =
    "ERR Protocol error: invalid multibulk length";
inline constexpr std::string_view kProtoInvalidBulkLen = "ERR Protocol error: invalid bulk length";
inline constexpr std::string_view kProtoUnauthMultibulkLen =
    "ERR Protocol error: unauthenticated multibulk length";
inline constexpr std::string_view kProtoUnauthBulkLen =
    "ERR Protocol error: unauthenticated bulk length";
inline constexpr std::string_view kProtoTooBigMbulkCount =
    "ERR Protocol error: too big mbulk count string";
inline constexpr std::string_view kProtoTooBigBulkCount =
    "ERR Protocol error: too big bulk count string";
inline constexpr std::string_view kProtoTooBigInline = "ERR Protocol error: too big inline request";
inline constexpr std::string_view kProtoUnbalancedQuotes =
    "ERR Protocol error: unbalanced quotes in request";

// "ERR wrong number of arguments for 'get' command"; `name` is the
// command's lower-case full name ("config|get" for subcommands).
std::string WrongArity(std::string_view name);
// "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
std::string UnknownCommand(std::string_view name, const std::string* args, size_t nargs);
// "ERR unknown subcommand 'foo'. Try CONFIG HELP."
std::string UnknownSubcommand(std::string_view sub, std::string_view container);
// "ERR Protocol error: expected '$', got 'x'"
std::string ProtoExpectedDollar(char got);
// "ERR invalid expire time in 'set' command"
std::string InvalidExpire(std::string_view command);
// "ERR Unsupported option foo" (an unknown EXPIRE-family flag, as sent).
std::string UnsupportedOption(std::string_view option);
// Commands Redis has that shoal does not implement: "ERR unsupported
// command 'lpush': <reason>", the reason naming why (the table of
// server/commands/cmd_unsupported.cc).
std::string Unsupported(std::string_view name, std::string_view reason);
// "NOQUORUM got 1 of 2 required replies": too few replicas answered in time.
// The request may still have been applied (indeterminate).
std::string NoQuorum(size_t got, size_t required);
// "NOQUORUM partition 17 has no reachable replica (3 replicas)": a
// cluster-wide listing cannot cover that partition's keys.
std::string PartitionUnavailable(uint32_t partition, size_t replicas);
// "ERR 'keys' cannot run inside a transaction in a cluster": a command that
// runs on every member (KEYS, SCAN, FLUSHALL...) queued in a cluster MULTI.
std::string NotInClusterTransaction(std::string_view name);
// "ERR bad SHOAL.MGET frame": a peer frame with the wrong arguments.
std::string BadPeerFrame(std::string_view name);
// "ERR unknown peer command 'x'" (the name cut to 64 bytes).
std::string UnknownPeerCommand(std::string_view name);

}  // namespace shoal::facade::errors
