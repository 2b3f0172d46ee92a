"""MULTI / EXEC / DISCARD / WATCH / UNWATCH, RENAME / RENAMENX / COPY, and
hash tags.

Single node: every scenario runs on redis-server 7.0.15 (started here as the
reference, with `databases 1` as shoal has one database) and on shoal, and
the reply bytes must be equal, step by step. Scenarios use two clients where
a second client's write must abort a WATCH.

Cluster (3 nodes): hash-tagged transactions coordinated by a replica of the
tag when the client's node is not one, CROSSSLOT on keys of different
replica sets, WATCH aborted by a write through another node, RENAME with
hash tags, and MSETNX reading every key from a read quorum.
"""

import subprocess
import time

import cluster_harness as ch
import shoal_harness as h


def raw_reply(client):
    """The next reply's bytes, exactly as sent."""
    start = client.pos
    client.read_reply()
    return bytes(client.buf[start : client.pos])


def run_steps(server, steps):
    """Runs (client index, command...) steps; returns each reply's bytes."""
    clients = [server.client(), server.client()]
    try:
        out = []
        for step in steps:
            who, cmd = step[0], step[1:]
            if who == "wait_gone":  # polls (client 1) until the key is gone
                h.wait_for(lambda: clients[1].call("EXISTS", cmd[0]) == 0, 10, "%s to expire" % cmd[0])
                continue
            clients[who].send(*cmd)
            out.append(("%d %s" % (who, " ".join(cmd)), raw_reply(clients[who])))
        return out
    finally:
        for c in clients:
            c.close()


SCENARIOS = {
    "basic": [
        (0, "MULTI"), (0, "SET", "a", "1"), (0, "INCR", "a"), (0, "GET", "a"), (0, "EXEC"),
        (0, "GET", "a"),
    ],
    "errors outside and inside MULTI": [
        (0, "EXEC"), (0, "DISCARD"), (0, "MULTI"), (0, "MULTI"), (0, "WATCH", "x"),
        (0, "SET", "q", "1"), (0, "SET", "q"), (0, "NOSUCHCOMMAND", "a"), (0, "EXEC"),
        (0, "GET", "q"), (0, "EXEC"),
    ],
    "a refused EXEC or DISCARD": [
        (0, "EXEC", "x"), (0, "MULTI"), (0, "SET", "z", "1"), (0, "EXEC", "x"), (0, "EXEC"),
        (0, "GET", "z"), (0, "DISCARD", "x"), (0, "MULTI"), (0, "DISCARD", "x"), (0, "EXEC"),
    ],
    "runtime errors are elements, no rollback": [
        (0, "SET", "s", "text"), (0, "MULTI"), (0, "INCR", "s"), (0, "SET", "t", "1"),
        (0, "SET", "t", "2", "BOGUS"), (0, "GET", "t"), (0, "EXEC"), (0, "GET", "t"),
    ],
    "discard": [
        (0, "MULTI"), (0, "SET", "d", "1"), (0, "DISCARD"), (0, "GET", "d"), (0, "EXEC"),
    ],
    "empty transaction": [(0, "MULTI"), (0, "EXEC")],
    "watch aborted by another client": [
        (0, "SET", "w", "1"), (0, "WATCH", "w"), (1, "SET", "w", "2"), (0, "MULTI"),
        (0, "SET", "w", "3"), (0, "EXEC"), (0, "GET", "w"),
    ],
    "watch aborted by the same client's write": [
        (0, "WATCH", "w1"), (0, "SET", "w1", "x"), (0, "MULTI"), (0, "GET", "w1"), (0, "EXEC"),
    ],
    "watch untouched": [
        (0, "SET", "w2", "1"), (0, "WATCH", "w2", "nothere"), (1, "SET", "other", "1"),
        (1, "GET", "w2"), (0, "MULTI"), (0, "SET", "w2", "x"), (0, "EXEC"), (0, "GET", "w2"),
    ],
    "watch aborted by DEL": [
        (0, "SET", "w3", "1"), (0, "WATCH", "w3"), (1, "DEL", "w3"), (0, "MULTI"), (0, "PING"),
        (0, "EXEC"),
    ],
    "DEL of an absent watched key changes nothing": [
        (0, "WATCH", "w4"), (1, "DEL", "w4"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "watch aborted by creating the key": [
        (0, "WATCH", "w5"), (1, "SET", "w5", "v"), (0, "MULTI"), (0, "PING"), (0, "EXEC"),
    ],
    "watch aborted by expiry": [
        (0, "SET", "e", "1", "PX", "300"), (0, "WATCH", "e"), ("wait_gone", "e"), (0, "MULTI"),
        (0, "PING"), (0, "EXEC"),
    ],
    "watch aborted by FLUSHALL": [
        (0, "SET", "f", "1"), (0, "WATCH", "f"), (1, "FLUSHALL"), (0, "MULTI"), (0, "PING"),
        (0, "EXEC"),
    ],
    "unwatch": [
        (0, "SET", "u", "1"), (0, "WATCH", "u"), (0, "UNWATCH"), (1, "SET", "u", "2"),
        (0, "MULTI"), (0, "GET", "u"), (0, "EXEC"),
    ],
    "EXEC and DISCARD unwatch": [
        (0, "WATCH", "x1"), (0, "MULTI"), (0, "EXEC"), (1, "SET", "x1", "1"), (0, "MULTI"),
        (0, "GET", "x1"), (0, "EXEC"), (0, "WATCH", "x2"), (0, "MULTI"), (0, "DISCARD"),
        (1, "SET", "x2", "1"), (0, "MULTI"), (0, "GET", "x2"), (0, "EXEC"),
    ],
    "UNWATCH inside MULTI is queued": [
        (0, "WATCH", "y"), (0, "MULTI"), (0, "UNWATCH"), (0, "EXEC"),
    ],
    "RESET ends the transaction": [
        (0, "MULTI"), (0, "SET", "rs", "1"), (0, "RESET"), (0, "EXEC"), (0, "GET", "rs"),
    ],
    "maxmemory refuses queueing, and EXEC of a deny-oom queue": [
        (0, "MULTI"), (0, "SET", "o", "1"), (0, "PING"), (1, "CONFIG", "SET", "maxmemory", "1"),
        (0, "EXEC"), (0, "GET", "o"), (0, "DISCARD"), (0, "MULTI"), (0, "PING"),
        (1, "CONFIG", "SET", "maxmemory", "0"), (0, "EXEC"), (0, "MULTI"), (0, "PING"),
        (1, "CONFIG", "SET", "maxmemory", "1"), (0, "EXEC"), (1, "CONFIG", "SET", "maxmemory", "0"),
        (0, "GET", "o"),
    ],
    "RENAME and RENAMENX": [
        (0, "RENAME", "nokey", "x"), (0, "RENAMENX", "nokey", "x"), (0, "SET", "r", "1", "EX", "100"),
        (0, "RENAME", "r", "r"), (0, "RENAMENX", "r", "r"), (0, "RENAME", "r", "r2"),
        (0, "EXISTS", "r"), (0, "GET", "r2"), (0, "TTL", "r2"), (0, "SET", "r3", "3"),
        (0, "RENAMENX", "r2", "r3"), (0, "RENAME", "r2", "r3"), (0, "GET", "r3"),
        (0, "TTL", "r3"), (0, "RENAME", "r3"),
    ],
    "COPY": [
        (0, "COPY", "nokey", "x"), (0, "SET", "c", "1", "EX", "100"), (0, "COPY", "c", "c"),
        (0, "COPY", "c", "c2"), (0, "TTL", "c2"), (0, "GET", "c2"), (0, "SET", "c", "2"),
        (0, "COPY", "c", "c2"), (0, "GET", "c2"), (0, "COPY", "c", "c2", "REPLACE"),
        (0, "GET", "c2"), (0, "TTL", "c2"), (0, "COPY", "c", "c3", "DB", "0"),
        (0, "COPY", "c", "c4", "DB", "1"), (0, "COPY", "c", "c4", "DB", "x"),
        (0, "COPY", "c", "c4", "DB"), (0, "COPY", "c", "c4", "FOO"),
    ],
    "RENAME inside a transaction": [
        (0, "SET", "m", "1"), (0, "MULTI"), (0, "RENAME", "m", "n"), (0, "GET", "n"),
        (0, "RENAME", "m", "n"), (0, "EXEC"),
    ],
}


class SingleNodeTransactionsTest(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(
            args=["--databases", "1"], binary=h.reference_redis_binary(), name="redis-reference"
        )
        cls.target = cls.start_class_server(name="shoal")

    def test_scenarios_match_redis_byte_for_byte(self):
        for name, steps in SCENARIOS.items():
            with self.subTest(name):
                for server in (self.redis, self.target):
                    with server.client() as c:
                        c.call("FLUSHALL")
                want = run_steps(self.redis, steps)
                got = run_steps(self.target, steps)
                self.assertEqual(got, want, "scenario %r differs from redis-server" % name)

    def test_refused_multi_runs_nothing_twice(self):
        # The defect: with MULTI refused, the queued INCRs ran anyway.
        outputs = []
        for server in (self.redis, self.target):
            with server.client() as c:
                c.call("DEL", "t")
            p = subprocess.run(
                ["redis-cli", "-h", server.host, "-p", str(server.port)],
                input=b"MULTI\r\nINCR t\r\nINCR t\r\nEXEC\r\nGET t\r\n",
                capture_output=True,
                timeout=20,
            )
            outputs.append(p.stdout)
        self.assertEqual(outputs[1], outputs[0])
        with self.target.client() as c:
            self.assertEqual(c.call("GET", "t"), b"2")


class ClusterTransactionsTest(ch.ClusterTestCase):
    """3 nodes, N=2 so that some keys have no replica on a given node."""

    @classmethod
    def setUpClass(cls):
        cls.cl = cls.start_class_cluster(3, replicas=2, read_quorum=2, write_quorum=2)

    def tag_not_on(self, node, prefix):
        key = self.cl.key_not_on(node, prefix=prefix)
        return "{%s}" % key

    def test_tagged_transaction_from_a_node_that_is_not_a_replica(self):
        a, b, c = self.cl
        tag = self.tag_not_on(a, "txn")
        ca = self.client(a)
        got = ca.pipeline([
            ("MULTI",), ("SET", tag + "x", "1"), ("INCR", tag + "x"), ("SET", tag + "y", "v"),
            ("GET", tag + "x"), ("EXEC",),
        ])
        self.assertEqual(got, ["OK", "QUEUED", "QUEUED", "QUEUED", "QUEUED", ["OK", 2, "OK", b"2"]])
        for n in (b, c):
            self.assertEqual(self.client(n).call("GET", tag + "x"), b"2")
            self.assertEqual(self.client(n).call("GET", tag + "y"), b"v")

    def test_pipelined_transaction_behind_cluster_commands(self):
        # MULTI arrives while the SET before it still waits for its replicas:
        # it must take effect at once, so that INCR queues.
        a = self.cl[0]
        tag = self.tag_not_on(a, "pipe")
        ca = self.client(a)
        got = ca.pipeline([
            ("SET", tag + "k", "1"), ("WATCH", tag + "k"), ("MULTI",), ("INCR", tag + "k"),
            ("PING",), ("EXEC",), ("GET", tag + "k"), ("MULTI",), ("PING",), ("EXEC",),
            ("UNWATCH",), ("MULTI",), ("DISCARD",), ("EXEC",),
        ])
        self.assertEqual(got, [
            "OK", "OK", "OK", "QUEUED", "QUEUED", [2, "PONG"], b"2", "OK", "QUEUED", ["PONG"],
            "OK", "OK", "OK", h.ReplyError("ERR EXEC without MULTI"),
        ])

    def test_untagged_keys_of_two_replica_sets_are_crossslot(self):
        a = self.cl[0]
        k1 = "cs1"
        reps = set(self.cl.replicas_of(k1))
        k2 = self.cl.find_key(lambda r: set(r) != reps, prefix="cs2")
        ca = self.client(a)
        got = ca.pipeline([("MULTI",), ("SET", k1, "1"), ("SET", k2, "2"), ("EXEC",), ("GET", k1)])
        self.assertEqual(got[:2], ["OK", "QUEUED"])
        self.assertEqual(got[2], h.ReplyError("CROSSSLOT Keys in request don't hash to the same slot"))
        self.assertEqual(got[3], h.ReplyError("EXECABORT Transaction discarded because of previous errors."))
        self.assertIsNone(got[4])
        # A command that runs on every member cannot join a transaction.
        got = ca.pipeline([("MULTI",), ("KEYS", "*"), ("EXEC",)])
        self.assertEqual(got[1], h.ReplyError("ERR 'keys' cannot run inside a transaction in a cluster"))
        self.assertEqual(got[2], h.ReplyError("EXECABORT Transaction discarded because of previous errors."))
        # RENAME and COPY likewise.
        self.assertEqual(ca.request("RENAME", k1, k2),
                         h.ReplyError("CROSSSLOT Keys in request don't hash to the same slot"))

    def test_watch_aborted_by_a_write_through_another_node(self):
        a, b, c = self.cl
        tag = self.tag_not_on(a, "watch")
        ca, cb = self.client(a), self.client(b)
        self.assertEqual(ca.call("SET", tag + "w", "0"), "OK")
        self.assertEqual(ca.call("WATCH", tag + "w"), "OK")
        self.assertEqual(cb.call("SET", tag + "w", "other"), "OK")
        got = ca.pipeline([("MULTI",), ("SET", tag + "w", "mine"), ("EXEC",)])
        self.assertEqual(got, ["OK", "QUEUED", None])
        self.assertEqual(ca.call("GET", tag + "w"), b"other")
        # Untouched: it commits.
        self.assertEqual(ca.call("WATCH", tag + "w", tag + "absent"), "OK")
        got = ca.pipeline([("MULTI",), ("SET", tag + "w", "mine"), ("EXEC",)])
        self.assertEqual(got, ["OK", "QUEUED", ["OK"]])
        self.assertEqual(cb.call("GET", tag + "w"), b"mine")

    def test_rename_and_copy_with_hash_tags_across_nodes(self):
        a, b, c = self.cl
        tag = self.tag_not_on(a, "ren")
        self.assertEqual(self.client(b).call("SET", tag + "src", "v", "EX", "1000"), "OK")
        ca = self.client(a)
        self.assertEqual(ca.call("RENAME", tag + "src", tag + "dst"), "OK")
        self.assertEqual(ca.call("COPY", tag + "dst", tag + "cp"), 1)
        for n in (b, c):
            cn = self.client(n)
            self.assertEqual(cn.call("EXISTS", tag + "src"), 0)
            self.assertEqual(cn.call("GET", tag + "dst"), b"v")
            self.assertEqual(cn.call("GET", tag + "cp"), b"v")
            self.assertGreater(cn.call("TTL", tag + "dst"), 900)


@ch.skip_unless_shoal
class ClusterMultiKeyReadTest(ch.ClusterTestCase):
    NO_AE = ["--anti-entropy-interval-ms", 0]

    def test_msetnx_reads_every_key_from_a_quorum(self):
        # The coordinator (the tag's first primary) misses the second key:
        # stopped while it was written, then killed so that it never reads
        # it. MSETNX must still see the key on the other replicas.
        cl = self.start_cluster(3, replicas=3, read_quorum=2, write_quorum=2, args=self.NO_AE)
        a, b, c = cl
        key = cl.find_key(lambda reps: reps[0] is c, prefix="mx")
        tag = "{%s}" % key
        ca = self.client(a)
        with ch.paused(c):
            self.assertEqual(ca.call("SET", tag + "2", "exists"), "OK")
            c.kill()
        c.restart()
        cl.wait_converged()
        self.assertEqual(c.getlocal(tag + "2")[1], [])
        self.assertEqual(self.client(c).call("MSETNX", tag + "1", "x", tag + "2", "y"), 0)
        self.assertEqual(ca.call("GET", tag + "2"), b"exists")
        self.assertIsNone(ca.call("GET", tag + "1"))


if __name__ == "__main__":
    h.main()
