"""Container writes replicate as deltas (storage/container_delta.h).

On a 3-node cluster (N=3, W=2) a one-member SADD on a 10,000-member set
reaches the other replicas as a SHOAL.MDELTA of a few dozen bytes, not the
set's whole object; a replica that missed writes refuses the delta (its copy
is not the delta's base) and is sent the whole object instead; and every
replica's own copy ends up the same.

Reads use R=1 so that SMEMBERS on a node shows that node's own copy (the
coordinator answers from its copy before any other replies). Read repair and
anti-entropy are off where they would mend a stale replica before the delta
reaches it, so that the refusal path is what is tested.
"""

import cluster_harness as ch
import shoal_harness as h

SET_SIZE = 10000
ADDS = 100
CONVERGE = 30.0


def member(i):
    return "member-%09d" % i  # 16 bytes


def net_bytes(node):
    f = node.info("stats")
    return int(f["total_net_input_bytes"]) + int(f["total_net_output_bytes"])


@ch.skip_unless_shoal
class ClusterDeltaTest(ch.ClusterTestCase):
    def start(self, **kwargs):
        return self.start_cluster(3, replicas=3, read_quorum=1, write_quorum=2, **kwargs)

    def fill(self, coordinator, key):
        c = self.client(coordinator)
        for start in range(0, SET_SIZE, 1000):
            reply = c.call("SADD", key, *[member(i) for i in range(start, start + 1000)])
            self.assertEqual(reply, 1000)

    def wait_same_copies(self, cl, key, expected):
        """Every node's own copy: the same context (CLUSTER GETLOCAL) and
        the expected members (SMEMBERS with R=1 answers from it)."""

        def same():
            contexts = {n.getlocal(key)[0] for n in cl}
            return len(contexts) == 1

        h.wait_for(same, CONVERGE, "every replica's copy of %s to carry the same context" % key)
        for n in cl:
            got = set(x.decode() for x in self.client(n).call("SMEMBERS", key))
            self.assertEqual(len(got), len(expected), "%s's copy" % n.name)
            self.assertEqual(got, expected, "%s's copy" % n.name)

    def test_one_member_sadd_ships_a_delta(self):
        # Gossip every 500 ms (node-timeout-ms stays ten times that): the
        # background traffic counted with the SADDs stays small even on a
        # slow (sanitizer, loaded) build.
        cl = self.start(gossip_interval_ms=500)
        key = "delta:set"
        coordinator = cl.replicas_of(key)[0]  # SADD is coordinated by the first primary
        others = [n for n in cl if n is not coordinator]
        self.fill(coordinator, key)
        expected = {member(i) for i in range(SET_SIZE)}
        self.wait_same_copies(cl, key, expected)
        sent = coordinator.counter("cluster_deltas_sent")
        applied = sum(n.counter("cluster_deltas_applied") for n in others)

        before = [net_bytes(n) for n in others]
        c = self.client(coordinator)
        for i in range(ADDS):
            self.assertEqual(c.call("SADD", key, "added-%010d" % i), 1)
            expected.add("added-%010d" % i)
        # W=2: the slower replica may still be applying the last ones.
        h.wait_for(lambda: sum(n.counter("cluster_deltas_applied") for n in others) >= applied + 2 * ADDS,
                   CONVERGE, "both replicas to apply every delta")
        # Each replica's traffic (it only talks to peers here): in = the
        # coordinator's frames (SHOAL.MGET, SHOAL.MDELTA, gossip), out = its
        # replies.
        per_sadd = [(net_bytes(n) - b) / ADDS for n, b in zip(others, before)]
        set_bytes = SET_SIZE * 16
        self.assertGreaterEqual(coordinator.counter("cluster_deltas_sent"), sent + 2 * ADDS)
        self.assertEqual(coordinator.counter("cluster_deltas_refused"), 0)
        for n, b in zip(others, per_sadd):
            # A whole object would be over 160 KB per SADD per replica; a
            # delta and its frame are about a hundred bytes, plus the
            # coordinator's read (SHOAL.MGET, answered "=") and gossip.
            self.assertLess(b, set_bytes / 10, "%s: %.0f bytes per SADD" % (n.name, b))
        print("\n[deltas] peer bytes per one-member SADD on a %d-member set, per replica: %s"
              % (SET_SIZE, ", ".join("%.0f" % b for b in per_sadd)))
        self.wait_same_copies(cl, key, expected)

    def test_hash_and_sorted_set_writes_ship_deltas(self):
        cl = self.start()
        for key, fill, one in (("delta:hash", "HSET", ["HSET", "delta:hash", "f-new", "v"]),
                               ("delta:zset", "ZADD", ["ZINCRBY", "delta:zset", "2", "z-1"])):
            co = cl.replicas_of(key)[0]
            c = self.client(co)
            args = []
            for i in range(2000):
                args += ["f-%d" % i, "v"] if fill == "HSET" else [str(i), "z-%d" % i]
            self.assertEqual(c.call(fill, key, *args), 2000)
            sent = co.counter("cluster_deltas_sent")
            self.assertNotIsInstance(c.call(*one), h.ReplyError)
            h.wait_for(lambda: co.counter("cluster_deltas_sent") >= sent + 2, CONVERGE, "deltas for %s" % key)
            h.wait_for(lambda: len({n.getlocal(key)[0] for n in cl}) == 1, CONVERGE,
                       "every copy of %s to carry the same context" % key)
            self.assertEqual(co.counter("cluster_deltas_refused"), 0)

    def test_replica_that_missed_writes_gets_the_whole_object(self):
        cl = self.start(appendonly="yes",
                        args=["--read-repair", "no", "--anti-entropy-interval-ms", "0", "--hinted-handoff", "no"])
        key = "delta:missed"
        coordinator = cl.replicas_of(key)[0]
        victim = [n for n in cl if n is not coordinator][0]
        self.fill(coordinator, key)
        expected = {member(i) for i in range(SET_SIZE)}
        self.wait_same_copies(cl, key, expected)
        c = self.client(coordinator)
        for i in range(10):
            c.call("SADD", key, "before-%d" % i)
            expected.add("before-%d" % i)
        h.wait_for(lambda: victim.counter("cluster_deltas_applied") >= 10, CONVERGE, "the victim to apply deltas")

        victim.kill()
        # Written while the victim is down: W=2 is met without it.
        for i in range(10):
            self.assertEqual(c.call("SADD", key, "missed-%d" % i), 1)
            expected.add("missed-%d" % i)
        refused = coordinator.counter("cluster_deltas_refused")
        victim.restart()
        # Its log replays (deltas included) to the copy it had; the next
        # writes' deltas do not apply to it and it is sent the whole object.
        i = 0

        def caught_up():
            nonlocal i
            c.call("SADD", key, "after-%d" % i)
            expected.add("after-%d" % i)
            i += 1
            return coordinator.counter("cluster_deltas_refused") > refused

        h.wait_for(caught_up, CONVERGE, "a delta refused by the restarted replica", interval=0.05)
        self.assertGreaterEqual(victim.counter("cluster_deltas_stale"), 1)
        # Once it holds the whole object again, deltas apply to it.
        applied = victim.counter("cluster_deltas_applied")
        for j in range(5):
            self.assertEqual(c.call("SADD", key, "later-%d" % j), 1)
            expected.add("later-%d" % j)
        h.wait_for(lambda: victim.counter("cluster_deltas_applied") >= applied + 5, CONVERGE,
                   "the restarted replica to apply deltas again")
        self.wait_same_copies(cl, key, expected)
        # And its log replays to the same copy after another restart.
        context = victim.getlocal(key)[0]
        victim.stop()
        victim.restart()
        self.assertEqual(victim.getlocal(key)[0], context)


if __name__ == "__main__":
    h.main()
