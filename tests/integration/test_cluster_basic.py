"""Cluster basics: replication, quorum settings, forwarding, pipelining.

Real shoal-server nodes on 127.0.0.1, .2, .3... (tests/support/cluster_harness.py).
"""

import random
import threading

import cluster_harness as ch
import shoal_harness as h


def run_workers(test, run, args_list, errors):
    """Runs run(*args) in a thread per args, waits for all (bounded) and
    asserts that none is stuck and none reported an error."""
    threads = [threading.Thread(target=run, args=args) for args in args_list]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    test.assertFalse(any(t.is_alive() for t in threads))
    test.assertEqual(errors, [])


class PipelineTests:
    """Pipelines through one node (self.cl[self.VIA]) keep reply order."""

    VIA = 1

    def test_pipeline_keeps_reply_order(self):
        # 1000 pipelined SET/GET on 100 random keys through one node; the
        # expected replies come from a model of Redis (each command sees the
        # ones before it on the connection).
        rng = random.Random(20240501)
        c = self.client(self.cl[self.VIA])
        keys = ["pipe:%d" % i for i in range(100)]
        model = {}
        commands, expected = [], []
        for i in range(1000):
            key = rng.choice(keys)
            if rng.random() < 0.5:
                value = "v%d" % i
                commands.append(("SET", key, value))
                expected.append("OK")
                model[key] = value.encode()
            else:
                commands.append(("GET", key))
                expected.append(model.get(key))
        replies = c.pipeline(commands)
        mismatches = [(i, commands[i], expected[i], replies[i]) for i in range(len(commands)) if replies[i] != expected[i]]
        self.assertEqual(mismatches[:10], [], "%d of 1000 replies differ from the model" % len(mismatches))
        # Through the other nodes afterwards.
        for n in self.cl:
            other = self.client(n)
            self.assertEqual(other.pipeline([("GET", k) for k in keys]), [model.get(k) for k in keys])

    def test_pipeline_of_distinct_keys_keeps_reply_order(self):
        # Every reply names its key: order mistakes cannot hide behind equal replies.
        c = self.client(self.cl[self.VIA])
        n = 1000
        replies = c.pipeline([("SET", "dk:%d" % i, "value-%d" % i) for i in range(n)])
        self.assertEqual(replies, ["OK"] * n)
        rng = random.Random(7)
        order = list(range(n))
        rng.shuffle(order)
        replies = c.pipeline([("GET", "dk:%d" % i) for i in order])
        self.assertEqual(replies, [b"value-%d" % i for i in order])


@ch.skip_unless_shoal
class ThreeNodeTest(PipelineTests, ch.ClusterTestCase):
    """One 3-node cluster, N=3 R=2 W=2 (the defaults), for the class."""

    @classmethod
    def setUpClass(cls):
        cls.cl = cls.start_class_cluster(3, replicas=3, read_quorum=2, write_quorum=2)

    def test_write_through_one_read_through_every_other(self):
        clients = [self.client(n) for n in self.cl]
        for i, writer in enumerate(clients):
            for j in range(10):
                key, value = "w%d:%d" % (i, j), "v%d-%d" % (i, j)
                self.assertEqual(writer.call("SET", key, value), "OK")
                for k, reader in enumerate(clients):
                    self.assertEqual(reader.call("GET", key), value.encode(), "written via node%d, read via node%d" % (i + 1, k + 1))
        # Overwrite through another node, delete through a third.
        clients[0].call("SET", "ow", "1")
        clients[1].call("SET", "ow", "2")
        self.assertEqual([c.call("GET", "ow") for c in clients], [b"2"] * 3)
        self.assertEqual(clients[2].call("DEL", "ow"), 1)
        self.assertEqual([c.call("GET", "ow") for c in clients], [None] * 3)
        self.assertEqual(clients[0].call("DEL", "ow"), 0)

    def test_concurrent_clients_on_every_node(self):
        # Two clients per node, each the only writer of its keys, pipelining
        # rounds of SETs and GETs; afterwards every node reads every key's
        # last acknowledged value.
        rounds, keys_per_client = 20, 25
        workers = [(n, w) for n in range(3) for w in range(2)]
        errors = []

        def run(node_index, worker):
            try:
                with self.cl[node_index].client() as c:
                    keys = ["cc:%d:%d:%d" % (node_index, worker, k) for k in range(keys_per_client)]
                    for r in range(rounds):
                        replies = c.pipeline([("SET", k, "%s=%d" % (k, r)) for k in keys] + [("GET", k) for k in keys])
                        want = ["OK"] * len(keys) + [("%s=%d" % (k, r)).encode() for k in keys]
                        if replies != want:
                            errors.append((node_index, worker, r, [x for x in zip(replies, want) if x[0] != x[1]][:3]))
                            return
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((node_index, worker, repr(e)))

        run_workers(self, run, workers, errors)
        all_keys = ["cc:%d:%d:%d" % (n, w, k) for n, w in workers for k in range(keys_per_client)]
        want = [("%s=%d" % (k, rounds - 1)).encode() for k in all_keys]
        for n in self.cl:
            self.assertEqual(self.client(n).call("MGET", *all_keys), want, n.name)

    def test_every_replica_holds_the_write(self):
        # W=2 of N=3: the third copy may arrive after the reply; all three get it.
        c = self.client(self.cl[0])
        self.assertEqual(c.call("SET", "everywhere", "x"), "OK")
        for n in self.cl:
            h.wait_for(lambda n=n: n.getlocal("everywhere")[1] == [b"x"], 10, "%s to hold the write" % n.name)

    def test_preflist_has_every_node(self):
        ids = {n.id for n in self.cl}
        for key in ("a", "b", "some:longer:key", "\u00e9t\u00e9"):
            lists = [self.cl.preflist(key, via=n) for n in self.cl]
            self.assertEqual(lists[0], lists[1])
            self.assertEqual(lists[0], lists[2])
            self.assertEqual(len(lists[0]), 3)
            self.assertEqual({e[0] for e in lists[0]}, ids)
            for node_id, addr, role in lists[0]:
                self.assertEqual(addr, self.cl.node_by_id(node_id).address)
                self.assertEqual(role, "primary")

    def test_ttl_and_counters_replicate(self):
        a, b, c = (self.client(n) for n in self.cl)
        self.assertEqual(a.call("SET", "ttl", "v", "EX", "100"), "OK")
        self.assertTrue(98 <= b.call("TTL", "ttl") <= 100)
        self.assertTrue(98 <= c.call("TTL", "ttl") <= 100)
        self.assertEqual(a.call("INCRBY", "ctr", "5"), 5)
        self.assertEqual(b.call("INCR", "ctr"), 6)
        self.assertEqual(c.call("DECR", "ctr"), 5)
        self.assertEqual(a.call("GET", "ctr"), b"5")

class QuorumSettings:
    """(N, R, W) on a 5-node cluster: every write readable through every node,
    CLUSTER PREFLIST has N entries, forwarding when N < 5."""

    SIZE = 5

    def run_case(self, n, r, w):
        cl = self.start_cluster(self.SIZE, replicas=n, read_quorum=r, write_quorum=w)
        info = cl[0].cluster_info()
        self.assertEqual(info["cluster_replicas"], str(n))
        self.assertEqual(info["cluster_read_quorum"], str(r))
        self.assertEqual(info["cluster_write_quorum"], str(w))
        clients = [self.client(node) for node in cl]
        ids = {node.id for node in cl}
        keys = ["q%d%d%d:%d" % (n, r, w, i) for i in range(25)]
        for i, key in enumerate(keys):
            self.assertEqual(clients[i % self.SIZE].call("SET", key, "val-%d" % i), "OK")
        for i, key in enumerate(keys):
            for j, c in enumerate(clients):
                self.assertEqual(c.call("GET", key), b"val-%d" % i, "%s written via node%d, read via node%d" % (key, i % self.SIZE + 1, j + 1))
        for key in keys[:5]:
            pl = cl.preflist(key, via=cl[1])
            self.assertEqual(len(pl), n, pl)
            self.assertEqual(len({e[0] for e in pl}), n, "distinct nodes: %r" % pl)
            self.assertTrue({e[0] for e in pl} <= ids)
            self.assertEqual(pl, cl.preflist(key, via=cl[4]))
        # Exactly the N replicas hold a copy (W acknowledged, the rest follow).
        key = keys[0]
        replicas = cl.replicas_of(key)
        for node in cl:
            want = [b"val-0"] if node in replicas else []
            h.wait_for(lambda node=node, want=want: node.getlocal(key)[1] == want, 10, "%s copy of %s to be %r" % (node.name, key, want))
        if n < self.SIZE:
            self.check_forwarding(cl)

    def check_forwarding(self, cl):
        outsider = cl[0]
        key = cl.key_not_on(outsider, prefix="fwd")
        c = self.client(outsider)
        before = outsider.counter("cluster_forwards")
        self.assertEqual(c.call("SET", key, "forwarded"), "OK")
        self.assertEqual(c.call("GET", key), b"forwarded")
        self.assertEqual(c.call("APPEND", key, "!"), 10)
        self.assertEqual(c.call("GET", key), b"forwarded!")
        self.assertGreater(outsider.counter("cluster_forwards"), before)
        # The outsider keeps no copy; the replicas do.
        self.assertEqual(outsider.getlocal(key)[1], [])
        for node in cl.replicas_of(key):
            h.wait_for(lambda node=node: node.getlocal(key)[1] == [b"forwarded!"], 10, "%s to hold %s" % (node.name, key))
        # Read through a replica.
        self.assertEqual(self.client(cl.replicas_of(key)[0]).call("GET", key), b"forwarded!")


@ch.skip_unless_shoal
class QuorumSettingsTest(QuorumSettings, ch.ClusterTestCase):
    def test_n1_r1_w1(self):
        self.run_case(1, 1, 1)

    def test_n2_r1_w2(self):
        self.run_case(2, 1, 2)

    def test_n3_r2_w2(self):
        self.run_case(3, 2, 2)

    def test_n5_r3_w3(self):
        self.run_case(5, 3, 3)

    def test_n5_r1_w5(self):
        self.run_case(5, 1, 5)


@ch.skip_unless_shoal
class MutualForwardingTest(ch.ClusterTestCase):
    """2 nodes, N=2, W=2: a read-modify-write goes to the key's first primary,
    so each node forwards to the other while coordinating writes that need
    the other's acknowledgement. The forwarded commands travel on their own
    link (cluster/peer/forward_links.h): on the link that carries the
    acknowledgements, a forwarded command's reply, which waits for its
    coordinator's quorum, held the acknowledgements behind it, and the two
    nodes held each other until the request timeout (NOQUORUM)."""

    def test_nodes_forwarding_to_each_other_do_not_wait_on_each_other(self):
        cl = self.start_cluster(2, replicas=2, read_quorum=1, write_quorum=2,
                                request_timeout_ms=2000)
        rounds, per_batch = 10, 40
        keys = {}
        for n in cl:
            keys[n.name] = [k for k in ("mf:%d" % i for i in range(400))
                            if cl.replicas_of(k)[0].name != n.name][:per_batch]
            self.assertEqual(len(keys[n.name]), per_batch)
        errors = []

        def run(node, worker):
            try:
                with node.client() as c:
                    for _ in range(rounds):
                        replies = c.pipeline([("INCR", k) for k in keys[node.name]])
                        bad = [r for r in replies if not isinstance(r, int)]
                        if bad:
                            errors.append((node.name, worker, bad[:3]))
                            return
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append((node.name, worker, repr(e)))

        run_workers(self, run, [(n, w) for n in cl for w in range(2)], errors)
        # Each node's keys were incremented by its two workers in every round.
        for n in cl:
            got = self.client(cl[0]).call("MGET", *keys[n.name])
            self.assertEqual(got, [str(2 * rounds).encode()] * per_batch, n.name)


    def test_a_forwarded_command_follows_the_replication_sent_before_it(self):
        # The INCR behind a SET in the pipeline is forwarded to the other
        # node, which reads its own copy (R=1) before the SET is acknowledged
        # (W=2): that copy must have the SET's replication by then.
        cl = self.start_cluster(2, replicas=2, read_quorum=1, write_quorum=2)
        node = cl[0]
        keys = [k for k in ("mo:%d" % i for i in range(400))
                if cl.replicas_of(k)[0].name != node.name][:50]
        with node.client() as c:
            for r in range(20):
                commands = []
                for i, k in enumerate(keys):
                    commands += [("SET", k, str(1000 * r + i)), ("INCR", k)]
                replies = c.pipeline(commands)
                self.assertEqual(replies[1::2], [1000 * r + i + 1 for i in range(len(keys))])


class ForwardingTest(PipelineTests, ch.ClusterTestCase):
    """3 nodes, N=1: every key lives on one node; the two others forward.
    Pipelines through node 1 mix keys it coordinates and keys it forwards."""

    VIA = 0

    @classmethod
    def setUpClass(cls):
        cls.cl = cls.start_class_cluster(3, replicas=1, read_quorum=1, write_quorum=1)

    def test_pipelines_mix_local_and_forwarded_keys(self):
        owners = {self.cl.replicas_of("pipe:%d" % i)[0].name for i in range(30)}
        self.assertEqual(len(owners), 3, "the pipeline keys should live on every node")

    def test_every_key_command_through_a_forwarding_node(self):
        outsider = self.cl[0]
        key = self.cl.key_not_on(outsider, prefix="cmd")
        other = self.cl.key_not_on(outsider, prefix="cmd2")
        before = outsider.counter("cluster_forwards")
        c = self.client(outsider)
        script = [
            (("SET", key, "hello"), "OK"),
            (("GET", key), b"hello"),
            (("APPEND", key, " world"), 11),
            (("STRLEN", key), 11),
            (("GETRANGE", key, "0", "4"), b"hello"),
            (("SETRANGE", key, "0", "J"), 11),
            (("GET", key), b"Jello world"),
            (("TYPE", key), "string"),
            (("EXISTS", key), 1),
            (("EXPIRE", key, "100"), 1),
            (("TTL", key), (99, 100)),
            (("PERSIST", key), 1),
            (("TTL", key), -1),
            (("SET", key, "v2", "GET"), b"Jello world"),
            (("GETSET", key, "v3"), b"v2"),
            (("GETEX", key, "PX", "100000"), b"v3"),
            (("GETDEL", key), b"v3"),
            (("GET", key), None),
            (("SETNX", key, "1"), 1),
            (("SET", key, "x", "NX"), None),
            (("INCRBY", key, "41"), 42),
            (("DECR", key), 41),
            (("INCRBYFLOAT", other, "1.5"), b"1.5"),
            (("SETEX", other, "100", "v"), "OK"),
            (("DEL", key, other), 2),
            (("EXISTS", key, other), 0),
        ]
        for cmd, want in script:
            if isinstance(want, tuple):
                self.assertIn(c.request(*cmd), want, cmd)
            else:
                self.assertEqual(c.request(*cmd), want, cmd)
        self.assertGreaterEqual(outsider.counter("cluster_forwards"), before + len(script))
        # Errors come back in Redis's words through the forwarder.
        c.call("SET", key, "notanumber")
        self.assertReplyError(c.request("INCR", key), "ERR value is not an integer or out of range")
        self.assertReplyError(c.request("SET", key, "v", "XX", "NX"), "ERR syntax error")

    def test_big_and_binary_values_through_a_forwarding_node(self):
        outsider = self.cl[1]
        key = self.cl.key_not_on(outsider, prefix="big")
        c = self.client(outsider)
        value = bytes(range(256)) * 4096  # 1 MiB, every byte value
        self.assertEqual(c.call("SET", key, value), "OK")
        self.assertEqual(c.call("GET", key), value)
        owner = self.cl.replicas_of(key)[0]
        self.assertEqual(self.client(owner).call("GET", key), value)
        bkey = b"bin\x00\r\n" + bytes([200, 255])
        self.assertEqual(c.call("SET", bkey, b"\x00\r\n"), "OK")
        for n in self.cl:
            self.assertEqual(self.client(n).call("GET", bkey), b"\x00\r\n")

    def test_siblings_through_forwarding_nodes(self):
        owner = self.cl[2]
        key = self.cl.find_key(lambda reps: reps == [owner], prefix="sib")
        a, b = self.client(self.cl[0]), self.client(self.cl[1])
        ctx, values = a.call("GETV", key)
        self.assertEqual(values, [])
        self.assertEqual(a.call("SETV", key, ctx, "a"), "OK")
        self.assertEqual(b.call("SETV", key, ctx, "b"), "OK")
        self.assertEqual(sorted(self.client(owner).call("GET", key)), [b"a", b"b"])
        ctx2, values = b.call("GETV", key)
        self.assertEqual(sorted(values), [b"a", b"b"])
        self.assertEqual(a.call("SETV", key, ctx2, "ab"), "OK")
        self.assertEqual(b.call("GET", key), b"ab")


@ch.skip_unless_shoal
class JoinTest(ch.ClusterTestCase):
    def test_a_lone_node_is_a_cluster_of_one(self):
        # Default N=3, R=2, W=2 on one node: every key's preference list is
        # that node, and reads and writes work (N above the member count).
        cl = self.start_cluster(1, request_timeout_ms=None)
        n = cl[0]
        info = n.cluster_info()
        self.assertEqual((info["cluster_state"], info["cluster_known_nodes"]), ("ok", "1"))
        self.assertEqual(cl.preflist("k"), [[n.id, n.address, "primary"]])
        rows = n.cluster_nodes()
        self.assertEqual(len(rows), 1)
        self.assertEqual((rows[0]["flags"], rows[0]["partitions"], rows[0]["share"]), (["myself"], 256, 100.0))
        c = self.client(n)
        self.assertEqual(c.call("SET", "k", "v"), "OK")
        self.assertEqual(c.call("GET", "k"), b"v")
        self.assertEqual(c.call("DBSIZE"), 1)

    def test_membership_spreads_from_a_chain_of_seeds(self):
        # node i knows only node i-1: every node must still learn every node,
        # by gossip with a few random peers a round (8 nodes: more peers
        # than the fan-out of 3).
        cl = self.start_cluster(8, seeds="chain")
        for n in cl:
            self.assertEqual(len(n.cluster_nodes()), 8)
        self.assertEqual(self.client(cl[7]).call("SET", "chain", "v"), "OK")
        self.assertEqual(self.client(cl[0]).call("GET", "chain"), b"v")

    def test_seeds_with_explicit_cluster_ports(self):
        cl = self.start_cluster(3, explicit_cports=True)
        for n in cl:
            self.assertNotEqual(n.cport, n.port + 10000)
            rows = {r["id"]: r for r in n.cluster_nodes()}
            for other in cl:
                self.assertEqual(rows[other.id]["cport"], other.cport)
        self.assertEqual(self.client(cl[0]).call("SET", "k", "v"), "OK")
        self.assertEqual(self.client(cl[2]).call("GET", "k"), b"v")

    def test_restart_on_another_port_keeps_id_and_data(self):
        # A node is its id, not its address: restarted elsewhere (same dir),
        # the others learn the new address from its newer incarnation.
        cl = self.start_cluster(3, replicas=3, read_quorum=2, write_quorum=2)
        a, b, c = cl
        self.assertEqual(self.client(a).call("SET", "moved", "v"), "OK")
        h.wait_for(lambda: c.getlocal("moved")[1] == [b"v"], 10, "node3 to hold the write")
        node_id = c.id
        c.stop()
        old_port = c.port
        c.port = h.free_port(c.host)
        self.assertNotEqual(c.port, old_port)
        c.restart()
        self.assertEqual(ch.text(c.call("CLUSTER", "MYID")), node_id)
        cl.wait_converged()
        for n in (a, b):
            row = next(r for r in n.cluster_nodes() if r["id"] == node_id)
            self.assertEqual((row["host"], row["port"], row["cport"]), (c.host, c.port, c.port + 10000))
        self.assertEqual(c.getlocal("moved")[1], [b"v"])
        self.assertEqual(self.client(a).call("SET", "moved", "w"), "OK")
        self.assertEqual(self.client(c).call("GET", "moved"), b"w")

    def test_more_replicas_than_nodes_uses_every_node(self):
        cl = self.start_cluster(2, replicas=3, read_quorum=2, write_quorum=2)
        pl = cl.preflist("k")
        self.assertEqual(sorted(e[0] for e in pl), sorted(n.id for n in cl))
        self.assertEqual(self.client(cl[0]).call("SET", "k", "v"), "OK")
        self.assertEqual(self.client(cl[1]).call("GET", "k"), b"v")
        for n in cl:
            h.wait_for(lambda n=n: n.getlocal("k")[1] == [b"v"], 10, "%s to hold k" % n.name)


if __name__ == "__main__":
    h.main()
