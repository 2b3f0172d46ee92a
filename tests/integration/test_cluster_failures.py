"""Failure detection in a real cluster: a frozen node (SIGSTOP) is suspected,
then marked failing by the others, who say so in CLUSTER NODES, CLUSTER INFO,
INFO and their logs, and stop waiting for it; once it continues it refutes and
is alive again everywhere.

Every paused node is continued, and every node stopped, in cleanups that run
whether the test passed or not (cluster_harness.paused, ClusterTestCase).
"""

import threading
import time

import cluster_harness as ch
import shoal_harness as h

NODE_TIMEOUT_MS = 1500
# Detection takes about node-timeout-ms plus a few gossip intervals; this
# only bounds the wait, it is not what the test checks.
DETECT_DEADLINE = 20.0


def flags_of(observer, target):
    for entry in ch.parse_nodes(observer.call("CLUSTER", "NODES")):
        if entry["id"] == target.id:
            return entry["flags"]
    raise AssertionError("%s does not list %s" % (observer.name, target.name))


@ch.skip_unless_shoal
class FailureDetectionTest(ch.ClusterTestCase):
    def start(self, **kwargs):
        return self.start_cluster(
            3, replicas=3, read_quorum=2, write_quorum=2, args=["--node-timeout-ms", NODE_TIMEOUT_MS], **kwargs
        )

    def test_frozen_node_is_marked_failing_then_cleared(self):
        cl = self.start()
        a, b, c = cl
        # A key coordinated by node3 (its first primary), for the routing check.
        key = cl.find_key(lambda reps: reps[0] is c, prefix="fd")
        self.assertEqual(self.client(a).call("SET", key, "1"), "OK")
        down_before = a.counter("cluster_nodes_marked_down")
        with ch.paused(c):
            for n in (a, b):
                h.wait_for(lambda n=n: "fail" in flags_of(n, c), DETECT_DEADLINE, "%s to mark node3 failing" % n.name)
            self.assertIn("Marking node %s" % c.id, a.current_output())
            self.assertGreater(a.counter("cluster_nodes_marked_down"), down_before)
            self.assertGreaterEqual(a.counter("cluster_suspicions"), 1)
            info = a.cluster_info()
            self.assertEqual(info["cluster_failing_nodes"], "1")
            # Two of three replicas are enough for W=2: no partition is down.
            self.assertEqual(info["cluster_state"], "ok")
            self.assertEqual(info["cluster_partitions_below_quorum"], "0")
            # Requests stop waiting for the failing node: a write, a read and
            # a read-modify-write (which node3 would coordinate) all succeed
            # well before request-timeout-ms (5 s here).
            ca = self.client(a)
            t0 = time.monotonic()
            self.assertEqual(ca.call("SET", "fd:other", "x"), "OK")
            self.assertEqual(ca.call("GET", "fd:other"), b"x")
            self.assertEqual(ca.call("INCR", key), 2)
            self.assertLess(time.monotonic() - t0, ch.TEST_REQUEST_TIMEOUT_MS / 1000.0)
        # Continued: node3 refutes and is alive again everywhere.
        for n in (a, b):
            h.wait_for(lambda n=n: "fail" not in flags_of(n, c), DETECT_DEADLINE, "%s to clear node3" % n.name)
        h.wait_for(lambda: "Clear FAIL state for node %s" % c.id in a.current_output(), 10, "node1 to log the clear")
        self.assertGreaterEqual(a.counter("cluster_nodes_marked_up"), 1)
        self.assertEqual(a.cluster_info()["cluster_failing_nodes"], "0")

    def test_two_of_three_frozen_is_cluster_state_fail(self):
        cl = self.start()
        a, b, c = cl
        with ch.paused(b, c):
            h.wait_for(lambda: a.cluster_info()["cluster_failing_nodes"] == "2", DETECT_DEADLINE, "node1 to mark both failing")
            info = a.cluster_info()
            self.assertEqual(info["cluster_state"], "fail")
            self.assertNotEqual(info["cluster_partitions_below_quorum"], "0")
            # Marked down: the write fails at once with NOQUORUM instead of
            # waiting for the frozen replicas.
            t0 = time.monotonic()
            self.assertNoQuorum(self.client(a).request("SET", "k", "v"), 1, 2)
            self.assertLess(time.monotonic() - t0, ch.TEST_REQUEST_TIMEOUT_MS / 1000.0)
        h.wait_for(lambda: a.cluster_info()["cluster_state"] == "ok", DETECT_DEADLINE, "node1 back to ok")

    def test_no_false_failures_in_a_quiet_cluster(self):
        cl = self.start()
        # A few node-timeouts of normal traffic: nobody is marked down. (The
        # count starts once the cluster converged: a node that is slow to
        # start, as under a loaded sanitizer build, may be suspected while
        # the others meet it.)
        marked = [n.counter("cluster_nodes_marked_down") for n in cl]
        deadline = time.monotonic() + 3 * NODE_TIMEOUT_MS / 1000.0
        ca = self.client(cl[0])
        i = 0
        while time.monotonic() < deadline:
            self.assertEqual(ca.call("SET", "quiet:%d" % (i % 100), i), "OK")
            i += 1
        for n, before in zip(cl, marked):
            self.assertEqual(n.counter("cluster_nodes_marked_down"), before, n.name)
            self.assertEqual(n.cluster_info()["cluster_failing_nodes"], "0")


@ch.skip_unless_shoal
class ClusterWideWithDeadNodeTest(ch.ClusterTestCase):
    """N=2 of 3 nodes, W=2: every key is on two nodes. With one node killed,
    each of its partitions is listed by the other replica, so counts and
    scans stay exact; with two killed, some partition has no replica left
    and the listing says which."""

    def test_listing_commands_survive_a_dead_node(self):
        cl = self.start_cluster(3, replicas=2, read_quorum=1, write_quorum=2,
                                args=["--node-timeout-ms", NODE_TIMEOUT_MS])
        a, b, c = cl
        ca = self.client(a)
        keys = ["dead:%d" % i for i in range(300)]
        for k in keys:
            self.assertEqual(ca.call("SET", k, "v"), "OK")
        self.assertEqual(ca.call("DBSIZE"), len(keys))
        c.kill()
        for n, client in ((a, ca), (b, self.client(b))):
            self.assertEqual(client.call("DBSIZE"), len(keys), "DBSIZE via %s" % n.name)
            self.assertEqual(sorted(client.call("KEYS", "dead:*")), sorted(k.encode() for k in keys))
            scanned = ch.scan_all(client, "COUNT", 7)
            self.assertEqual(len(scanned), len(set(scanned)), "SCAN returned a key twice")
            self.assertEqual(sorted(scanned), sorted(k.encode() for k in keys))
            self.assertIn(client.call("RANDOMKEY").decode(), keys)
        b.kill()
        reply = ca.request("DBSIZE")
        self.assertIsInstance(reply, h.ReplyError, reply)
        self.assertRegex(reply.message, r"^NOQUORUM partition \d+ has no reachable replica")


@ch.skip_unless_shoal
class HintedHandoffTest(ch.ClusterTestCase):
    """3 nodes, N=2: a key lives on two nodes and the third is its fallback."""

    def start(self, *extra, read_quorum=2):
        return self.start_cluster(
            3, replicas=2, read_quorum=read_quorum, write_quorum=2,
            args=["--node-timeout-ms", NODE_TIMEOUT_MS, "--appendfsync", "always"] + list(extra),
        )

    def keys_on(self, cl, nodes, count=20):
        keys = []
        for i in range(2000):
            k = "hh:%d" % i
            if set(cl.replicas_of(k)) == set(nodes):
                keys.append(k)
                if len(keys) == count:
                    return keys
        raise AssertionError("too few keys on %r" % (nodes,))

    def test_fallback_takes_writes_keeps_hints_and_hands_them_off(self):
        cl = self.start()
        a, b, c = cl
        keys = self.keys_on(cl, (a, b))
        b.kill()
        h.wait_for(lambda: "fail" in flags_of(a, b), DETECT_DEADLINE, "node1 to mark node2 failing")
        ca = self.client(a)
        for k in keys:
            self.assertEqual(ca.call("SET", k, "v-" + k), "OK", k)
        # node3 stood in for node2: it holds a hint per key, durably.
        self.assertGreaterEqual(c.counter("cluster_hints_pending"), len(keys))
        self.assertEqual(c.counter("cluster_hints_for_" + b.id), len(keys))
        # R=2: the read is answered by node1 and the fallback, whose answer
        # includes its hints.
        for k in keys:
            self.assertEqual(ca.call("GET", k), ("v-" + k).encode())
        # The fallback crashes and comes back: its hints were on disk.
        c.kill()
        c.restart()
        self.assertEqual(c.counter("cluster_hints_for_" + b.id), len(keys))
        # The owner comes back: the hints are handed off, then dropped.
        b.restart()
        h.wait_for(lambda: c.counter("cluster_hints_pending") == 0, DETECT_DEADLINE, "hand-off to node2")
        self.assertGreaterEqual(c.counter("cluster_hints_delivered"), len(keys))
        for k in keys:
            self.assertEqual(b.getlocal(k)[1], [("v-" + k).encode()], k)

    def test_sloppy_quorum_no_counts_primaries_only(self):
        cl = self.start("--sloppy-quorum", "no", read_quorum=1)
        a, b, c = cl
        key = self.keys_on(cl, (a, b), count=1)[0]
        b.kill()
        h.wait_for(lambda: "fail" in flags_of(a, b), DETECT_DEADLINE, "node1 to mark node2 failing")
        self.assertNoQuorum(self.client(a).request("SET", key, "v"), 1, 2)
        self.assertEqual(c.counter("cluster_hints_pending"), 0)


@ch.skip_unless_shoal
class FallbackCoordinationTest(ch.ClusterTestCase):
    """A fallback stands in for a dead primary: writes are still coordinated
    by a primary (a fallback's copy of a key need not hold its own earlier
    writes of it, and a coordinator's new dot covers all of those), and the
    fallback's copies move to the primaries once all are back."""

    LOAD_SECONDS = 4.0  # how long the clients write: the workload, not a wait

    def test_increments_and_members_through_every_node_are_all_kept(self):
        cl = self.start_cluster(5, replicas=3, read_quorum=2, write_quorum=2,
                                args=["--node-timeout-ms", NODE_TIMEOUT_MS, "--appendfsync", "always"])
        hk = cl.find_key(lambda reps: True, prefix="fc-hash")
        victim = cl.replicas_of(hk)[0]
        sk = cl.find_key(lambda reps: reps[0] is victim, prefix="fc-set")
        others = [n for n in cl if n is not victim]
        victim.kill()
        h.wait_for(lambda: all("fail" in flags_of(o, victim) for o in others), DETECT_DEADLINE,
                   "%s's death detected" % victim.name)
        lock = threading.Lock()
        acked = {"sum": 0, "unsure": 0, "members": set(), "errors": []}
        stop = threading.Event()

        def client_loop(node, ci):
            c = h.Client(node.host, node.port, timeout=8)
            i = 0
            try:
                while not stop.is_set():
                    i += 1
                    member = "%s.%d.%d" % (node.name, ci, i)
                    try:
                        r = c.request("HINCRBY", hk, "f", 1) if i % 2 else c.request("SADD", sk, member)
                    except (OSError, h.HarnessError) as e:  # outcome unknown
                        with lock:
                            acked["unsure"] += i % 2
                        c.close()
                        c = h.Client(node.host, node.port, timeout=8)
                        continue
                    with lock:
                        if isinstance(r, h.ReplyError):
                            acked["errors"].append(r.message)
                        elif i % 2:
                            acked["sum"] += 1
                        else:
                            acked["members"].add(member)
            finally:
                c.close()

        threads = [threading.Thread(target=client_loop, args=(n, i), daemon=True)
                   for n in others for i in range(3)]
        for t in threads:
            t.start()
        try:
            stop.wait(self.LOAD_SECONDS)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(acked["errors"], [])
        self.assertGreater(acked["sum"], 100)

        def final():
            seen = set()
            for n in others:
                with n.client() as c:
                    seen.add((int(c.call("HGET", hk, "f")), frozenset(m.decode() for m in c.call("SMEMBERS", sk))))
            return seen

        h.wait_for(lambda: len(final()) == 1, DETECT_DEADLINE, "the live nodes to agree")
        total, members = final().pop()
        self.assertGreaterEqual(total, acked["sum"], "acknowledged HINCRBYs lost")
        self.assertLessEqual(total, acked["sum"] + acked["unsure"])
        self.assertEqual(acked["members"] - members, set(), "acknowledged SADDs lost")

    def test_fallback_copies_move_to_the_primaries_once_all_are_back(self):
        cl = self.start_cluster(3, replicas=2, read_quorum=2, write_quorum=2,
                                args=["--node-timeout-ms", NODE_TIMEOUT_MS, "--appendfsync", "always"])
        a, b, c = cl
        keys = [k for k in ("fm:%d" % i for i in range(400)) if set(cl.replicas_of(k)) == {a, b}][:10]
        self.assertEqual(len(keys), 10)
        ca = self.client(a)
        for k in keys:
            self.assertEqual(ca.call("SET", k, "v-" + k), "OK")
        b.kill()
        h.wait_for(lambda: "fail" in flags_of(c, b), DETECT_DEADLINE, "node3 to mark node2 failing")
        cc = self.client(c)
        for k in keys:
            # node3 stands in for node2: it coordinates the read and keeps
            # the merge, a copy of a key it does not replicate.
            self.assertEqual(cc.call("GET", k), ("v-" + k).encode())
            self.assertEqual(c.getlocal(k)[1], [("v-" + k).encode()])
            # A write through it is coordinated by node1, the primary.
            self.assertEqual(cc.call("SET", k, "w-" + k), "OK")
        self.assertGreaterEqual(c.counter("cluster_forwards"), len(keys))
        b.restart()
        h.wait_for(lambda: all(c.getlocal(k)[1] == [] for k in keys), DETECT_DEADLINE,
                   "node3's copies to leave it")
        self.assertGreaterEqual(c.counter("cluster_transfer_stray_keys_moved"), len(keys))
        for k in keys:
            self.assertEqual(a.getlocal(k)[1], [("w-" + k).encode()], k)
            self.assertEqual(b.getlocal(k)[1], [("w-" + k).encode()], k)


if __name__ == "__main__":
    h.main()
