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



# ---------------------------------------------------------------------------
# Convergent containers
# ---------------------------------------------------------------------------

SADD, SREM, HSET, HINCRBY = hx.SADD, hx.SREM, hx.HSET, hx.HINCRBY


class SetContainerTest(unittest.TestCase):
    def test_add_then_remove_then_add_must_be_present(self):
        b = Builder()
        b.op(SADD, "s", value="m")
        b.op(SREM, "s", value="m")
        last = b.op(SADD, "s", value="m")
        report = hx.check(b.history, {"s": everywhere([b"m"])})
        self.assertTrue(report.ok, report.describe())
        report = hx.check(b.history, {"s": everywhere([])})
        self.assertEqual([l.op for l in report.lost], [last], report.describe())

    def test_removed_after_the_ack_may_be_absent(self):
        b = Builder()
        b.op(SADD, "s", value="m")
        b.op(SREM, "s", value="m", outcome=INDETERMINATE)
        self.assertTrue(hx.check(b.history, {"s": everywhere([])}).ok)
        b = Builder()
        b.op(SADD, "s", value="m")
        b.op(SREM, "s", value="m")
        self.assertTrue(hx.check(b.history, {"s": everywhere([])}).ok)
        self.assertTrue(hx.check(b.history, {"s": everywhere([b"m"])}).ok)

    def test_concurrent_remove_may_have_seen_the_add(self):
        b = Builder()
        b.op(SADD, "s", value="m", start=1.0, end=3.0)
        b.op(SREM, "s", value="m", start=0.5, end=2.0)  # overlaps: may have seen its dot
        report = hx.check(b.history, {"s": everywhere([])})
        self.assertTrue(report.ok, report.describe())
        self.assertEqual(report.covered_writes, 1)

    def test_remove_that_ended_before_the_add_started_cannot_remove_it(self):
        b = Builder()
        b.op(SREM, "s", value="m", start=0.5, end=0.9)
        add = b.op(SADD, "s", value="m", start=1.0, end=2.0)
        report = hx.check(b.history, {"s": everywhere([])})
        self.assertEqual([l.op for l in report.lost], [add])

    def test_error_remove_removes_nothing(self):
        b = Builder()
        add = b.op(SADD, "s", value="m")
        b.op(SREM, "s", value="m", outcome=ERROR)
        report = hx.check(b.history, {"s": everywhere(None)})
        self.assertEqual([l.op for l in report.lost], [add])

    def test_remove_across_a_cut_did_not_observe_the_add(self):
        # Add wins: an SADD on side A and a later SREM on side B, both inside
        # the cut, cannot meet before the heal.
        b = Builder()
        add = b.op(SADD, "s", value="m", side="A", start=11.0, end=11.5)
        b.op(SREM, "s", value="m", side="B", start=12.0, end=12.5)
        cuts = [(10.0, 20.0)]
        report = hx.check(b.history, {"s": everywhere([])}, cuts=cuts)
        self.assertEqual([l.op for l in report.lost], [add])
        # The same remove on the same side could have seen it.
        self.assertTrue(hx.check(b.history, {"s": everywhere([])}).ok)
        # A remove that ended after the heal could have seen it.
        self.assertTrue(hx.check(b.history, {"s": everywhere([])}, cuts=[(10.0, 12.2)]).ok)
        # An add that started before the cut may have crossed it.
        self.assertTrue(hx.check(b.history, {"s": everywhere([])}, cuts=[(11.2, 20.0)]).ok)

    def test_indeterminate_remove_may_run_after_the_heal(self):
        # A forwarded SREM that timed out across the cut may be delivered
        # once it heals, and then removes the add, or even a later one.
        b = Builder()
        b.op(SREM, "s", value="m", side="B", outcome=INDETERMINATE, start=10.5, end=12.5)
        b.op(SADD, "s", value="m", side="A", start=13.0, end=13.5)
        self.assertTrue(hx.check(b.history, {"s": everywhere([])}, cuts=[(10.0, 20.0)]).ok)
        b.op(SREM, "s", value="m", side="B", outcome=ERROR, start=14.0, end=14.5)
        self.assertTrue(hx.check(b.history, {"s": everywhere([])}, cuts=[(10.0, 20.0)]).ok)

    def test_remove_on_the_same_side_during_the_cut_may_remove(self):
        b = Builder()
        b.op(SADD, "s", value="m", side="A", start=11.0, end=11.5)
        b.op(SREM, "s", value="m", side="A", start=12.0, end=12.5)
        self.assertTrue(hx.check(b.history, {"s": everywhere([])}, cuts=[(10.0, 20.0)]).ok)

    def test_phantom_member(self):
        b = Builder()
        b.op(SADD, "s", value="m")
        b.op(SADD, "s", value="x", outcome=ERROR)
        report = hx.check(b.history, {"s": everywhere([b"m", b"x", b"y"])})
        got = sorted((p.node, p.value, p.writer is not None) for p in report.phantoms)
        self.assertEqual(got, sorted([(n, "x", True) for n in NODES] + [(n, "y", False) for n in NODES]))

    def test_indeterminate_add_may_be_present(self):
        b = Builder()
        b.op(SADD, "s", value="m", outcome=INDETERMINATE)
        self.assertTrue(hx.check(b.history, {"s": everywhere([b"m"])}).ok)
        self.assertTrue(hx.check(b.history, {"s": everywhere([])}).ok)

    def test_divergent_members(self):
        b = Builder()
        b.op(SADD, "s", value="m", outcome=INDETERMINATE)
        report = hx.check(b.history, {"s": {"n1": [b"m"], "n2": []}})
        self.assertEqual([d.key for d in report.divergent], ["s"])
        self.assertFalse(report.ok)

    def test_unread_set(self):
        b = Builder()
        b.op(SADD, "s", value="m")
        self.assertEqual(hx.check(b.history, {}).unread_keys, ["s"])

    def test_set_and_hash_ops_on_one_key_are_skipped(self):
        b = Builder()
        b.op(SADD, "k", value="m")
        b.op(HSET, "k", field="f", value="v")
        report = hx.check(b.history, {"k": everywhere([])})
        self.assertEqual(report.skipped_keys, ["k"])
        self.assertTrue(report.ok)


class HashContainerTest(unittest.TestCase):
    def test_counter_is_acked_sum_plus_a_subset_of_indeterminate(self):
        b = Builder()
        b.op(HINCRBY, "h", field="c", delta=5)
        b.op(HINCRBY, "h", field="c", delta=-2, node="n2")
        b.op(HINCRBY, "h", field="c", delta=10, outcome=INDETERMINATE)
        b.op(HINCRBY, "h", field="c", delta=100, outcome=INDETERMINATE)
        b.op(HINCRBY, "h", field="c", delta=1000, outcome=ERROR)
        for good in (3, 13, 103, 113):
            report = hx.check(b.history, {"h": everywhere(["c", str(good)])})
            self.assertTrue(report.ok, report.describe())
        for bad in (2, 4, 50, 1003, None):
            reply = [] if bad is None else ["c", str(bad)]
            report = hx.check(b.history, {"h": everywhere(reply)})
            self.assertEqual(len(report.counter_errors), len(NODES), bad)
            self.assertEqual(report.counter_errors[0].hash_field, "c")

    def test_counter_field_of_indeterminate_increments_may_be_absent(self):
        b = Builder()
        b.op(HINCRBY, "h", field="c", delta=1, outcome=INDETERMINATE)
        self.assertTrue(hx.check(b.history, {"h": everywhere(None)}).ok)

    def test_register_value_must_have_been_written_to_that_field(self):
        b = Builder()
        b.op(HSET, "h", field="f", value="v1")
        b.op(HSET, "h", field="g", value="v2")
        b.op(HSET, "h", field="f", value="v3", outcome=ERROR)
        self.assertTrue(hx.check(b.history, {"h": everywhere({"f": "v1", "g": "v2"})}).ok)
        report = hx.check(b.history, {"h": everywhere({"f": "v2", "g": "v2"})})
        self.assertEqual({p.value for p in report.phantoms}, {"f=v2"})
        report = hx.check(b.history, {"h": everywhere({"f": "v3", "g": "v2"})})
        self.assertEqual({p.value for p in report.phantoms}, {"f=v3"})
        self.assertTrue(all(p.writer is not None for p in report.phantoms))

    def test_register_lost_and_phantom_field(self):
        b = Builder()
        first = b.op(HSET, "h", field="f", value="v1")
        report = hx.check(b.history, {"h": everywhere(["x", "1"])})
        self.assertEqual([l.op for l in report.lost], [first])
        self.assertEqual({p.value for p in report.phantoms}, {"x=1"})

    def test_register_later_write_must_win(self):
        b = Builder()
        b.op(HSET, "h", field="f", value="old", start=1.0, end=1.1)
        b.op(HSET, "h", field="f", value="new", start=5.0, end=5.1)
        self.assertTrue(hx.check(b.history, {"h": everywhere({"f": "new"})}).ok)
        report = hx.check(b.history, {"h": everywhere({"f": "old"})})
        self.assertEqual([r.value for r in report.resurrected], ["f=old"])
        # An indeterminate write may land later, with a later timestamp.
        b2 = Builder()
        b2.op(HSET, "h", field="f", value="old", outcome=INDETERMINATE, start=1.0, end=1.1)
        b2.op(HSET, "h", field="f", value="new", start=5.0, end=5.1)
        self.assertTrue(hx.check(b2.history, {"h": everywhere({"f": "old"})}).ok)
        # Within the margin the order is not judged.
        self.assertTrue(hx.check(b.history, {"h": everywhere({"f": "old"})}, register_margin=10).ok)

    def test_resp2_list_and_resp3_map_read_the_same(self):
        b = Builder()
        b.op(HSET, "h", field="f", value="v")
        b.op(HINCRBY, "h", field="c", delta=2)
        final = {"h": {"n1": [b"c", b"2", b"f", b"v"], "n2": {b"f": b"v", b"c": b"2"}}}
        report = hx.check(b.history, final)
        self.assertTrue(report.ok, report.describe())
        self.assertEqual(report.acked_writes, 2)

    def test_divergent_hash(self):
        b = Builder()
        b.op(HSET, "h", field="f", value="a", outcome=INDETERMINATE)
        b.op(HSET, "h", field="f", value="b", outcome=INDETERMINATE)
        report = hx.check(b.history, {"h": {"n1": ["f", "a"], "n2": ["f", "b"]}})
        self.assertEqual([d.key for d in report.divergent], ["h"])

    def test_field_both_set_and_incremented_is_skipped(self):
        b = Builder()
        b.op(HSET, "h", field="f", value="5")
        b.op(HINCRBY, "h", field="f", delta=1)
        report = hx.check(b.history, {"h": everywhere(["f", "6"])})
        self.assertEqual(report.skipped_keys, ["h f"])
        self.assertTrue(report.ok)

    def test_container_and_string_keys_in_one_history(self):
        b = Builder()
        b.op(SET, "a", value="a1")
        b.op(SADD, "s", value="m")
        b.op(HINCRBY, "h", field="c", delta=1)
        final = {"a": everywhere(b"a1"), "s": everywhere([b"m"]), "h": everywhere([b"c", b"1"])}
        report = hx.check(b.history, final)
        self.assertTrue(report.ok, report.describe())
        self.assertEqual(report.keys, 3)

    def test_ops_need_their_fields(self):
        with self.assertRaises(ValueError):
            Op(SADD, "s", OK)
        with self.assertRaises(ValueError):
            Op(HINCRBY, "h", OK, delta=1)
        with self.assertRaises(ValueError):
            Op(HSET, "h", OK, field="f")


class RandomizedSetTest(unittest.TestCase):
    """A sequential add-wins set (one replica, ops never overlap): the checker
    finds nothing; dropping a member the last op added is found lost."""

    def test_sequential_store(self):
        rng = random.Random(7)
        for trial in range(50):
            b = Builder()
            state = set()
            for _ in range(40):
                m = "m%d" % rng.randrange(6)
                outcome = rng.choice([OK, OK, OK, ERROR, INDETERMINATE])
                kind = rng.choice([SADD, SREM])
                applied = outcome == OK or (outcome == INDETERMINATE and rng.random() < 0.5)
                b.op(kind, "s", outcome=outcome, value=m)
                if applied:
                    (state.add if kind == SADD else state.discard)(m)
            final = {"s": everywhere(sorted(state))}
            report = hx.check(b.history, final)
            self.assertTrue(report.ok, "trial %d: %s" % (trial, report.describe()))
            last = {}
            for op in b.history:
                last[op.value] = op
            # An indeterminate SREM may run any time later: it excuses its member.
            maybe_removed = {op.value for op in b.history if op.kind == SREM and op.outcome == INDETERMINATE}
            must = [m for m, op in last.items()
                    if op.kind == SADD and op.outcome == OK and m not in maybe_removed]
            if must:
                state.discard(must[0])
                report = hx.check(b.history, {"s": everywhere(sorted(state))})
                self.assertEqual([l.op.value for l in report.lost], [must[0]], trial)


if __name__ == "__main__":
    unittest.main()
