"""Client workloads for the cluster tests judged by the history checker
(tests/support/history.py): client threads pinned to their nodes writing
unique values, and the final read of every key through every node."""

import random
import threading
import time

import history as hx
import shoal_harness as h


def chunks(seq, size):
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


class ClientThreads:
    """Client threads that record into a history: subclasses fill
    self.threads (each running self._run) and define _loop(node, name, rng).
    A thread that raises is reported by hold() and stop()."""

    def __init__(self, client_timeout):
        self.client_timeout = client_timeout
        self.stop_event = threading.Event()
        self.errors = []
        self.threads = []

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def hold(self, seconds):
        """Lets the clients run for `seconds` (a measuring period or a
        fault's length, not a wait for a condition); fails early if a client
        thread crashed."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._raise_errors()
            self.stop_event.wait(min(0.2, max(0.0, deadline - time.monotonic())))
        self._raise_errors()

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(self.client_timeout * 3)
            if t.is_alive():
                raise AssertionError("client thread %s did not stop" % t.name)
        self._raise_errors()

    def _raise_errors(self):
        if self.errors:
            raise AssertionError("client thread failed: %s" % self.errors[0])

    def _run(self, node, name, rng):
        try:
            self._loop(node, name, rng)
        except BaseException as e:  # noqa: BLE001 - reported by stop()/hold()
            self.errors.append("%s: %r" % (name, e))


class Workload(ClientThreads):
    """Client threads, `threads` per node, each pinned to its node, writing
    unique values. Every op goes to `history` with the side of its node
    (`sides`: node name -> label, else the node's name).

    Two kinds of keys, so that the checker can tell every supersession (a
    write that replaced a value the checker cannot prove it covered would be
    reported lost, wrongly):

    - context keys (`PLAIN_SHARE` of the keys are not): written by every
      client through every node, a GETV then a SETV with the context it
      returned. A SETV supersedes exactly what its context covers (history
      rule 1), so concurrent writers on both sides of a fault leave siblings,
      never silent replacements.
    - plain keys: each is written with plain SET by one client thread only,
      pinned to one of the key's primaries, which therefore coordinates every
      write of the key (`coordinator` recorded, history rule 2: a plain SET
      supersedes what its coordinator has seen). A plain SET through another
      node, or concurrent plain SETs of one key, would supersede values the
      checker cannot prove the coordinator had seen (it may have received
      them as a replica), so the workload never issues them.

    `coordinator` is recorded for any op whose node is in the key's
    preference list (it coordinates what it receives), else None (forwarded).
    """

    PLAIN_SHARE = 3  # one key in three is a plain key

    def __init__(self, cluster, history, preflists, keys, sides=None, threads=2, nodes=None, seed=1,
                 client_timeout=8.0):
        self.cluster = cluster
        self.history = history
        self.preflists = preflists  # key -> [node names of its N primaries, in order]
        self.sides = sides or {}
        super().__init__(client_timeout)
        nodes = list(nodes or cluster.nodes)
        names = {n.name: ["%s.c%d" % (n.name, i + 1) for i in range(threads)] for n in nodes}
        self.plain = {c: [] for cs in names.values() for c in cs}
        self.context_keys = []
        turn = {n: 0 for n in names}
        for i, key in enumerate(keys):
            owner = next((p for p in preflists[key] if p in names), None)
            if i % self.PLAIN_SHARE == 0 and owner is not None:
                self.plain[names[owner][turn[owner] % threads]].append(key)
                turn[owner] += 1
            else:
                self.context_keys.append(key)
        for n in nodes:
            for i, name in enumerate(names[n.name]):
                rng = random.Random(seed * 1000 + n.index * 10 + i)
                t = threading.Thread(target=self._run, args=(n, name, rng), name=name, daemon=True)
                self.threads.append(t)

    def _loop(self, node, name, rng):
        client = None
        hist = self.history
        plain = self.plain[name]
        try:
            while not self.stop_event.is_set():
                if client is None:
                    try:
                        client = h.Client(node.host, node.port, timeout=self.client_timeout)
                    except OSError:
                        # The node is down: nothing was sent, nothing to record.
                        self.stop_event.wait(0.05)
                        continue
                # Plain keys about as often as context keys, in all.
                if plain and rng.random() < 0.4:
                    key, is_plain = rng.choice(plain), True
                else:
                    key, is_plain = rng.choice(self.context_keys), False
                common = {
                    "client": name,
                    "node": node.name,
                    "coordinator": node.name if node.name in self.preflists[key] else None,
                    "side": self.sides.get(node.name, node.name),
                }
                if is_plain:
                    value = hist.new_value(name)
                    op, reply = hist.run(lambda: client.request("SET", key, value), hx.SET, key,
                                         value=value, **common)
                else:
                    op, reply = hist.run(lambda: client.request("GETV", key), hx.GETV, key, **common)
                    if op.outcome == hx.OK:
                        ctx, value = op.context, hist.new_value(name)
                        op, reply = hist.run(lambda: client.request("SETV", key, ctx, value), hx.SETV, key,
                                             value=value, context=ctx, **common)
                if isinstance(reply, BaseException) and not isinstance(reply, h.ReplyError):
                    # Timeout or dropped connection: the stream is out of step.
                    client.close()
                    client = None
        finally:
            if client is not None:
                client.close()


def final_reads(cl, keys):
    """key -> node name -> GET reply, through every node.

    Read repair is needed to converge: a write that failed (NOQUORUM,
    indeterminate) may have landed on one replica only, and no hint or
    anti-entropy (not there yet) carries it to the others; a read that
    sees it through a coordinator repairs the replicas that lack it
    (late replies included). So each key is read twice through each node
    before the final read, and the repairs are given time to land: a pass
    is repeated until two consecutive passes agree (bounded)."""
    def one_pass():
        out = {k: {} for k in keys}
        for n in cl:
            with n.client() as c:
                for part in chunks(keys, 100):
                    for k, reply in zip(part, c.pipeline([("GET", k) for k in part])):
                        if isinstance(reply, h.ReplyError):
                            raise AssertionError("final GET %s via %s: %s" % (k, n.name, reply.message))
                        out[k][n.name] = reply
        return out

    def as_sets(reads):
        return {k: {n: hx.reply_values(r) for n, r in per.items()} for k, per in reads.items()}

    one_pass()
    previous = as_sets(one_pass())
    for _ in range(5):
        final = one_pass()
        if as_sets(final) == previous:
            return final
        previous = as_sets(final)
    return final
