"""History checker for shoal's fault tests: was an acknowledged write lost?

Pure Python, no servers. Fault tests record every operation their clients
issue (a `History` of `Op`s), heal the cluster, wait for convergence, read
every key through every node, and call

    report = check(history, final_reads, windows={"fault": (t0, t1)})
    self.assertTrue(report.ok, report.describe())

The model
---------
Every write carries a value no other write uses (a retry writes a new value),
so a value in a final read names exactly one operation. Each operation has an
outcome:

  ok             acknowledged: the write happened.
  error          definitely not applied: a syntax error, WRONGTYPE, CONFLICT
                 (too many siblings), ... (`classify_error`).
  indeterminate  NOQUORUM, a timeout, a dropped connection: it may have landed,
                 now or later. Never counted lost, may or may not be present.

Write kinds: SET and DEL are plain (no context), SETV and DELV carry the
context token the client got from a GETV (`Op.context`), INCR carries a delta.
Reads (GET, GETV) that succeeded record the values they returned (GETV also
the context token); they are the evidence of what a client or node had seen.
Times are one monotonic clock shared by every client (`History.clock`).

`Op.node` is the node the client talked to. `Op.coordinator` is the node
known to have coordinated the request; set it only when that is certain:
when the client talked to a replica of the key (`CLUSTER PREFLIST`), which
coordinates the request itself (DESIGN.md, "Quorums and coordination").
None means unknown (forwarded), and no supersession is inferred from it.

Covered (superseded)
--------------------
A write w *covers* a value u (of the same key) when the store must drop u
once w is applied (siblings mode, DESIGN.md "Versions and siblings"):

  1. Context: w is a SETV/DELV whose context token was returned by a GETV of
     that key (an ok read recorded in the history) that returned u. The token
     names the versions that read merged, u among them. Equal tokens name
     equal knowledge, so every GETV that returned w's token counts.
  2. Plain write through a coordinator that had seen u: w is a SET/DEL with
     coordinator X, and before w started (`start` after the evidence's `end`)
     either an acknowledged write of u was coordinated by X (the coordinator
     applies a write locally before it acknowledges it), or a read
     coordinated by X returned u (a read saves the merge it answers on the
     coordinator before answering: cluster/coordinator.h). DESIGN.md: "Plain
     SET supersedes every version the coordinating replica has seen."
     Assumption: X kept what it had seen (its log survives a kill -9,
     nothing is evicted by maxmemory during the test).

Nothing else covers: a plain write through another node, or one whose
coordinator is unknown, may leave u as a sibling or (lww) drop it; the
checker cannot tell, so it assumes nothing. Coverage is one step: if w covers
u and w itself vanished, w is judged on its own.

With `conflict-resolution lww` the same rules hold on one host (timestamps
from one clock order w after u in both cases), and a write that no other
write covered but which lww dropped in favour of a concurrent one is reported
lost: that is lww's documented loss, and fault tests assert that the checker
sees it.

Verdicts
--------
lost         an ok SET/SETV whose value is in no node's final read and which
             no ok-or-indeterminate write covered. Writes with an expiry
             (`Op.expires`) are not judged: they may vanish on their own.
phantom      a final value that no ok-or-indeterminate write of that key wrote
             (a value only an `error` write carried counts: it was applied
             though the client was told it was not).
resurrected  a final value covered by an ok write (it should be gone; a
             deleted value came back).
divergent    nodes whose final value sets for a key differ.
unread       a key with ok or indeterminate writes missing from final_reads.
counter      keys written only by INCR (INCR/INCRBY/DECR... as one kind with a
             delta) are judged apart: every node's GET (nil = 0) lies between
             the sum of ok deltas plus every negative indeterminate delta and
             that sum plus every positive indeterminate delta. A key with both
             counter and SET-family writes is skipped (`Report.skipped_keys`):
             SET replaces a counter, and its integer text is no written value.

Final reads are compared as sets: sibling order does not matter.
`final_reads` maps key -> node -> reply, the reply as GET shows it (None,
one value, a list of sibling values) or as GETV / CLUSTER GETLOCAL show it
([context, [values...]]). Only the values are compared, not contexts.

Convergent containers
---------------------
Keys written with SADD/SREM (sets) or HSET/HINCRBY (hashes) are judged by
the rules of README "Convergent hashes, sets and sorted sets" (add wins, a
remove removes only what its coordinator had seen, HINCRBY fields are
counters, HSET fields registers resolved by (timestamp, node id)). Their
final reads are SMEMBERS or HGETALL replies. Members and fields repeat;
HSET values are unique per field.

  set member   lost if absent from every node while some ok SADD of it could
               not have been observed by any ok-or-indeterminate SREM of it
               (`could_observe`: an ok SREM that ended before the SADD
               started could not; nor an ok one on the other side of a cut,
               both inside it, given by `cuts`: (start, end) intervals during
               which nodes of different `Op.side`s could not reach each
               other; an indeterminate SREM may run any time later, so it
               could always).
               A member that only concurrent removes could have seen may be
               present or absent. Phantom: a member no ok-or-indeterminate
               SADD of the key added.
  HINCRBY      a field only ever HINCRBY'd: every node's value is the sum of
               the ok deltas plus the sum of some subset of the indeterminate
               ones (absent only when no increment was acknowledged).
  HSET         a field only ever HSET: every node's value was written to that
               field by an ok-or-indeterminate HSET (else phantom); absent
               everywhere while an ok HSET exists is lost; a value whose ok
               writer ended more than `register_margin` seconds before an ok
               HSET of the field started is reported resurrected (the later
               timestamp must win; the margin covers the server's cached
               loop clock). An indeterminate HSET is not judged so: a request
               its client gave up on (NOQUORUM after a forward across a cut)
               may still run later, with a later timestamp.
  fields       a field no ok-or-indeterminate write touched is a phantom; a
               field written by both HSET and HINCRBY is skipped
               (`skipped_keys` names "key field").
  divergent    nodes whose member sets, or field=value sets, differ.

Availability
------------
For each named window (start, end): write attempts (every write kind) whose
`start` falls in [start, end), per `Op.side` and overall: attempts, acked
(ok), errors, indeterminate, the acknowledged fraction and acknowledged
writes per second of window.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Tuple

# Outcomes.
OK = "ok"
ERROR = "error"
INDETERMINATE = "indeterminate"
OUTCOMES = (OK, ERROR, INDETERMINATE)

# Operation kinds.
SET = "set"
SETV = "setv"
DEL = "del"
DELV = "delv"
INCR = "incr"  # the INCR family: INCR, INCRBY, DECR, DECRBY (Op.delta)
GET = "get"
GETV = "getv"
# Container writes (see "Convergent containers" below).
SADD = "sadd"        # Op.value: the member
SREM = "srem"        # Op.value: the member
HSET = "hset"        # Op.field, Op.value (unique in the field's history)
HINCRBY = "hincrby"  # Op.field, Op.delta

VALUE_WRITES = frozenset({SET, SETV})
DELETES = frozenset({DEL, DELV})
PLAIN_WRITES = frozenset({SET, DEL})
CONTEXT_WRITES = frozenset({SETV, DELV})
SET_WRITES = frozenset({SADD, SREM})
HASH_WRITES = frozenset({HSET, HINCRBY})
CONTAINER_WRITES = SET_WRITES | HASH_WRITES
WRITES = VALUE_WRITES | DELETES | {INCR} | CONTAINER_WRITES
READS = frozenset({GET, GETV})
KINDS = WRITES | READS

# Server error replies that do not say the write was refused: it may have
# landed. Any other error reply from the server is definite.
INDETERMINATE_REPLIES = ("NOQUORUM", "ERR bad reply from a cluster node")


def text(value: Any) -> str:
    """A value or token as text: bytes decoded (UTF-8), ints as decimal."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise TypeError("not a value: %r" % (value,))


def reply_values(reply: Any) -> FrozenSet[str]:
    """The set of values a read reply shows.

    GET's shapes: None (no live value), one value, a list of siblings.
    GETV's shape: [context, [values...]] (a list whose second item is a list).
    """
    if reply is None:
        return frozenset()
    if isinstance(reply, (list, tuple)):
        if len(reply) == 2 and isinstance(reply[1], (list, tuple)):
            return frozenset(text(v) for v in reply[1])
        return frozenset(text(v) for v in reply)
    return frozenset({text(reply)})


def classify_error(err: BaseException) -> str:
    """ERROR or INDETERMINATE for an exception or error reply a client got.

    A server error reply (shoal_harness.ReplyError, redis-py's ResponseError)
    is definite (ERROR) unless its text starts with one of
    INDETERMINATE_REPLIES. Anything else (timeout, closed connection, reset)
    is INDETERMINATE: the request may have been applied.
    """
    names = {cls.__name__ for cls in type(err).__mro__}
    if hasattr(err, "message") or "ResponseError" in names or "ReplyError" in names:
        message = getattr(err, "message", None) or str(err)
        if message.startswith(INDETERMINATE_REPLIES):
            return INDETERMINATE
        return ERROR
    return INDETERMINATE


@dataclass
class Op:
    """One client operation and its outcome.

    kind        SET, SETV, DEL, DELV, INCR, GET, GETV, SADD, SREM, HSET or
                HINCRBY.
    value       the value a SET/SETV wrote (unique in the history); the
                member of a SADD/SREM; the value of an HSET.
    field       the hash field of an HSET/HINCRBY.
    context     the token a SETV/DELV used; the token an ok GETV returned.
    values      the values an ok GET/GETV returned.
    delta       an INCR-family or HINCRBY increment (DECR is -1).
    expires     the write had an expiry (EX/PX): not judged for loss.
    client      which client issued it; node: which node it talked to.
    coordinator the node certain to have coordinated it (see module doc).
    side        partition side label, for availability.
    start, end  History.clock() before sending and after the reply.
    error       the error text, if any. id: position in the history.
    """

    kind: str
    key: str
    outcome: str
    value: Optional[str] = None
    context: Optional[str] = None
    values: Optional[FrozenSet[str]] = None
    field: Optional[str] = None
    delta: int = 0
    expires: bool = False
    client: str = ""
    node: str = ""
    coordinator: Optional[str] = None
    side: Optional[str] = None
    start: float = 0.0
    end: float = 0.0
    error: str = ""
    id: int = -1

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError("unknown op kind %r" % (self.kind,))
        if self.outcome not in OUTCOMES:
            raise ValueError("unknown outcome %r" % (self.outcome,))
        self.key = text(self.key)
        if self.value is not None:
            self.value = text(self.value)
        if self.context is not None:
            self.context = text(self.context)
        if self.values is not None:
            self.values = frozenset(text(v) for v in self.values)
        if self.field is not None:
            self.field = text(self.field)
        if self.kind in (SADD, SREM, HSET) and self.value is None:
            raise ValueError("%s needs a %s" % (self.kind, "member" if self.kind != HSET else "value"))
        if self.kind in HASH_WRITES and self.field is None:
            raise ValueError("%s needs a field" % self.kind)
        if self.kind in VALUE_WRITES and self.value is None:
            raise ValueError("%s needs a value" % self.kind)
        if self.kind in CONTEXT_WRITES and self.context is None:
            raise ValueError("%s needs the context it used" % self.kind)

    def __str__(self):
        parts = ["#%d %s %s" % (self.id, self.kind.upper(), self.key)]
        if self.field is not None:
            parts.append(repr(self.field))
        if self.context is not None and self.kind in CONTEXT_WRITES:
            parts.append("ctx=%s" % self.context)
        if self.value is not None:
            parts.append(repr(self.value))
        if self.kind in (INCR, HINCRBY):
            parts.append("%+d" % self.delta)
        if self.values is not None:
            parts.append("-> %s" % sorted(self.values))
        where = self.client or "?"
        where += "@" + (self.node or "?")
        if self.side:
            where += "[%s]" % self.side
        parts.append("%s %s [%.3f, %.3f]" % (where, self.outcome, self.start, self.end))
        if self.error:
            parts.append("(%s)" % self.error)
        return " ".join(parts)


class History:
    """A thread-safe, append-only list of Ops, in the order they were added.

    Clients either build Ops themselves and `add` them, or let `run` time a
    call and classify its outcome:

        op, reply = history.run(lambda: c.request("SETV", k, ctx, v),
                                SETV, k, value=v, context=ctx,
                                client="c1", node="n1", side="minority")
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._ops: List[Op] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)

    def add(self, op: Op) -> Op:
        with self._lock:
            op.id = len(self._ops)
            self._ops.append(op)
        return op

    def new_value(self, prefix: str = "v") -> str:
        """A value no other call returns."""
        return "%s-%d" % (prefix, next(self._counter))

    def run(self, call: Callable[[], Any], kind: str, key: Any, **fields) -> Tuple[Op, Any]:
        """Times call(), records its Op and returns (op, reply).

        An exception, or an error reply returned as a value (an Exception
        instance, as shoal_harness.Client.request returns), is classified by
        classify_error and returned as the reply, never raised. For an ok GET
        or GETV the values (and GETV's context) are taken from the reply.
        """
        start = self.clock()
        try:
            reply = call()
        except Exception as exc:  # noqa: BLE001 - every failure is an outcome
            reply = exc
        end = self.clock()
        if isinstance(reply, BaseException):
            outcome = classify_error(reply)
            fields["error"] = getattr(reply, "message", None) or "%s: %s" % (
                type(reply).__name__, reply)
        else:
            outcome = OK
            if kind == GETV:
                fields["context"] = text(reply[0])
                fields["values"] = reply_values(reply)
            elif kind == GET:
                fields["values"] = reply_values(reply)
        op = Op(kind, key, outcome, start=start, end=end, **fields)
        return self.add(op), reply

    def __iter__(self):
        with self._lock:
            return iter(list(self._ops))

    def __len__(self):
        with self._lock:
            return len(self._ops)


# ---------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------


@dataclass
class Lost:
    op: Op

    def __str__(self):
        return "lost: %s" % self.op


@dataclass
class Phantom:
    key: str
    node: str
    value: str
    writer: Optional[Op] = None  # an `error` write (or a write of another key) that carried it

    def __str__(self):
        why = "written only by %s" % self.writer if self.writer else "never written"
        return "phantom: %s on %s has %r, %s" % (self.key, self.node, self.value, why)


@dataclass
class Resurrected:
    key: str
    value: str
    writer: Optional[Op]
    covered_by: Op

    def __str__(self):
        return "resurrected: %s still has %r (%s), covered by ok %s" % (
            self.key, self.value, self.writer, self.covered_by)


@dataclass
class Divergent:
    key: str
    per_node: Dict[str, FrozenSet[str]]

    def __str__(self):
        shown = ", ".join("%s=%s" % (n, sorted(v)) for n, v in sorted(self.per_node.items()))
        return "divergent: %s: %s" % (self.key, shown)


@dataclass
class CounterMismatch:
    key: str
    node: str
    got: Any
    low: int
    high: int
    hash_field: Optional[str] = None  # an HINCRBY field: got is not a reachable sum

    def __str__(self):
        if self.hash_field is not None:
            return ("counter: %s field %r on %s is %r, expected the acknowledged sum plus a subset "
                    "of the indeterminate increments, within [%d, %d]" % (
                        self.key, self.hash_field, self.node, self.got, self.low, self.high))
        return "counter: %s on %s is %r, expected within [%d, %d]" % (
            self.key, self.node, self.got, self.low, self.high)


@dataclass
class Availability:
    """Write attempts started in one window, for one side or overall."""

    window: str
    side: Optional[str]  # None: every side together
    seconds: float
    attempts: int = 0
    acked: int = 0
    errors: int = 0
    indeterminate: int = 0

    @property
    def fraction(self) -> Optional[float]:
        """Acknowledged / attempted; None when nothing was attempted."""
        return self.acked / self.attempts if self.attempts else None

    @property
    def acked_per_second(self) -> float:
        return self.acked / self.seconds if self.seconds > 0 else 0.0

    def __str__(self):
        frac = "n/a" if self.fraction is None else "%.2f%%" % (100 * self.fraction)
        return "%s/%s: %d/%d acked (%s), %d errors, %d indeterminate, %.1f acked/s" % (
            self.window, self.side or "all", self.acked, self.attempts, frac, self.errors,
            self.indeterminate, self.acked_per_second)


@dataclass
class WindowAvailability:
    overall: Availability
    sides: Dict[str, Availability] = field(default_factory=dict)


@dataclass
class Report:
    lost: List[Lost] = field(default_factory=list)
    phantoms: List[Phantom] = field(default_factory=list)
    resurrected: List[Resurrected] = field(default_factory=list)
    divergent: List[Divergent] = field(default_factory=list)
    counter_errors: List[CounterMismatch] = field(default_factory=list)
    unread_keys: List[str] = field(default_factory=list)
    skipped_keys: List[str] = field(default_factory=list)
    availability: Dict[str, WindowAvailability] = field(default_factory=dict)
    availability_windows: Dict[str, Tuple[float, float]] = field(default_factory=dict)
    # Informative: how much was judged.
    acked_writes: int = 0        # ok SET/SETV judged for loss
    covered_writes: int = 0      # of those, absent but covered by a later write
    indeterminate_present: int = 0
    indeterminate_absent: int = 0
    keys: int = 0

    @property
    def ok(self) -> bool:
        """No lost, phantom, resurrected, divergent, counter or unread finding."""
        return not (self.lost or self.phantoms or self.resurrected or self.divergent
                    or self.counter_errors or self.unread_keys)

    def counts(self) -> Dict[str, int]:
        return {
            "lost": len(self.lost),
            "phantoms": len(self.phantoms),
            "resurrected": len(self.resurrected),
            "divergent": len(self.divergent),
            "counter_errors": len(self.counter_errors),
            "unread_keys": len(self.unread_keys),
            "skipped_keys": len(self.skipped_keys),
            "keys": self.keys,
            "acked_writes": self.acked_writes,
            "covered_writes": self.covered_writes,
            "indeterminate_present": self.indeterminate_present,
            "indeterminate_absent": self.indeterminate_absent,
        }

    def describe(self, limit: int = 5) -> str:
        """Counts, then up to `limit` examples of each finding: for failure messages."""
        lines = ["history: " + ", ".join("%s=%d" % kv for kv in self.counts().items())]
        for name in ("lost", "phantoms", "resurrected", "divergent", "counter_errors"):
            items = getattr(self, name)
            for item in items[:limit]:
                lines.append("  " + str(item))
            if len(items) > limit:
                lines.append("  ... and %d more %s" % (len(items) - limit, name))
        if self.unread_keys:
            lines.append("  unread keys: %s" % ", ".join(self.unread_keys[:limit]))
        for win in self.availability.values():
            lines.append("  " + str(win.overall))
            for side in sorted(win.sides):
                lines.append("  " + str(win.sides[side]))
        return "\n".join(lines)

    __str__ = describe


# ---------------------------------------------------------------------------
# The checker
# ---------------------------------------------------------------------------


def check(history: Iterable[Op], final_reads: Mapping[Any, Mapping[str, Any]],
          windows: Optional[Mapping[str, Tuple[float, float]]] = None,
          cuts: Iterable[Tuple[float, float]] = (),
          register_margin: float = 1.0) -> Report:
    """Judges a history against the final reads of every key through every node.

    final_reads: key -> node -> reply (GET's or GETV's shape, see reply_values;
    for a container key SMEMBERS's or HGETALL's).
    windows: name -> (start, end), for availability (see module doc).
    cuts, register_margin: for container keys, see "Convergent containers".
    Raises ValueError if two writes carried the same value.
    """
    ops = list(history)
    for i, op in enumerate(ops):
        if op.id < 0:
            op.id = i
    report = Report()

    by_key: Dict[str, List[Op]] = defaultdict(list)
    for op in ops:
        by_key[op.key].append(op)
    container_keys = {k for k, key_ops in by_key.items()
                      if any(op.kind in CONTAINER_WRITES for op in key_ops)}
    cuts = list(cuts)
    for key in sorted(container_keys):
        report.keys += 1
        per_node = {text(k): v for k, v in final_reads.items()}.get(key)
        _check_container(key, by_key[key], per_node, cuts, register_margin, report)
    final_reads = {k: v for k, v in final_reads.items() if text(k) not in container_keys}
    by_key = {k: v for k, v in by_key.items() if k not in container_keys}

    writer: Dict[str, Op] = {}
    for op in ops:
        if op.kind in VALUE_WRITES:
            if op.value in writer:
                raise ValueError("value %r written twice: %s and %s"
                                 % (op.value, writer[op.value], op))
            writer[op.value] = op

    final: Dict[str, Dict[str, FrozenSet[str]]] = {
        text(key): {node: reply_values(reply) for node, reply in per_node.items()}
        for key, per_node in final_reads.items()
    }
    raw_final = {text(key): per_node for key, per_node in final_reads.items()}

    for key in sorted(set(by_key) | set(final)):
        report.keys += 1
        key_ops = by_key.get(key, [])
        kinds = {op.kind for op in key_ops if op.outcome != ERROR}
        per_node = final.get(key)

        if per_node is not None and len(set(per_node.values())) > 1:
            report.divergent.append(Divergent(key, dict(per_node)))

        if INCR in {op.kind for op in key_ops}:
            if kinds & (VALUE_WRITES | DELETES):
                report.skipped_keys.append(key)
            elif per_node is None:
                report.unread_keys.append(key)
            else:
                _check_counter(key, key_ops, raw_final[key], report)
            continue

        if per_node is None:
            if kinds & WRITES:
                report.unread_keys.append(key)
            continue

        present = frozenset().union(*per_node.values()) if per_node else frozenset()
        for node in sorted(per_node):
            for value in sorted(per_node[node]):
                w = writer.get(value)
                if w is None or w.key != key or w.outcome == ERROR:
                    report.phantoms.append(Phantom(key, node, value, w))

        covered_by = _coverage(key_ops)
        for op in key_ops:
            if op.kind not in VALUE_WRITES:
                continue
            if op.outcome == INDETERMINATE:
                if op.value in present:
                    report.indeterminate_present += 1
                else:
                    report.indeterminate_absent += 1
            if op.outcome != OK or op.expires:
                continue
            report.acked_writes += 1
            if op.value in present:
                continue
            if covered_by.get(op.value):
                report.covered_writes += 1
            else:
                report.lost.append(Lost(op))

        for value in sorted(present):
            acked_cover = [w for w in covered_by.get(value, []) if w.outcome == OK]
            if acked_cover:
                report.resurrected.append(
                    Resurrected(key, value, writer.get(value), acked_cover[0]))

    for name, (start, end) in (windows or {}).items():
        report.availability[name] = availability(ops, name, start, end)
        report.availability_windows[name] = (start, end)
    return report


# ---------------------------------------------------------------------------
# Convergent containers
# ---------------------------------------------------------------------------


def describe_context(token: Any) -> str:
    """A context token (storage/context_token.h) as {node id prefix: counter},
    for failure messages; the token itself if it does not parse."""
    t = text(token)
    try:
        raw = base64.urlsafe_b64decode(t + "=" * (-len(t) % 4))

        def varint(i):
            value, shift = 0, 0
            while True:
                b = raw[i]
                i += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if b < 0x80:
                    return value, i

        n, i = varint(1)
        entries = []
        for _ in range(n):
            node = raw[i:i + 20].hex()[:8]
            counter, i = varint(i + 20)
            entries.append("%s:%d" % (node, counter))
        return "{%s}" % ", ".join(entries)
    except (ValueError, IndexError):
        return t


def set_members(reply: Any) -> FrozenSet[str]:
    """SMEMBERS's reply (a list or set, None for a missing key) as a set of text."""
    if reply is None:
        return frozenset()
    return frozenset(text(m) for m in reply)


def hash_fields(reply: Any) -> Dict[str, str]:
    """HGETALL's reply (RESP2's flat list, RESP3's map, None) as field -> value."""
    if reply is None:
        return {}
    if isinstance(reply, Mapping):
        return {text(f): text(v) for f, v in reply.items()}
    items = list(reply)
    if len(items) % 2:
        raise ValueError("HGETALL reply of odd length: %r" % (reply,))
    return {text(items[i]): text(items[i + 1]) for i in range(0, len(items), 2)}


def could_observe(remove: Op, add: Op, cuts: Iterable[Tuple[float, float]]) -> bool:
    """Whether an SREM could have seen (and so removed) the dot of an SADD.

    The SADD's dot is made after it started; an acknowledged SREM removed
    only what its coordinator had seen before it ended. So it could not if
    it ended before the SADD started, nor if both ran inside one cut with the
    SADD starting after the cut began and the SREM ending before it healed,
    on different sides (`Op.side`): nothing crossed the cut. An
    indeterminate SREM proves nothing of the kind: the request may still run
    later (a forward across a cut that timed out is delivered once it heals),
    and then it removes whatever its coordinator holds by then.
    """
    if remove.outcome != OK:
        return True
    if remove.end <= add.start:
        return False
    if add.side is not None and remove.side is not None and add.side != remove.side:
        for start, end in cuts:
            if add.start >= start and remove.end <= end:
                return False
    return True


def reachable_sums(base: int, maybe: Iterable[int]) -> FrozenSet[int]:
    """base plus the sum of every subset of `maybe`."""
    sums = {base}
    for d in maybe:
        sums |= {s + d for s in sums}
    return frozenset(sums)


def _check_container(key: str, key_ops: List[Op], per_node: Optional[Mapping[str, Any]],
                     cuts: List[Tuple[float, float]], register_margin: float,
                     report: Report) -> None:
    kinds = {op.kind for op in key_ops if op.outcome != ERROR}
    if kinds - CONTAINER_WRITES - READS or (kinds & SET_WRITES and kinds & HASH_WRITES):
        report.skipped_keys.append(key)  # two types in one key: not judged
        return
    if per_node is None:
        if kinds:
            report.unread_keys.append(key)
        return
    if kinds <= SET_WRITES | READS and any(op.kind in SET_WRITES for op in key_ops):
        _check_set(key, key_ops, per_node, cuts, report)
    else:
        _check_hash(key, key_ops, per_node, register_margin, report)


def _check_set(key: str, key_ops: List[Op], per_node: Mapping[str, Any],
               cuts: List[Tuple[float, float]], report: Report) -> None:
    final = {node: set_members(reply) for node, reply in per_node.items()}
    if len(set(final.values())) > 1:
        report.divergent.append(Divergent(key, final))
    present = frozenset().union(*final.values()) if final else frozenset()
    adds: Dict[str, List[Op]] = defaultdict(list)
    removes: Dict[str, List[Op]] = defaultdict(list)
    refused: Dict[str, Op] = {}
    for op in key_ops:
        if op.kind == SADD and op.outcome == ERROR:
            refused.setdefault(op.value, op)
        elif op.kind == SADD:
            adds[op.value].append(op)
        elif op.kind == SREM and op.outcome != ERROR:
            removes[op.value].append(op)
    for node in sorted(final):
        for member in sorted(final[node] - set(adds)):
            report.phantoms.append(Phantom(key, node, member, refused.get(member)))
    for member, member_adds in sorted(adds.items()):
        acked = [a for a in member_adds if a.outcome == OK]
        report.acked_writes += len(acked)
        if member in present:
            continue
        kept = [a for a in acked
                if not any(could_observe(r, a, cuts) for r in removes.get(member, ()))]
        if kept:
            report.lost.append(Lost(kept[0]))
        else:
            report.covered_writes += len(acked)


def _check_hash(key: str, key_ops: List[Op], per_node: Mapping[str, Any],
                register_margin: float, report: Report) -> None:
    final = {node: hash_fields(reply) for node, reply in per_node.items()}
    shown = {node: frozenset("%s=%s" % kv for kv in fields.items()) for node, fields in final.items()}
    if len(set(shown.values())) > 1:
        report.divergent.append(Divergent(key, shown))
    by_field: Dict[str, List[Op]] = defaultdict(list)
    for op in key_ops:
        if op.kind in HASH_WRITES:
            by_field[op.field].append(op)
    for node in sorted(final):
        for f in sorted(final[node]):
            if not any(op.outcome != ERROR for op in by_field.get(f, ())):
                report.phantoms.append(Phantom(key, node, "%s=%s" % (f, final[node][f])))
    for f, ops in sorted(by_field.items()):
        live = [op for op in ops if op.outcome != ERROR]
        fkinds = {op.kind for op in live}
        if fkinds == {HINCRBY}:
            _check_hash_counter(key, f, live, final, report)
        elif fkinds == {HSET}:
            _check_hash_register(key, f, ops, final, register_margin, report)
        elif fkinds:
            report.skipped_keys.append("%s %s" % (key, f))  # HSET and HINCRBY on one field


def _check_hash_counter(key: str, f: str, ops: List[Op], final: Mapping[str, Dict[str, str]],
                        report: Report) -> None:
    acked = [op.delta for op in ops if op.outcome == OK]
    maybe = [op.delta for op in ops if op.outcome == INDETERMINATE]
    report.acked_writes += len(acked)
    base = sum(acked)
    sums = reachable_sums(base, maybe)
    low = base + sum(d for d in maybe if d < 0)
    high = base + sum(d for d in maybe if d > 0)
    for node in sorted(final):
        got: Any = final[node].get(f)
        if got is None:
            if acked:  # an acknowledged HINCRBY made the field
                report.counter_errors.append(CounterMismatch(key, node, None, low, high, f))
            continue
        try:
            got = int(got)
        except ValueError:
            pass
        if not isinstance(got, int) or got not in sums:
            report.counter_errors.append(CounterMismatch(key, node, got, low, high, f))


def _check_hash_register(key: str, f: str, ops: List[Op], final: Mapping[str, Dict[str, str]],
                         register_margin: float, report: Report) -> None:
    writers: Dict[str, Op] = {}
    for op in ops:
        if op.value in writers:
            raise ValueError("value %r written twice to %s %s: %s and %s"
                             % (op.value, key, f, writers[op.value], op))
        writers[op.value] = op
    acked = [op for op in ops if op.outcome == OK]
    report.acked_writes += len(acked)
    present = set()
    for node in sorted(final):
        v = final[node].get(f)
        if v is None:
            continue
        present.add(v)
        w = writers.get(v)
        if w is None or w.outcome == ERROR:
            report.phantoms.append(Phantom(key, node, "%s=%s" % (f, v), w))
    if acked and not present:
        report.lost.append(Lost(acked[0]))
    for v in sorted(present):
        w = writers.get(v)
        if w is None or w.outcome != OK:
            continue  # an indeterminate HSET may land later, with a later timestamp
        later = [x for x in acked if x.start > w.end + register_margin]
        if later:
            report.resurrected.append(Resurrected(key, "%s=%s" % (f, v), w, later[0]))


def _coverage(key_ops: List[Op]) -> Dict[str, List[Op]]:
    """value -> the ok-or-indeterminate writes of this key that cover it."""
    covered_by: Dict[str, List[Op]] = defaultdict(list)

    # Rule 1: a context token covers what every ok GETV that returned it showed.
    shown: Dict[str, set] = defaultdict(set)
    for op in key_ops:
        if op.kind == GETV and op.outcome == OK and op.context is not None:
            shown[op.context] |= op.values or frozenset()

    # Rule 2: what each coordinator had seen, and from when.
    seen: Dict[str, List[Tuple[float, str]]] = defaultdict(list)
    for op in key_ops:
        if op.outcome != OK or op.coordinator is None:
            continue
        if op.kind in VALUE_WRITES:
            seen[op.coordinator].append((op.end, op.value))
        elif op.kind in READS:
            seen[op.coordinator].extend((op.end, v) for v in op.values or ())

    for w in key_ops:
        if w.outcome == ERROR:
            continue
        if w.kind in CONTEXT_WRITES:
            for v in shown.get(w.context, ()):
                if v != w.value:
                    covered_by[v].append(w)
        elif w.kind in PLAIN_WRITES and w.coordinator is not None:
            for when, v in seen.get(w.coordinator, ()):
                if when < w.start and v != w.value:
                    covered_by[v].append(w)
    return covered_by


def _check_counter(key: str, key_ops: List[Op], per_node: Mapping[str, Any],
                   report: Report) -> None:
    ok_sum = sum(op.delta for op in key_ops if op.kind == INCR and op.outcome == OK)
    maybe = [op.delta for op in key_ops if op.kind == INCR and op.outcome == INDETERMINATE]
    low = ok_sum + sum(d for d in maybe if d < 0)
    high = ok_sum + sum(d for d in maybe if d > 0)
    for node in sorted(per_node):
        values = reply_values(per_node[node])
        got: Any = 0
        if len(values) == 1:
            try:
                got = int(next(iter(values)))
            except ValueError:
                got = next(iter(values))
        elif values:
            got = sorted(values)
        if not isinstance(got, int) or not low <= got <= high:
            report.counter_errors.append(CounterMismatch(key, node, got, low, high))


def availability(history: Iterable[Op], name: str, start: float,
                 end: float) -> WindowAvailability:
    """Write attempts that started in [start, end), overall and per side."""
    seconds = end - start
    overall = Availability(name, None, seconds)
    sides: Dict[str, Availability] = {}
    for op in history:
        if op.kind not in WRITES or not start <= op.start < end:
            continue
        targets = [overall]
        if op.side is not None:
            targets.append(sides.setdefault(op.side, Availability(name, op.side, seconds)))
        for a in targets:
            a.attempts += 1
            if op.outcome == OK:
                a.acked += 1
            elif op.outcome == ERROR:
                a.errors += 1
            else:
                a.indeterminate += 1
    return WindowAvailability(overall, sides)
