// Redis commands shoal knowingly does not implement. They get a clear error
// naming the command instead of "unknown command", and README lists them.
// shoal stores strings (and, with the versioning issue, counters); the data
// types, transactions, scripting, pub/sub and Redis replication are outside
// its scope (see README "Commands").

#include "server/command.h"

namespace shoal::server {
namespace {

constexpr std::string_view kUnsupported[] = {
    // lists
    "lpush", "rpush", "lpushx", "rpushx", "lpop", "rpop", "llen", "lrange", "lindex", "lset",
    "lrem", "ltrim", "linsert", "lpos", "lmove", "blmove", "lmpop", "blmpop", "blpop", "brpop",
    "rpoplpush", "brpoplpush",
    // hashes
    "hset", "hsetnx", "hget", "hmset", "hmget", "hdel", "hlen", "hstrlen", "hexists", "hkeys",
    "hvals", "hgetall", "hincrby", "hincrbyfloat", "hrandfield", "hscan",
    // sets
    "sadd", "srem", "smembers", "sismember", "smismember", "scard", "spop", "srandmember",
    "smove", "sinter", "sintercard", "sinterstore", "sunion", "sunionstore", "sdiff",
    "sdiffstore", "sscan",
    // sorted sets
    "zadd", "zincrby", "zrem", "zcard", "zcount", "zscore", "zmscore", "zrank", "zrevrank",
    "zrange", "zrangestore", "zrevrange", "zrangebyscore", "zrevrangebyscore", "zrangebylex",
    "zrevrangebylex", "zlexcount", "zremrangebyrank", "zremrangebyscore", "zremrangebylex",
    "zpopmin", "zpopmax", "bzpopmin", "bzpopmax", "zmpop", "bzmpop", "zrandmember", "zunion",
    "zunionstore", "zinter", "zinterstore", "zintercard", "zdiff", "zdiffstore", "zscan",
    // streams
    "xadd", "xrange", "xrevrange", "xlen", "xread", "xreadgroup", "xgroup", "xack", "xpending",
    "xclaim", "xautoclaim", "xinfo", "xdel", "xtrim", "xsetid",
    // bitmaps, hyperloglog, geo
    "setbit", "getbit", "bitcount", "bitpos", "bitop", "bitfield", "bitfield_ro", "pfadd",
    "pfcount", "pfmerge", "geoadd", "geodist", "geohash", "geopos", "georadius",
    "georadiusbymember", "geosearch", "geosearchstore", "lcs",
    // transactions and scripting
    "multi", "exec", "discard", "watch", "unwatch", "eval", "evalsha", "eval_ro", "evalsha_ro",
    "script", "function", "fcall", "fcall_ro",
    // pub/sub
    "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "publish", "pubsub", "ssubscribe",
    "sunsubscribe", "spublish",
    // keyspace operations across keys or databases, persistence, replication
    "rename", "renamenx", "copy", "move", "swapdb", "dump", "restore", "migrate", "sort",
    "sort_ro", "object", "wait", "save", "bgsave", "lastsave", "replicaof", "slaveof", "sync",
    "psync", "failover", "monitor", "debug", "module", "acl", "latency", "memory", "slowlog",
    "lolwut", "readonly", "readwrite", "asking",
};

}  // namespace

void RegisterUnsupportedCommands(CommandTable& table) { table.RegisterUnsupported(kUnsupported); }

}  // namespace shoal::server
