"""Comparing shoal's replies with redis-server's for container commands.

Redis leaves the order of HGETALL, SMEMBERS, SINTER... unspecified, and
SPOP, SRANDMEMBER, HRANDFIELD pick at random; a byte-for-byte comparison
must not fail on that. Each reply is parsed into a tree that keeps the RESP
type byte of every node ('*' array, '~' set, '%' map, '$' bulk, ':' integer,
'-' error, '_' null...), so RESP2/RESP3 shapes are compared exactly, and
then normalised per command:

  ORDERED     compared as they come (type, length and bytes);
  UNORDERED   the elements (or field/value pairs) sorted: compared as multisets;
  SCANS       [cursor, elements]: the elements sorted (pairs for HSCAN and
              ZSCAN), the cursor kept (both give 0 for a container Redis
              holds compactly, which is what scripts use);
  RANDOM      only the shape: type, length, and the type of each element
              (which ones Redis picked is its own coin toss).

Used by tests/integration/test_hashes.py and test_sets.py.
"""

import shoal_harness as h

UNORDERED = {"HGETALL", "HKEYS", "HVALS", "SMEMBERS", "SINTER", "SUNION", "SDIFF"}
PAIRED = {"HGETALL", "HSCAN", "ZSCAN"}
SCANS = {"HSCAN", "SSCAN", "ZSCAN"}
RANDOM = {"SPOP", "SRANDMEMBER", "HRANDFIELD"}


def parse(data):
    """Parses one RESP2/RESP3 reply from bytes into (type, value) nodes."""
    node, pos = _parse(data, 0)
    if pos != len(data):
        raise h.HarnessError("trailing bytes after a reply: %r" % data[pos:][:80])
    return node


def _parse(data, pos):
    end = data.index(b"\r\n", pos)
    t, rest = data[pos:pos + 1].decode(), data[pos + 1:end]
    pos = end + 2
    if t in "$=!":
        n = int(rest)
        if n < 0:
            return (t, None), pos
        return (t, data[pos:pos + n]), pos + n + 2
    if t in "*~>%":
        n = int(rest)
        if n < 0:
            return (t, None), pos
        items = []
        for _ in range(n * (2 if t == "%" else 1)):
            item, pos = _parse(data, pos)
            items.append(item)
        return (t, items), pos
    return (t, rest), pos


def _pairs(items):
    return [tuple(items[i:i + 2]) for i in range(0, len(items), 2)]


def _sorted(items, paired):
    if paired:
        return sorted(_pairs(items))
    return sorted(items)


def normalise(command, node):
    """The part of `node` (a reply to `command`) Redis guarantees."""
    name = command[0].upper()
    t, value = node
    if t in "-!" or value is None or not isinstance(value, list):
        if name in RANDOM and t == "$":
            return (t, "<a member>")
        return node
    if name in UNORDERED:
        return (t, _sorted(value, name in PAIRED))
    if name in SCANS and len(value) == 2:
        inner_t, inner = value[1]
        return (t, [value[0], (inner_t, _sorted(inner, name in PAIRED))])
    if name in RANDOM:
        return (t, len(value), sorted({item[0] for item in value}))
    return node


def run_script(server, commands, resp=2):
    """Runs `commands` on an empty keyspace; returns each reply's raw bytes."""
    with server.client() as c:
        if resp == 3:
            c.call("HELLO", "3")
        c.call("FLUSHALL")
        out = []
        for cmd in commands:
            out.append(c.call_bytes(*[a.encode("latin-1") if isinstance(a, str) else a for a in cmd]))
        return out


def diff(commands, want, got):
    """Lines naming every command whose normalised replies differ."""
    lines = []
    for cmd, w, g in zip(commands, want, got):
        if normalise(cmd, parse(w)) != normalise(cmd, parse(g)):
            shown = " ".join(cmd if len(" ".join(cmd)) < 120 else [cmd[0], "..."])
            lines.append("  %s\n    redis-server: %r\n    shoal:        %r" % (shown, w[:300], g[:300]))
    return lines


class CompareMixin:
    """compare(name, commands): the same commands on self.redis and
    self.target, in RESP2 and RESP3; fails listing every difference."""

    def compare(self, name, commands, resps=(2, 3)):
        failures = []
        for resp in resps:
            want = run_script(self.redis, commands, resp)
            got = run_script(self.target, commands, resp)
            lines = diff(commands, want, got)
            if lines:
                failures.append("%s (RESP%d): %d of %d replies differ from redis-server 7.0.15:\n%s"
                                % (name, resp, len(lines), len(commands), "\n".join(lines)))
        if failures:
            self.fail("\n" + "\n".join(failures))
