"""Cluster faults: siblings from concurrent writes, NOQUORUM under SIGSTOP and
recovery, read repair, peer authentication.

Every paused node is continued, and every node stopped, in cleanups that run
whether the test passed or not (cluster_harness.paused, ClusterTestCase).
"""

import os
import re
import time

import cluster_harness as ch
import shoal_harness as h

AUTH_FAILURE = re.compile(r"authentication failed|failed authentication", re.IGNORECASE)


@ch.skip_unless_shoal
class SiblingsTest(ch.ClusterTestCase):
    @classmethod
    def setUpClass(cls):
        cls.cl = cls.start_class_cluster(3, replicas=3, read_quorum=2, write_quorum=2)

    def test_concurrent_setv_through_two_nodes(self):
        a, b, c = (self.client(n) for n in self.cl)
        self.assertEqual(a.call("SET", "cart", "base"), "OK")
        ctx, values = a.call("GETV", "cart")
        self.assertEqual(values, [b"base"])
        # The same context through two coordinators: neither write covers the other.
        self.assertEqual(a.call("SETV", "cart", ctx, "from-a"), "OK")
        self.assertEqual(b.call("SETV", "cart", ctx, "from-b"), "OK")
        for i, cli in enumerate((a, b, c)):
            got = cli.call("GET", "cart")
            self.assertIsInstance(got, list, "GET via node%d: %r" % (i + 1, got))
            self.assertEqual(sorted(got), [b"from-a", b"from-b"], "GET via node%d" % (i + 1))
        ctx2, values = c.call("GETV", "cart")
        self.assertEqual(sorted(values), [b"from-a", b"from-b"])
        self.assertNotEqual(ctx2, ctx)
        # A write with the newer context resolves them, seen through every node.
        self.assertEqual(c.call("SETV", "cart", ctx2, "merged"), "OK")
        for i, cli in enumerate((a, b, c)):
            self.assertEqual(cli.call("GET", "cart"), b"merged", "GET via node%d" % (i + 1))
        self.assertEqual(b.call("GETV", "cart")[1], [b"merged"])

    def test_concurrent_setv_on_a_new_key(self):
        a, b, c = (self.client(n) for n in self.cl)
        ctx, values = c.call("GETV", "fresh")
        self.assertEqual(values, [])
        self.assertEqual(a.call("SETV", "fresh", ctx, "x"), "OK")
        self.assertEqual(b.call("SETV", "fresh", ctx, "y"), "OK")
        for cli in (a, b, c):
            self.assertEqual(sorted(cli.call("GET", "fresh")), [b"x", b"y"])
        # Read-modify-write on siblings is refused, through any node.
        reply = c.request("APPEND", "fresh", "z")
        self.assertIsInstance(reply, h.ReplyError)
        self.assertTrue(reply.message.startswith("CONFLICT 2 siblings"), reply.message)
        # A plain SET supersedes what its coordinator has seen (both: W=2 of 3,
        # R=2 reads see both siblings).
        self.assertEqual(b.call("SET", "fresh", "z"), "OK")
        for cli in (a, b, c):
            self.assertEqual(cli.call("GET", "fresh"), b"z")


@ch.skip_unless_shoal
class NoQuorumTest(ch.ClusterTestCase):
    """Strict quorums: with sloppy-quorum no only a key's primaries count, so
    a stopped primary shows as NOQUORUM however long it stays stopped (with
    sloppy quorum, once it is marked failing a fallback takes its writes:
    test_cluster_failures.py)."""

    TIMEOUT_MS = 500

    def start_cluster(self, size, **kwargs):
        kwargs["args"] = list(kwargs.get("args", ())) + ["--sloppy-quorum", "no"]
        return super().start_cluster(size, **kwargs)

    def test_two_of_three_stopped_then_continued(self):
        cl = self.start_cluster(3, replicas=3, read_quorum=2, write_quorum=2, request_timeout_ms=self.TIMEOUT_MS)
        a, b, c = cl
        ca = self.client(a)
        self.assertEqual(ca.call("SET", "k", "before"), "OK")
        failures = a.counter("cluster_quorum_failures")
        with ch.paused(b, c):
            t0 = time.monotonic()
            reply = ca.request("SET", "k", "during")
            elapsed = time.monotonic() - t0
            self.assertNoQuorum(reply, 1, 2)
            # Not before the request timeout (nothing tells a stopped node apart
            # from a slow one).
            self.assertGreaterEqual(elapsed, 0.8 * self.TIMEOUT_MS / 1000.0)
            self.assertNoQuorum(ca.request("GET", "k"), 1, 2)
            # Pipelined: each request gets its own NOQUORUM, in order, and the
            # node itself still answers what needs no quorum.
            replies = ca.pipeline([("SET", "k2", "x"), ("PING",), ("GET", "k"), ("ECHO", "e")])
            self.assertNoQuorum(replies[0], 1, 2)
            self.assertEqual(replies[1], "PONG")
            self.assertNoQuorum(replies[2], 1, 2)
            self.assertEqual(replies[3], b"e")
            self.assertGreaterEqual(a.counter("cluster_quorum_failures"), failures + 4)
            # CONFIG SET request-timeout-ms acts on the next request.
            self.assertEqual(ca.call("CONFIG", "SET", "request-timeout-ms", "1500"), "OK")
            t0 = time.monotonic()
            self.assertNoQuorum(ca.request("SET", "k", "longer"), 1, 2)
            self.assertGreaterEqual(time.monotonic() - t0, 1.2)
        # Continued: the cluster answers again (peers process what queued up).
        h.wait_for(lambda: ca.call("SET", "k", "after") == "OK", ch.RECOVER_TIMEOUT, "SET through node1 after SIGCONT")
        for n in cl:
            self.assertEqual(self.client(n).call("GET", "k"), b"after")

    def test_forward_to_a_stopped_replica(self):
        # N=1: the key's only replica is stopped; the node that forwards to it
        # replies NOQUORUM (after its timeout), in order, and recovers.
        cl = self.start_cluster(3, replicas=1, read_quorum=1, write_quorum=1, request_timeout_ms=self.TIMEOUT_MS)
        a, b, c = cl
        key = cl.find_key(lambda reps: reps == [c], prefix="fwd")
        local = cl.find_key(lambda reps: reps == [a], prefix="loc")
        ca = self.client(a)
        with ch.paused(c):
            replies = ca.pipeline([("SET", key, "v"), ("SET", local, "l"), ("GET", key), ("GET", local)])
            self.assertNoQuorum(replies[0], 0, 1)
            self.assertEqual(replies[1], "OK")
            self.assertNoQuorum(replies[2], 0, 1)
            self.assertEqual(replies[3], b"l")
        h.wait_for(lambda: ca.call("SET", key, "after") == "OK", ch.RECOVER_TIMEOUT, "forwarded SET after SIGCONT")
        self.assertEqual(self.client(b).call("GET", key), b"after")

    def test_multi_key_commands_fail_per_key(self):
        # N=1: one key's only replica stopped. Multi-key commands split per
        # key and are not atomic: the other keys are written and read.
        cl = self.start_cluster(3, replicas=1, read_quorum=1, write_quorum=1, request_timeout_ms=self.TIMEOUT_MS)
        a, b, c = cl
        down = cl.find_key(lambda reps: reps == [c], prefix="down")
        up = [cl.find_key(lambda reps: reps == [n], prefix="up%d" % i) for i, n in enumerate((a, b))]
        ca = self.client(a)
        with ch.paused(c):
            self.assertNoQuorum(ca.request("MSET", up[0], "1", down, "2", up[1], "3"), 0, 1)
            self.assertEqual(ca.call("GET", up[0]), b"1")
            self.assertEqual(ca.call("GET", up[1]), b"3")
            reply = ca.request("MGET", up[0], down, up[1])
            self.assertIsInstance(reply, list, reply)
            self.assertEqual([reply[0], reply[2]], [b"1", b"3"])
            self.assertNoQuorum(reply[1], 0, 1)
            self.assertNoQuorum(ca.request("DEL", up[0], down), 0, 1)
            self.assertEqual(ca.call("EXISTS", up[0]), 0)
        h.wait_for(lambda: ca.call("MSET", down, "2", up[0], "1") == "OK", ch.RECOVER_TIMEOUT, "MSET after SIGCONT")
        self.assertEqual(self.client(b).call("MGET", up[0], down, up[1]), [b"1", b"2", b"3"])

    def test_flushall_needs_every_member(self):
        cl = self.start_cluster(3, replicas=3, read_quorum=2, write_quorum=3, request_timeout_ms=self.TIMEOUT_MS)
        a, b, c = cl
        ca = self.client(a)
        self.assertEqual(ca.call("MSET", "f1", "1", "f2", "2"), "OK")
        with ch.paused(c):
            reply = ca.request("FLUSHALL")
            self.assertIsInstance(reply, h.ReplyError, reply)
            self.assertTrue(reply.message.startswith("NOQUORUM "), reply.message)
            # The members that answered are empty.
            for n in (a, b):
                self.assertEqual(n.getlocal("f1")[1], [])
            # node3 never reads the FLUSHALL buffered for it.
            c.kill()
        c.restart()
        cl.wait_converged()
        # FLUSHALL writes no tombstones: node3, which missed it, keeps its keys.
        self.assertEqual(c.getlocal("f1")[1], [b"1"])
        self.assertEqual(ca.call("FLUSHALL"), "OK")
        for n in cl:
            self.assertEqual(n.getlocal("f1")[1], [])
            self.assertEqual(n.getlocal("f2")[1], [])

    def test_one_of_three_stopped_writes_and_reads_succeed(self):
        cl = self.start_cluster(3, replicas=3, read_quorum=2, write_quorum=2)
        a, b, c = cl
        with ch.paused(c):
            ca, cb = self.client(a), self.client(b)
            for i in range(20):
                self.assertEqual(ca.call("SET", "one:%d" % i, i), "OK")
                self.assertEqual(cb.call("GET", "one:%d" % i), b"%d" % i)
            # A client of the stopped node waits; its reply comes after SIGCONT.
            cc = self.client(c)
            cc.send("GET", "one:0")
        self.assertEqual(cc.read_reply(), b"0")


@ch.skip_unless_shoal
class ReadRepairTest(ch.ClusterTestCase):
    """Read repair alone: anti-entropy is off, so a stale replica stays stale
    until a read meets it (test_anti_entropy.py covers repair without reads)."""

    NO_AE = ["--anti-entropy-interval-ms", 0]

    def test_replica_that_missed_writes_is_repaired_by_reads(self):
        cl = self.start_cluster(3, replicas=3, read_quorum=2, write_quorum=2, args=self.NO_AE)
        a, b, c = cl
        ca = self.client(a)
        reconnects = a.counter("cluster_peer_reconnects")
        self.assertEqual(ca.call("SET", "stale", "old"), "OK")
        h.wait_for(lambda: c.getlocal("stale")[1] == [b"old"], 10, "node3 to hold the first write")
        # node3 provably misses the next writes: stopped before they are sent
        # (the kernel buffers them), then killed, so it never reads them.
        with ch.paused(c):
            self.assertEqual(ca.call("SET", "stale", "new"), "OK")
            self.assertEqual(ca.call("SET", "missing", "fresh"), "OK")
            c.kill()
        c.restart()
        cl.wait_converged()
        self.assertGreater(a.counter("cluster_peer_reconnects"), reconnects)
        self.assertEqual(c.getlocal("stale")[1], [b"old"])
        self.assertEqual(c.getlocal("missing")[1], [])
        repairs = a.counter("cluster_read_repairs")
        # Reads through node1 (R=2): whether node3's reply is among the first two
        # or arrives late, the merge is the new value and node3 gets repaired.
        self.assertEqual(ca.call("GET", "stale"), b"new")
        self.assertEqual(ca.call("GET", "missing"), b"fresh")
        h.wait_for(lambda: c.getlocal("stale")[1] == [b"new"], 10, "node3's copy of 'stale' to be repaired")
        h.wait_for(lambda: c.getlocal("missing")[1] == [b"fresh"], 10, "node3's copy of 'missing' to be repaired")
        h.wait_for(lambda: a.counter("cluster_read_repairs") >= repairs + 2, 10, "read_repairs to count both repairs")
        # The repair was a real write: node3 alone (others stopped) still has it.
        self.assertEqual(c.getlocal("stale")[1], [b"new"])


    def test_delete_is_not_undone_by_a_replica_that_missed_it(self):
        # The tombstone stays on the replicas that took the DEL, so a read
        # that meets node3's old value returns nil and repairs node3 with the
        # tombstone instead of bringing the value back.
        cl = self.start_cluster(3, replicas=3, read_quorum=2, write_quorum=2, args=self.NO_AE)
        a, b, c = cl
        ca = self.client(a)
        # DEL is coordinated by the key's first primary: node1, not the
        # stopped node3 (whose link stays up while it is stopped).
        gone = cl.find_key(lambda reps: reps[0] is a, prefix="gone")
        self.assertEqual(ca.call("SET", gone, "v"), "OK")
        h.wait_for(lambda: c.getlocal(gone)[1] == [b"v"], 10, "node3 to hold the value")
        with ch.paused(c):
            self.assertEqual(ca.call("DEL", gone), 1)
            c.kill()
        c.restart()
        cl.wait_converged()
        self.assertEqual(c.getlocal(gone)[1], [b"v"])
        for n in (a, c, b):
            self.assertIsNone(self.client(n).call("GET", gone), "GET via %s" % n.name)
        h.wait_for(lambda: c.getlocal(gone)[1] == [], 10, "node3 to get the tombstone")
        self.assertEqual(self.client(c).call("EXISTS", gone), 0)
        self.assertEqual(self.client(b).call("DBSIZE"), 0)

    def test_read_repair_off_then_on_with_config_set(self):
        # R=3: a read waits for every replica, so its repair decision (and any
        # repair write) is made before it replies; the next read through the
        # same node reaches node3 after that write (one ordered link).
        cl = self.start_cluster(3, replicas=3, read_quorum=3, write_quorum=2, args=["--read-repair", "no"] + self.NO_AE)
        a, b, c = cl
        ca = self.client(a)
        with ch.paused(c):
            self.assertEqual(ca.call("SET", "rr", "v"), "OK")
            c.kill()
        c.restart()
        cl.wait_converged()
        self.assertEqual(c.getlocal("rr")[1], [])
        repairs = a.counter("cluster_read_repairs")
        self.assertEqual(ca.call("GET", "rr"), b"v")
        self.assertEqual(ca.call("GET", "rr"), b"v")
        self.assertEqual(c.getlocal("rr")[1], [], "read-repair no: node3 was repaired anyway")
        self.assertEqual(a.counter("cluster_read_repairs"), repairs)
        self.assertEqual(ca.call("CONFIG", "SET", "read-repair", "yes"), "OK")
        self.assertEqual(ca.call("GET", "rr"), b"v")
        h.wait_for(lambda: c.getlocal("rr")[1] == [b"v"], 10, "node3 to be repaired once read-repair is on")
        self.assertGreater(a.counter("cluster_read_repairs"), repairs)


@ch.skip_unless_shoal
class PeerAuthTest(ch.ClusterTestCase):
    def test_node_with_another_secret_never_joins(self):
        cl = self.start_cluster(3, secret=["right", "right", "wrong"], converge=False)
        good, bad = cl.nodes[:2], cl[2]
        cl.wait_converged(nodes=good, expected=2)
        # Both directions are tried (everyone is everyone's seed) and fail.
        for n in cl:
            h.wait_for(lambda n=n: AUTH_FAILURE.search(n.current_output()), 20, "%s to log the failed authentication" % n.name)
        self.assertEqual(bad.cluster_info()["cluster_known_nodes"], "1")
        self.assertEqual(len(bad.cluster_nodes()), 1)
        for n in good:
            self.assertEqual(n.cluster_info()["cluster_known_nodes"], "2")
            self.assertNotIn(bad.id, [row["id"] for row in n.cluster_nodes()])
        # The two good nodes still work as a cluster.
        self.assertEqual(self.client(good[0]).call("SET", "k", "v"), "OK")
        self.assertEqual(self.client(good[1]).call("GET", "k"), b"v")
        self.assertIsNone(self.client(bad).call("GET", "k"))

    def check_cluster_port_refuses_clients(self, node):
        for payload in (h.encode_command("PING"), b"PING\r\n", h.encode_command("GET", "k")):
            c = h.Client(node.host, node.cport)
            self.addCleanup(c.close)
            c.send_raw(payload)
            reply = c.read_reply()
            self.assertIsInstance(reply, h.ReplyError, "payload %r got %r" % (payload, reply))
            self.assertClosed(c)
        # Garbage: closed (an error first is fine).
        c = h.Client(node.host, node.cport)
        self.addCleanup(c.close)
        c.send_raw(b"\x00\x01\x02 not resp at all\r\n")
        c.read_until_closed()
        self.assertServesOthers(node)

    def test_client_on_cluster_port_is_refused(self):
        cl = self.start_cluster(2, secret="s3cret")
        for n in cl:
            self.check_cluster_port_refuses_clients(n)
        # The cluster is unaffected.
        self.assertEqual(self.client(cl[0]).call("SET", "k", "v"), "OK")
        self.assertEqual(self.client(cl[1]).call("GET", "k"), b"v")

    def test_client_on_open_cluster_port_is_refused_too(self):
        # No secret: anyone may join, but only through the handshake.
        cl = self.start_cluster(1, converge=False)
        self.check_cluster_port_refuses_clients(cl[0])

    def test_peer_commands_are_unknown_on_the_client_port(self):
        cl = self.start_cluster(1, converge=False, secret="s3cret")
        c = self.client(cl[0])
        for cmd in (("SHOAL.HELLO", "a" * 40, "b" * 32), ("SHOAL.AUTH", "c" * 64), ("SHOAL.MEMBERS", "x")):
            reply = c.request(*cmd)
            self.assertIsInstance(reply, h.ReplyError, "%s got %r" % (cmd[0], reply))
            self.assertTrue(reply.message.startswith("ERR unknown command '%s'" % cmd[0]), reply.message)
        self.assertEqual(c.call("PING"), "PONG")

    def test_no_secret_warns_at_start(self):
        cl = self.start_cluster(1, converge=False)
        out = cl[0].current_output()
        warnings = [l for l in out.splitlines() if " # " in l and "cluster-secret" in l]
        self.assertTrue(warnings, "no start-up warning about the open cluster port:\n%s" % out)
        cl2 = self.start_cluster(1, converge=False, secret="s3cret", first_host=2)
        out = cl2[0].current_output()
        self.assertFalse([l for l in out.splitlines() if " # " in l and re.search(r"cluster-secret", l)], out)


@ch.skip_unless_shoal
class MembershipPersistenceTest(ch.ClusterTestCase):
    def test_restarted_node_without_seeds_rejoins_and_never_acts_alone(self):
        """Three of five nodes stopped; a node restarted with no seeds still
        knows its cluster (dir/nodes.state): it does not take W=2 alone, and it
        rejoins once the others are back. (Before membership was kept, it came
        up as a cluster of one and acknowledged writes the cluster then lost.)"""
        # sloppy-quorum no: only the key's primaries count, so a node that
        # acted alone would show as an OK here.
        cl = self.start_cluster(5, replicas=3, read_quorum=2, write_quorum=2, request_timeout_ms=500,
                                args=["--sloppy-quorum", "no"])
        a, b, c, d, e = cl
        key = cl.key_not_on(a)
        self.assertEqual(self.client(a).call("SET", key, "before"), "OK")
        e.stop()
        e.args = [x for i, x in enumerate(e.args) if x != "--cluster-seeds" and (i == 0 or e.args[i - 1] != "--cluster-seeds")]
        self.assertNotIn("--cluster-seeds", e.args)
        with ch.paused(b, c, d):
            e.restart()
            self.assertEqual(e.cluster_info()["cluster_known_nodes"], "5")
            self.assertIn("rejoining a cluster of 5 known members", e.current_output())
            # The key's replicas are three of b, c, d, e: at most one is up.
            reply = self.client(e).request("SET", key, "alone")
            self.assertIsInstance(reply, h.ReplyError, reply)
            self.assertTrue(reply.message.startswith("NOQUORUM "), reply.message)
        cl.wait_converged()
        h.wait_for(lambda: self.client(e).request("SET", key, "after") == "OK", ch.RECOVER_TIMEOUT, "SET through the restarted node")
        for n in cl:
            self.assertEqual(self.client(n).call("GET", key), b"after")

    def test_restarted_node_with_sloppy_quorum_loses_nothing(self):
        """The same with sloppy quorum (the default): node1 stands in for the
        stopped primaries, so the write may be acknowledged; if it is, no
        node loses it once the cluster is whole again."""
        cl = self.start_cluster(5, replicas=3, read_quorum=2, write_quorum=2, request_timeout_ms=500)
        a, b, c, d, e = cl
        key = cl.key_not_on(a)
        e.stop()
        e.args = [x for i, x in enumerate(e.args) if x != "--cluster-seeds" and (i == 0 or e.args[i - 1] != "--cluster-seeds")]
        with ch.paused(b, c, d):
            e.restart()
            self.assertEqual(e.cluster_info()["cluster_known_nodes"], "5")
            acked = self.client(e).request("SET", key, "during") == "OK"
        cl.wait_converged()
        if acked:
            h.wait_for(lambda: a.counter("cluster_hints_pending") == 0 and e.counter("cluster_hints_pending") == 0,
                       ch.RECOVER_TIMEOUT, "hints handed off")
            for n in cl:
                self.assertEqual(self.client(n).call("GET", key), b"during", "GET via %s" % n.name)

    def test_damaged_membership_file_stops_start_up(self):
        cl = self.start_cluster(2, replicas=2, read_quorum=1, write_quorum=1)
        b = cl[1]
        b.stop()
        path = os.path.join(b.fixed_dir, "nodes.state")
        with open(path, "r+b") as f:
            f.seek(-1, os.SEEK_END)
            last = f.read(1)
            f.seek(-1, os.SEEK_END)
            f.write(bytes([last[0] ^ 0x40]))
        with self.assertRaises(h.HarnessError):
            b.restart()
        self.assertIn("nodes.state: checksum mismatch", b.output)


if __name__ == "__main__":
    h.main()
