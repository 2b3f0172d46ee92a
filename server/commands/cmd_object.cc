// Introspection of one key: OBJECT ENCODING|FREQ|IDLETIME|REFCOUNT|HELP
// (Redis's object.c, objectCommand) and MEMORY USAGE|STATS|DOCTOR|HELP
// (memoryCommand). shoal keeps every value as a versioned object
// (storage/object.h), so the answers describe what Redis would hold for the
// same value:
//   ENCODING   by Redis's rules for a string set with SET: "int" if it is
//              an integer of at most 20 characters (a counter always is),
//              "embstr" up to 44 bytes, else "raw". A key with siblings has
//              several values: "raw". A hash, set or sorted set: the name
//              Redis 7.0 would give its contents (container_encoding.h).
//   FREQ       the key's LFU counter, under an LFU maxmemory-policy only.
//   IDLETIME   seconds since the last access, under any other policy.
//   REFCOUNT   1, or 2147483647 for the integers 0..9999 that Redis shares
//              (unless maxmemory is set with an LRU or LFU policy).
//   USAGE      the bytes the key costs this node: its entry (header and
//              key), its stored object (every version, its clock and
//              dots), and its slots in the hash table and TTL index.
// A missing key is nil everywhere, as in Redis. In a cluster the key's
// commands are reads coordinated by one of its replicas.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "facade/args.h"
#include "facade/errors.h"
#include "server/commands/command.h"
#include "server/commands/container_encoding.h"
#include "server/commands/versioned_reply.h"
#include "server/server.h"
#include "storage/eviction.h"
#include "storage/keyspace.h"
#include "storage/store.h"

namespace shoal::server {
namespace {

// Redis's OBJ_SHARED_REFCOUNT and OBJ_SHARED_INTEGERS.
constexpr int64_t kSharedRefcount = 2147483647;
constexpr int64_t kSharedIntegers = 10000;
// Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT.
constexpr size_t kEmbstrLimit = 44;

// The integer a string would be stored as (Redis's tryObjectEncoding:
// at most 20 characters that string2l accepts), if any.
std::optional<int64_t> AsInteger(std::string_view s) {
  int64_t v;
  if (s.size() > 20 || !ParseInt64(s, &v)) return std::nullopt;
  return v;
}

// The object of `key` (empty if absent), read without touching the key
// (Redis's OBJECT and MEMORY use LOOKUP_NOTOUCH). On damage replies the
// error and returns false.
bool PeekObject(CommandContext& ctx, std::string_view key, storage::Object* out) {
  auto obj = ctx.keyspace.Peek(key, ctx.now_ms);
  if (!obj.ok()) {
    ReplyStatus(ctx, obj.status());
    return false;
  }
  *out = std::move(obj.value());
  return true;
}

// The string values of `key` (none for a container or an absent key).
std::vector<std::string> StringValues(CommandContext& ctx, const storage::Object& obj) {
  if (obj.TypeAt(ctx.now_ms, ctx.keyspace.actors()) != storage::KeyType::kString) return {};
  return obj.LiveValues(ctx.now_ms, ctx.keyspace.actors());
}

// A container's encoding: the name Redis 7.0 would give the same contents
// (server/commands/container_encoding.h).
std::string_view ContainerEncoding(CommandContext& ctx, const storage::Object& obj,
                                   storage::KeyType type) {
  const auto& actors = ctx.keyspace.actors();
  if (type == storage::KeyType::kHash) {
    auto view = obj.HashView(ctx.now_ms, actors);
    return view.ok() ? HashEncoding(view.value().state, actors) : "hashtable";
  }
  if (type == storage::KeyType::kSet) {
    auto view = obj.SetView(ctx.now_ms, actors);
    return view.ok() ? SetEncoding(view.value().state) : "hashtable";
  }
  auto view = obj.ZsetView(ctx.now_ms, actors);
  return view.ok() ? ZsetEncoding(view.value().state) : "skiplist";
}

void ObjectEncoding(CommandContext& ctx) {
  storage::Object obj;
  if (!PeekObject(ctx, ctx.args[2], &obj)) return;
  const storage::KeyType type = obj.TypeAt(ctx.now_ms, ctx.keyspace.actors());
  if (type == storage::KeyType::kNone) return ctx.reply.Null();
  if (type != storage::KeyType::kString) return ctx.reply.Bulk(ContainerEncoding(ctx, obj, type));
  std::vector<std::string> values = StringValues(ctx, obj);
  if (values.size() != 1) return ctx.reply.Bulk("raw");
  const std::string& v = values[0];
  if (AsInteger(v)) return ctx.reply.Bulk("int");
  ctx.reply.Bulk(v.size() <= kEmbstrLimit ? "embstr" : "raw");
}

void ObjectRefcount(CommandContext& ctx) {
  storage::Object obj;
  if (!PeekObject(ctx, ctx.args[2], &obj)) return;
  if (obj.IsAbsent(ctx.now_ms)) return ctx.reply.Null();
  std::vector<std::string> values = StringValues(ctx, obj);
  const storage::EvictionPolicy policy = ctx.store.eviction_config().policy;
  const bool lru_or_lfu = policy == storage::EvictionPolicy::kAllKeysLru ||
                          policy == storage::EvictionPolicy::kVolatileLru || storage::IsLfu(policy);
  const uint64_t maxmemory = ctx.server != nullptr ? ctx.server->config().maxmemory : 0;
  auto n = values.size() == 1 ? AsInteger(values[0]) : std::nullopt;
  const bool shared = n && *n >= 0 && *n < kSharedIntegers && (maxmemory == 0 || !lru_or_lfu);
  ctx.reply.Integer(shared ? kSharedRefcount : 1);
}

void ObjectFreq(CommandContext& ctx) {
  const std::string& key = ctx.args[2];
  storage::Object obj;
  if (!PeekObject(ctx, key, &obj)) return;
  if (obj.IsAbsent(ctx.now_ms)) return ctx.reply.Null();
  if (!storage::IsLfu(ctx.store.eviction_config().policy)) {
    return ctx.reply.Error(errors::kObjectFreqNeedsLfu);
  }
  auto freq = ctx.store.LfuFrequency(key, ctx.now_ms);
  if (!freq) return ctx.reply.Null();
  ctx.reply.Integer(*freq);
}

void ObjectIdletime(CommandContext& ctx) {
  const std::string& key = ctx.args[2];
  storage::Object obj;
  if (!PeekObject(ctx, key, &obj)) return;
  if (obj.IsAbsent(ctx.now_ms)) return ctx.reply.Null();
  if (storage::IsLfu(ctx.store.eviction_config().policy)) {
    return ctx.reply.Error(errors::kObjectIdleWithLfu);
  }
  auto idle = ctx.store.IdleTimeMs(key, ctx.now_ms);
  if (!idle) return ctx.reply.Null();
  ctx.reply.Integer(static_cast<int64_t>(*idle / 1000));
}

void ObjectHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "ENCODING <key>",
      "    Return the kind of internal representation used in order to store the value",
      "    associated with a <key>.",
      "FREQ <key>",
      "    Return the access frequency index of the <key>. The returned integer is",
      "    proportional to the logarithm of the recent access frequency of the key.",
      "IDLETIME <key>",
      "    Return the idle time of the <key>, that is the approximated number of",
      "    seconds elapsed since the last access to the key.",
      "REFCOUNT <key>",
      "    Return the number of references of the value associated with the specified",
      "    <key>.",
      "HELP",
      "    Prints this help.",
  };
  ctx.reply.HelpLines(kLines);
}

// jemalloc's size class for an allocation of n bytes (8, steps of 16 up to
// 128, then four classes per doubling), as storage/store.cc charges it.
uint64_t SizeClass(uint64_t n) {
  if (n <= 8) return 8;
  if (n <= 128) return (n + 15) & ~uint64_t{15};
  const uint64_t lg = 63 - __builtin_clzll(n - 1);
  const uint64_t spacing = uint64_t{1} << (lg - 2);
  return (n + spacing - 1) & ~(spacing - 1);
}

// Bytes one key costs: the entry allocation (a 64-byte header followed by
// the key, storage/dict.h), the stored object's heap buffer (strings of up
// to 15 bytes live inside the header), a hash-table slot and, with a TTL, a
// slot in the TTL index.
uint64_t KeyMemoryUsage(size_t key_size, size_t stored_size, bool has_ttl) {
  constexpr uint64_t kEntryHeader = 64;
  constexpr uint64_t kInlineChars = 15;
  constexpr uint64_t kPointer = sizeof(void*);
  uint64_t bytes = SizeClass(kEntryHeader + key_size);
  if (stored_size > kInlineChars) bytes += SizeClass(stored_size + 1);
  bytes += kPointer;
  if (has_ttl) bytes += kPointer;
  return bytes;
}

void MemoryUsage(CommandContext& ctx) {
  // memoryCommand: SAMPLES is parsed (and checked) before the key is looked
  // up; strings have nothing to sample.
  for (size_t j = 3; j < ctx.args.size(); ++j) {
    if (EqualsIgnoreCase(ctx.args[j], "samples") && j + 1 < ctx.args.size()) {
      int64_t samples;
      if (!ParseInt64(ctx.args[j + 1], &samples)) return ctx.reply.Error(errors::kNotInteger);
      if (samples < 0) return ctx.reply.Error(errors::kSyntax);
      ++j;
    } else {
      return ctx.reply.Error(errors::kSyntax);
    }
  }
  const std::string& key = ctx.args[2];
  auto obj = ctx.keyspace.Peek(key, ctx.now_ms);
  if (!obj.ok()) return ReplyStatus(ctx, obj.status());
  if (obj.value().IsAbsent(ctx.now_ms)) return ctx.reply.Null();
  const bool has_ttl = obj.value().ExpireAtMs() != 0;
  ctx.reply.Integer(
      static_cast<int64_t>(KeyMemoryUsage(key.size(), obj.value().Encode().size(), has_ttl)));
}

uint64_t AllocatedBytes(CommandContext& ctx) {
  return ctx.server != nullptr ? ctx.server->UsedMemory() : ctx.store.used_bytes();
}

void MemoryStats(CommandContext& ctx) {
  // The fields of Redis's MEMORY STATS that shoal can fill (a map; a flat
  // array of names and values in RESP2).
  const uint64_t total = AllocatedBytes(ctx);
  const uint64_t dataset = ctx.store.used_bytes();
  const uint64_t keys = ctx.store.size();
  ctx.reply.MapHeader(5);
  ctx.reply.Bulk("total.allocated");
  ctx.reply.Integer(static_cast<int64_t>(total));
  ctx.reply.Bulk("overhead.total");
  ctx.reply.Integer(static_cast<int64_t>(total > dataset ? total - dataset : 0));
  ctx.reply.Bulk("keys.count");
  ctx.reply.Integer(static_cast<int64_t>(keys));
  ctx.reply.Bulk("keys.bytes-per-key");
  ctx.reply.Integer(static_cast<int64_t>(keys == 0 ? 0 : dataset / keys));
  ctx.reply.Bulk("dataset.bytes");
  ctx.reply.Integer(static_cast<int64_t>(dataset));
}

void MemoryDoctor(CommandContext& ctx) {
  const uint64_t keys = ctx.store.size();
  const uint64_t total = AllocatedBytes(ctx);
  const uint64_t maxmemory = ctx.server != nullptr ? ctx.server->config().maxmemory : 0;
  std::string text;
  if (keys == 0) {
    text = "This node holds no keys; there is nothing to diagnose.";
  } else {
    text = std::to_string(keys) + " keys hold " + std::to_string(ctx.store.used_bytes()) +
           " bytes of the " + std::to_string(total) + " bytes allocated";
    if (maxmemory == 0) {
      text += "; no maxmemory is set.";
    } else {
      text += " (maxmemory " + std::to_string(maxmemory) + ")";
      text += total * 10 > maxmemory * 9 ? "; memory is above 90% of maxmemory: writes may "
                                           "evict keys or be refused."
                                         : "; no memory problems detected.";
    }
  }
  ctx.reply.Verbatim("txt", text);
}

void MemoryHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "DOCTOR",
      "    Return memory problems reports.",
      "STATS",
      "    Return information about the memory usage of the server.",
      "USAGE <key> [SAMPLES <count>]",
      "    Return memory in bytes used by <key> and its value. Nested values are",
      "    sampled up to <count> times (default: 5, 0 means sample all).",
      "HELP",
      "    Prints this help.",
  };
  ctx.reply.HelpLines(kLines);
}

void ObjectContainer(CommandContext& ctx) {
  ctx.reply.Error(errors::WrongArity("object"));
}
void MemoryContainer(CommandContext& ctx) {
  ctx.reply.Error(errors::WrongArity("memory"));
}

constexpr uint32_t kR = kCmdReadonly;
constexpr uint32_t kHelpFlags = kCmdLoading | kCmdStale;

const CommandSpec kObjectSubcommands[] = {
    {"object|encoding", 3, kR, ObjectEncoding, 2, 2, 1, "generic",
     "Inspect the internal encoding of a Redis object", "2.2.3"},
    {"object|freq", 3, kR, ObjectFreq, 2, 2, 1, "generic",
     "Get the logarithmic access frequency counter of a Redis object", "4.0.0"},
    {"object|idletime", 3, kR, ObjectIdletime, 2, 2, 1, "generic",
     "Get the time since a Redis object was last accessed", "2.2.3"},
    {"object|refcount", 3, kR, ObjectRefcount, 2, 2, 1, "generic",
     "Get the number of references to the value of the key", "2.2.3"},
    {"object|help", 2, kHelpFlags, ObjectHelp, 0, 0, 0, "generic",
     "Show helpful text about the different subcommands", "6.2.0"},
};

const CommandSpec kMemorySubcommands[] = {
    {"memory|usage", -3, kR, MemoryUsage, 2, 2, 1, "server", "Estimate the memory usage of a key",
     "4.0.0"},
    {"memory|stats", 2, 0, MemoryStats, 0, 0, 0, "server", "Show memory usage details", "4.0.0"},
    {"memory|doctor", 2, 0, MemoryDoctor, 0, 0, 0, "server", "Outputs memory problems report",
     "4.0.0"},
    {"memory|help", 2, kHelpFlags, MemoryHelp, 0, 0, 0, "server",
     "Show helpful text about the different subcommands", "4.0.0"},
};

const CommandSpec kObjectCommands[] = {
    {"object", -2, 0, ObjectContainer, 0, 0, 0, "generic",
     "A container for object introspection commands", "2.2.3", kObjectSubcommands},
    {"memory", -2, 0, MemoryContainer, 0, 0, 0, "server",
     "A container for memory diagnostics commands", "4.0.0", kMemorySubcommands},
};

}  // namespace

void RegisterObjectCommands(CommandTable& table) {
  table.Register(kObjectCommands);
}

}  // namespace shoal::server
