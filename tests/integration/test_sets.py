"""Set commands against redis-server 7.0.15, on one node and in a cluster.

As test_hashes.py: scripted cases and seeded random walks run on
redis-server 7.0.15 and on shoal, in RESP2 and RESP3, compared byte for byte
after tests/support/container_compare.py's normalisation (SMEMBERS, SINTER,
SUNION, SDIFF as multisets; SPOP and SRANDMEMBER by shape; SSCAN's elements
as a multiset). SPOP in the scripts only pops whole sets, so that the state
after it is the same on both servers.

In a 3-node cluster (N=3, R=2, W=2) the commands work through every node,
the multi-key ones need their keys on one replica set (hash tags), and
SPOPs through different nodes pop each member once (the key's primary
coordinates them).
"""

import random

import cluster_harness as ch
import container_compare as cc
import shoal_harness as h

SCRIPTS = {
    "sadd/srem family": [
        ("SADD", "s", "b", "a", "c", "a"),
        ("SADD", "s", "a"),
        ("SADD", "s"),
        ("SMEMBERS", "s"),
        ("SMEMBERS", "nokey"),
        ("SISMEMBER", "s", "a"),
        ("SISMEMBER", "s", "z"),
        ("SISMEMBER", "nokey", "z"),
        ("SMISMEMBER", "s", "a", "z", "c", "a"),
        ("SMISMEMBER", "nokey", "a"),
        ("SMISMEMBER", "s"),
        ("SCARD", "s"),
        ("SCARD", "nokey"),
        ("SREM", "s", "a", "z", "a"),
        ("SREM", "nokey", "a"),
        ("SREM", "s"),
        ("SREM", "s", "b", "c"),
        ("EXISTS", "s"),
        ("TYPE", "s"),
        ("SADD", "bin", "\x00\xff", "", "\r\n"),
        ("SMEMBERS", "bin"),
        ("SISMEMBER", "bin", ""),
        ("SADD", "n", "1", "2", "-3", "01", "1"),
        ("SMEMBERS", "n"),
        ("OBJECT", "ENCODING", "n"),
        ("SADD", "i", "1", "2", "-3"),
        ("OBJECT", "ENCODING", "i"),
    ],
    "wrong types": [
        ("SET", "str", "v"),
        ("SADD", "str", "a"),
        ("SREM", "str", "a"),
        ("SMEMBERS", "str"),
        ("SISMEMBER", "str", "a"),
        ("SMISMEMBER", "str", "a"),
        ("SCARD", "str"),
        ("SPOP", "str"),
        ("SPOP", "str", "2"),
        ("SRANDMEMBER", "str"),
        ("SRANDMEMBER", "str", "2"),
        ("SSCAN", "str", "0"),
        ("SADD", "s", "1", "2"),
        ("GET", "s"),
        ("INCR", "s"),
        ("APPEND", "s", "x"),
        ("HGET", "s", "f"),
        ("HSET", "s", "f", "v"),
        ("SINTER", "s", "str"),
        ("SINTER", "nokey", "str"),
        ("SUNION", "s", "str"),
        ("SDIFF", "s", "str"),
        ("SDIFF", "nokey", "str"),
        ("SINTERCARD", "2", "s", "str"),
        ("SINTERSTORE", "d", "s", "str"),
        ("SUNIONSTORE", "d", "s", "str"),
        ("SDIFFSTORE", "d", "s", "str"),
        ("SMOVE", "s", "str", "1"),
        ("SMOVE", "str", "s", "1"),
        ("SMOVE", "nokey", "str", "1"),
        ("TYPE", "s"),
        ("SET", "s", "x"),
        ("TYPE", "s"),
    ],
    "set algebra": [
        ("SADD", "a", "1", "2", "3", "4"),
        ("SADD", "b", "3", "4", "5"),
        ("SADD", "c", "4", "x"),
        ("SINTER", "a", "b"),
        ("SINTER", "a", "b", "c"),
        ("SINTER", "a", "nokey"),
        ("SINTER", "a"),
        ("SINTER", "a", "a"),
        ("SUNION", "a", "b", "nokey", "c"),
        ("SUNION", "nokey"),
        ("SDIFF", "a", "b"),
        ("SDIFF", "a", "b", "c"),
        ("SDIFF", "a", "a"),
        ("SDIFF", "a", "nokey"),
        ("SDIFF", "nokey", "a"),
        ("SINTERCARD", "2", "a", "b"),
        ("SINTERCARD", "2", "a", "b", "LIMIT", "1"),
        ("SINTERCARD", "2", "a", "b", "LIMIT", "0"),
        ("SINTERCARD", "2", "a", "b", "limit", "5"),
        ("SINTERCARD", "3", "a", "b", "nokey"),
        ("SINTERCARD", "0", "a"),
        ("SINTERCARD", "x", "a"),
        ("SINTERCARD", "-1", "a"),
        ("SINTERCARD", "2", "a"),
        ("SINTERCARD", "1", "a", "LIMIT", "-1"),
        ("SINTERCARD", "1", "a", "LIMIT", "x"),
        ("SINTERCARD", "1", "a", "LIMIT"),
        ("SINTERCARD", "1", "a", "foo"),
        ("SINTERCARD", "1"),
        ("SINTERSTORE", "d", "a", "b"),
        ("SMEMBERS", "d"),
        ("SUNIONSTORE", "d", "d", "c"),
        ("SMEMBERS", "d"),
        ("SDIFFSTORE", "d", "a", "b"),
        ("SMEMBERS", "d"),
        ("SINTERSTORE", "d", "a", "nokey"),
        ("EXISTS", "d"),
        ("SDIFFSTORE", "d", "a", "a"),
        ("EXISTS", "d"),
        ("SET", "d", "x", "EX", "100"),
        ("SUNIONSTORE", "d", "b"),
        ("TYPE", "d"),
        ("TTL", "d"),
        ("EXPIRE", "d", "100"),
        ("SINTERSTORE", "d", "a", "b"),
        ("TTL", "d"),
        ("SINTERSTORE", "d"),
        ("SUNIONSTORE", "d"),
        ("SDIFFSTORE", "d"),
        ("SINTER",),
    ],
    "smove": [
        ("SET", "str", "v"),
        ("SMOVE", "nokey", "str", "a"),
        ("SADD", "s", "a", "b"),
        ("SMOVE", "s", "str", "a"),
        ("SMOVE", "s", "s", "a"),
        ("SMOVE", "s", "s", "z"),
        ("SMOVE", "s", "t", "z"),
        ("SMOVE", "s", "t", "a"),
        ("SMEMBERS", "s"),
        ("SMEMBERS", "t"),
        ("SADD", "t", "b"),
        ("SMOVE", "s", "t", "b"),
        ("EXISTS", "s"),
        ("SMEMBERS", "t"),
        ("SMOVE", "s", "t"),
    ],
    "spop/srandmember": [
        ("SPOP", "nokey"),
        ("SPOP", "nokey", "3"),
        ("SPOP", "nokey", "0"),
        ("SRANDMEMBER", "nokey"),
        ("SRANDMEMBER", "nokey", "3"),
        ("SRANDMEMBER", "nokey", "-3"),
        ("SADD", "s", "a", "b", "c", "d"),
        ("SPOP", "s", "1", "2"),
        ("SPOP", "s", "-1"),
        ("SPOP", "s", "x"),
        ("SPOP", "s", "0"),
        ("SRANDMEMBER", "s", "1", "2"),
        ("SRANDMEMBER", "s", "x"),
        ("SRANDMEMBER", "s", "-9223372036854775808"),
        ("SRANDMEMBER", "s", "0"),
        ("SRANDMEMBER", "s"),
        ("SRANDMEMBER", "s", "1"),
        ("SRANDMEMBER", "s", "3"),
        ("SRANDMEMBER", "s", "4"),
        ("SRANDMEMBER", "s", "100"),
        ("SRANDMEMBER", "s", "-1"),
        ("SRANDMEMBER", "s", "-20"),
        ("SCARD", "s"),
        ("SPOP", "s", "4"),
        ("EXISTS", "s"),
        ("SADD", "s", "only"),
        ("SPOP", "s"),
        ("EXISTS", "s"),
        ("SADD", "s", "1", "2", "3"),
        ("SPOP", "s", "10"),
        ("SADD", "s", "x"),
        ("EXPIRE", "s", "100"),
        ("SPOP", "s", "1"),
        ("TTL", "s"),
    ],
    "sscan": [
        ("SSCAN", "nokey", "0"),
        ("SSCAN", "nokey", "0", "COUNT", "0"),
        ("SSCAN", "nokey", "x"),
        ("SADD", "i", "1", "2", "3", "10"),
        ("SSCAN", "i", "0"),
        ("SSCAN", "i", "0", "COUNT", "1"),
        ("SSCAN", "i", "0", "MATCH", "1*"),
        ("SSCAN", "i", "x"),
        ("SSCAN", "i", "0", "COUNT", "0"),
        ("SSCAN", "i", "0", "COUNT", "x"),
        ("SSCAN", "i", "0", "TYPE", "set"),
        ("SSCAN", "i", "0", "MATCH"),
        ("SSCAN", "i", "5"),
        ("SSCAN", "i"),
    ],
    "keys holding sets": [
        ("SADD", "s", "a", "b"),
        ("EXPIRE", "s", "100"),
        ("SADD", "s", "c"),
        ("SREM", "s", "a"),
        ("TTL", "s"),
        ("RENAME", "s", "s2"),
        ("TTL", "s2"),
        ("SMEMBERS", "s2"),
        ("PERSIST", "s2"),
        ("COPY", "s2", "s3"),
        ("SADD", "s3", "d"),
        ("SCARD", "s2"),
        ("SCARD", "s3"),
        ("DEL", "s2", "s3"),
        ("EXISTS", "s2", "s3"),
        ("SADD", "t", "1"),
        ("OBJECT", "ENCODING", "t"),
        ("SADD", "t", "a"),
        ("OBJECT", "ENCODING", "t"),
        ("SCAN", "0", "TYPE", "set"),
        ("SCAN", "0", "TYPE", "hash"),
        ("SCAN", "0", "TYPE", "string"),
    ],
}


def random_set_walk(rng, steps):
    """A random sequence of set commands over three keys, a handful of
    members, and a string key (WRONGTYPE). SPOP pops whole sets only."""
    keys = ["w1", "w2", "w3", "str"]
    members = ["a", "b", "c", "1", "2", "10", ""]
    cmds = [("SET", "str", "v")]

    def ms(lo=1, hi=3):
        return tuple(rng.choice(members) for _ in range(rng.randint(lo, hi)))

    def ks(lo=1, hi=3):
        return tuple(rng.choice(keys + ["nokey"]) for _ in range(rng.randint(lo, hi)))

    for _ in range(steps):
        k = rng.choice(keys)
        pick = rng.randrange(14)
        if pick in (0, 1):
            cmds.append(("SADD", k) + ms())
        elif pick == 2:
            cmds.append(("SREM", k) + ms())
        elif pick == 3:
            cmds.append(("SMEMBERS", k))
        elif pick == 4:
            cmds.append((rng.choice(["SCARD", "TYPE", "EXISTS"]), k))
        elif pick == 5:
            cmds.append(("SISMEMBER", k, rng.choice(members)))
        elif pick == 6:
            cmds.append(("SMISMEMBER", k) + ms())
        elif pick == 7:
            cmds.append((rng.choice(["SINTER", "SUNION", "SDIFF"]),) + ks())
        elif pick == 8:
            cmds.append((rng.choice(["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]), k) + ks())
        elif pick == 9:
            srcs = ks()
            cmds.append(("SINTERCARD", str(len(srcs))) + srcs + rng.choice([(), ("LIMIT", str(rng.randint(0, 3)))]))
        elif pick == 10:
            cmds.append(("SMOVE", k, rng.choice(keys), rng.choice(members)))
        elif pick == 11:
            cmds.append(("SRANDMEMBER", k) + rng.choice([(), (str(rng.randint(-5, 5)),)]))
        elif pick == 12:
            cmds.append(("SPOP", k, "100"))
        else:
            # COUNT 100: both return a small set whole (Redis 7.0 keeps a set
            # of strings in a hashtable and walks it by its own cursor).
            cmds.append(("SSCAN", k, "0", "COUNT", "100") + rng.choice([(), ("MATCH", "[ab1]*")]))
    return cmds


class SetsCompatMixin(cc.CompareMixin):
    """Needs self.redis (the reference) and self.target (the server under test)."""

    def test_scripts_match_redis(self):
        for name, commands in SCRIPTS.items():
            with self.subTest(script=name):
                self.compare(name, commands)

    def test_random_set_walks_match_redis(self):
        for seed in range(4):
            rng = random.Random(seed)
            self.compare("random walk, seed %d" % seed, random_set_walk(rng, 300))

    def test_spop_and_srandmember_picks_are_members(self):
        with self.target.client() as c:
            c.call("DEL", "s")
            members = {b"m%d" % i for i in range(30)}
            c.call("SADD", "s", *sorted(members))
            for count in (1, 5, 29, 30, 100):
                got = c.call("SRANDMEMBER", "s", count)
                self.assertEqual(len(got), min(count, 30))
                self.assertEqual(len(set(got)), len(got))
                self.assertTrue(set(got) <= members)
            got = c.call("SRANDMEMBER", "s", -100)
            self.assertEqual(len(got), 100)
            self.assertTrue(set(got) <= members)
            popped = set()
            for count in (1, 4, 10):
                got = c.call("SPOP", "s", count)
                self.assertEqual(len(got), count)
                popped |= set(got)
            one = c.call("SPOP", "s")
            popped.add(one)
            self.assertEqual(len(popped), 16)
            rest = set(c.call("SMEMBERS", "s"))
            self.assertEqual(rest | popped, members)
            self.assertFalse(rest & popped)

    def test_sscan_of_a_big_set_returns_every_member(self):
        with self.target.client() as c:
            c.call("DEL", "big")
            c.call("SADD", "big", *["m%d" % i for i in range(2000)])
            self.assertEqual(c.call("OBJECT", "ENCODING", "big"), b"hashtable")
            seen, cursor, steps = set(), b"0", 0
            while True:
                cursor, items = c.call("SSCAN", "big", cursor, "COUNT", 100)
                seen |= set(items)
                c.call("SADD", "big", "new%d" % steps)
                c.call("SREM", "big", "m%d" % steps)
                steps += 1
                if cursor == b"0" or steps > 500:
                    break
            missing = [i for i in range(steps, 2000) if b"m%d" % i not in seen]
            self.assertEqual(missing, [])
            self.assertLess(steps, 40)


@ch.skip_unless_shoal
class SingleNodeSetsTest(SetsCompatMixin, h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis-reference")
        cls.target = cls.start_class_server(name="shoal")


@ch.skip_unless_shoal
class ClusterSetsTest(ch.ClusterTestCase):
    """A 3-node cluster, N=3, R=2, W=2."""

    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis-reference")
        cls.cluster = cls.start_class_cluster(3, replicas=3, read_quorum=2, write_quorum=2)

    def test_one_key_scripts_through_every_node(self):
        for node in self.cluster.nodes:
            for name in ("sadd/srem family", "spop/srandmember", "sscan"):
                commands = SCRIPTS[name]
                want = cc.run_script(self.redis, commands)
                got = cc.run_script(node, commands)
                lines = cc.diff(commands, want, got)
                if lines:
                    self.fail("\n%s through %s:\n%s" % (name, node.name, "\n".join(lines)))

    def test_multi_key_commands_with_hash_tags(self):
        # Keys sharing a {tag} share a replica set: the whole script works.
        tagged = []
        for cmd in SCRIPTS["set algebra"] + SCRIPTS["smove"]:
            out = [cmd[0]]
            for a in cmd[1:]:
                out.append("{t}" + a if a in ("a", "b", "c", "d", "s", "t", "str", "nokey") else a)
            tagged.append(tuple(out))
        want = cc.run_script(self.redis, tagged)
        got = cc.run_script(self.cluster.nodes[1], tagged)
        lines = cc.diff(tagged, want, got)
        if lines:
            self.fail("\n" + "\n".join(lines))

    def test_multi_key_commands_across_replica_sets(self):
        cl = self.cluster
        first = [n.name for n in cl.replicas_of("k0")]
        other = cl.find_key(lambda nodes: [n.name for n in nodes] != first, prefix="other")
        with cl.nodes[0].client() as c:
            c.call("SADD", "k0", "a")
            c.call("SADD", other, "a")
            for cmd in (("SINTER", "k0", other), ("SUNIONSTORE", "k0", other), ("SMOVE", "k0", other, "a"),
                        ("SINTERCARD", "2", "k0", other), ("SDIFF", other, "k0")):
                self.assertReplyError(c.request(*cmd), "CROSSSLOT Keys in request don't hash to the same slot")

    def test_write_on_one_node_read_on_another(self):
        a, b, c = self.cluster.nodes
        with a.client() as ca:
            ca.call("DEL", "cart:1")
            self.assertEqual(ca.call("SADD", "cart:1", "apple", "pear", "fig"), 3)
        with b.client() as cb:
            self.assertEqual(cb.call("SREM", "cart:1", "pear"), 1)
            self.assertEqual(cb.call("SISMEMBER", "cart:1", "apple"), 1)
        with c.client() as cc_:
            self.assertEqual(sorted(cc_.call("SMEMBERS", "cart:1")), [b"apple", b"fig"])
            self.assertEqual(cc_.call("SCARD", "cart:1"), 2)
            self.assertEqual(cc_.call("TYPE", "cart:1"), "set")

    def test_spop_through_every_node_pops_each_member_once(self):
        # Without failures the key's primary coordinates every SPOP.
        nodes = self.cluster.nodes
        with nodes[0].client() as c:
            c.call("DEL", "pool")
            c.call("SADD", "pool", *["m%d" % i for i in range(30)])
        popped = []
        for i in range(30):
            with nodes[i % 3].client() as c:
                popped.append(c.call("SPOP", "pool"))
        self.assertEqual(sorted(popped), sorted(b"m%d" % i for i in range(30)))
        with nodes[2].client() as c:
            self.assertIsNone(c.call("SPOP", "pool"))
            self.assertEqual(c.call("EXISTS", "pool"), 0)


if __name__ == "__main__":
    h.main()
