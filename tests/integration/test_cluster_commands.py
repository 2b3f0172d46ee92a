"""Cluster commands: multi-key commands across nodes, cluster-wide KEYS / SCAN /
DBSIZE / RANDOMKEY / FLUSHALL, concurrent INCR through two nodes, and
CLUSTER INFO / MYID / NODES / PREFLIST / GETLOCAL / MEET."""

import threading

import cluster_harness as ch
import shoal_harness as h


def run_concurrently(test, count, body):
    """Runs body(i, barrier) in `count` threads at once; fails the test on any
    exception or a thread still running after two minutes."""
    errors = []
    barrier = threading.Barrier(count)

    def run(i):
        try:
            body(i, barrier)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    test.assertEqual(errors, [])
    test.assertFalse(any(t.is_alive() for t in threads), "clients still running")


def concurrent_incr(test, nodes, key, per_client=500):
    """per_client INCRs through each node at once; returns each client's replies."""
    clients = [test.client(n) for n in nodes]
    replies = [[] for _ in nodes]

    def body(i, barrier):
        barrier.wait(10)
        for _ in range(per_client):
            replies[i].append(clients[i].call("INCR", key))

    run_concurrently(test, len(nodes), body)
    return replies


@ch.skip_unless_shoal
class MultiKeyTest(ch.ClusterTestCase):
    """3 nodes, N=2 R=1 W=2: each key lives on two of the three nodes (so a
    multi-key command spans several replica sets and is partly forwarded) and
    every replica is current once a write is acknowledged (W = N), so
    cluster-wide counts are exact."""

    @classmethod
    def setUpClass(cls):
        cls.cl = cls.start_class_cluster(3, replicas=2, read_quorum=1, write_quorum=2)

    def setUp(self):
        self.c = [self.client(n) for n in self.cl]

    def replica_sets(self, keys):
        return {tuple(sorted(e[0] for e in self.cl.preflist(k))) for k in keys}

    def test_mset_mget_across_nodes(self):
        keys = ["mk:%d" % i for i in range(40)]
        self.assertEqual(len(self.replica_sets(keys)), 3, "the keys should span every pair of nodes")
        args = []
        for i, k in enumerate(keys):
            args += [k, "v%d" % i]
        self.assertEqual(self.c[0].call("MSET", *args), "OK")
        query = keys[:20] + ["mk:missing"] + keys[20:]
        want = [b"v%d" % i for i in range(20)] + [None] + [b"v%d" % i for i in range(20, 40)]
        for c in self.c:
            self.assertEqual(c.call("MGET", *query), want)
        # Overwrite half through another node.
        args = []
        for i, k in enumerate(keys[::2]):
            args += [k, "w%d" % i]
        self.assertEqual(self.c[2].call("MSET", *args), "OK")
        self.assertEqual(self.c[1].call("MGET", *keys[:4]), [b"w0", b"v1", b"w1", b"v3"])
        self.assertReplyError(self.c[1].request("MSET", "a", "1", "b"), "ERR wrong number of arguments for 'mset' command")

    def test_del_exists_touch_unlink(self):
        keys = ["dk:%d" % i for i in range(30)]
        self.assertEqual(len(self.replica_sets(keys)), 3)
        for i, k in enumerate(keys):
            self.c[i % 3].call("SET", k, i)
        # EXISTS counts a key as often as it is named (as Redis).
        self.assertEqual(self.c[1].call("EXISTS", *(keys + keys[:5] + ["dk:none"])), 35)
        self.assertEqual(self.c[2].call("TOUCH", *(keys + ["dk:none"])), 30)
        self.assertEqual(self.c[0].call("DEL", *(keys[:10] + ["dk:none"])), 10)
        self.assertEqual(self.c[1].call("UNLINK", *(keys[10:20] + ["dk:none2"])), 10)
        self.assertEqual(self.c[0].call("DEL", *keys[:10]), 0)
        for c in self.c:
            self.assertEqual(c.call("EXISTS", *keys), 10)
            self.assertEqual(c.call("MGET", *keys), [None] * 20 + [b"%d" % i for i in range(20, 30)])

    def test_msetnx(self):
        self.assertEqual(self.c[0].call("MSETNX", "nx:one", "1"), 1)
        self.assertEqual(self.c[1].call("MSETNX", "nx:one", "2"), 0)
        self.assertEqual(self.c[2].call("GET", "nx:one"), b"1")
        # Keys on different partitions: refused (it cannot be all-or-nothing).
        keys = ["nx:%d" % i for i in range(10)]
        self.assertGreater(len(self.replica_sets(keys)), 1)
        args = []
        for k in keys:
            args += [k, "v"]
        reply = self.c[0].request("MSETNX", *args)
        self.assertIsInstance(reply, h.ReplyError, "MSETNX across partitions: %r" % (reply,))
        self.assertTrue(reply.message.startswith("CROSSSLOT "), reply.message)
        self.assertEqual(self.c[1].call("EXISTS", *keys), 0)

    def test_cluster_wide_keyspace_commands(self):
        self.assertEqual(self.c[2].call("FLUSHALL"), "OK")
        for c in self.c:
            self.assertEqual(c.call("DBSIZE"), 0)
            self.assertIsNone(c.call("RANDOMKEY"))
            self.assertEqual(c.call("KEYS", "*"), [])
            self.assertEqual(ch.scan_all(c), [])
        keys = ["cw:%d" % i for i in range(200)]
        for part in range(4):
            args = []
            for k in keys[part * 50 : (part + 1) * 50]:
                args += [k, "x"]
            self.assertEqual(self.c[part % 3].call("MSET", *args), "OK")
        want = sorted(k.encode() for k in keys)
        for i, c in enumerate(self.c):
            self.assertEqual(c.call("DBSIZE"), 200, "DBSIZE via node%d" % (i + 1))
            got = c.call("KEYS", "*")
            self.assertEqual(len(got), len(set(got)), "KEYS via node%d repeats keys" % (i + 1))
            self.assertEqual(sorted(got), want, "KEYS via node%d" % (i + 1))
            self.assertEqual(sorted(c.call("KEYS", "cw:1?")), sorted(b"cw:1%d" % d for d in range(10)))
            got = ch.scan_all(c, "COUNT", "17")
            self.assertEqual(len(got), len(set(got)), "SCAN via node%d repeats keys" % (i + 1))
            self.assertEqual(sorted(got), want, "SCAN via node%d" % (i + 1))
            got = ch.scan_all(c, "MATCH", "cw:19*", "COUNT", "50")
            self.assertEqual(sorted(got), sorted([b"cw:19"] + [b"cw:19%d" % d for d in range(10)]))
            for _ in range(5):
                self.assertIn(c.call("RANDOMKEY"), want)
        self.assertEqual(self.c[1].call("DEL", *keys[:50]), 50)
        for c in self.c:
            self.assertEqual(c.call("DBSIZE"), 150)
            self.assertEqual(len(c.call("KEYS", "*")), 150)
        self.assertEqual(self.c[0].call("FLUSHALL"), "OK")
        for i, c in enumerate(self.c):
            self.assertEqual(c.call("DBSIZE"), 0, "DBSIZE via node%d after FLUSHALL" % (i + 1))
            self.assertEqual(c.call("KEYS", "*"), [])
            self.assertEqual(c.call("MGET", *keys[100:105]), [None] * 5)
        for n in self.cl:
            self.assertEqual(n.getlocal(keys[150])[1], [])

    def test_pipeline_mixing_keyed_and_cluster_wide_commands(self):
        # Each command sees the ones before it on the connection, cluster-wide
        # ones included (as on one Redis server).
        c = self.c[1]
        replies = c.pipeline(
            [
                ("FLUSHALL",),
                ("DBSIZE",),
                ("SET", "pm:a", "1"),
                ("DBSIZE",),
                ("MSET", "pm:b", "2", "pm:c", "3"),
                ("KEYS", "pm:*"),
                ("DEL", "pm:a"),
                ("DBSIZE",),
                ("RANDOMKEY",),
                ("FLUSHALL",),
                ("MGET", "pm:b", "pm:c"),
                ("DBSIZE",),
                ("SET", "pm:d", "4"),
                ("SCAN", "0", "COUNT", "1000"),
            ]
        )
        self.assertEqual(replies[:5], ["OK", 0, "OK", 1, "OK"])
        self.assertEqual(sorted(replies[5]), [b"pm:a", b"pm:b", b"pm:c"])
        self.assertEqual(replies[6:8], [1, 2])
        self.assertIn(replies[8], (b"pm:b", b"pm:c"))
        self.assertEqual(replies[9:13], ["OK", [None, None], 0, "OK"])
        # The SCAN's first call was in the pipeline; finish the iteration.
        cursor, keys = replies[13]
        while cursor != b"0":
            cursor, batch = c.call("SCAN", cursor, "COUNT", "1000")
            keys += batch
        self.assertEqual(keys, [b"pm:d"])

    def test_pipelined_write_then_cluster_wide_read(self):
        # The smallest case: node2 coordinates a key whose owner is node1 (it
        # is second in the key's preference list); a pipelined DBSIZE / KEYS /
        # RANDOMKEY right behind the acknowledged SET must count it.
        via = self.cl[1]
        key = self.cl.find_key(lambda reps: reps[1] is via, prefix="second")
        c = self.c[1]
        for cmd, want in ((("DBSIZE",), 1), (("KEYS", "*"), [key.encode()]), (("RANDOMKEY",), key.encode())):
            self.assertEqual(c.call("FLUSHALL"), "OK")
            replies = c.pipeline([("SET", key, "v"), cmd])
            self.assertEqual(replies, ["OK", want], "pipelined SET %s then %s via node2" % (key, cmd[0]))

    def test_pipelined_forwarded_write_then_flushall(self):
        # node2 forwards SET k (k's replicas are the two other nodes); the
        # FLUSHALL pipelined behind it must empty every node of k.
        via = self.cl[1]
        left = []
        for i in range(10):
            key = self.cl.find_key(lambda reps: via not in reps, prefix="ff%d" % i)
            self.assertEqual(self.c[1].pipeline([("SET", key, "v"), ("FLUSHALL",), ("DBSIZE",)]), ["OK", "OK", 0])
            holders = [n.name for n in self.cl if n.getlocal(key)[1]]
            if holders:
                left.append((key, holders))
        self.assertEqual(left, [], "keys still held after the pipelined FLUSHALL")

    def test_expired_keys_vanish_everywhere(self):
        self.assertEqual(self.c[2].call("FLUSHALL"), "OK")
        self.assertEqual(self.c[0].call("SET", "ex:short", "v", "PX", "300"), "OK")
        self.assertEqual(self.c[0].call("SET", "ex:long", "v", "EX", "100"), "OK")
        for c in self.c:
            self.assertEqual(c.call("DBSIZE"), 2)
            self.assertTrue(0 < c.call("PTTL", "ex:short") <= 300)
        for c in self.c:
            h.wait_for(lambda c=c: c.call("GET", "ex:short") is None, 10, "ex:short to expire")
        for c in self.c:
            self.assertEqual(c.call("DBSIZE"), 1)
            self.assertEqual(c.call("KEYS", "ex:*"), [b"ex:long"])
            self.assertEqual(c.call("EXISTS", "ex:short", "ex:long"), 1)

    def test_concurrent_incr_through_the_two_replicas(self):
        key = "ctr:pair"
        nodes = self.cl.replicas_of(key)
        self.assertEqual(len(nodes), 2)
        replies = concurrent_incr(self, nodes, key)
        for r in replies:
            self.assertEqual(r, sorted(set(r)), "one client's INCR replies must increase")
            self.assertLessEqual(r[-1], 1000)
        for c in self.c:
            self.assertEqual(c.call("GET", key), b"1000")


@ch.skip_unless_shoal
class ClusterCommandsTest(ch.ClusterTestCase):
    """3 nodes, N=3 R=2 W=2, 64 partitions."""

    VNODES = 64

    @classmethod
    def setUpClass(cls):
        cls.cl = cls.start_class_cluster(3, replicas=3, read_quorum=2, write_quorum=2, vnodes=cls.VNODES)

    def test_set_nx_lock_has_one_winner(self):
        """The Redis lock pattern: SET k v NX PX sent at the same moment
        through two nodes, 200 times. A write whose reply depends on the
        current value is coordinated by the key's first primary, so exactly
        one client gets OK and the key ends with one value."""
        clients = [self.client(self.cl[0]), self.client(self.cl[1])]
        rounds = 200
        replies = [[None] * rounds for _ in clients]

        def body(i, barrier):
            for r in range(rounds):
                barrier.wait(10)
                replies[i][r] = clients[i].call("SET", "lock:%d" % r, "owner%d" % i, "NX", "PX", "30000")

        run_concurrently(self, len(clients), body)
        double = [r for r in range(rounds) if replies[0][r] == "OK" and replies[1][r] == "OK"]
        none = [r for r in range(rounds) if replies[0][r] != "OK" and replies[1][r] != "OK"]
        self.assertEqual(double, [], "both clients got the lock")
        self.assertEqual(none, [], "nobody got the lock")
        for r in range(0, rounds, 20):
            value = clients[0].call("GET", "lock:%d" % r)
            self.assertIn(value, (b"owner0", b"owner1"), "lock:%d holds %r (siblings?)" % (r, value))

    def test_cluster_info(self):
        infos = [n.cluster_info() for n in self.cl]
        for n, info in zip(self.cl, infos):
            self.assertEqual(info["cluster_state"], "ok")
            self.assertEqual(info["cluster_known_nodes"], "3")
            self.assertEqual(info["cluster_partitions"], str(self.VNODES))
            self.assertEqual(info["cluster_replicas"], "3")
            self.assertEqual(info["cluster_read_quorum"], "2")
            self.assertEqual(info["cluster_write_quorum"], "2")
            self.assertEqual(info["cluster_my_id"], n.id)
            self.assertGreaterEqual(int(info["cluster_ring_epoch"]), 1)
        self.assertEqual(len({i["cluster_ring_epoch"] for i in infos}), 1)
        # Clients must see a plain server, not Redis Cluster (slots, MOVED).
        for n in self.cl:
            self.assertEqual(n.info("cluster")["cluster_enabled"], "0")
            self.assertEqual(n.info("cluster")["cluster_known_nodes"], "3")
        raw = self.cl[0].call("CLUSTER", "INFO")
        self.assertIsInstance(raw, bytes)
        self.assertTrue(raw.endswith(b"\r\n"), raw)
        for line in raw.split(b"\r\n")[:-1]:
            self.assertRegex(line.decode(), r"^[a-z_0-9]+:\S*$")

    def test_cluster_myid(self):
        ids = [ch.text(n.call("CLUSTER", "MYID")) for n in self.cl]
        for i in ids:
            self.assertRegex(i, r"^[0-9a-f]{40}$")
        self.assertEqual(len(set(ids)), 3)
        for n, i in zip(self.cl, ids):
            self.assertEqual(n.info("server").get("node_id"), i)

    def test_cluster_nodes(self):
        ids = {n.id: n for n in self.cl}
        for n in self.cl:
            raw = n.call("CLUSTER", "NODES")
            self.assertIsInstance(raw, bytes)
            rows = ch.parse_nodes(raw)
            self.assertEqual(sorted(r["id"] for r in rows), sorted(ids))
            mine = [r for r in rows if "myself" in r["flags"]]
            self.assertEqual(len(mine), 1, raw)
            self.assertEqual(mine[0]["id"], n.id)
            for r in rows:
                node = ids[r["id"]]
                self.assertEqual((r["host"], r["port"], r["cport"]), (node.host, node.port, node.cport), r["line"])
                if r["id"] != n.id:
                    self.assertIn("connected", r["flags"], r["line"])
                    self.assertNotIn("myself", r["flags"], r["line"])
                self.assertRegex(r["line"].split()[4], r"^\d{1,3}\.\d{2}%$")
                self.assertIn(r["partitions"], (self.VNODES // 3, self.VNODES // 3 + 1), r["line"])
                self.assertAlmostEqual(r["share"], 100.0 * r["partitions"] / self.VNODES, delta=0.006)
            self.assertEqual(sum(r["partitions"] for r in rows), self.VNODES)

    def test_cluster_preflist_and_getlocal(self):
        c = self.client(self.cl[0])
        self.assertEqual(c.call("SET", "gl", "v"), "OK")
        pl = self.cl.preflist("gl", via=self.cl[2])
        self.assertEqual(len(pl), 3)
        for n in self.cl:
            h.wait_for(lambda n=n: n.getlocal("gl")[1] == [b"v"], 10, "%s to hold gl" % n.name)
            ctx, values = n.getlocal("gl")
            self.assertIsInstance(ctx, bytes)
            ctx, values = n.getlocal("gl:none")
            self.assertEqual(values, [])
        # GETLOCAL's context is GETV's: a SETV with it supersedes the value.
        ctx, _ = c.call("GETV", "gl")
        self.assertEqual(c.call("SETV", "gl", ctx, "w"), "OK")
        self.assertEqual(self.client(self.cl[1]).call("GET", "gl"), b"w")

    def test_cluster_command_errors(self):
        c = self.client(self.cl[1])
        reply = c.request("CLUSTER", "NOSUCH")
        self.assertIsInstance(reply, h.ReplyError)
        self.assertTrue(reply.message.startswith("ERR unknown subcommand"), reply.message)
        self.assertReplyError(c.request("CLUSTER"), "ERR wrong number of arguments for 'cluster' command")
        for bad in (("PREFLIST",), ("GETLOCAL",), ("MEET", "127.0.0.1")):
            reply = c.request("CLUSTER", *bad)
            self.assertIsInstance(reply, h.ReplyError, "CLUSTER %r: %r" % (bad, reply))
        # Redis's words (cluster.c).
        self.assertReplyError(c.request("CLUSTER", "MEET", "127.0.0.1", "notaport"), "ERR Invalid base port specified: notaport")
        self.assertReplyError(c.request("CLUSTER", "MEET", "127.0.0.1", "7000", "x"), "ERR Invalid bus port specified: x")
        self.assertReplyError(c.request("CLUSTER", "MEET", "not-an-ip", "7000"), "ERR Invalid node address specified: not-an-ip:7000")
        self.assertEqual(c.call("PING"), "PONG")

    def test_pipelined_writes_then_dbsize(self):
        # Default quorums: a cluster-wide command behind pipelined writes
        # counts them (each command sees the ones before it).
        c = self.client(self.cl[1])
        wrong = []
        for i in range(10):
            key = "pd:%d" % i
            self.assertEqual(c.call("FLUSHALL"), "OK")
            replies = c.pipeline([("SET", key, "v"), ("DBSIZE",), ("KEYS", "pd:*")])
            if replies != ["OK", 1, [key.encode()]]:
                wrong.append((key, replies))
        self.assertEqual(wrong, [])

    def test_concurrent_incr_through_two_nodes(self):
        replies = concurrent_incr(self, self.cl.nodes[:2], "ctr:two")
        for r in replies:
            self.assertEqual(r, sorted(set(r)))
        for n in self.cl:
            self.assertEqual(self.client(n).call("GET", "ctr:two"), b"1000")


@ch.skip_unless_shoal
class PeerLinksAreNotClientsTest(ch.ClusterTestCase):
    def test_peer_links_escape_client_limits(self):
        # timeout 1 and maxclients 2 on every node: peer links are neither
        # idle clients nor counted clients. A long exchange period leaves the
        # links idle (the exchanges on join and on change still happen).
        cl = self.start_cluster(3, gossip_interval_ms=60000, args=["--node-timeout-ms", "120000", "--timeout", "1", "--maxclients", "2"])
        a = cl[0]
        reconnects = [n.counter("cluster_peer_reconnects") for n in cl]
        c = self.client(a)
        self.assertEqual(c.call("INFO", "clients").count(b"connected_clients:1\r\n"), 1)
        self.assertEqual(len(c.call("CLIENT", "LIST").splitlines()), 1)
        second = self.client(a)
        self.assertEqual(second.call("PING"), "PONG")
        third = self.client(a)
        self.assertEqual(third.read_reply(), h.ReplyError("ERR max number of clients reached"))
        second.close()
        third.close()
        # An idle client is closed after the timeout: time has passed...
        def pinged_client():
            cli = self.client(a)
            return cli if cli.request("PING") == "PONG" else None

        idle = h.wait_for(pinged_client, 10, "a client slot")
        self.assertClosed(idle, timeout=20)
        # ... while the idle peer links stayed up. (Client slots free up
        # asynchronously: a refused INFO means "not yet".)
        c.close()
        seen = []

        def counters():
            seen[:] = [n.counter("cluster_peer_reconnects") for n in cl]
            return True

        h.wait_for(counters, 10, "INFO through a free client slot")
        self.assertEqual(seen, reconnects)
        cl.wait_converged(timeout=10)
        with cl[1].client() as cb:
            self.assertEqual(cb.call("SET", "k", "v"), "OK")
        with cl[2].client() as cc:
            self.assertEqual(cc.call("GET", "k"), b"v")


@ch.skip_unless_shoal
class MeetTest(ch.ClusterTestCase):
    def test_meet_joins_nodes_started_alone(self):
        cl = self.start_cluster(3, seeds=False, converge=False)
        a, b, c = cl
        for n in cl:
            info = n.cluster_info()
            self.assertEqual(info["cluster_state"], "ok")
            self.assertEqual(info["cluster_known_nodes"], "1")
        self.assertEqual(a.call("CLUSTER", "MEET", b.host, str(b.port)), "OK")
        cl.wait_converged(nodes=[a, b])
        ca, cb = self.client(a), self.client(b)
        self.assertEqual(ca.call("SET", "met", "yes"), "OK")
        self.assertEqual(cb.call("GET", "met"), b"yes")
        # node3 meets node1 only (with an explicit cluster port); node2 hears of it.
        self.assertEqual(c.call("CLUSTER", "MEET", a.host, str(a.port), str(a.cport)), "OK")
        cl.wait_converged()
        rows = ch.parse_nodes(b.call("CLUSTER", "NODES"))
        self.assertIn(c.id, [r["id"] for r in rows])
        self.assertEqual(self.client(c).call("GET", "met"), b"yes")
        self.assertEqual(self.client(c).call("SET", "met", "three"), "OK")
        self.assertEqual(cb.call("GET", "met"), b"three")
        # Meeting a node already known changes nothing.
        epoch = a.cluster_info()["cluster_ring_epoch"]
        self.assertEqual(b.call("CLUSTER", "MEET", a.host, str(a.port)), "OK")
        cl.wait_converged()
        self.assertEqual(a.cluster_info()["cluster_ring_epoch"], epoch)


if __name__ == "__main__":
    h.main()
