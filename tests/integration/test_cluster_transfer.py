"""Partition transfer under load: a node joins, a node leaves, a node is
killed during a transfer and restarted, a dead node is forgotten.

Each scenario runs the history workload (tests/support/workload.py: client
threads writing unique values with GETV then SETV, recorded with their
outcomes) throughout, and a watcher that reads DBSIZE and a full SCAN through
a node that stays up: both must be exact at every moment of the transfer.
Afterwards: no acknowledged write lost (tests/support/history.py), every
node's share of the ring within 5% of the fair share, and every key held by
each of its N replicas (CLUSTER GETLOCAL on each, compared with the final
read). Figures (transfer time, keys moved, availability) go to stderr as
`FIGURE ...` lines.
"""

import os
import shutil
import sys
import threading
import time
import unittest

import cluster_harness as ch
import history as hx
import shoal_harness as h
import workload as wl_support

N, R, W = 3, 2, 2
KEYS = ["xf:%d" % i for i in range(400)]
GOSSIP_INTERVAL_MS = 100
NODE_TIMEOUT_MS = 1500
REQUEST_TIMEOUT_MS = 1000
CLIENT_TIMEOUT = 8.0
# Deadlines (seconds): bounds on waits, never what is checked.
SETTLE_DEADLINE = 60.0
EXIT_DEADLINE = 60.0


def figure(scenario, text):
    sys.stderr.write("FIGURE transfer %s: %s\n" % (scenario, text))


def settled(nodes):
    """None when every node lists exactly `nodes`, all agree on the ring and
    no node is still to receive a partition; else what is not yet so."""
    ids = sorted(n.id for n in nodes)
    views = []
    for n in nodes:
        rows = n.cluster_nodes()
        if sorted(r["id"] for r in rows) != ids:
            return "%s lists %d nodes" % (n.name, len(rows))
        waiting = [r for r in rows if r["extra"][-1] != "0"]
        if waiting:
            return "%s: %s still receiving %s partitions" % (n.name, waiting[0]["id"][:8], waiting[0]["extra"][-1])
        bad = [r for r in rows if "fail" in r["flags"] or "leaving" in r["flags"]]
        if bad:
            return "%s shows %r" % (n.name, bad[0]["line"])
        views.append(sorted((r["id"], r["partitions"]) for r in rows))
        if n.cluster_info().get("cluster_transfers_pending") != "0":
            return "%s has transfers pending" % n.name
    if any(v != views[0] for v in views):
        return "the nodes disagree on the ring"
    return None


class Watcher:
    """Reads DBSIZE and SCANs the whole keyspace through one node while a
    transfer runs; every answer must be exactly the preloaded key count."""

    def __init__(self, node, expected):
        self.node = node
        self.expected = expected
        self.stop_event = threading.Event()
        self.rounds = 0
        self.unavailable = 0
        self.bad = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.thread.join(30)
        return self

    def _run(self):
        # A NOQUORUM (a node that held a partition died while answering) is
        # an availability error, counted apart and retried; every answer
        # that comes must be exact.
        try:
            with self.node.client() as c:
                while not self.stop_event.is_set():
                    try:
                        size = c.call("DBSIZE")
                        keys = set(ch.text(k) for k in ch.scan_all(c, "COUNT", 200))
                    except h.ReplyError as e:
                        if not e.message.startswith("NOQUORUM"):
                            raise
                        self.unavailable += 1
                        continue
                    if size != self.expected:
                        self.bad.append("DBSIZE %r" % (size,))
                    if len(keys) != self.expected:
                        self.bad.append("SCAN found %d keys" % len(keys))
                    self.rounds += 1
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.bad.append("watcher failed: %r" % (e,))


class TransferTest(ch.ClusterTestCase):
    def setUp(self):
        self.history = hx.History()

    def start_nodes(self, size, running, *extra):
        cl = ch.Cluster(size, replicas=N, read_quorum=R, write_quorum=W,
                        request_timeout_ms=REQUEST_TIMEOUT_MS, gossip_interval_ms=GOSSIP_INTERVAL_MS,
                        seeds="chain", appendonly="yes",
                        args=["--node-timeout-ms", NODE_TIMEOUT_MS, "--appendfsync", "always"] + list(extra))
        self.addCleanup(cl.stop)
        for n in cl.nodes[:running]:
            n.start()
        cl.wait_converged(cl.nodes[:running])
        # Every key exists before the transfer starts (so that DBSIZE and
        # SCAN have one right answer throughout); the writes are recorded.
        with cl[0].client() as c:
            for k in KEYS:
                value = self.history.new_value("seed")
                op, _ = self.history.run(lambda: c.request("SET", k, value), hx.SET, k, value=value,
                                         client="seed", node=cl[0].name, coordinator=None, side="seed")
                self.assertEqual(op.outcome, hx.OK, op)
        return cl

    def workload(self, cl, nodes):
        # Context writes only (no plain SET): the ring moves, so no node can
        # be named the coordinator of a key for the whole run.
        preflists = {k: [] for k in KEYS}
        wl = wl_support.Workload(cl, self.history, preflists, KEYS, nodes=nodes, threads=2,
                                 client_timeout=CLIENT_TIMEOUT)
        self.addCleanup(wl.stop_event.set)
        return wl.start()

    def wait_settled(self, nodes, what):
        t0 = time.monotonic()
        state = {}

        def done():
            state["why"] = settled(nodes)
            return state["why"] is None

        try:
            h.wait_for(done, SETTLE_DEADLINE, what)
        except AssertionError as e:
            raise AssertionError("%s: %s" % (e, state.get("why"))) from None
        return time.monotonic() - t0

    def finish(self, scenario, cl, nodes, wl, watcher):
        wl.stop()
        watcher.stop()
        self.assertEqual(watcher.bad, [], "counts or scans were not exact during the transfer")
        self.assertGreater(watcher.rounds, 0)
        reads = wl_support.final_reads(nodes, KEYS)
        report = hx.check(self.history, reads)
        figure(scenario, "history: %s" % ", ".join("%s=%d" % kv for kv in report.counts().items() if kv[1]))
        figure(scenario, "DBSIZE/SCAN rounds during the transfer, all exact: %d (%d NOQUORUM, retried)"
               % (watcher.rounds, watcher.unavailable))
        self.assertEqual(report.lost, [], report.describe())
        self.assertEqual(report.divergent, [], report.describe())
        self.assertTrue(report.ok, report.describe())
        # Balance: every node within 5% of the fair share.
        rows = nodes[0].cluster_nodes()
        fair = 100.0 / len(nodes)
        for r in rows:
            self.assertLessEqual(abs(r["share"] - fair), fair * 0.05 + 100.0 / 256, r["line"])
        # N copies: each replica of each key holds what the final read saw.
        by_id = {n.id: n for n in nodes}
        with nodes[0].client() as c:
            prefs = c.pipeline([("CLUSTER", "PREFLIST", k) for k in KEYS])
        for key, pref in zip(KEYS, prefs):
            self.assertEqual(len(pref), N, "%s: %r" % (key, pref))
            final = hx.reply_values(reads[key][nodes[0].name])
            self.assertTrue(final, "%s has no value" % key)
            for entry in pref:
                self.assertEqual(ch.text(entry[2]), "primary", "%s: %r" % (key, pref))
                node = by_id[ch.text(entry[0])]
                _, values = node.getlocal(key)
                self.assertEqual(set(ch.text(v) for v in values), set(final),
                                 "%s on %s (replica) differs from the final read" % (key, node.name))
        return report

    def transfer_figures(self, scenario, nodes, seconds):
        moved = sum(n.counter("cluster_transfer_keys_received") for n in nodes)
        nbytes = sum(n.counter("cluster_transfer_bytes_received") for n in nodes)
        figure(scenario, "settled in %.2f s; %d keys (%d bytes) received in all" % (seconds, moved, nbytes))

    def test_1_join_under_load(self):
        cl = self.start_nodes(4, 3)
        wl = self.workload(cl, cl.nodes[:3])
        watcher = Watcher(cl[0], len(KEYS)).start()
        wl.hold(1.0)
        cl[3].start()
        seconds = self.wait_settled(cl.nodes, "the 4th node received its partitions")
        wl.hold(1.0)
        self.transfer_figures("join", cl.nodes, seconds)
        self.assertGreater(cl[3].counter("cluster_transfer_keys_received"), 0)
        self.finish("join", cl, cl.nodes, wl, watcher)

    def test_2_leave_under_load(self):
        cl = self.start_nodes(4, 4)
        leaver = cl[3]
        stay = cl.nodes[:3]
        wl = self.workload(cl, stay)
        watcher = Watcher(cl[0], len(KEYS)).start()
        wl.hold(1.0)
        t0 = time.monotonic()
        # Refused while partitions still move (the cluster just formed and
        # old holders may not have dropped theirs yet): retried until taken.
        def leave():
            reply = leaver.request("CLUSTER", "LEAVE")
            if isinstance(reply, h.ReplyError):
                self.assertIn("partitions are still moving", reply.message)
                return False
            return ch.text(reply) == "OK"

        h.wait_for(leave, SETTLE_DEADLINE, "CLUSTER LEAVE accepted")
        h.wait_for(lambda: not leaver.alive(), EXIT_DEADLINE, "the leaving node exits")
        figure("leave", "the leaving node handed over and exited in %.2f s" % (time.monotonic() - t0))
        seconds = self.wait_settled(stay, "the others settle without the leaver")
        wl.hold(1.0)
        self.transfer_figures("leave", stay, seconds)
        self.finish("leave", cl, stay, wl, watcher)

    def test_3_kill_during_transfer_and_restart(self):
        cl = self.start_nodes(4, 3)
        # More data, so that the transfer lasts long enough to be cut.
        with cl[0].client() as c:
            filler = ["fill:%d" % i for i in range(30000)]
            for part in wl_support.chunks(filler, 500):
                c.pipeline([("SET", k, "x" * 100) for k in part])
        wl = self.workload(cl, cl.nodes[:3])
        watcher = Watcher(cl[0], len(KEYS) + 30000).start()
        joiner = cl[3]
        joiner.start()
        h.wait_for(lambda: joiner.counter("cluster_transfer_keys_received") > 0, SETTLE_DEADLINE,
                   "the 4th node receives keys")
        received = joiner.counter("cluster_transfer_partitions_received")
        joiner.kill()
        figure("kill", "4th node killed after %d partitions received" % received)
        wl.hold(0.5)
        joiner.restart()
        seconds = self.wait_settled(cl.nodes, "the restarted node finishes its transfer")
        wl.hold(1.0)
        self.transfer_figures("kill", cl.nodes, seconds)
        self.finish("kill", cl, cl.nodes, wl, watcher)

    def test_4_forget_dead_node_and_replace_it(self):
        cl = self.start_nodes(4, 4)
        dead = cl[3]
        stay = cl.nodes[:3]
        dead_id = dead.id
        wl = self.workload(cl, stay)
        wl.hold(1.0)
        dead.kill()
        h.wait_for(lambda: all("fail" in next((r["flags"] for r in n.cluster_nodes() if r["id"] == dead_id), ["fail"])
                               for n in stay), SETTLE_DEADLINE, "the dead node is marked fail")
        # A live node is not forgotten: CLUSTER LEAVE is for that.
        refused = stay[1].request("CLUSTER", "FORGET", stay[2].id)
        self.assertIsInstance(refused, h.ReplyError)
        self.assertIn("not failed", refused.message)
        # Redis's words for itself and for an unknown id.
        self.assertEqual(stay[0].request("CLUSTER", "FORGET", stay[0].id).message,
                         "ERR I tried hard but I can't forget myself...")
        self.assertEqual(stay[0].request("CLUSTER", "FORGET", "f" * 40).message,
                         "ERR Unknown node " + "f" * 40)
        self.assertEqual(ch.text(stay[0].call("CLUSTER", "FORGET", dead_id)), "OK")
        watcher = Watcher(cl[0], len(KEYS)).start()
        seconds = self.wait_settled(stay, "the survivors re-replicate the dead node's share")
        self.transfer_figures("forget", stay, seconds)
        wl.hold(1.0)
        # DBSIZE and FLUSHALL-style commands work again: nothing is degraded.
        self.assertEqual(stay[1].call("DBSIZE"), len(KEYS))
        self.finish("forget", cl, stay, wl, watcher)
        # The replacement: the same address, a fresh dir. It joins as a new
        # node; the forgotten id never comes back.
        dead.stop()
        shutil.rmtree(dead.fixed_dir)
        os.makedirs(dead.fixed_dir)
        dead._id = None
        dead.restart()
        self.wait_settled(cl.nodes, "the replacement joins")
        self.assertNotEqual(dead.id, dead_id)
        for n in cl.nodes:
            self.assertNotIn(dead_id, [r["id"] for r in n.cluster_nodes()], n.name)

    def test_5_join_while_a_holder_is_down(self):
        # The 4th node's duties name, for each partition it takes over, the
        # holder it replaces as the source; with that holder down it takes
        # the partition from another holder rather than waiting for it.
        cl = self.start_nodes(4, 3)
        down, joiner = cl[1], cl[3]
        down_id = down.id
        down.kill()
        h.wait_for(lambda: all("fail" in next((r["flags"] for r in n.cluster_nodes() if r["id"] == down_id), ["fail"])
                               for n in (cl[0], cl[2])), SETTLE_DEADLINE, "node2 marked failing")
        joiner.start()

        def received_all():
            rows = joiner.cluster_nodes()
            me = [r for r in rows if r["id"] == joiner.id]
            return (len(rows) == 4 and me[0]["extra"][-1] == "0"
                    and joiner.counter("cluster_transfer_partitions_received") > 0
                    and joiner.cluster_info().get("cluster_transfers_pending") == "0")

        h.wait_for(received_all, SETTLE_DEADLINE, "the 4th node to receive its share while node2 is down")
        figure("holder-down", "4th node received %d partitions with node2 down" %
               joiner.counter("cluster_transfer_partitions_received"))
        # Every key the 4th node now replicates is on it.
        mine = [k for k in KEYS if joiner.id in [n.id for n in cl.replicas_of(k, via=cl[0])]]
        self.assertGreater(len(mine), 0)
        missing = [k for k in mine if not joiner.getlocal(k)[1]]
        self.assertEqual(missing, [], "keys the 4th node replicates but does not hold")
        down.restart()
        self.wait_settled(cl.nodes, "node2 back")


if __name__ == "__main__":
    unittest.main(verbosity=2)
