// Redis commands shoal knowingly does not implement. Each family gets a
// clear error naming the command and why it is missing, instead of
// "unknown command": "ERR unsupported command 'lpush': lists are not
// implemented yet (see README, Commands)". README, Commands lists them.

#include "server/commands/command.h"

namespace shoal::server {
namespace {

constexpr std::string_view kLists[] = {
    "lpush",  "rpush",  "lpushx", "rpushx", "lpop",      "rpop",       "llen",  "lrange",
    "lindex", "lset",   "lrem",   "ltrim",  "linsert",   "lpos",       "lmove", "blmove",
    "lmpop",  "blmpop", "blpop",  "brpop",  "rpoplpush", "brpoplpush",
};

// The sorted-set commands not implemented yet (cmd_zsets.cc has the rest):
// the blocking pops, ZMPOP, and the multi-key set algebra.
constexpr std::string_view kSortedSets[] = {
    "bzpopmin", "bzpopmax",    "zmpop",      "bzmpop", "zunion",     "zunionstore",
    "zinter",   "zinterstore", "zintercard", "zdiff",  "zdiffstore",
};

constexpr std::string_view kStreams[] = {
    "xadd",     "xrange", "xrevrange",  "xlen",  "xread", "xreadgroup", "xgroup", "xack",
    "xpending", "xclaim", "xautoclaim", "xinfo", "xdel",  "xtrim",      "xsetid",
};

constexpr std::string_view kHyperLogLog[] = {"pfadd", "pfcount", "pfmerge", "pfdebug",
                                             "pfselftest"};

constexpr std::string_view kGeo[] = {
    "geoadd",    "geodist",           "geohash",      "geopos",
    "georadius", "georadiusbymember", "georadius_ro", "georadiusbymember_ro",
    "geosearch", "geosearchstore",
};

constexpr std::string_view kScripting[] = {
    "eval", "evalsha", "eval_ro", "evalsha_ro", "script", "function", "fcall", "fcall_ro",
};

constexpr std::string_view kPubSub[] = {
    "subscribe", "unsubscribe", "psubscribe",   "punsubscribe", "publish",
    "pubsub",    "ssubscribe",  "sunsubscribe", "spublish",
};

constexpr std::string_view kKeysNotYet[] = {"sort", "sort_ro"};

constexpr std::string_view kDatabases[] = {"move", "swapdb"};

constexpr std::string_view kSerialization[] = {"dump", "restore", "migrate"};

constexpr std::string_view kSnapshots[] = {"save", "bgsave", "lastsave"};

constexpr std::string_view kReplication[] = {
    "replicaof", "slaveof", "sync", "psync", "failover", "wait",
};

constexpr std::string_view kClusterRedirection[] = {"readonly", "readwrite", "asking"};

constexpr std::string_view kOther[] = {
    "debug",
    "module",
    "acl",
    "lolwut",
};

struct Family {
  std::span<const std::string_view> names;
  std::string_view reason;
};

const Family kFamilies[] = {
    {kLists, "lists are not implemented yet (see README, Commands)"},
    {kSortedSets, "this sorted-set command is not implemented yet (see README, Commands)"},
    {kStreams, "streams are not implemented (see README, Commands)"},
    {kHyperLogLog, "HyperLogLog is not implemented (see README, Commands)"},
    {kGeo, "geo commands are not implemented (see README, Commands)"},
    {kScripting, "scripting is not implemented (see README, Commands)"},
    {kPubSub, "pub/sub is not implemented (see README, Commands)"},
    {kKeysNotYet, "not implemented yet (see README, Commands)"},
    {kDatabases, "shoal has a single database, 0 (as Redis Cluster)"},
    {kSerialization, "shoal does not read or write Redis's serialization format"},
    {kSnapshots,
     "shoal persists through its append-only log, not snapshots (see README, Durability)"},
    {kReplication,
     "shoal replicates by quorum across its cluster, not by Redis replication (see README, "
     "Cluster)"},
    {kClusterRedirection,
     "shoal nodes forward keys themselves: any node serves any key (see README, Cluster)"},
    {kOther, "not implemented (see README, Commands)"},
};

}  // namespace

void RegisterUnsupportedCommands(CommandTable& table) {
  for (const Family& f : kFamilies) table.RegisterUnsupported(f.names, f.reason);
}

}  // namespace shoal::server
