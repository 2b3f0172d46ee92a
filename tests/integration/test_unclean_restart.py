"""A node that crashed and lost the tail of its log must not cover its own
lost writes (storage/clean_shutdown.h): its next writes are made as a fresh
actor, so an acknowledged write that only the other replicas hold survives.

The lost tail is made deterministic: the node is killed (-9) and its log
truncated back to before its last write, as a crash under
`appendfsync everysec` or `no` can leave it (the write was acknowledged by
W=2 replicas: the node itself and one other).

Scenario, 3 nodes, N=3 R=2 W=2, anti-entropy and hinted handoff off:
  1. SADD cart x through node1 (the key's first primary); all three hold it.
  2. node3 stops; SADD cart y through node1: node1 and node2 take it.
  3. node1 is killed and loses y (log truncated); node2 stops; node3 and
     node1 start: neither holds y.
  4. SADD cart z through node1 (read quorum node1 + node3: no y).
  5. node2 starts: SMEMBERS through every node comes to x, y, z (read
     repair). Before the fix node1 wrote z as its own actor, whose new dot
     covered y's: y was gone for good.
A clean restart keeps the node's own actor (checked through the log line)."""

import os

import cluster_harness as ch
import shoal_harness as h

AOF = "appendonly.aof"
ARGS = [
    "--appendonly", "yes",
    "--appendfsync", "everysec",
    "--anti-entropy-interval-ms", 0,
    "--hinted-handoff", "no",
]


def aof(node):
    return os.path.join(node.dir, AOF)


@ch.skip_unless_shoal
class UncleanRestartTest(ch.ClusterTestCase):
    def test_lost_log_tail_does_not_lose_an_acknowledged_sadd(self):
        cl = self.start_cluster(3, replicas=3, read_quorum=2, write_quorum=2, args=ARGS)
        a, b, c = cl
        key = cl.find_key(lambda reps: reps[0] is a, prefix="cart")
        log = aof(a)
        self.assertEqual(a.call("SADD", key, "x"), 1)
        for n in cl:
            h.wait_for(lambda n=n: n.call("CLUSTER", "GETLOCAL", key)[0], 10, "%s to hold x" % n.name)
        c.kill()
        # node1's log up to x: what survives its crash.
        h.wait_for(lambda: os.path.getsize(log) > 0, 10, "node1's log to hold x")
        kept = os.path.getsize(log)
        self.assertEqual(a.call("SADD", key, "y"), 1)
        h.wait_for(lambda: os.path.getsize(log) > kept, 10, "node1's log to hold y")
        a.kill()
        with open(log, "r+b") as f:
            f.truncate(kept)
        b.kill()
        c.restart()
        a.restart()
        cl.wait_converged(nodes=[a, c], expected=3)
        self.assertIn("did not shut down cleanly", a.read_log())
        # Neither holds y now.
        self.assertEqual(sorted(a.call("SMEMBERS", key)), [b"x"])
        self.assertEqual(a.call("SADD", key, "z"), 1)
        b.restart()
        cl.wait_converged()
        # A read quorum may be node1 and node3 only: read repair brings y
        # to them (a read that meets node2's copy merges it).
        for n in cl:
            h.wait_for(lambda n=n: sorted(n.call("SMEMBERS", key)) == [b"x", b"y", b"z"], 10,
                       "SMEMBERS through %s to be x, y, z" % n.name)

    def test_clean_restart_keeps_the_nodes_actor(self):
        cl = self.start_cluster(3, replicas=3, read_quorum=2, write_quorum=2, args=ARGS)
        a = cl[0]
        self.assertEqual(a.call("SET", "k", "v"), "OK")
        a.stop()
        a.restart()
        cl.wait_converged()
        self.assertNotIn("writes as actor", a.read_log())
        a.kill()
        a.restart()
        cl.wait_converged()
        self.assertIn("did not shut down cleanly: this run writes as actor", a.read_log())
        self.assertEqual(a.call("GET", "k"), b"v")


if __name__ == "__main__":
    h.main()
