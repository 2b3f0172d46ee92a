"""Hashes, sets and sorted sets for bench.py: the redis-benchmark command lines
of the container cells, their pre-fill, and memory per element.

The rps cells run custom redis-benchmark command lines (HGET and SISMEMBER
have no built-in test; using the same shape for all five keeps writes and
reads on the same containers). redis-benchmark replaces every __rand_int__
with its own random number below -r, written as 12 digits, so with -r R and
K containers of each type:

    K = R (many containers):  HSET hR:__rand_int__ f:__rand_int__ <64-byte value>
                              R hashes of R fields (R x R elements)
    K = 1 (one container):    HSET h1:000000000000 f:__rand_int__ <64-byte value>

(the key names carry K, so that cells of both shapes can share servers).

Before a cell runs, both servers get every container filled with all R
elements (prefill), so the writes overwrite existing elements (containers keep
their size) and the reads always find what they ask for.
"""

import time

import harness
from harness import BenchError, Conn, log

# Every field of a hash gets this value in the rps cells (the -d of the
# string cells; redis-benchmark's -d does not apply to custom commands).
VALUE = "v" * harness.VALUE_SIZE
ELEMENTS_PER_COMMAND = 1000  # pre-fill: elements per HSET/SADD/ZADD
# Memory fill: at most this many commands per container (at least
# ELEMENTS_PER_COMMAND elements each): every shoal write re-encodes the whole
# container, so 100 commands of 1,000 into a 100,000-element one took a minute.
FILL_COMMANDS = 10

RAND = "__rand_int__"


def rand_name(prefix, i):
    """What redis-benchmark makes of prefix + __rand_int__ for the number i."""
    return "%s%012d" % (prefix, i)


def key_prefix(kind, containers):
    """"h100:" for the hashes of a cell with 100 of them."""
    return "%s%d:" % (kind[0], containers)


def element_prefix(kind):
    return "f:" if kind == "hash" else "m:"


def commands(containers):
    """(label, argv) per test: the five commands of the rps cells, on
    `containers` containers of each type (1, or as many as the -r)."""

    def key(kind):
        prefix = key_prefix(kind, containers)
        return prefix + RAND if containers > 1 else rand_name(prefix, 0)

    return (
        ("HSET", ("HSET", key("hash"), "f:" + RAND, VALUE)),
        ("HGET", ("HGET", key("hash"), "f:" + RAND)),
        ("SADD", ("SADD", key("set"), "m:" + RAND)),
        ("SISMEMBER", ("SISMEMBER", key("set"), "m:" + RAND)),
        ("ZADD", ("ZADD", key("zset"), RAND, "m:" + RAND)),
    )


def fill_commands(kind, key, names, value, per_command=ELEMENTS_PER_COMMAND):
    """The HSET/SADD/ZADD commands adding `names` to `key`, `per_command`
    at a time; fields get `value`, sorted-set members their index as score."""
    out = []
    for first in range(0, len(names), per_command):
        batch = names[first:first + per_command]
        args = [key]
        for j, name in enumerate(batch):
            if kind == "hash":
                args += [name, value]
            elif kind == "zset":
                args += [str(first + j), name]
            else:
                args.append(name)
        out.append(({"hash": "HSET", "set": "SADD", "zset": "ZADD"}[kind],) + tuple(args))
    return out


CARD = {"hash": "HLEN", "set": "SCARD", "zset": "ZCARD"}


def pipeline(conn, cmds):
    """Sends cmds in one write and returns their replies (errors raise)."""
    conn.sock.sendall(b"".join(harness.encode(*c) for c in cmds))
    return [conn.read() for _ in cmds]


def prefill(server, containers, elements):
    """Fills `containers` hashes, sets and sorted sets of the rps cells with
    `elements` elements each (the names redis-benchmark draws with -r
    elements), then checks every container's cardinality. Idempotent: cells
    sharing servers fill again without growing anything."""
    t0 = time.monotonic()
    with Conn(server.port, host=server.host) as c:
        for kind in KINDS:
            kp = key_prefix(kind, containers)
            names = [rand_name(element_prefix(kind), i) for i in range(elements)]
            for k in range(containers):
                pipeline(c, fill_commands(kind, rand_name(kp, k), names, VALUE))
            cards = pipeline(c, [(CARD[kind], rand_name(kp, k)) for k in range(containers)])
            wrong = [(k, n) for k, n in enumerate(cards) if n != elements]
            if wrong:
                raise BenchError("%s: after the pre-fill, %s %s has %r elements, not %d" %
                                 (server.label, kind, rand_name(kp, wrong[0][0]), wrong[0][1],
                                  elements))
    log("%s: pre-filled %d of each (hash, set, sorted set) with %d elements (%.1fs)" %
        (server.label, containers, elements, time.monotonic() - t0))


# ---------------------------------------------------------------------------
# Memory per element
# ---------------------------------------------------------------------------

# 16-byte names: fields, members ("e:%014d"), and 16-byte hash values.
NAME_BYTES = 16
# What an element is without any metadata: the field and its value, the
# member, the member and its 8-byte score.
PAYLOAD = {"hash": 2 * NAME_BYTES, "set": NAME_BYTES, "zset": NAME_BYTES + 8}
KINDS = ("hash", "set", "zset")
PLURAL = {"hash": "hashes", "set": "sets", "zset": "sorted sets"}


def element_names(count):
    return ["e:%014d" % i for i in range(count)]


SETTLE_TIMEOUT = 5.0  # seconds for used_memory to stop moving


def settled_used_memory(conn):
    """used_memory once two readings 50 ms apart agree (a closed client's
    buffers or a FLUSHALL's frees may land a moment later), else the last
    reading after SETTLE_TIMEOUT."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    last = harness.used_memory(conn)
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = harness.used_memory(conn)
        if now == last:
            break
        last = now
    return last


def memory_per_element(server, kind, count, how_many):
    """Fills `how_many` containers of `kind` with `count` 16-byte elements
    each on a flushed server. Returns (used_memory delta, sum of MEMORY
    USAGE), both per element. The fill goes through its own connection,
    closed before the second reading, so that its query and reply buffers
    are not counted; many containers make the allocator's own caches (a few
    hundred KB that come and go) small against the figure."""
    names = element_names(count)
    keys = ["mem:%s:%06d" % (kind, i) for i in range(how_many)]
    with Conn(server.port, host=server.host) as c:
        if c.call("FLUSHALL") != "OK":
            raise BenchError("%s: FLUSHALL failed" % server.label)
        before = settled_used_memory(c)
        t0 = time.monotonic()
        with Conn(server.port, host=server.host) as fill:
            for key in keys:
                per_command = max(ELEMENTS_PER_COMMAND, -(-count // FILL_COMMANDS))
                for cmd in fill_commands(kind, key, names, "v" * NAME_BYTES, per_command):
                    fill.call(*cmd)
        elapsed = time.monotonic() - t0
        cards = pipeline(c, [(CARD[kind], key) for key in keys])
        if any(n != count for n in cards):
            raise BenchError("%s: a %s has %r elements, not %d" %
                             (server.label, kind, next(n for n in cards if n != count), count))
        after = settled_used_memory(c)
        # SAMPLES 0: Redis counts every element of a big container (by
        # default it samples 5 and extrapolates); shoal always counts all.
        usage = sum(pipeline(c, [("MEMORY", "USAGE", key, "SAMPLES", "0") for key in keys]))
    total = count * how_many
    log("%s: %d %s of %d elements filled in %.1fs, used_memory %d -> %d, MEMORY USAGE %d" %
        (server.label, how_many, PLURAL[kind], count, elapsed, before, after, usage))
    return (after - before) / total, usage / total
