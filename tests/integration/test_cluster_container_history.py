"""Convergent hashes and sets under faults, judged by the history checker.

Issue 14's history test: client threads on every node of a 5-node cluster
(N=3 R=2 W=2) run SADD/SREM and HSET/HINCRBY on a handful of shared keys, so
that both sides of a fault touch the same members and fields. Every
operation is recorded (tests/support/history.py, "Convergent containers").
After the fault heals and the clients stop, the test waits (with a deadline)
until every node's coordinated SMEMBERS/HGETALL agree, and until each key's
N primaries hold the same version vector (CLUSTER GETLOCAL's context: the
replicas' own copies, not a coordinated read); then the checker: every
acknowledged SADD that no SREM could have observed is present (an SREM on
the other side of the cut did not observe it: `cuts`), every HINCRBY counted,
every HSET value one that was written and not older than a later
acknowledged HSET, nothing phantom, all nodes equal.

Scenarios: a 2|3 partition (iptables DROP rules between the nodes' 127.0.0.x
addresses, the helpers of test_cluster_fault_history, removed in a finally,
at cleanup and at exit), and a primary killed with SIGKILL and restarted.
Figures are printed to stderr as `FIGURE ...` lines.
"""

import atexit
import os
import random
import sys
import tempfile
import threading
import time
import unittest

import cluster_harness as ch
import history as hx
import shoal_harness as h
from workload import ClientThreads

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cluster_fault_history as fh  # noqa: E402  (Firewall, iptables checks)

N, R, W = 3, 2, 2
SET_KEYS = ["cset:%d" % i for i in range(4)]
HASH_KEYS = ["chash:%d" % i for i in range(4)]
KEYS = SET_KEYS + HASH_KEYS
MEMBERS = ["m%d" % i for i in range(10)]  # few: adds and removes of one member meet
COUNTER_FIELDS = ["c0", "c1", "c2"]       # only ever HINCRBY
REGISTER_FIELDS = ["r0", "r1"]            # only ever HSET
THREADS_PER_NODE = 2


# Deadlines (seconds): bounds on waits, never what is checked.
DETECT_DEADLINE = 20.0
CONVERGE_DEADLINE = 60.0


def figure(scenario, text):
    fh.figure("containers, " + scenario, text)


def setUpModule():
    stale = fh.delete_tagged_rules(lambda pid: not fh._pid_running(pid))
    if stale:
        sys.stderr.write("deleted %d stale %s* iptables rules\n" % (stale, fh.TAG_PREFIX))
    atexit.register(fh.delete_tagged_rules, lambda pid: pid == os.getpid())


def tearDownModule():
    fh.delete_tagged_rules(lambda pid: pid == os.getpid())


class ContainerWorkload(ClientThreads):
    """THREADS_PER_NODE client threads per node, each pinned to its node:
    SADD/SREM of MEMBERS on SET_KEYS, HINCRBY of COUNTER_FIELDS and HSET of
    REGISTER_FIELDS (a value no other HSET uses) on HASH_KEYS. Every op goes
    to `history` with its node's side (`sides`, else the node's name)."""

    def __init__(self, cluster, history, sides=None, seed=1, client_timeout=fh.CLIENT_TIMEOUT):
        self.history = history
        self.sides = sides or {}
        super().__init__(client_timeout)
        for n in cluster:
            for i in range(THREADS_PER_NODE):
                name = "%s.c%d" % (n.name, i + 1)
                rng = random.Random(seed * 1000 + n.index * 10 + i)
                self.threads.append(threading.Thread(target=self._run, args=(n, name, rng),
                                                     name=name, daemon=True))

    def _one(self, client, name, rng, common):
        hist = self.history
        x = rng.random()
        if x < 0.55:
            key, member = rng.choice(SET_KEYS), rng.choice(MEMBERS)
            kind = hx.SADD if x < 0.35 else hx.SREM
            return hist.run(lambda: client.request(kind.upper(), key, member), kind, key,
                            value=member, **common)
        key = rng.choice(HASH_KEYS)
        if x < 0.85:
            f, delta = rng.choice(COUNTER_FIELDS), rng.randint(-3, 9)
            op, reply = hist.run(lambda: client.request("HINCRBY", key, f, delta), hx.HINCRBY, key,
                                 field=f, delta=delta, **common)
            if op.outcome == hx.OK:
                op.values = frozenset({hx.text(reply)})  # the field's value it saw: for post-mortems
            return op, reply
        f, value = rng.choice(REGISTER_FIELDS), hist.new_value(name)
        return hist.run(lambda: client.request("HSET", key, f, value), hx.HSET, key,
                        field=f, value=value, **common)

    def _loop(self, node, name, rng):
        client = None
        common = {"client": name, "node": node.name, "side": self.sides.get(node.name, node.name)}
        try:
            while not self.stop_event.is_set():
                if client is None:
                    try:
                        client = h.Client(node.host, node.port, timeout=self.client_timeout)
                    except OSError:
                        self.stop_event.wait(0.05)  # the node is down: nothing sent
                        continue
                op, reply = self._one(client, name, rng, common)
                if isinstance(reply, BaseException) and not isinstance(reply, h.ReplyError):
                    client.close()  # timeout or dropped connection: out of step
                    client = None
        finally:
            if client is not None:
                client.close()


def read_all(cl):
    """key -> node name -> SMEMBERS or HGETALL reply, through every node."""
    out = {k: {} for k in KEYS}
    for n in cl:
        with n.client() as c:
            cmds = [("SMEMBERS", k) for k in SET_KEYS] + [("HGETALL", k) for k in HASH_KEYS]
            for (_, k), reply in zip(cmds, c.pipeline(cmds)):
                if isinstance(reply, h.ReplyError):
                    return None, "final read %s via %s: %s" % (k, n.name, reply.message)
                out[k][n.name] = reply
    return out, None


def shown(reads):
    """The reads as comparable sets (members, or field=value)."""
    out = {}
    for k, per in reads.items():
        if k in SET_KEYS:
            out[k] = {n: hx.set_members(r) for n, r in per.items()}
        else:
            out[k] = {n: frozenset("%s=%s" % kv for kv in hx.hash_fields(r).items()) for n, r in per.items()}
    return out


def local_contexts(cl, preflists):
    """key -> {primary name: its CLUSTER GETLOCAL context}."""
    by_name = {n.name: n for n in cl}
    return {k: {p: by_name[p].getlocal(k)[0] for p in preflists[k]} for k in KEYS}


@ch.skip_unless_shoal
class ContainerHistoryTest(ch.ClusterTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        why = fh.iptables_unavailable()
        if why is not None:
            raise unittest.SkipTest("fault tests need iptables DROP rules: " + why)

    def setUp(self):
        self.firewall = fh.Firewall()
        self.addCleanup(self.firewall.heal)
        self.history = hx.History()

    def start(self):
        cl = self.start_cluster(
            5, replicas=N, read_quorum=R, write_quorum=W, request_timeout_ms=fh.REQUEST_TIMEOUT_MS,
            gossip_interval_ms=fh.GOSSIP_INTERVAL_MS, first_host=fh.FIRST_HOST,
            args=["--node-timeout-ms", fh.NODE_TIMEOUT_MS, "--appendfsync", "always"])
        by_id = {n.id: n.name for n in cl}
        self.preflists = {k: [by_id[ch.text(e[0])] for e in cl[0].call("CLUSTER", "PREFLIST", k)]
                          for k in KEYS}
        return cl

    def workload(self, cl, sides=None):
        wl = ContainerWorkload(cl, self.history, sides=sides)
        self.addCleanup(wl.stop_event.set)
        return wl.start()

    def acked(self):
        return sum(1 for op in self.history if op.outcome == hx.OK)

    def wait_acked(self, count, what):
        base = self.acked()
        h.wait_for(lambda: self.acked() >= base + count, DETECT_DEADLINE, what)

    def wait_marked_failing(self, observers, targets, what):
        ids = {t.id for t in targets}

        def done():
            return all(ids <= {i for i, f in fh.fail_flags(o).items() if "fail" in f} for o in observers)

        h.wait_for(done, DETECT_DEADLINE, what)
        return self.history.clock()

    def converge_and_check(self, cl, wl, scenario, windows, cuts=()):
        """Membership converged, clients stopped, hints handed off; then
        every node's reads and every primary's own copy agree (deadline);
        then the checker."""
        self.cluster, self.windows, self.cuts = cl, windows, cuts
        t0 = time.monotonic()
        cl.wait_converged(timeout=CONVERGE_DEADLINE)
        wl.stop()
        h.wait_for(lambda: not any(n.counter("cluster_hints_pending") for n in cl), CONVERGE_DEADLINE,
                   "every hint handed off")
        last = {}

        def agreed():
            reads, why = read_all(cl)
            if reads is None:
                last["why"] = why
                return False
            last["reads"] = reads
            split = [k for k, per in shown(reads).items() if len(set(per.values())) > 1]
            ctxs = local_contexts(cl, self.preflists)
            apart = {k: v for k, v in ctxs.items() if len(set(v.values())) > 1}
            last["why"] = "reads differ on %s; primaries' contexts differ: %r" % (split, apart)
            return not split and not apart

        try:
            h.wait_for(agreed, CONVERGE_DEADLINE, "every node's reads and every primary's copy equal")
        except AssertionError as e:
            # Judge what was read last anyway: the report names the divergence.
            if "reads" not in last:
                raise AssertionError("%s; %s" % (e, last.get("why"))) from None
            report = hx.check(self.history, last["reads"], windows, cuts=cuts)
            raise AssertionError("%s; %s\n%s" % (e, last.get("why"), report.describe())) from None
        figure(scenario, "converged %.2f s after healing (membership, hints, reads, replicas)"
               % (time.monotonic() - t0))
        report = hx.check(self.history, last["reads"], windows, cuts=cuts)
        if not report.ok:
            self.dump(scenario, last["reads"])
        kinds = {}
        for op in self.history:
            k = kinds.setdefault(op.kind, [0, 0, 0])
            k[hx.OUTCOMES.index(op.outcome)] += 1
        figure(scenario, "ops (ok/error/indeterminate): %s" % ", ".join(
            "%s %d/%d/%d" % (kind.upper(), *v) for kind, v in sorted(kinds.items())))
        figure(scenario, "history: %s" % ", ".join("%s=%d" % kv for kv in report.counts().items()))
        for win in report.availability.values():
            figure(scenario, str(win.overall))
            for side in sorted(win.sides):
                figure(scenario, str(win.sides[side]))
        self.assertEqual(report.skipped_keys, [], report.describe())
        self.assertEqual(report.phantoms, [], report.describe())
        self.assertEqual(report.divergent, [], report.describe())
        self.assertEqual(report.resurrected, [], report.describe())
        self.assertEqual(report.unread_keys, [], report.describe())
        self.assertEqual(report.lost, [], report.describe())
        self.assertEqual(report.counter_errors, [], report.describe())
        self.assertTrue(report.ok, report.describe())
        return report

    def dump(self, scenario, reads):
        """Writes the history and the final reads to a file for the post-mortem."""
        path = os.path.join(tempfile.gettempdir(), "shoal-container-history-%d-%s.txt"
                            % (os.getpid(), scenario.replace(" ", "_")))
        with open(path, "w") as f:
            f.write("preflists %r\nnode ids %r\n" % (self.preflists, {n.name: n.id for n in self.cluster}))
            f.write("windows %r cuts %r\n" % (self.windows, self.cuts))
            for op in self.history:
                f.write("%s\n" % op)
            for k, per in sorted(reads.items()):
                f.write("final %s %r\n" % (k, per))
        figure(scenario, "history and final reads written to %s" % path)

    def test_1_partition_2_3_both_sides_write_the_same_keys(self):
        scenario = "partition"
        cl = self.start()
        minority, majority = list(cl)[:2], list(cl)[2:]
        sides = {n.name: "minority" for n in minority}
        sides.update({n.name: "majority" for n in majority})
        wl = self.workload(cl, sides)
        self.wait_acked(200, "clients running")
        t_cut = self.history.clock()
        try:
            self.firewall.partition(minority, majority)
            # The rules go in one by one: the sides are apart only from here.
            t_apart = self.history.clock()
            self.wait_marked_failing(minority, majority, "minority to mark the majority failing")
            self.wait_marked_failing(majority, minority, "majority to mark the minority failing")
            t_detected = self.history.clock()
            wl.hold(8.0)
            t_heal = self.history.clock()
        finally:
            self.firewall.heal()
        figure(scenario, "rules in after %.2f s, cut detected in %.2f s, held %.1f s after that"
               % (t_apart - t_cut, t_detected - t_cut, t_heal - t_detected))
        report = self.converge_and_check(cl, wl, scenario, {"fault": (t_detected, t_heal)},
                                         cuts=[(t_apart, t_heal)])
        # The test means something only if both sides wrote during the cut
        # and some removes met adds of the same member across it.
        win = report.availability["fault"]
        for side in ("minority", "majority"):
            self.assertGreater(win.sides[side].acked, 20, str(win.sides[side]))
        conflicts, held = self.crossed_removes(t_apart, t_heal)
        figure(scenario, "acked SADDs in the cut removed on the other side after them: %d; of those, "
               "no SREM could have seen (add wins, must stay): %d" % (conflicts, held))
        self.assertGreater(conflicts, 0, "no SREM met an SADD of its member across the cut")

    def crossed_removes(self, t_cut, t_heal):
        """(conflicts, held): ok SADDs made in the cut that an ok SREM of the
        same member on the other side, started after their acknowledgement,
        removed there before the heal (add and remove that did not meet);
        and of those, the ones no SREM at all could have observed, which the
        checker therefore requires present."""
        ops = list(self.history)
        removes = [r for r in ops if r.kind == hx.SREM and r.outcome != hx.ERROR]
        cuts = [(t_cut, t_heal)]
        conflicts = held = 0
        for a in ops:
            if a.kind != hx.SADD or a.outcome != hx.OK or a.start < t_cut:
                continue
            mine = [r for r in removes if r.key == a.key and r.value == a.value and r.end > a.start]
            if any(r.outcome == hx.OK and r.side != a.side and r.start > a.end and r.end <= t_heal
                   for r in mine):
                conflicts += 1
                held += not any(hx.could_observe(r, a, cuts) for r in mine)
        return conflicts, held

    def test_2_primary_killed_and_restarted(self):
        scenario = "kill -9"
        cl = self.start()
        # The first primary of the most keys: their writes are then
        # coordinated by the next primary, with a fallback holding hints.
        victim = max(cl, key=lambda n: sum(p[0] == n.name for p in self.preflists.values()))
        others = [n for n in cl if n is not victim]
        wl = self.workload(cl)
        self.wait_acked(200, "clients running")
        t_kill = self.history.clock()
        victim.kill()
        t_detected = self.wait_marked_failing(others, [victim], "%s's death detected" % victim.name)
        wl.hold(5.0)
        t_restart = self.history.clock()
        victim.restart()
        self.wait_acked(200, "writes after the restart")
        figure(scenario, "%s (the first primary of %d of the %d keys) killed, detected in %.2f s, down %.1f s"
               % (victim.name, sum(p[0] == victim.name for p in self.preflists.values()), len(KEYS),
                  t_detected - t_kill, t_restart - t_kill))
        self.converge_and_check(cl, wl, scenario, {"down": (t_detected, t_restart)})

    def test_3_fallbacks_stand_in_twice(self):
        """Two cuts in a row leave nodes 1-2 without any primary of two keys:
        they coordinate those keys' writes both times, and between the cuts
        their copies move to the primaries and leave them. Every
        acknowledged HINCRBY and SADD of both cuts is kept: the second cut's
        writes do not cover the first's (the fallbacks write as stand-in
        actors, a new one after their copies left)."""
        scenario = "two cuts"
        cl = self.start()
        minority, majority = list(cl)[:2], list(cl)[2:]
        names = {n.name for n in majority}
        hk = cl.find_key(lambda reps: {r.name for r in reps} <= names, prefix="stand-in-hash")
        sk = cl.find_key(lambda reps: {r.name for r in reps} <= names, prefix="stand-in-set")
        total, members = 0, set()

        absent = minority[0].getlocal("stand-in-no-such-key")[0]  # the context of nothing

        def local_copies():
            return [(n.name, k) for n in minority for k in (hk, sk) if n.getlocal(k)[0] != absent]

        for episode in (1, 2):
            try:
                self.firewall.partition(minority, majority)
                self.wait_marked_failing(minority, majority, "cut %d: minority marks the majority failing"
                                         % episode)
                for n in minority:
                    with n.client() as c:
                        for i in range(30):
                            member = "cut%d-%s-%d" % (episode, n.name, i)
                            replies = c.pipeline([("HINCRBY", hk, "f", "1"), ("SADD", sk, member)])
                            self.assertEqual(replies[1], 1, replies)
                            self.assertIsInstance(replies[0], int, replies)
                            total += 1
                            members.add(member)
                # The fallbacks hold copies of both keys now (the one that
                # coordinated the writes, or both).
                self.assertEqual({k for _, k in local_copies()}, {hk, sk}, "cut %d" % episode)
            finally:
                self.firewall.heal()
            h.wait_for(lambda: not local_copies(), CONVERGE_DEADLINE,
                       "cut %d: the fallbacks' copies to move to the primaries" % episode)

        def final():
            seen = set()
            for n in cl:
                with n.client() as c:
                    f = c.call("HGET", hk, "f")
                    seen.add((int(f) if f is not None else None,
                              frozenset(m.decode() for m in c.call("SMEMBERS", sk))))
            return seen

        h.wait_for(lambda: len(final()) == 1, CONVERGE_DEADLINE, "every node to agree")
        got_total, got_members = final().pop()
        figure(scenario, "%d HINCRBYs and SADDs acknowledged in two cuts; final count %r, %d members"
               % (total, got_total, len(got_members)))
        self.assertEqual(got_total, total)
        self.assertEqual(members - got_members, set())


if __name__ == "__main__":
    h.main()
