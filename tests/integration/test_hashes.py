"""Hash commands against redis-server 7.0.15, on one node and in a cluster.

Every scripted case runs on redis-server 7.0.15 (started here as the
reference) and on shoal, in RESP2 and in RESP3, and the replies are compared
byte for byte after the normalisation of tests/support/container_compare.py:
HGETALL/HKEYS/HVALS as multisets (Redis's order is unspecified), HRANDFIELD
by shape (its picks are random), HSCAN's elements as a multiset (both return
a small hash whole with cursor 0). Seeded random walks add cases nobody
wrote by hand; the seed is in the failure text.

In a 3-node cluster (N=3, R=2, W=2) the same commands work through every
node, and a hash written through one node is read through another.
"""

import random

import cluster_harness as ch
import container_compare as cc
import shoal_harness as h

SCRIPTS = {
    "hset/hget family": [
        ("HSET", "h", "a", "1", "b", "2"),
        ("HSET", "h", "a", "3", "c"),
        ("HSET", "h"),
        ("HSET", "h", "a", "10", "a", "11"),
        ("HGET", "h", "a"),
        ("HSETNX", "h", "a", "9"),
        ("HSETNX", "h", "d", "4"),
        ("HSETNX", "h", "d"),
        ("HMSET", "h", "e", "5", "f", "6"),
        ("HMSET", "h", "e"),
        ("HGET", "h", "zz"),
        ("HGET", "nokey", "a"),
        ("HMGET", "h", "a", "zz", "b"),
        ("HMGET", "nokey", "a", "b"),
        ("HMGET", "h"),
        ("HEXISTS", "h", "a"),
        ("HEXISTS", "h", "zz"),
        ("HEXISTS", "nokey", "a"),
        ("HSTRLEN", "h", "a"),
        ("HSTRLEN", "h", "zz"),
        ("HSTRLEN", "nokey", "zz"),
        ("HLEN", "h"),
        ("HLEN", "nokey"),
        ("HGETALL", "h"),
        ("HKEYS", "h"),
        ("HVALS", "h"),
        ("HGETALL", "nokey"),
        ("HKEYS", "nokey"),
        ("HVALS", "nokey"),
        ("HDEL", "h", "a", "zz", "a"),
        ("HDEL", "nokey", "a"),
        ("HDEL", "h"),
        ("HDEL", "h", "b", "c", "d", "e", "f"),
        ("EXISTS", "h"),
        ("TYPE", "h"),
        ("HSET", "bin", "\x00\xff", "\r\n"),
        ("HGETALL", "bin"),
        ("HSET", "e", "", ""),
        ("HGET", "e", ""),
        ("HLEN", "e"),
    ],
    "hincrby/hincrbyfloat": [
        ("HINCRBY", "h", "n", "5"),
        ("HINCRBY", "h", "n", "-7"),
        ("HINCRBY", "h", "n", "x"),
        ("HINCRBY", "h", "n", "1.5"),
        ("HINCRBY", "h", "n", "9223372036854775807"),
        ("HINCRBY", "h", "n", "3"),
        ("HINCRBY", "h", "m", "-9223372036854775808"),
        ("HINCRBY", "h", "m", "-1"),
        ("HSET", "h", "s", "abc", "z", "007", "sp", " 1"),
        ("HINCRBY", "h", "s", "1"),
        ("HINCRBY", "h", "z", "1"),
        ("HINCRBY", "h", "sp", "1"),
        ("HINCRBYFLOAT", "h", "s", "1"),
        ("HINCRBYFLOAT", "h", "z", "1"),
        ("HINCRBYFLOAT", "h", "f", "1.5"),
        ("HINCRBYFLOAT", "h", "f", "0.1"),
        ("HINCRBYFLOAT", "h", "f", "-1.6"),
        ("HINCRBYFLOAT", "h", "f", "inf"),
        ("HINCRBYFLOAT", "h", "f", "-inf"),
        ("HINCRBYFLOAT", "h", "f", "nan"),
        ("HINCRBYFLOAT", "h", "f", "x"),
        ("HINCRBYFLOAT", "h", "f", "1e5000"),
        ("HINCRBYFLOAT", "h", "f", "1e308"),
        ("HINCRBYFLOAT", "h", "f", "1e308"),
        ("HINCRBYFLOAT", "h", "g", "5.0e3"),
        ("HINCRBYFLOAT", "h", "g", "0x10"),
        ("HINCRBYFLOAT", "h", "n", "0.5"),
        ("HINCRBY", "h", "n", "1"),
        ("HSET", "h", "i", "10"),
        ("HINCRBYFLOAT", "h", "i", "2.5"),
        ("HINCRBY", "h", "i", "1"),
        ("HGETALL", "h"),
        ("HINCRBY", "h", "n"),
        ("HINCRBYFLOAT", "h", "n"),
    ],
    "wrong types": [
        ("SET", "str", "v"),
        ("HGET", "str", "a"),
        ("HSET", "str", "a", "b"),
        ("HSETNX", "str", "a", "b"),
        ("HMSET", "str", "a", "b"),
        ("HMGET", "str", "a"),
        ("HGETALL", "str"),
        ("HKEYS", "str"),
        ("HVALS", "str"),
        ("HDEL", "str", "a"),
        ("HLEN", "str"),
        ("HSTRLEN", "str", "a"),
        ("HEXISTS", "str", "a"),
        ("HINCRBY", "str", "a", "1"),
        ("HINCRBYFLOAT", "str", "a", "1"),
        ("HRANDFIELD", "str"),
        ("HRANDFIELD", "str", "2"),
        ("HSCAN", "str", "0"),
        ("INCR", "ctr"),
        ("HGET", "ctr", "a"),
        ("HSET", "h", "f", "v"),
        ("GET", "h"),
        ("SET", "h2", "x"),
        ("INCR", "h"),
        ("INCRBYFLOAT", "h", "1"),
        ("APPEND", "h", "x"),
        ("STRLEN", "h"),
        ("GETRANGE", "h", "0", "1"),
        ("SETRANGE", "h", "0", "x"),
        ("GETDEL", "h"),
        ("GETEX", "h"),
        ("GETSET", "h", "x"),
        ("MGET", "h", "str"),
        ("SETBIT", "h", "1", "1"),
        ("BITCOUNT", "h"),
        ("SADD", "h", "m"),
        ("SMEMBERS", "h"),
        ("TYPE", "h"),
        ("SET", "h", "now a string"),
        ("TYPE", "h"),
        ("GET", "h"),
    ],
    "hrandfield": [
        ("HRANDFIELD", "nokey"),
        ("HRANDFIELD", "nokey", "3"),
        ("HRANDFIELD", "nokey", "-3", "WITHVALUES"),
        ("HSET", "h", "a", "1", "b", "2", "c", "3"),
        ("HRANDFIELD", "h"),
        ("HRANDFIELD", "h", "1", "2"),
        ("HRANDFIELD", "h", "1", "WITHVALUES", "x"),
        ("HRANDFIELD", "h", "x"),
        ("HRANDFIELD", "h", "-9223372036854775808"),
        ("HRANDFIELD", "h", "9223372036854775807"),
        ("HRANDFIELD", "h", "4611686018427387904", "withvalues"),
        ("HRANDFIELD", "h", "-4611686018427387904", "withvalues"),
        ("HRANDFIELD", "h", "0"),
        ("HRANDFIELD", "h", "0", "WITHVALUES"),
        ("HRANDFIELD", "h", "1"),
        ("HRANDFIELD", "h", "2"),
        ("HRANDFIELD", "h", "3"),
        ("HRANDFIELD", "h", "10"),
        ("HRANDFIELD", "h", "-1"),
        ("HRANDFIELD", "h", "-10"),
        ("HRANDFIELD", "h", "2", "WITHVALUES"),
        ("HRANDFIELD", "h", "5", "withvalues"),
        ("HRANDFIELD", "h", "-5", "WITHVALUES"),
    ],
    "hscan": [
        ("HSCAN", "nokey", "0"),
        ("HSCAN", "nokey", "0", "COUNT", "0"),
        ("HSCAN", "nokey", "x"),
        ("HSET", "h", "a", "1", "b", "2", "ab", "3"),
        ("HSCAN", "h", "0"),
        ("HSCAN", "h", "x"),
        ("HSCAN", "h", "-1"),
        ("HSCAN", "h", "0", "COUNT", "0"),
        ("HSCAN", "h", "0", "COUNT", "x"),
        ("HSCAN", "h", "0", "COUNT"),
        ("HSCAN", "h", "0", "TYPE", "string"),
        ("HSCAN", "h", "0", "NOVALUES"),
        ("HSCAN", "h", "0", "MATCH", "a*", "COUNT", "1"),
        ("HSCAN", "h", "0", "MATCH", "*"),
        ("HSCAN", "h", "0", "match", "[ab]"),
        ("HSCAN", "h", "7"),
        ("HSCAN", "h"),
    ],
    "keys holding hashes": [
        ("HSET", "h", "a", "1", "b", "2"),
        ("EXPIRE", "h", "100"),
        ("HSET", "h", "c", "3"),
        ("TTL", "h"),
        ("HINCRBY", "h", "a", "1"),
        ("HDEL", "h", "b"),
        ("TTL", "h"),
        ("RENAME", "h", "h2"),
        ("EXISTS", "h"),
        ("TTL", "h2"),
        ("HGETALL", "h2"),
        ("PERSIST", "h2"),
        ("TTL", "h2"),
        ("COPY", "h2", "h3"),
        ("HSET", "h3", "d", "4"),
        ("HLEN", "h2"),
        ("HLEN", "h3"),
        ("SET", "s", "x"),
        ("RENAMENX", "h3", "s"),
        ("COPY", "h3", "s"),
        ("COPY", "h3", "s", "REPLACE"),
        ("TYPE", "s"),
        ("HGETALL", "s"),
        ("DEL", "h2", "s", "nokey"),
        ("EXISTS", "h2", "s", "h3"),
        ("UNLINK", "h3"),
        ("HGET", "s", "d"),
        ("HSET", "t", "f", "v"),
        ("EXPIRE", "t", "0"),
        ("EXISTS", "t"),
        ("HSET", "t", "f", "v"),
        ("OBJECT", "ENCODING", "t"),
        ("HSET", "t", "long", "x" * 65),
        ("OBJECT", "ENCODING", "t"),
        ("OBJECT", "REFCOUNT", "t"),
        ("OBJECT", "ENCODING", "nokey"),
    ],
}


def random_hash_walk(rng, steps):
    """A random sequence of hash commands over three keys and a few fields
    (and a string key, for WRONGTYPE)."""
    keys = ["w1", "w2", "w3", "str"]
    fields = ["a", "b", "c", "d", "n", ""]
    cmds = [("SET", "str", "v")]

    def f():
        return rng.choice(fields)

    def num():
        return rng.choice([str(rng.randint(-50, 50)), "9223372036854775807", "-9223372036854775808", "x", "1.5"])

    def flt():
        return rng.choice([str(rng.randint(-50, 50)), "%.3f" % rng.uniform(-100, 100), "1e3", "inf", "x", "0.1"])

    for _ in range(steps):
        k = rng.choice(keys)
        pick = rng.randrange(14)
        if pick == 0:
            pairs = []
            for _ in range(rng.randint(1, 3)):
                pairs += [f(), rng.choice(["v", "1", "2.5", "", "abc"])]
            cmds.append(("HSET", k) + tuple(pairs))
        elif pick == 1:
            cmds.append(("HSETNX", k, f(), "nx"))
        elif pick == 2:
            cmds.append(("HGET", k, f()))
        elif pick == 3:
            cmds.append(("HMGET", k) + tuple(f() for _ in range(rng.randint(1, 3))))
        elif pick == 4:
            cmds.append(("HDEL", k) + tuple(f() for _ in range(rng.randint(1, 3))))
        elif pick == 5:
            cmds.append(("HINCRBY", k, f(), num()))
        elif pick == 6:
            cmds.append(("HINCRBYFLOAT", k, f(), flt()))
        elif pick == 7:
            cmds.append(("HGETALL", k))
        elif pick == 8:
            cmds.append((rng.choice(["HLEN", "HKEYS", "HVALS", "TYPE", "EXISTS"]), k))
        elif pick == 9:
            cmds.append((rng.choice(["HEXISTS", "HSTRLEN"]), k, f()))
        elif pick == 10:
            cmds.append(("HRANDFIELD", k) + rng.choice([(), (str(rng.randint(-8, 8)),), (str(rng.randint(-8, 8)), "WITHVALUES")]))
        elif pick == 11:
            cmds.append(("HSCAN", k, "0") + rng.choice([(), ("MATCH", "[ab]*"), ("COUNT", "2")]))
        elif pick == 12:
            cmds.append(("DEL", k))
        else:
            cmds.append(("HMSET", k, f(), "m"))
    return cmds


class HashesCompatMixin(cc.CompareMixin):
    """Needs self.redis (the reference) and self.target (the server under test)."""

    def test_scripts_match_redis(self):
        for name, commands in SCRIPTS.items():
            with self.subTest(script=name):
                self.compare(name, commands)

    def test_random_hash_walks_match_redis(self):
        for seed in range(4):
            rng = random.Random(seed)
            self.compare("random walk, seed %d" % seed, random_hash_walk(rng, 300))

    def test_hrandfield_picks_are_fields(self):
        with self.target.client() as c:
            c.call("DEL", "h")
            c.call("HSET", "h", *[x for i in range(20) for x in ("f%d" % i, "v%d" % i)])
            fields = {b"f%d" % i for i in range(20)}
            for count in (1, 5, 19, 20, 50):
                got = c.call("HRANDFIELD", "h", count)
                self.assertEqual(len(got), min(count, 20))
                self.assertEqual(len(set(got)), len(got), "distinct for a positive count")
                self.assertTrue(set(got) <= fields)
            got = c.call("HRANDFIELD", "h", -100)
            self.assertEqual(len(got), 100)
            self.assertTrue(set(got) <= fields)
            flat = c.call("HRANDFIELD", "h", -7, "WITHVALUES")
            self.assertEqual(len(flat), 14)
            for f, v in zip(flat[::2], flat[1::2]):
                self.assertEqual(v, b"v" + f[1:])

    def test_memory_usage_of_containers(self):
        # MEMORY USAGE counts a hash's or set's stored state: it grows with
        # the elements and stays within a small factor of Redis's figure.
        for server, label in ((self.redis, "redis-server"), (self.target, "shoal")):
            with server.client() as c:
                c.call("DEL", "mh", "ms")
                c.call("HSET", "mh", "f", "v")
                small = c.call("MEMORY", "USAGE", "mh")
                c.call("HSET", "mh", *[x for i in range(1000) for x in ("field%d" % i, "value%d" % i)])
                c.call("SADD", "ms", *["member%d" % i for i in range(1000)])
                big = c.call("MEMORY", "USAGE", "mh", "SAMPLES", "0")
                members = c.call("MEMORY", "USAGE", "ms", "SAMPLES", "0")
                self.assertTrue(16 <= small <= 300, "%s: %d" % (label, small))
                self.assertTrue(15000 <= big <= 200000, "%s: %d" % (label, big))
                self.assertTrue(8000 <= members <= 200000, "%s: %d" % (label, members))
                self.assertIsNone(c.call("MEMORY", "USAGE", "nokey"))

    def test_hscan_of_a_big_hash_returns_every_field(self):
        # Past 128 fields Redis walks a hashtable; shoal walks by hash order.
        # Both must return every field present for the whole scan.
        with self.target.client() as c:
            c.call("DEL", "big")
            for i in range(0, 1000, 100):
                c.call("HSET", "big", *[x for j in range(i, i + 100) for x in ("f%d" % j, "v%d" % j)])
            self.assertEqual(c.call("OBJECT", "ENCODING", "big"), b"hashtable")
            seen, cursor, steps = {}, b"0", 0
            while True:
                cursor, items = c.call("HSCAN", "big", cursor, "COUNT", 50)
                for f, v in zip(items[::2], items[1::2]):
                    seen[f] = v
                # Changes during the scan do not hide the other fields.
                c.call("HSET", "big", "new%d" % steps, "x")
                c.call("HDEL", "big", "f%d" % steps)
                steps += 1
                if cursor == b"0" or steps > 500:
                    break
            for j in range(steps, 1000):
                self.assertEqual(seen.get(b"f%d" % j), b"v%d" % j)
            self.assertLess(steps, 60)


@ch.skip_unless_shoal
class SingleNodeHashesTest(HashesCompatMixin, h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis-reference")
        cls.target = cls.start_class_server(name="shoal")


@ch.skip_unless_shoal
class ClusterHashesTest(ch.ClusterTestCase):
    """A 3-node cluster, N=3, R=2, W=2: the hash commands work through every
    node and a write through one node is read through the others."""

    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis-reference")
        cls.cluster = cls.start_class_cluster(3, replicas=3, read_quorum=2, write_quorum=2)

    def test_scripts_through_every_node(self):
        names = ["hset/hget family", "hincrby/hincrbyfloat", "hrandfield", "hscan"]
        for node in self.cluster.nodes:
            for name in names:
                commands = SCRIPTS[name]
                want = cc.run_script(self.redis, commands)
                got = cc.run_script(node, commands)
                lines = cc.diff(commands, want, got)
                if lines:
                    self.fail("\n%s through %s:\n%s" % (name, node.name, "\n".join(lines)))

    def test_write_on_one_node_read_on_another(self):
        a, b, c = self.cluster.nodes
        with a.client() as ca:
            ca.call("DEL", "session:1")
            self.assertEqual(ca.call("HSET", "session:1", "user", "ann", "hits", "1"), 2)
            self.assertEqual(ca.call("HINCRBY", "session:1", "hits", "5"), 6)
        with b.client() as cb:
            self.assertEqual(cb.call("HINCRBY", "session:1", "hits", "1"), 7)
            self.assertEqual(cb.call("HDEL", "session:1", "user"), 1)
            self.assertEqual(cb.call("EXPIRE", "session:1", "100"), 1)
        with c.client() as cc_:
            self.assertEqual(cc_.call("HGETALL", "session:1"), [b"hits", b"7"])
            self.assertEqual(cc_.call("TYPE", "session:1"), "hash")
            ttl = cc_.call("TTL", "session:1")
            self.assertTrue(0 < ttl <= 100, ttl)
            self.assertEqual(cc_.call("DEL", "session:1"), 1)
        with a.client() as ca:
            self.assertEqual(ca.call("HGETALL", "session:1"), [])
            self.assertEqual(ca.call("EXISTS", "session:1"), 0)


if __name__ == "__main__":
    h.main()
