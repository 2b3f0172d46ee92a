"""Unit tests of tests/support/history.py: hand-built histories, one per verdict,
availability windows, and a randomized sequential store that must yield no
false verdict (and must yield `lost` once an acknowledged value is removed).

No servers: run as `PYTHONPATH=tests/support python3 tests/unit/support/test_history.py`.
"""

import random
import unittest

import history as hx
from history import DEL, DELV, ERROR, GET, GETV, INCR, INDETERMINATE, OK, SET, SETV, Op

NODES = ("n1", "n2", "n3")


class Builder:
    """Appends ops with increasing, non-overlapping times unless told otherwise."""

    def __init__(self):
        self.history = hx.History()
        self.t = 0.0

    def op(self, kind, key, outcome=OK, start=None, end=None, **fields):
        if start is None:
            start = self.t + 1
        if end is None:
            end = start + 0.5
        self.t = max(self.t, end)
        fields.setdefault("client", "c1")
        fields.setdefault("node", "n1")
        return self.history.add(Op(kind, key, outcome, start=start, end=end, **fields))


def everywhere(reply, nodes=NODES):
    return {n: reply for n in nodes}


class CleanHistoryTest(unittest.TestCase):
    def test_sets_reads_and_deletes_in_order(self):
        b = Builder()
        b.op(SET, "a", value="a1", coordinator="n1")
        b.op(GET, "a", values=["a1"], coordinator="n1")
        b.op(SET, "a", value="a2", coordinator="n1")  # covers a1: same coordinator, later
        b.op(SET, "b", value="b1")
        b.op(GETV, "c", context="ctx0", values=[])
        b.op(SETV, "c", context="ctx0", value="c1")
        final = {"a": everywhere(b"a2"), "b": everywhere(b"b1"),
                 "c": everywhere([b"ctx1", [b"c1"]])}
        report = hx.check(b.history, final)
        self.assertTrue(report.ok, report.describe())
        self.assertEqual(report.acked_writes, 4)
        self.assertEqual(report.covered_writes, 1)
        self.assertEqual(report.keys, 3)

    def test_bytes_and_text_compare_equal_and_sibling_order_does_not_matter(self):
        b = Builder()
        b.op(GETV, "k", context=b"c0", values=[])
        b.op(SETV, "k", context="c0", value=b"x", node="n1")
        b.op(SETV, "k", context=b"c0", value="y", node="n2")
        final = {"k": {"n1": [b"x", b"y"], "n2": [b"y", b"x"], "n3": [b"ctx", [b"y", b"x"]]}}
        report = hx.check(b.history, final)
        self.assertTrue(report.ok, report.describe())


class LostTest(unittest.TestCase):
    def test_acked_write_missing_everywhere_is_lost(self):
        b = Builder()
        b.op(SET, "k", value="v1")
        lost = b.op(SET, "other", value="o1")
        final = {"k": everywhere(b"v1"), "other": everywhere(None)}
        report = hx.check(b.history, final)
        self.assertFalse(report.ok)
        self.assertEqual([f.op for f in report.lost], [lost])
        self.assertIn("lost: #1 SET other 'o1'", report.describe())

    def test_plain_set_through_another_coordinator_does_not_cover(self):
        # v1 acked via n1; v2 via n2 (a plain SET, later). n2 may not have seen
        # v1: the checker cannot assume v1 superseded, so its absence is a loss.
        b = Builder()
        v1 = b.op(SET, "k", value="v1", node="n1", coordinator="n1")
        b.op(SET, "k", value="v2", node="n2", coordinator="n2")
        report = hx.check(b.history, {"k": everywhere(b"v2")})
        self.assertEqual([f.op for f in report.lost], [v1])

    def test_plain_set_with_unknown_coordinator_does_not_cover(self):
        b = Builder()
        v1 = b.op(SET, "k", value="v1", coordinator="n1")
        b.op(SET, "k", value="v2", node="n1")  # forwarded: coordinator unknown
        report = hx.check(b.history, {"k": everywhere(b"v2")})
        self.assertEqual([f.op for f in report.lost], [v1])

    def test_plain_set_overlapping_the_ack_does_not_cover(self):
        b = Builder()
        v1 = b.op(SET, "k", value="v1", coordinator="n1", start=1, end=3)
        b.op(SET, "k", value="v2", coordinator="n1", start=2, end=4)
        report = hx.check(b.history, {"k": everywhere(b"v2")})
        self.assertEqual([f.op for f in report.lost], [v1])

    def test_setv_whose_context_did_not_show_the_value_does_not_cover(self):
        b = Builder()
        b.op(GETV, "k", context="c0", values=[])
        v1 = b.op(SET, "k", value="v1", node="n2")
        b.op(SETV, "k", context="c0", value="v2")  # stale context: v1 must stay a sibling
        report = hx.check(b.history, {"k": everywhere(b"v2")})
        self.assertEqual([f.op for f in report.lost], [v1])

    def test_error_write_cannot_cover(self):
        b = Builder()
        v1 = b.op(SET, "k", value="v1")
        b.op(GETV, "k", context="c1", values=["v1"])
        b.op(DELV, "k", ERROR, context="c1", error="CONFLICT 101 siblings")
        report = hx.check(b.history, {"k": everywhere(None)})
        self.assertEqual([f.op for f in report.lost], [v1])

    def test_expiring_write_is_not_judged(self):
        b = Builder()
        b.op(SET, "k", value="v1", expires=True)
        report = hx.check(b.history, {"k": everywhere(None)})
        self.assertTrue(report.ok, report.describe())
        self.assertEqual(report.acked_writes, 0)


class CoveredTest(unittest.TestCase):
    """An acknowledged value that is gone because a later write covered it."""

    def test_setv_with_a_context_that_showed_the_value(self):
        b = Builder()
        b.op(SET, "k", value="v1", node="n1")
        b.op(GETV, "k", context="c1", values=["v1"], client="c2", node="n2")
        b.op(SETV, "k", context="c1", value="v2", client="c3", node="n3")
        report = hx.check(b.history, {"k": everywhere(b"v2")})
        self.assertTrue(report.ok, report.describe())
        self.assertEqual(report.covered_writes, 1)

    def test_indeterminate_delv_covers(self):
        b = Builder()
        b.op(SET, "k", value="v1")
        b.op(GETV, "k", context="c1", values=["v1"])
        b.op(DELV, "k", INDETERMINATE, context="c1", error="NOQUORUM got 1 of 2")
        report = hx.check(b.history, {"k": everywhere(None)})
        self.assertTrue(report.ok, report.describe())

    def test_same_token_on_another_key_does_not_cover(self):
        b = Builder()
        v1 = b.op(SET, "k", value="v1")
        b.op(GETV, "j", context="c1", values=["j1"])
        b.op(GETV, "k", context="c1", values=[])  # not this key's read that showed v1
        b.op(SETV, "k", context="c1", value="v2")
        report = hx.check(b.history, {"k": everywhere(b"v2"), "j": everywhere(None)})
        self.assertEqual([f.op for f in report.lost], [v1])
        self.assertEqual(report.phantoms, [])

    def test_plain_del_after_the_ack_through_the_same_coordinator(self):
        b = Builder()
        b.op(SET, "k", value="v1", coordinator="n2", node="n2", client="c1")
        b.op(DEL, "k", coordinator="n2", node="n2", client="c2")
        report = hx.check(b.history, {"k": everywhere(None)})
        self.assertTrue(report.ok, report.describe())

    def test_plain_set_after_a_read_through_the_same_coordinator(self):
        b = Builder()
        b.op(SET, "k", value="v1", node="n1", coordinator="n1")
        b.op(GET, "k", values=["v1"], node="n3", coordinator="n3", client="c2")
        b.op(SET, "k", value="v2", node="n3", coordinator="n3", client="c2")
        report = hx.check(b.history, {"k": everywhere(b"v2")})
        self.assertTrue(report.ok, report.describe())


class IndeterminateTest(unittest.TestCase):
    def test_absent_is_fine(self):
        b = Builder()
        b.op(SET, "k", value="v1")
        b.op(SET, "j", INDETERMINATE, value="j1", error="NOQUORUM got 1 of 2")
        report = hx.check(b.history, {"k": everywhere(b"v1"), "j": everywhere(None)})
        self.assertTrue(report.ok, report.describe())
        self.assertEqual((report.indeterminate_present, report.indeterminate_absent), (0, 1))

    def test_present_is_fine(self):
        b = Builder()
        b.op(GETV, "k", context="c0", values=[])
        b.op(SETV, "k", context="c0", value="v1")
        b.op(SETV, "k", INDETERMINATE, context="c0", value="v2", error="timed out")
        report = hx.check(b.history, {"k": everywhere([b"v1", b"v2"])})
        self.assertTrue(report.ok, report.describe())
        self.assertEqual((report.indeterminate_present, report.indeterminate_absent), (1, 0))


class PhantomTest(unittest.TestCase):
    def test_value_nobody_wrote(self):
        b = Builder()
        b.op(SET, "k", value="v1")
        report = hx.check(b.history, {"k": {"n1": b"v1", "n2": [b"v1", b"zz"], "n3": b"v1"}})
        self.assertFalse(report.ok)
        self.assertEqual([(p.key, p.node, p.value) for p in report.phantoms], [("k", "n2", "zz")])
        self.assertIn("never written", str(report.phantoms[0]))

    def test_value_of_a_refused_write(self):
        b = Builder()
        refused = b.op(SET, "k", ERROR, value="v1", error="CONFLICT 101 siblings")
        report = hx.check(b.history, {"k": everywhere(b"v1")})
        self.assertEqual(len(report.phantoms), 3)
        self.assertIs(report.phantoms[0].writer, refused)

    def test_value_written_to_another_key(self):
        b = Builder()
        b.op(SET, "j", value="v1")
        report = hx.check(b.history, {"j": everywhere(b"v1"), "k": everywhere(b"v1")})
        self.assertEqual({p.key for p in report.phantoms}, {"k"})

    def test_a_key_never_written(self):
        report = hx.check([], {"k": everywhere(None)})
        self.assertTrue(report.ok, report.describe())
        report = hx.check([], {"k": everywhere(b"x")})
        self.assertEqual(len(report.phantoms), 3)


class DivergentTest(unittest.TestCase):
    def test_nodes_disagree(self):
        b = Builder()
        b.op(GETV, "k", context="c0", values=[])
        b.op(SETV, "k", context="c0", value="v1", node="n1")
        b.op(SETV, "k", context="c0", value="v2", node="n2")
        final = {"k": {"n1": [b"v1", b"v2"], "n2": [b"v2", b"v1"], "n3": b"v2"}}
        report = hx.check(b.history, final)
        self.assertFalse(report.ok)
        self.assertEqual([d.key for d in report.divergent], ["k"])
        self.assertEqual(report.divergent[0].per_node["n3"], frozenset({"v2"}))
        self.assertEqual(report.lost, [])  # v1 is somewhere: divergent, not lost

    def test_nil_against_a_value(self):
        b = Builder()
        b.op(SET, "k", value="v1")
        report = hx.check(b.history, {"k": {"n1": None, "n2": b"v1"}})
        self.assertEqual(len(report.divergent), 1)


class SiblingsTest(unittest.TestCase):
    def test_concurrent_writes_on_two_sides_both_present(self):
        # Partition: each side read the same state, then wrote through its own
        # node; after healing both values are siblings, on every node.
        b = Builder()
        b.op(SET, "k", value="base", coordinator="n1", side="A")
        b.op(GETV, "k", context="c1", values=["base"], side="A")
        b.op(GETV, "k", context="c1", values=["base"], client="c2", node="n3", side="B")
        b.op(SETV, "k", context="c1", value="a", start=10, end=11, side="A")
        b.op(SETV, "k", context="c1", value="b", client="c2", node="n3", start=10.2,
             end=10.9, side="B")
        b.op(SET, "k2", value="a2", coordinator="n1", start=12, end=12.5, side="A")
        b.op(SET, "k2", value="b2", coordinator="n3", node="n3", start=12.1, end=12.4, side="B")
        final = {"k": everywhere([b"b", b"a"]), "k2": everywhere([b"a2", b"b2"])}
        report = hx.check(b.history, final)
        self.assertTrue(report.ok, report.describe())
        self.assertEqual(report.covered_writes, 1)  # base

    def test_resolving_write_after_siblings(self):
        b = Builder()
        b.op(GETV, "k", context="c0", values=[])
        b.op(SETV, "k", context="c0", value="a")
        b.op(SETV, "k", context="c0", value="b", node="n2")
        b.op(GETV, "k", context="c2", values=["a", "b"], node="n3")
        b.op(SETV, "k", context="c2", value="merged", node="n3")
        report = hx.check(b.history, {"k": everywhere(b"merged")})
        self.assertTrue(report.ok, report.describe())
        self.assertEqual(report.covered_writes, 2)


class LwwTest(unittest.TestCase):
    def test_concurrent_ack_dropped_by_lww_is_lost(self):
        # conflict-resolution lww: both sides acked a write of k; after healing
        # only the greater timestamp survives. Neither write covered the other,
        # so the dropped one is reported lost (lww's documented loss).
        b = Builder()
        b.op(GETV, "k", context="c0", values=[], side="A")
        a = b.op(SETV, "k", context="c0", value="a", coordinator="n1", start=10, end=10.1,
                 side="A")
        b.op(SET, "k", value="b", client="c2", node="n4", coordinator="n4", start=10.05,
             end=10.2, side="B")
        report = hx.check(b.history, {"k": everywhere(b"b", NODES + ("n4",))})
        self.assertFalse(report.ok)
        self.assertEqual([f.op for f in report.lost], [a])


class ResurrectedTest(unittest.TestCase):
    def test_value_deleted_by_an_acked_delv_comes_back(self):
        b = Builder()
        v1 = b.op(SET, "k", value="v1")
        b.op(GETV, "k", context="c1", values=["v1"])
        delv = b.op(DELV, "k", context="c1")
        report = hx.check(b.history, {"k": everywhere(b"v1")})
        self.assertFalse(report.ok)
        self.assertEqual(len(report.resurrected), 1)
        self.assertIs(report.resurrected[0].writer, v1)
        self.assertIs(report.resurrected[0].covered_by, delv)

    def test_indeterminate_cover_proves_nothing(self):
        b = Builder()
        b.op(SET, "k", value="v1")
        b.op(GETV, "k", context="c1", values=["v1"])
        b.op(DELV, "k", INDETERMINATE, context="c1")
        report = hx.check(b.history, {"k": everywhere(b"v1")})
        self.assertTrue(report.ok, report.describe())


class CounterTest(unittest.TestCase):
    def test_within_bounds(self):
        b = Builder()
        for delta, outcome in ((1, OK), (5, OK), (-2, OK), (3, INDETERMINATE), (-4, INDETERMINATE),
                               (100, ERROR)):
            b.op(INCR, "n", outcome, delta=delta)
        for got in (b"0", b"4", b"7"):
            report = hx.check(b.history, {"n": everywhere(got)})
            self.assertTrue(report.ok, report.describe())
        report = hx.check(b.history, {"n": {"n1": b"8", "n2": b"-1", "n3": [b"1", b"2"]}})
        self.assertEqual([(c.node, c.got) for c in report.counter_errors],
                         [("n1", 8), ("n2", -1), ("n3", ["1", "2"])])
        self.assertEqual(report.phantoms, [])

    def test_nil_is_zero(self):
        b = Builder()
        b.op(INCR, "n", INDETERMINATE, delta=1)
        self.assertTrue(hx.check(b.history, {"n": everywhere(None)}).ok)

    def test_counter_mixed_with_set_is_skipped(self):
        b = Builder()
        b.op(INCR, "n", delta=1)
        b.op(SET, "n", value="v1")
        report = hx.check(b.history, {"n": everywhere(b"7")})
        self.assertTrue(report.ok, report.describe())
        self.assertEqual(report.skipped_keys, ["n"])


class UnreadTest(unittest.TestCase):
    def test_written_key_missing_from_final_reads(self):
        b = Builder()
        b.op(SET, "k", value="v1")
        b.op(SET, "j", ERROR, value="j1")
        b.op(GET, "r", values=[])
        report = hx.check(b.history, {})
        self.assertEqual(report.unread_keys, ["k"])
        self.assertFalse(report.ok)


class AvailabilityTest(unittest.TestCase):
    def test_fraction_and_rate_per_side_and_overall(self):
        b = Builder()
        # Before the window: not counted.
        b.op(SET, "k0", value="x0", start=0, end=0.1, side="A")
        # Window [10, 20): side A 3 of 4 acked, side B 1 of 2, one op with no side.
        b.op(SET, "k1", value="a1", start=10, end=10.1, side="A")
        b.op(SETV, "k2", context="c", value="a2", start=11, end=11.1, side="A")
        b.op(DEL, "k3", start=12, end=12.1, side="A")
        b.op(SET, "k4", INDETERMINATE, value="a4", start=19.9, end=21, side="A")
        b.op(INCR, "k5", ERROR, delta=1, start=13, end=13.1, side="B")
        b.op(SET, "k6", value="b6", start=14, end=14.1, side="B")
        b.op(SET, "k7", value="x7", start=15, end=15.1)
        b.op(GET, "k1", values=["a1"], start=15, end=15.1, side="A")  # reads: not counted
        # After: not counted.
        b.op(SET, "k8", ERROR, value="a8", start=20, end=20.1, side="A")
        win = hx.availability(b.history, "fault", 10, 20)
        self.assertEqual((win.overall.attempts, win.overall.acked), (7, 5))
        a, bb = win.sides["A"], win.sides["B"]
        self.assertEqual((a.attempts, a.acked, a.errors, a.indeterminate), (4, 3, 0, 1))
        self.assertAlmostEqual(a.fraction, 0.75)
        self.assertAlmostEqual(a.acked_per_second, 0.3)
        self.assertEqual((bb.attempts, bb.acked, bb.errors), (2, 1, 1))
        self.assertAlmostEqual(bb.fraction, 0.5)
        self.assertAlmostEqual(win.overall.acked_per_second, 0.5)
        self.assertEqual(set(win.sides), {"A", "B"})

    def test_through_check_with_several_windows(self):
        b = Builder()
        b.op(SET, "k", value="v1", start=1, end=1.1, side="A")
        b.op(SET, "j", INDETERMINATE, value="j1", start=5, end=6, side="A")
        report = hx.check(b.history, {"k": everywhere(b"v1"), "j": everywhere(b"j1")},
                          windows={"healthy": (0, 4), "fault": (4, 8), "empty": (8, 9)})
        self.assertTrue(report.ok, report.describe())
        self.assertEqual(report.availability["healthy"].sides["A"].fraction, 1.0)
        self.assertEqual(report.availability["fault"].sides["A"].fraction, 0.0)
        self.assertIsNone(report.availability["empty"].overall.fraction)
        self.assertIn("fault/A: 0/1 acked (0.00%)", report.describe())


class RecordingTest(unittest.TestCase):
    class ReplyError(Exception):  # the shape of shoal_harness.ReplyError
        def __init__(self, message):
            super().__init__(message)
            self.message = message

    class ResponseError(Exception):  # named as redis-py's
        pass

    def test_classify_error(self):
        R = self.ReplyError
        self.assertEqual(hx.classify_error(R("NOQUORUM got 1 of 2 required replies")),
                         INDETERMINATE)
        self.assertEqual(hx.classify_error(R("ERR bad reply from a cluster node")), INDETERMINATE)
        self.assertEqual(hx.classify_error(R("CONFLICT 101 siblings")), ERROR)
        self.assertEqual(hx.classify_error(R("ERR syntax error")), ERROR)
        self.assertEqual(hx.classify_error(self.ResponseError("NOQUORUM got 0 of 2")),
                         INDETERMINATE)
        self.assertEqual(hx.classify_error(self.ResponseError("WRONGTYPE x")), ERROR)
        self.assertEqual(hx.classify_error(TimeoutError("timed out")), INDETERMINATE)
        self.assertEqual(hx.classify_error(ConnectionResetError()), INDETERMINATE)

    def test_run_records_outcomes_and_read_values(self):
        ticks = iter(range(100))
        h = hx.History(clock=lambda: float(next(ticks)))
        op, reply = h.run(lambda: [b"ctx1", [b"a", b"b"]], GETV, b"k", client="c", node="n1")
        self.assertEqual((op.outcome, op.context, op.values), (OK, "ctx1", frozenset({"a", "b"})))
        self.assertEqual((op.start, op.end, op.id), (0.0, 1.0, 0))
        op, _ = h.run(lambda: self.ReplyError("NOQUORUM got 1 of 2"), SET, "k", value="v")
        self.assertEqual((op.outcome, op.error), (INDETERMINATE, "NOQUORUM got 1 of 2"))

        def boom():
            raise self.ReplyError("CONFLICT 101 siblings")
        op, reply = h.run(boom, SETV, "k", value="w", context="ctx1")
        self.assertEqual(op.outcome, ERROR)
        self.assertIsInstance(reply, self.ReplyError)
        op, _ = h.run(lambda: [b"x", b"y"], GET, "k")
        self.assertEqual(op.values, frozenset({"x", "y"}))
        op, _ = h.run(lambda: None, GET, "k")
        self.assertEqual(op.values, frozenset())
        self.assertEqual(len(h), 5)
        self.assertNotEqual(h.new_value("c"), h.new_value("c"))

    def test_duplicate_values_are_refused(self):
        b = Builder()
        b.op(SET, "k", value="v")
        b.op(SET, "j", INDETERMINATE, value="v")
        with self.assertRaises(ValueError):
            hx.check(b.history, {})

    def test_ops_need_their_fields(self):
        with self.assertRaises(ValueError):
            Op(SET, "k", OK)
        with self.assertRaises(ValueError):
            Op(SETV, "k", OK, value="v")
        with self.assertRaises(ValueError):
            Op("append", "k", OK)
        with self.assertRaises(ValueError):
            Op(SET, "k", "maybe", value="v")


class SequentialStore:
    """One replica holding dotted versions: the model the checker's rules assume.

    Dots are one counter; a context token is the counter value it read, and
    covers every dot up to it. Plain SET/DEL supersede everything (the one
    coordinator has seen all), SETV/DELV what their context covers.
    """

    def __init__(self):
        self.counter = 0
        self.keys = {}  # key -> list of (dot, value)

    def getv(self, key):
        return str(self.counter), [v for _, v in self.keys.get(key, [])]

    def write(self, key, value, context=None):
        covered = self.counter if context is None else int(context)
        kept = [(d, v) for d, v in self.keys.get(key, []) if d > covered]
        if value is not None:
            self.counter += 1
            kept.append((self.counter, value))
        self.keys[key] = kept


def simulate(seed, keys=4, steps=60):
    """A random history against SequentialStore, and its final reads."""
    rng = random.Random(seed)
    store, b = SequentialStore(), Builder()
    contexts = {}  # key -> tokens some GETV returned (stale ones make siblings)
    names = ["k%d" % i for i in range(keys)]
    for step in range(steps):
        key = rng.choice(names)
        client = rng.choice(("c1", "c2", "c3"))
        kind = rng.choice((SET, SET, SETV, SETV, DEL, DELV, GET, GETV, GETV))
        outcome = rng.choice((OK, OK, OK, OK, ERROR, INDETERMINATE))
        applied = outcome == OK or (outcome == INDETERMINATE and rng.random() < 0.5)
        common = dict(client=client, node="n1", coordinator="n1")
        if kind in hx.READS:
            if outcome != OK:
                continue
            ctx, values = store.getv(key)
            if kind == GETV:
                contexts.setdefault(key, []).append(ctx)
                b.op(GETV, key, context=ctx, values=values, **common)
            else:
                b.op(GET, key, values=values, **common)
            continue
        context = None
        if kind in hx.CONTEXT_WRITES:
            if not contexts.get(key):
                continue
            context = rng.choice(contexts[key])
        value = b.history.new_value("s%d" % seed) if kind in hx.VALUE_WRITES else None
        if applied:
            store.write(key, value, context)
        b.op(kind, key, outcome, value=value, context=context, **common)
    final = {k: everywhere(store.getv(k)[1] or None) for k in names}
    for k in names:
        final[k]["n3"] = list(store.getv(k))  # GETV's shape through one node
    return b, store, final


class RandomizedTest(unittest.TestCase):
    SEEDS = range(300)

    def test_no_false_verdicts(self):
        judged = covered = 0
        for seed in self.SEEDS:
            b, _, final = simulate(seed)
            report = hx.check(b.history, final)
            self.assertTrue(report.ok, "seed %d\n%s" % (seed, report.describe()))
            judged += report.acked_writes
            covered += report.covered_writes
        # The simulation exercises both paths: kept and superseded acks.
        self.assertGreater(covered, 100)
        self.assertGreater(judged - covered, 100)

    def test_a_dropped_ack_is_lost(self):
        for seed in self.SEEDS:
            b, store, final = simulate(seed)
            # A last acknowledged write: nothing after it can cover it.
            key = "k%d" % (seed % 4)
            value = b.history.new_value("last")
            store.write(key, value)
            b.op(SET, key, value=value, client="c1", node="n1", coordinator="n1")
            for node in NODES:
                final[key][node] = store.getv(key)[1]
            self.assertTrue(hx.check(b.history, final).ok, "seed %d" % seed)
            for node in NODES:
                final[key][node] = [v for v in store.getv(key)[1] if v != value] or None
            report = hx.check(b.history, final)
            self.assertEqual([f.op.value for f in report.lost], [value], "seed %d" % seed)
            self.assertEqual(report.phantoms, [])

    def test_a_random_acked_value_removed_from_the_final_state(self):
        # Any acknowledged value present at the end, removed on every node, is
        # reported lost unless some write covered it (an indeterminate one that
        # did not land): never a silent pass for an uncovered ack.
        found = 0
        for seed in self.SEEDS:
            b, store, final = simulate(seed)
            ops = {op.value: op for op in b.history if op.kind in hx.VALUE_WRITES}
            acked = sorted(v for k in store.keys for _, v in store.keys[k]
                           if ops[v].outcome == OK)
            if not acked:
                continue
            victim = random.Random(seed).choice(acked)
            key = ops[victim].key
            for node in NODES:
                final[key][node] = [v for v in store.getv(key)[1] if v != victim] or None
            report = hx.check(b.history, final)
            lost = [f.op.value for f in report.lost]
            if lost:
                found += 1
                self.assertEqual(lost, [victim], "seed %d" % seed)
            else:
                self.assertGreater(report.covered_writes, 0, "seed %d" % seed)
        self.assertGreater(found, 200)


if __name__ == "__main__":
    unittest.main()
