"""What a failed fault-history check needs to be understood, for its message."""

import history as hx


def explain_resurrections(cl, history, report, limit=3):
    """Each node's id, its GETV of each resurrected key (context decoded), and
    every operation on the key from the resurrected write on."""
    lines = ["node ids: %s" % ", ".join("%s=%s" % (n.name, n.id[:8]) for n in cl)]
    for r in report.resurrected[:limit]:
        lines.append("resurrection of %r in %s:" % (r.value, r.key))
        for n in cl:
            with n.client() as c:
                reply = c.call("GETV", r.key)
            lines.append("  GETV via %s: %s %r" % (
                n.name, hx.describe_context(reply[0]), sorted(hx.text(v) for v in reply[1])))
        since = r.writer.start if r.writer is not None else 0.0
        for op in history:
            if op.key == r.key and op.end >= since:
                extra = " %s" % hx.describe_context(op.context) if op.context else ""
                lines.append("  %s%s" % (op, extra))
    return "\n".join(lines) + "\n"


def failed_writes(history, window, side, limit=30):
    """The writes of `side` that started in `window` (start, end) and were not
    acknowledged."""
    start, end = window
    failed = [op for op in history if op.kind in hx.WRITES and op.side == side
              and start <= op.start < end and op.outcome != hx.OK]
    return "window [%.3f, %.3f); its failed writes:\n%s" % (
        start, end, "\n".join("  %s" % op for op in failed[:limit]))
