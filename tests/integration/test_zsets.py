"""Sorted-set commands against redis-server 7.0.15, byte for byte.

Every script runs on an empty keyspace of redis-server 7.0.15 (started here
as the reference) and of shoal, once in RESP2 and once after HELLO 3, and
the raw reply bytes must be equal. Seeded random walks over every
deterministic command add cases nobody wrote by hand; the seed is in the
failure text.

Where Redis itself does not fix the answer, the test checks what Redis
guarantees instead: ZRANDMEMBER's picks (counts, membership, distinctness
for a positive count, every member for a count past the size), and ZSCAN of
a set past 128 members (Redis walks its hash table, shoal the member hashes:
every member comes back, with its score, and the walk ends at cursor 0).

In a 3-node cluster the commands work through any node, a write through one
node is read through another, and ZRANGESTORE needs both keys on one
replica set (CROSSSLOT otherwise).
"""

import random
import threading

import cluster_harness as ch
import shoal_harness as h

SCRIPTS = {
    "zadd options": [
        ("ZADD", "z", "1", "a"),
        ("ZADD", "z", "2", "b", "3", "c"),
        ("ZADD", "z", "1", "a"),
        ("ZADD", "z", "CH", "5", "a", "2", "b", "9", "d"),
        ("ZADD", "z", "NX", "0", "a", "7", "e"),
        ("ZADD", "z", "XX", "0", "a", "7", "f"),
        ("ZADD", "z", "XX", "CH", "GT", "4", "a", "10", "b"),
        ("ZADD", "z", "LT", "CH", "100", "c", "-1", "d"),
        ("ZADD", "z", "gt", "ch", "1", "new"),
        ("ZADD", "z", "INCR", "1.5", "a"),
        ("ZADD", "z", "INCR", "NX", "1", "a"),
        ("ZADD", "z", "INCR", "XX", "1", "nope"),
        ("ZADD", "z", "INCR", "GT", "-1", "a"),
        ("ZADD", "z", "INCR", "LT", "-1", "a"),
        ("ZADD", "z", "INCR", "XX", "1", "a"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZADD", "z", "NX", "XX", "1", "a"),
        ("ZADD", "z", "NX", "GT", "1", "a"),
        ("ZADD", "z", "GT", "LT", "1", "a"),
        ("ZADD", "z", "NX", "LT", "1", "a"),
        ("ZADD", "z", "INCR", "1", "a", "2", "b"),
        ("ZADD", "z", "1", "a", "2"),
        ("ZADD", "z", "NX", "1"),
        ("ZADD", "z", "nx", "xx", "1"),
        ("ZADD", "z", "x", "a"),
        ("ZADD", "z", "1", "a", "x", "b"),
        ("ZADD", "z", "nan", "a"),
        ("ZADD", "z", "1e400", "a"),
        ("ZADD", "z", " 1", "a"),
        ("ZADD", "z", "", "a"),
        ("ZADD", "z", "1"),
        ("ZADD", "z", "NX", "XX", "x", "a"),
        ("ZADD", "nokey", "XX", "1", "a"),
        ("EXISTS", "nokey"),
        ("ZADD", "nokey", "XX", "INCR", "1", "a"),
        ("ZADD", "z", "+inf", "pinf", "-inf", "ninf", "0x10", "hex", "1e3", "exp", "-0", "negzero"),
        ("ZADD", "z", "1e-310", "tiny", "-1.5e-3", "small"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZSCORE", "z", "negzero"),
        ("ZSCORE", "z", "tiny"),
        ("ZADD", "z", "1", "a", "2", "a", "3", "a"),
        ("ZADD", "z", "CH", "1", "a", "1", "a"),
        ("ZSCORE", "z", "a"),
        ("ZCARD", "z"),
        ("SET", "str", "x"),
        ("ZADD", "str", "1", "a"),
        ("ZADD", "str", "x", "a"),
        ("ZADD", "str", "NX", "XX", "1", "a"),
    ],
    "zincrby": [
        ("ZINCRBY", "z", "1", "a"),
        ("ZINCRBY", "z", "0.1", "a"),
        ("ZINCRBY", "z", "0.2", "a"),
        ("ZINCRBY", "z", "-1.3", "a"),
        ("ZINCRBY", "z", "1e308", "a"),
        ("ZINCRBY", "z", "1e308", "a"),
        ("ZINCRBY", "z", "inf", "b"),
        ("ZINCRBY", "z", "-inf", "b"),
        ("ZSCORE", "z", "b"),
        ("ZINCRBY", "z", "inf", "b"),
        ("ZINCRBY", "z", "x", "a"),
        ("ZINCRBY", "z", "nx", "a"),
        ("ZINCRBY", "z", "incr", "a"),
        ("ZINCRBY", "z", "1"),
        ("ZADD", "z", "INCR", "inf", "c"),
        ("ZADD", "z", "INCR", "-inf", "c"),
        ("ZINCRBY", "z", "0", "c"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("SET", "s", "v"),
        ("ZINCRBY", "s", "1", "a"),
        ("ZINCRBY", "s", "x", "a"),
    ],
    "zrem zscore zmscore zcard": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c"),
        ("ZREM", "z", "a", "nope"),
        ("ZREM", "z", "nope"),
        ("ZREM", "nokey", "a"),
        ("ZSCORE", "z", "b"),
        ("ZSCORE", "z", "a"),
        ("ZSCORE", "nokey", "a"),
        ("ZMSCORE", "z", "a", "b", "c"),
        ("ZMSCORE", "nokey", "a", "b"),
        ("ZMSCORE", "z"),
        ("ZCARD", "z"),
        ("ZCARD", "nokey"),
        ("ZREM", "z", "b", "c", "b"),
        ("EXISTS", "z"),
        ("ZCARD", "z"),
        ("ZREM", "z"),
        ("SET", "s", "v"),
        ("ZREM", "s", "a"),
        ("ZSCORE", "s", "a"),
        ("ZMSCORE", "s", "a"),
        ("ZCARD", "s"),
        ("ZADD", "t", "1", "a"),
        ("EXPIRE", "t", "100"),
        ("ZADD", "t", "2", "b"),
        ("ZINCRBY", "t", "1", "a"),
        ("ZREM", "t", "b"),
        ("TTL", "t"),
        ("ZREM", "t", "a"),
        ("TTL", "t"),
    ],
    "zrange by rank": [
        ("ZADD", "z", "1", "a", "2", "b", "2", "c", "3", "d", "inf", "e", "-inf", "f"),
        ("ZRANGE", "z", "0", "-1"),
        ("ZRANGE", "z", "0", "-1", "WITHSCORES"),
        ("ZRANGE", "z", "1", "3", "withscores"),
        ("ZRANGE", "z", "-2", "-1"),
        ("ZRANGE", "z", "-100", "100"),
        ("ZRANGE", "z", "3", "1"),
        ("ZRANGE", "z", "10", "20"),
        ("ZRANGE", "z", "0", "-10"),
        ("ZRANGE", "z", "0", "1", "REV"),
        ("ZRANGE", "z", "0", "1", "REV", "WITHSCORES"),
        ("ZRANGE", "z", "0", "1", "LIMIT", "0", "1"),
        ("ZRANGE", "z", "0", "1", "LIMIT", "0", "-1"),
        ("ZRANGE", "z", "0", "1", "LIMIT", "1"),
        ("ZRANGE", "z", "0", "1", "REV", "REV"),
        ("ZRANGE", "z", "0", "1", "junk"),
        ("ZRANGE", "z", "a", "1"),
        ("ZRANGE", "z", "0", "1.5"),
        ("ZRANGE", "z", "0"),
        ("ZRANGE", "nokey", "0", "-1"),
        ("ZRANGE", "nokey", "0", "-1", "WITHSCORES"),
        ("ZREVRANGE", "z", "0", "2"),
        ("ZREVRANGE", "z", "0", "2", "WITHSCORES"),
        ("ZREVRANGE", "z", "-1", "-1"),
        ("ZREVRANGE", "z", "0", "2", "REV"),
        ("ZREVRANGE", "z", "0", "2", "BYSCORE"),
        ("ZREVRANGE", "z", "0", "2", "LIMIT", "0", "1"),
        ("SET", "s", "v"),
        ("ZRANGE", "s", "0", "-1"),
        ("ZRANGE", "s", "x", "-1"),
    ],
    "zrange by score": [
        ("ZADD", "z", "1", "a", "2", "b", "2", "c", "3", "d", "inf", "e", "-inf", "f", "2.5", "g"),
        ("ZRANGE", "z", "2", "3", "BYSCORE"),
        ("ZRANGE", "z", "(2", "3", "BYSCORE", "WITHSCORES"),
        ("ZRANGE", "z", "-inf", "+inf", "BYSCORE"),
        ("ZRANGE", "z", "(-inf", "(+inf", "BYSCORE"),
        ("ZRANGE", "z", "3", "2", "BYSCORE"),
        ("ZRANGE", "z", "3", "2", "BYSCORE", "REV"),
        ("ZRANGE", "z", "(3", "(2", "BYSCORE", "REV", "WITHSCORES"),
        ("ZRANGE", "z", "2", "2", "BYSCORE"),
        ("ZRANGE", "z", "(2", "2", "BYSCORE"),
        ("ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "1", "3"),
        ("ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "1", "-1"),
        ("ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "-1", "3"),
        ("ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "100", "3"),
        ("ZRANGE", "z", "-inf", "inf", "BYSCORE", "LIMIT", "2", "0"),
        ("ZRANGE", "z", "inf", "-inf", "BYSCORE", "REV", "LIMIT", "2", "2", "WITHSCORES"),
        ("ZRANGE", "z", "1", "2", "BYSCORE", "LIMIT", "0", "1", "LIMIT", "1", "1"),
        ("ZRANGE", "z", "1", "2", "BYSCORE", "BYLEX"),
        ("ZRANGE", "z", "1", "2", "BYSCORE", "BYSCORE"),
        ("ZRANGE", "z", "x", "2", "BYSCORE"),
        ("ZRANGE", "z", "1", "nan", "BYSCORE"),
        ("ZRANGE", "z", "[1", "2", "BYSCORE"),
        ("ZRANGE", "z", "", "(", "BYSCORE"),
        ("ZRANGE", "z", " 1", "3 ", "BYSCORE"),
        ("ZRANGE", "z", "0x1", "0x2", "BYSCORE"),
        ("ZRANGE", "z", "1", "2", "BYSCORE", "LIMIT", "x", "1"),
        ("ZRANGEBYSCORE", "z", "1", "2"),
        ("ZRANGEBYSCORE", "z", "1", "2", "WITHSCORES"),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "2", "3", "WITHSCORES"),
        ("ZRANGEBYSCORE", "z", "-inf", "+inf", "WITHSCORES", "LIMIT", "2", "3"),
        ("ZRANGEBYSCORE", "z", "1", "2", "REV"),
        ("ZRANGEBYSCORE", "z", "1", "2", "BYSCORE"),
        ("ZRANGEBYSCORE", "z", "1", "2", "LIMIT", "1"),
        ("ZRANGEBYSCORE", "z", "a", "2"),
        ("ZREVRANGEBYSCORE", "z", "2", "1"),
        ("ZREVRANGEBYSCORE", "z", "+inf", "(2", "WITHSCORES"),
        ("ZREVRANGEBYSCORE", "z", "1", "2"),
        ("ZREVRANGEBYSCORE", "z", "+inf", "-inf", "LIMIT", "1", "2"),
        ("ZRANGEBYSCORE", "nokey", "1", "2"),
        ("ZCOUNT", "z", "2", "3"),
        ("ZCOUNT", "z", "(2", "(3"),
        ("ZCOUNT", "z", "-inf", "+inf"),
        ("ZCOUNT", "z", "3", "2"),
        ("ZCOUNT", "z", "x", "2"),
        ("ZCOUNT", "nokey", "1", "2"),
        ("ZCOUNT", "nokey", "x", "2"),
        ("SET", "s", "v"),
        ("ZCOUNT", "s", "1", "2"),
        ("ZCOUNT", "s", "x", "2"),
        ("ZRANGEBYSCORE", "s", "1", "2"),
    ],
    "zrange by lex": [
        ("ZADD", "z", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "", "0", "\xff", "0", "ab"),
        ("ZRANGE", "z", "-", "+", "BYLEX"),
        ("ZRANGE", "z", "[b", "(d", "BYLEX"),
        ("ZRANGE", "z", "(b", "[d", "BYLEX"),
        ("ZRANGE", "z", "[a", "[a", "BYLEX"),
        ("ZRANGE", "z", "(a", "[a", "BYLEX"),
        ("ZRANGE", "z", "[", "(b", "BYLEX"),
        ("ZRANGE", "z", "(", "+", "BYLEX"),
        ("ZRANGE", "z", "+", "-", "BYLEX"),
        ("ZRANGE", "z", "-", "-", "BYLEX"),
        ("ZRANGE", "z", "(d", "[b", "BYLEX", "REV"),
        ("ZRANGE", "z", "+", "-", "BYLEX", "REV", "LIMIT", "1", "3"),
        ("ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "2", "2"),
        ("ZRANGE", "z", "-", "+", "BYLEX", "LIMIT", "-1", "2"),
        ("ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"),
        ("ZRANGE", "z", "a", "+", "BYLEX"),
        ("ZRANGE", "z", "", "+", "BYLEX"),
        ("ZRANGE", "z", "-a", "+", "BYLEX"),
        ("ZRANGE", "z", "-", "++", "BYLEX"),
        ("ZRANGEBYLEX", "z", "-", "[c"),
        ("ZRANGEBYLEX", "z", "[aa", "(c", "LIMIT", "0", "2"),
        ("ZRANGEBYLEX", "z", "-", "+", "WITHSCORES"),
        ("ZRANGEBYLEX", "z", "-", "+", "REV"),
        ("ZRANGEBYLEX", "z", "x", "+"),
        ("ZREVRANGEBYLEX", "z", "[c", "-"),
        ("ZREVRANGEBYLEX", "z", "+", "(b", "LIMIT", "1", "10"),
        ("ZREVRANGEBYLEX", "z", "-", "+"),
        ("ZLEXCOUNT", "z", "-", "+"),
        ("ZLEXCOUNT", "z", "[b", "(d"),
        ("ZLEXCOUNT", "z", "(d", "[b"),
        ("ZLEXCOUNT", "z", "x", "+"),
        ("ZLEXCOUNT", "nokey", "-", "+"),
        ("ZLEXCOUNT", "nokey", "x", "+"),
        # Members of different scores: what Redis's small encoding selects.
        ("ZADD", "m", "1", "b", "2", "a", "3", "d", "4", "c"),
        ("ZRANGE", "m", "[a", "[c", "BYLEX"),
        ("ZRANGE", "m", "[b", "+", "BYLEX"),
        ("ZRANGE", "m", "[c", "[a", "BYLEX", "REV"),
        ("ZRANGE", "m", "-", "(b", "BYLEX"),
        ("ZLEXCOUNT", "m", "[a", "[c"),
        ("SET", "s", "v"),
        ("ZRANGEBYLEX", "s", "-", "+"),
        ("ZLEXCOUNT", "s", "-", "+"),
    ],
    "zrank": [
        ("ZADD", "z", "1", "a", "2", "b", "2", "c", "3", "d"),
        ("ZRANK", "z", "a"),
        ("ZRANK", "z", "c"),
        ("ZRANK", "z", "d"),
        ("ZRANK", "z", "nope"),
        ("ZRANK", "nokey", "a"),
        ("ZREVRANK", "z", "a"),
        ("ZREVRANK", "z", "b"),
        ("ZREVRANK", "z", "nope"),
        ("ZRANK", "z"),
        ("ZRANK", "z", "a", "WITHSCORE"),
        ("SET", "s", "v"),
        ("ZRANK", "s", "a"),
        ("ZREVRANK", "s", "a"),
    ],
    "zpopmin zpopmax": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e"),
        ("ZPOPMIN", "z"),
        ("ZPOPMAX", "z"),
        ("ZPOPMIN", "z", "2"),
        ("ZPOPMIN", "z", "0"),
        ("ZPOPMAX", "z", "10"),
        ("EXISTS", "z"),
        ("ZPOPMIN", "z"),
        ("ZPOPMIN", "z", "3"),
        ("ZPOPMIN", "z", "-1"),
        ("ZPOPMIN", "z", "x"),
        ("ZPOPMIN", "z", "1", "2"),
        ("ZPOPMAX", "nokey", "0"),
        ("ZADD", "z", "1", "a"),
        ("ZPOPMIN", "z", "-1"),
        ("ZPOPMAX", "z", "1"),
        ("SET", "s", "v"),
        ("ZPOPMIN", "s"),
        ("ZPOPMAX", "s", "0"),
        ("ZPOPMIN", "s", "-1"),
        ("ZADD", "t", "1", "a", "2", "b"),
        ("EXPIRE", "t", "100"),
        ("ZPOPMIN", "t"),
        ("TTL", "t"),
    ],
    "zrangestore": [
        ("ZADD", "src", "1", "a", "2", "b", "3", "c", "4", "d"),
        ("ZRANGESTORE", "dst", "src", "0", "1"),
        ("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "dst", "src", "(1", "3", "BYSCORE"),
        ("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "dst", "src", "3", "1", "BYSCORE", "REV", "LIMIT", "0", "2"),
        ("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "dst", "src", "[b", "+", "BYLEX"),
        ("ZRANGESTORE", "dst", "src", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "dst", "src", "0", "-1", "LIMIT", "0", "1"),
        ("ZRANGESTORE", "dst", "src", "5", "10"),
        ("EXISTS", "dst"),
        ("ZRANGESTORE", "dst", "nokey", "0", "-1"),
        ("SET", "dst", "string"),
        ("EXPIRE", "dst", "100"),
        ("ZRANGESTORE", "dst", "src", "0", "0"),
        ("ZRANGE", "dst", "0", "-1", "WITHSCORES"),
        ("TTL", "dst"),
        ("SET", "dst", "string"),
        ("ZRANGESTORE", "dst", "nokey", "0", "0"),
        ("EXISTS", "dst"),
        ("SET", "str", "x"),
        ("ZRANGESTORE", "dst", "str", "0", "-1"),
        ("ZRANGESTORE", "str", "src", "0", "-1"),
        ("ZRANGE", "str", "0", "-1"),
        ("ZRANGESTORE", "src", "src", "1", "2"),
        ("ZRANGE", "src", "0", "-1", "WITHSCORES"),
        ("ZRANGESTORE", "dst", "src", "0"),
    ],
    "zremrange": [
        ("ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f"),
        ("ZREMRANGEBYRANK", "z", "0", "0"),
        ("ZREMRANGEBYRANK", "z", "-1", "-1"),
        ("ZREMRANGEBYRANK", "z", "10", "20"),
        ("ZREMRANGEBYRANK", "z", "x", "1"),
        ("ZRANGE", "z", "0", "-1"),
        ("ZREMRANGEBYSCORE", "z", "(2", "3"),
        ("ZREMRANGEBYSCORE", "z", "10", "20"),
        ("ZREMRANGEBYSCORE", "z", "x", "1"),
        ("ZRANGE", "z", "0", "-1"),
        ("ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d"),
        ("ZREMRANGEBYLEX", "l", "[b", "(d"),
        ("ZREMRANGEBYLEX", "l", "x", "+"),
        ("ZRANGE", "l", "0", "-1"),
        ("ZREMRANGEBYLEX", "l", "-", "+"),
        ("EXISTS", "l"),
        ("ZREMRANGEBYRANK", "nokey", "0", "-1"),
        ("ZREMRANGEBYSCORE", "nokey", "x", "1"),
        ("SET", "s", "v"),
        ("ZREMRANGEBYRANK", "s", "0", "1"),
        ("ZREMRANGEBYSCORE", "s", "0", "1"),
        ("ZREMRANGEBYLEX", "s", "-", "+"),
    ],
    "zrandmember and zscan, deterministic cases": [
        ("ZADD", "z", "1", "a", "2.5", "b", "-0", "c", "inf", "d", "1e17", "e"),
        ("ZRANDMEMBER", "z", "10"),
        ("ZRANDMEMBER", "z", "5", "WITHSCORES"),
        ("ZRANDMEMBER", "z", "0"),
        ("ZRANDMEMBER", "z", "0", "WITHSCORES"),
        ("ZRANDMEMBER", "nokey"),
        ("ZRANDMEMBER", "nokey", "5"),
        ("ZRANDMEMBER", "z", "x"),
        ("ZRANDMEMBER", "z", "1", "junk"),
        ("ZRANDMEMBER", "z", "1", "WITHSCORES", "x"),
        ("ZRANDMEMBER", "z", "-9223372036854775808"),
        ("ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"),
        ("ZRANDMEMBER", "z", "9223372036854775807", "WITHSCORES"),
        ("ZSCAN", "z", "0"),
        ("ZSCAN", "z", "0", "MATCH", "[a-c]"),
        ("ZSCAN", "z", "0", "COUNT", "1"),
        ("ZSCAN", "z", "123"),
        ("ZSCAN", "z", "0", "COUNT", "0"),
        ("ZSCAN", "z", "0", "COUNT", "x"),
        ("ZSCAN", "z", "0", "TYPE", "zset"),
        ("ZSCAN", "z", "0", "MATCH"),
        ("ZSCAN", "z", "x"),
        ("ZSCAN", "z", "-1"),
        ("ZSCAN", "nokey", "0"),
        ("ZSCAN", "nokey", "0", "junk"),
        ("SET", "s", "v"),
        ("ZSCAN", "s", "0"),
        ("ZRANDMEMBER", "s"),
        ("ZRANDMEMBER", "s", "2"),
    ],
    "arity": [
        ("ZADD", "z", "1"),
        ("ZINCRBY", "z", "1"),
        ("ZREM", "z"),
        ("ZSCORE", "z"),
        ("ZMSCORE", "z"),
        ("ZCARD",),
        ("ZCOUNT", "z", "1"),
        ("ZRANGE", "z", "1"),
        ("ZRANGESTORE", "d", "s", "1"),
        ("ZREVRANGE", "z", "1"),
        ("ZRANGEBYSCORE", "z", "1"),
        ("ZLEXCOUNT", "z", "1"),
        ("ZRANK", "z"),
        ("ZPOPMIN",),
        ("ZRANDMEMBER",),
        ("ZSCAN", "z"),
        ("ZREMRANGEBYRANK", "z", "1"),
    ],
}


def random_zset_walk(rng, steps):
    """A random sequence of deterministic sorted-set commands over two keys,
    with scores that tie, cross zero, reach infinity and have long decimals."""
    keys = ["w1", "w2"]
    members = ["a", "b", "c", "d", "e", "f", "g", "aa", "ab", ""]
    scores = ["0", "1", "-1", "2.5", "0.1", "0.2", "-0.3", "1e10", "inf", "-inf", "3", "3", "1e-5"]

    def num(lo, hi):
        return str(rng.randint(lo, hi))

    def score_bound():
        v = rng.choice(scores + ["+inf", "-inf", "2", "(1", "(0.1", "(inf"])
        return v if v.startswith("(") or rng.random() < 0.7 else "(" + v

    def lex_bound():
        return rng.choice(["-", "+"]) if rng.random() < 0.25 else rng.choice("[(") + rng.choice(members)

    def limit():
        return ("LIMIT", num(-1, 4), num(-1, 4)) if rng.random() < 0.4 else ()

    cmds = []
    for _ in range(steps):
        k = rng.choice(keys)
        pick = rng.randrange(18) - 2  # ZADD twice as often: the sets must grow
        if pick <= 2:
            flags = tuple(f for f in ("NX", "XX", "GT", "LT", "CH") if rng.random() < 0.12)
            n = 1 if rng.random() < 0.3 else rng.randint(1, 5)
            incr = ("INCR",) if n == 1 and rng.random() < 0.2 else ()
            pairs = tuple(x for _ in range(n) for x in (rng.choice(scores), rng.choice(members)))
            cmds.append(("ZADD", k) + flags + incr + pairs)
        elif pick == 3:
            cmds.append(("ZINCRBY", k, rng.choice(scores), rng.choice(members)))
        elif pick == 4:
            cmds.append(("ZREM", k) + tuple(rng.sample(members, rng.randint(1, 3))))
        elif pick == 5:
            cmds.append(("ZRANGE", k, num(-6, 6), num(-6, 6)) + (("REV",) if rng.random() < 0.4 else ())
                        + (("WITHSCORES",) if rng.random() < 0.5 else ()))
        elif pick == 6:
            rev = rng.random() < 0.4
            cmds.append(("ZRANGE", k, score_bound(), score_bound(), "BYSCORE") + (("REV",) if rev else ())
                        + limit() + (("WITHSCORES",) if rng.random() < 0.5 else ()))
        elif pick == 7:
            cmds.append(("ZRANGE", k, lex_bound(), lex_bound(), "BYLEX") + (("REV",) if rng.random() < 0.4 else ())
                        + limit())
        elif pick == 8:
            cmds.append((rng.choice(["ZCOUNT"]), k, score_bound(), score_bound()))
            cmds.append(("ZLEXCOUNT", k, lex_bound(), lex_bound()))
        elif pick == 9:
            cmds.append((rng.choice(["ZRANK", "ZREVRANK"]), k, rng.choice(members)))
            cmds.append(("ZMSCORE", k) + tuple(rng.sample(members, 3)))
        elif pick == 10:
            cmds.append((rng.choice(["ZPOPMIN", "ZPOPMAX"]), k) + ((num(0, 2),) if rng.random() < 0.6 else ()))
        elif pick == 11:
            other = rng.choice(keys)
            cmds.append(("ZRANGESTORE", other, k, num(-8, 2), num(-2, 8)))
        elif pick == 12:
            which = rng.randrange(3)
            if which == 0:
                cmds.append(("ZREMRANGEBYRANK", k, num(-4, 4), num(-4, 4)))
            elif which == 1:
                cmds.append(("ZREMRANGEBYSCORE", k, score_bound(), score_bound()))
            else:
                cmds.append(("ZREMRANGEBYLEX", k, lex_bound(), lex_bound()))
        elif pick == 13:
            cmds.append(("ZSCAN", k, "0") + (("MATCH", rng.choice(["*", "a*", "?", "[b-d]"])) if rng.random() < 0.5 else ()))
        elif pick == 14:
            cmds.append((rng.choice(["ZREVRANGEBYSCORE", "ZRANGEBYSCORE"]), k, score_bound(), score_bound()) + limit())
        else:
            cmds.append(("ZRANGE", k, "0", "-1", "WITHSCORES"))
            cmds.append(("ZCARD", k))
    return cmds


def run_raw(server, commands, resp3=False):
    """Runs `commands` on an empty keyspace; returns each raw reply."""
    with server.client() as c:
        c.call("FLUSHALL")
        if resp3:
            c.call("HELLO", "3")
        return [c.call_bytes(*[a.encode("latin-1") for a in cmd]) for cmd in commands]


def diff_lines(commands, want, got):
    lines = []
    for cmd, w, g in zip(commands, want, got):
        if w != g:
            lines.append("  %s\n    redis-server: %r\n    shoal:        %r" % (" ".join(cmd), w, g))
    return lines


class ZsetCompatMixin:
    """Needs self.redis (the reference) and self.target (the server under test)."""

    def compare(self, name, commands):
        failures = []
        for resp3 in (False, True):
            want = run_raw(self.redis, commands, resp3)
            got = run_raw(self.target, commands, resp3)
            lines = diff_lines(commands, want, got)
            if lines:
                failures.append("%s (%s): %d of %d replies differ:\n%s"
                                % (name, "RESP3" if resp3 else "RESP2", len(lines), len(commands), "\n".join(lines[:15])))
        return failures

    def test_scripts_match_redis(self):
        failures = []
        for name, commands in SCRIPTS.items():
            failures += self.compare(name, commands)
        if failures:
            self.fail("\nreplies differ from redis-server 7.0.15:\n" + "\n".join(failures))

    def test_random_walks_match_redis(self):
        failures = []
        for seed in range(5):
            rng = random.Random(seed)
            failures += self.compare("random walk, seed %d" % seed, random_zset_walk(rng, 300))
        if failures:
            self.fail("\n" + "\n".join(failures))


@ch.skip_unless_shoal
class SingleNodeZsetTest(ZsetCompatMixin, h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis-reference")
        cls.target = cls.start_class_server(name="shoal")

    def test_zrandmember_keeps_redis_guarantees(self):
        members = {("m%d" % i).encode(): float(i) for i in range(20)}
        with self.target.client() as c:
            c.call("FLUSHALL")
            c.call("ZADD", "z", *[x for m, s in members.items() for x in (str(s), m)])
            for _ in range(20):
                self.assertIn(c.call("ZRANDMEMBER", "z"), members)
                picked = c.call("ZRANDMEMBER", "z", "7")
                self.assertEqual(len(picked), 7)
                self.assertEqual(len(set(picked)), 7, picked)
                self.assertTrue(set(picked) <= set(members))
                rep = c.call("ZRANDMEMBER", "z", "-50")
                self.assertEqual(len(rep), 50)
                self.assertTrue(set(rep) <= set(members))
                ws = c.call("ZRANDMEMBER", "z", "-5", "WITHSCORES")
                self.assertEqual(len(ws), 10)
                for m, s in zip(ws[::2], ws[1::2]):
                    self.assertEqual(float(s), members[m])
            c.call("HELLO", "3")
            pairs = c.call("ZRANDMEMBER", "z", "3", "WITHSCORES")
            self.assertEqual(len(pairs), 3)
            for m, s in pairs:
                self.assertEqual(s, members[m])
            # Different calls draw differently (not one fixed answer).
            draws = {tuple(c.call("ZRANDMEMBER", "z", "5")) for _ in range(10)}
            self.assertGreater(len(draws), 1)

    def test_zscan_of_a_big_set_returns_every_member(self):
        # Past 128 members Redis walks its hash table; shoal walks member
        # hashes. Either way each member present throughout comes back.
        with self.target.client() as c:
            c.call("FLUSHALL")
            c.call("ZADD", "big", *[x for i in range(500) for x in (str(i / 4), "member:%d" % i)])
            seen = {}
            cursor, calls = b"0", 0
            while True:
                cursor, items = c.call("ZSCAN", "big", cursor, "COUNT", "40")
                for m, s in zip(items[::2], items[1::2]):
                    seen[m] = s
                # A member removed mid-scan may or may not come back; one
                # added may too: only the stable ones are checked.
                if calls == 3:
                    c.call("ZREM", "big", "member:499")
                    c.call("ZADD", "big", "1", "late")
                calls += 1
                if cursor == b"0" or calls > 200:
                    break
            self.assertEqual(cursor, b"0")
            self.assertGreater(calls, 5)
            for i in range(499):
                self.assertEqual(seen.get(b"member:%d" % i), b"%.17g" % (i / 4), i)
            matched = c.call("ZSCAN", "big", "0", "MATCH", "member:1?", "COUNT", "1000")
            names = set(matched[1][::2])
            self.assertEqual(names, {b"member:1%d" % i for i in range(10)})

    def test_command_rows_match_redis(self):
        names = ["zadd", "zincrby", "zrem", "zscore", "zmscore", "zcard", "zcount", "zrange", "zrangestore",
                 "zrevrange", "zrangebyscore", "zrevrangebyscore", "zrangebylex", "zrevrangebylex", "zlexcount",
                 "zrank", "zrevrank", "zpopmin", "zpopmax", "zscan", "zrandmember", "zremrangebyrank",
                 "zremrangebyscore", "zremrangebylex"]
        with self.redis.client() as r, self.target.client() as t:
            want = r.call("COMMAND", "INFO", *names)
            got = t.call("COMMAND", "INFO", *names)
            for w, g in zip(want, got):
                # name, arity, flags, first key, last key, step
                self.assertEqual(g[:6], w[:6], w[0])
            for name in names:
                wd = r.call("COMMAND", "DOCS", name)
                gd = t.call("COMMAND", "DOCS", name)
                wf = dict(zip(wd[1][::2], wd[1][1::2]))
                gf = dict(zip(gd[1][::2], gd[1][1::2]))
                for field in (b"summary", b"since", b"group"):
                    self.assertEqual(gf.get(field), wf.get(field), (name, field))

    def test_other_sorted_set_commands_say_unsupported(self):
        with self.target.client() as c:
            for cmd in (("ZUNIONSTORE", "d", "1", "z"), ("BZPOPMIN", "z", "0"), ("ZMPOP", "1", "z", "MIN")):
                reply = c.request(*cmd)
                self.assertIsInstance(reply, h.ReplyError, cmd)
                self.assertTrue(reply.message.startswith("ERR unsupported command '%s': " % cmd[0]), reply.message)


@ch.skip_unless_shoal
class ClusterZsetTest(ch.ClusterTestCase):
    """In a 3-node cluster (N=2, R=1, W=2) the commands work through any
    node, and a write through one node is read through another."""

    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis-reference")
        cls.cluster = cls.start_class_cluster(3, replicas=2, read_quorum=1, write_quorum=2)

    def test_scripts_through_every_node(self):
        commands = [c for name in ("zadd options", "zincrby", "zrange by score", "zpopmin zpopmax", "zremrange")
                    for c in SCRIPTS[name]]
        want = run_raw(self.redis, commands)
        for node in self.cluster.nodes:
            got = run_raw(node, commands)
            lines = diff_lines(commands, want, got)
            if lines:
                self.fail("\nthrough %s:\n%s" % (node.name, "\n".join(lines[:20])))

    def test_write_on_one_node_read_on_another(self):
        a, b, c = self.cluster.nodes
        with a.client() as ca:
            ca.call("FLUSHALL")
            self.assertEqual(ca.call("ZADD", "board", "10", "ann", "20", "bob", "15", "cy"), 3)
            self.assertEqual(ca.call("ZINCRBY", "board", "7", "ann"), b"17")
        with c.client() as cc:
            self.assertEqual(cc.call("ZRANGE", "board", "0", "-1", "WITHSCORES"),
                             [b"cy", b"15", b"ann", b"17", b"bob", b"20"])
            self.assertEqual(cc.call("ZPOPMAX", "board"), [b"bob", b"20"])
        with b.client() as cb:
            self.assertEqual(cb.call("ZCARD", "board"), 2)
            self.assertEqual(cb.call("ZRANK", "board", "ann"), 1)

    def test_racing_zpopmin_through_two_nodes_pops_each_member_once(self):
        # A healthy cluster coordinates every read-modify-write of a key on
        # its first primary: two consumers popping through two nodes get
        # each member exactly once (across a partition: at least once, see
        # README, Sorted sets).
        cl = self.cluster
        with cl.nodes[0].client() as c:
            c.call("DEL", "queue")
            c.call("ZADD", "queue", *[x for i in range(200) for x in (str(i), "job%d" % i)])
        got = [[], []]
        errors = []

        def consume(n, i):
            try:
                with cl.nodes[n].client() as c:
                    while True:
                        r = c.call("ZPOPMIN", "queue")
                        if not r:
                            return
                        got[i].append(r[0])
            except Exception as e:  # reported below, with the thread's index
                errors.append((i, e))

        threads = [threading.Thread(target=consume, args=(n, i)) for i, n in enumerate((1, 2))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertFalse(any(t.is_alive() for t in threads), "a consumer did not finish")
        popped = got[0] + got[1]
        self.assertEqual(sorted(popped), sorted(b"job%d" % i for i in range(200)))
        self.assertGreater(min(len(got[0]), len(got[1])), 0, "one consumer got nothing: no race")

    def test_zrangestore_needs_one_replica_set(self):
        cl = self.cluster
        first = [n.name for n in cl.replicas_of("src")]
        same = cl.find_key(lambda nodes: [n.name for n in nodes] == first, prefix="same")
        other = cl.find_key(lambda nodes: [n.name for n in nodes] != first, prefix="other")
        with cl.nodes[0].client() as c:
            c.call("FLUSHALL")
            c.call("ZADD", "src", "1", "a", "2", "b")
            self.assertEqual(c.call("ZRANGESTORE", same, "src", "0", "0"), 1)
            self.assertEqual(c.call("ZRANGESTORE", "{t}dst", "{t}src", "0", "0"), 0)
            self.assertReplyError(c.request("ZRANGESTORE", other, "src", "0", "-1"),
                                  "CROSSSLOT Keys in request don't hash to the same slot")
        with cl.nodes[2].client() as c:
            self.assertEqual(c.call("ZRANGE", same, "0", "-1", "WITHSCORES"), [b"a", b"1"])


if __name__ == "__main__":
    h.main()
