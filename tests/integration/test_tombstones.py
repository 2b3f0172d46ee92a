"""Tombstones and expiry in a cluster: deleted and expired keys never come
back, and dead keys are purged once it is safe (cluster/tombstone_reaper.h).

(a) The expiry resurrection case: C holds v1 (no TTL); A and B get v2 with a
    TTL whose context covers v1; once v2 expired, a read (read repair) must
    not bring v1 back from C. C misses v2 by being killed (-9) while it is
    written and restarted from its log after v2 expired: a link cut with
    iptables or a SIGSTOP leaves the replica put to C in a TCP buffer that
    delivers it after the heal, so C would get v2 after all and the case
    would not be reproduced.
(b) A delete during a partition (iptables between 127.0.0.x addresses, as
    test_cluster_fault_history does): after the heal the key never
    reappears, and its tombstone is purged on every replica.
(c) A delete-heavy load: thousands of keys written and deleted; the
    tombstone count returns to 0 after the grace and memory stays bounded
    (figures printed).
"""

import os
import sys
import unittest

import cluster_harness as ch
import shoal_harness as h

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cluster_fault_history as fh  # noqa: E402  (its iptables Firewall)

NODE_TIMEOUT_MS = 1500
DETECT_DEADLINE = 20.0
DEADLINE = 60.0

FIGURES = []


def figure(text):
    FIGURES.append("FIGURE %s" % text)
    sys.stderr.write("FIGURE %s\n" % text)


def flags_of(observer, node):
    return next(r["flags"] for r in observer.cluster_nodes() if r["id"] == node.id)


def values(node, key):
    return node.getlocal(key)[1]


def cluster_args(grace_ms, *extra):
    return [
        "--read-repair", "yes",
        "--hinted-handoff", "no",
        "--node-timeout-ms", NODE_TIMEOUT_MS,
        "--tombstone-grace-ms", grace_ms,
    ] + list(extra)


def tearDownModule():
    if FIGURES:
        sys.stderr.write("\n" + "\n".join(FIGURES) + "\n")


@ch.skip_unless_shoal
class ExpiryResurrectionTest(ch.ClusterTestCase):
    def test_expired_version_keeps_dominating_an_older_one(self):
        # Without anti-entropy: node3 comes back with v1 and only reads (read
        # repair) meet it.
        self.expired_version_dominates(anti_entropy=False)

    def test_expired_version_keeps_dominating_with_anti_entropy(self):
        # With anti-entropy (a short interval): its exchanges carry the
        # expired remains to node3 as well, and v1 never shows either.
        self.expired_version_dominates(anti_entropy=True)

    def expired_version_dominates(self, anti_entropy):
        # A long grace: this test is about expiry, not about purging.
        interval = 100 if anti_entropy else 0
        cl = self.start_cluster(3, args=cluster_args(600000, "--anti-entropy-interval-ms", interval))
        a, b, c = cl.nodes
        key = "session:1"
        self.assertEqual(a.call("SET", key, "v1"), "OK")
        for n in cl.nodes:
            h.wait_for(lambda n=n: values(n, key) == [b"v1"], DEADLINE, "%s to hold v1" % n.name)

        c.kill()
        # W=2: A and B take v2; C is gone and misses it.
        self.assertEqual(a.call("SET", key, "v2", "PX", 1500), "OK")
        self.assertEqual(values(a, key), [b"v2"])
        self.assertEqual(values(b, key), [b"v2"])
        h.wait_for(lambda: a.call("GET", key) is None and b.call("GET", key) is None, DEADLINE,
                   "v2 to expire")
        # Active expiry has had time to run on both (the cron runs at hz 10).
        h.wait_for(lambda: a.counter("expired_keys", "stats") >= 1 and b.counter("expired_keys", "stats") >= 1,
                   DEADLINE, "active expiry on node1 and node2")

        c.restart()
        cl.wait_converged()
        if not anti_entropy:
            self.assertEqual(values(c, key), [b"v1"], "node3 must come back with the old value")

        # Reads through every node, until read repair has reached node3; v1
        # must never show anywhere, through GET or in a node's own copy.
        def repaired():
            for n in cl.nodes:
                self.assertIsNone(n.call("GET", key), "GET through %s" % n.name)
            for n in cl.nodes:
                self.assertNotIn(b"v1", values(n, key), "%s's own copy" % n.name)
            return values(c, key) == []

        h.wait_for(repaired, DEADLINE, "read repair to reach node3")
        for _ in range(20):
            repaired()
        for n in cl.nodes:
            self.assertEqual(n.call("EXISTS", key), 0)
            self.assertEqual(n.call("TTL", key), -2)
            self.assertEqual(n.call("PTTL", key), -2)
        self.assertEqual(a.call("DBSIZE"), 0)
        self.assertEqual(a.call("KEYS", "*"), [])
        with a.client() as cli:
            self.assertEqual(ch.scan_all(cli), [])
        # The remains are held (dead keys count), not a live key.
        self.assertGreaterEqual(a.counter("cluster_tombstones_held"), 1)


@ch.skip_unless_shoal
class DeleteDuringPartitionTest(ch.ClusterTestCase):
    @classmethod
    def setUpClass(cls):
        why = fh.iptables_unavailable()
        if why:
            raise unittest.SkipTest(why)
        fh.setUpModule()

    def setUp(self):
        super().setUp()
        self.fw = fh.Firewall()
        self.addCleanup(self.fw.heal)

    def test_deleted_key_never_reappears_and_is_purged(self):
        grace_ms = 1000
        cl = self.start_cluster(3, args=cluster_args(grace_ms), first_host=fh.FIRST_HOST)
        a, b, c = cl.nodes
        # A key whose owner (first primary) is node1, so the owner sits on the
        # majority side and its reaper meets the partition.
        key = next(
            k for k in ("gone:%d" % i for i in range(1000))
            if ch.text(a.call("CLUSTER", "PREFLIST", k)[0][0]) == a.id
        )
        self.assertEqual(a.call("SET", key, "value"), "OK")
        for n in cl.nodes:
            h.wait_for(lambda n=n: values(n, key) == [b"value"], DEADLINE, "%s to hold the value" % n.name)

        self.fw.partition([c], [a, b])
        h.wait_for(lambda: "fail" in flags_of(a, c), DETECT_DEADLINE, "node1 to mark node3 failing")
        self.assertEqual(a.call("DEL", key), 1)
        self.assertEqual(values(c, key), [b"value"])
        # Past the grace the owner has a candidate but a member is down.
        h.wait_for(lambda: a.counter("cluster_purge_refused_member_down") >= 1, DEADLINE,
                   "node1 to refuse a purge while node3 is cut off")
        self.assertEqual(a.counter("cluster_tombstones_held"), 1)

        self.fw.heal()
        cl.wait_converged()

        def never_back():
            for n in cl.nodes:
                self.assertIsNone(n.call("GET", key), "GET through %s" % n.name)
                if n is not c:
                    self.assertNotIn(b"value", values(n, key), "%s's own copy" % n.name)
            return values(c, key) == []

        h.wait_for(never_back, DEADLINE, "node3's copy to be repaired")

        def purged_everywhere():
            never_back()
            return all(n.counter("cluster_tombstones_held") == 0 for n in cl.nodes)

        h.wait_for(purged_everywhere, DEADLINE, "the tombstone to be purged on every replica")
        self.assertGreaterEqual(a.counter("cluster_purges_owned"), 1)
        for n in cl.nodes:
            context, vals = n.getlocal(key)
            self.assertEqual(vals, [], n.name)
            self.assertIsNone(n.call("GET", key))
        figure("delete-during-partition: purged after heal; refusals on node1: member_down=%d "
               "replica_differs=%d no_answer=%d" % (
                   a.counter("cluster_purge_refused_member_down"),
                   a.counter("cluster_purge_refused_replica_differs"),
                   a.counter("cluster_purge_refused_no_answer")))


@ch.skip_unless_shoal
class DeleteHeavyTest(ch.ClusterTestCase):
    def test_tombstones_return_to_zero_and_memory_is_bounded(self):
        grace_ms = 500
        keys = 3000
        rounds = 3
        cl = self.start_cluster(3, args=cluster_args(grace_ms))
        a = cl.nodes[0]
        value = "x" * 200

        def memory():
            return [n.counter("used_memory_dataset", "memory") for n in cl.nodes]

        base = memory()
        peaks = []
        for r in range(rounds):
            with a.client() as c:
                replies = c.pipeline([("SET", "heavy:%d:%d" % (r, i), value) for i in range(keys)])
                self.assertTrue(all(x == "OK" for x in replies), replies[:3])
                loaded = memory()
                replies = c.pipeline([("DEL", "heavy:%d:%d" % (r, i)) for i in range(keys)])
                self.assertEqual([x for x in replies if x != 1], [])
            held = [n.counter("cluster_tombstones_held") for n in cl.nodes]
            peaks.append(max(held))
            self.assertEqual(a.call("DBSIZE"), 0)
            h.wait_for(lambda: all(n.counter("cluster_tombstones_held") == 0 for n in cl.nodes), DEADLINE,
                       "every tombstone to be purged (round %d)" % r)
        after = memory()
        purged = sum(n.counter("cluster_tombstones_purged") for n in cl.nodes)
        # Every key was purged on its three replicas.
        self.assertEqual(purged, rounds * keys * 3)
        for n in cl.nodes:
            self.assertEqual(n.info("keyspace").get("db0"), None, n.name)
        figure("delete-heavy: %d rounds of %d keys (200-byte values) set then deleted; "
               "tombstones held right after the deletes (max per node) %r; dataset bytes per node: "
               "empty %r, loaded %r, after purge %r" % (rounds, keys, peaks, base, loaded, after))
        # Memory back to about where it started (tables keep some capacity).
        for b0, b1 in zip(base, after):
            self.assertLess(b1, b0 + 256 * 1024)


if __name__ == "__main__":
    h.main()
