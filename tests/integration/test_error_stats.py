"""Error replies are counted as Redis 7.0 counts them.

Redis counts every error reply it sends a client: INFO stats
`total_error_replies`, and INFO errorstats one line per error prefix
(`errorstat_ERR:count=N`, `errorstat_NOAUTH:count=N`...). CONFIG RESETSTAT
zeroes both. Errors the server rejects before running the command (unknown
command, wrong arity, NOAUTH) count as well as those the command replies.

Each test sends the same commands to redis-server 7.0.15 (started here as the
reference) and to the server under test (a lone node, or node 1 of a 2-node
cluster), and compares what the counters moved by. A failure lists every
counter that differs.
"""

import cluster_harness as ch
import shoal_harness as h

PASSWORD = "errstats-pw"

# (command, what the error is). Every one is an error reply on Redis 7.0.
ERRORS = [
    (("NOSUCHCOMMAND", "x"), "unknown command"),
    (("GET",), "wrong arity"),
    (("MSET", "k"), "wrong arity"),
    (("CONFIG", "NOSUCHSUB"), "unknown subcommand"),
    (("SET", "k", "v", "bogus"), "syntax error"),
    (("SET", "k", "v", "EX", "0"), "invalid expire time"),
    (("INCR", "text"), "value not an integer"),
    (("INCRBY", "n", "notanumber"), "argument not an integer"),
    (("EXPIRE", "k", "soon"), "argument not an integer"),
    (("AUTH", "nopassword-set"), "AUTH without requirepass"),
]


def info_text(client, section):
    return ch.text(client.call("INFO", section))


def error_counters(client):
    """{"total_error_replies": n, "errorstat_<PREFIX>": n, ...} and whether
    INFO errorstats has its `# Errorstats` header."""
    counters = {}
    stats = ch.parse_fields(info_text(client, "stats"))
    if "total_error_replies" not in stats:
        raise AssertionError("INFO stats has no total_error_replies field")
    counters["total_error_replies"] = int(stats["total_error_replies"])
    errorstats = info_text(client, "errorstats")
    for name, value in ch.parse_fields(errorstats).items():
        if name.startswith("errorstat_"):
            if not value.startswith("count="):
                raise AssertionError("INFO errorstats line %s:%s is not count=N" % (name, value))
            counters[name] = int(value[len("count="):].split(",")[0])
    return counters, "# Errorstats" in errorstats


def total_errors(client):
    stats = ch.parse_fields(info_text(client, "stats"))
    return int(stats.get("total_error_replies", -1))


def send_errors(server):
    """Sends ERRORS, then NOAUTH and WRONGPASS (requirepass set for a moment),
    each on server. Returns (replies that were not errors, [(step, how much
    total_error_replies moved)])."""
    not_errors, steps = [], []
    with server.client() as c:
        c.call("SET", "text", "not a number")
        for command, what in ERRORS:
            before = total_errors(c)
            reply = c.request(*command)
            steps.append(("%s (%s)" % (" ".join(command), what), total_errors(c) - before))
            if not isinstance(reply, h.ReplyError):
                not_errors.append("%s (%s) -> %r" % (" ".join(command), what, reply))
        before = total_errors(c)
        c.call("CONFIG", "SET", "requirepass", PASSWORD)
    # A new connection is not authenticated: NOAUTH, then WRONGPASS.
    with server.client(auth=False) as c:
        try:
            for command, prefix in ((("GET", "k"), "NOAUTH"), (("AUTH", "wrong-" + PASSWORD), "WRONGPASS")):
                reply = c.request(*command)
                if not (isinstance(reply, h.ReplyError) and reply.message.startswith(prefix)):
                    not_errors.append("%s -> %r (want a %s error)" % (" ".join(command), reply, prefix))
        finally:
            c.call("AUTH", PASSWORD)
            steps.append(("GET before AUTH (NOAUTH), AUTH wrong-pw (WRONGPASS)", total_errors(c) - before))
            c.call("CONFIG", "SET", "requirepass", "")
    return not_errors, steps


def delta(before, after):
    names = set(before) | set(after)
    return {n: after.get(n, 0) - before.get(n, 0) for n in names if after.get(n, 0) != before.get(n, 0)}


def differences(want, got, label):
    """Lines naming each counter whose change differs from redis-server's."""
    lines = []
    for name in sorted(set(want) | set(got)):
        if want.get(name, 0) != got.get(name, 0):
            lines.append(
                "  %-28s redis-server +%d, %s +%d%s"
                % (name, want.get(name, 0), label, got.get(name, 0), "" if name in got else " (no such line)")
            )
    return lines


class ErrorStatsMixin:
    """Needs self.redis (the reference) and self.target (the server under test)."""

    label = "shoal"

    def test_error_replies_counted_like_redis(self):
        with self.redis.client() as r, self.target.client() as t:
            want_before, _ = error_counters(r)
            got_before, _ = error_counters(t)
        not_errors_redis, want_steps = send_errors(self.redis)
        self.assertEqual(not_errors_redis, [], "the reference redis-server did not reply errors")
        not_errors, got_steps = send_errors(self.target)
        with self.redis.client() as r, self.target.client() as t:
            want_after, _ = error_counters(r)
            got_after, has_section = error_counters(t)
        want, got = delta(want_before, want_after), delta(got_before, got_after)
        problems = ["  not an error reply: %s" % e for e in not_errors]
        if not has_section:
            problems.append("  INFO errorstats has no '# Errorstats' section")
        problems += differences(want, got, self.label)
        if problems:
            steps = [
                "    %-60s redis-server +%d, %s +%d" % (step, w, self.label, g)
                for (step, w), (_, g) in zip(want_steps, got_steps)
                if w != g
            ]
            self.fail(
                "\n%s counts error replies unlike redis-server after the same %d error replies:\n%s\n"
                "  total_error_replies per step, where they differ:\n%s"
                % (self.label, len(ERRORS) + 2, "\n".join(problems), "\n".join(steps) or "    (none)")
            )

    def test_config_resetstat_zeroes_error_counters(self):
        send_errors(self.redis)
        send_errors(self.target)
        problems = []
        for server, label in ((self.redis, "redis-server"), (self.target, self.label)):
            with server.client() as c:
                counters, _ = error_counters(c)
                if counters.get("total_error_replies", 0) == 0:
                    problems.append("  %s: total_error_replies still 0 after %d error replies" % (label, len(ERRORS) + 2))
                c.call("CONFIG", "RESETSTAT")
                counters, _ = error_counters(c)
            left = {n: v for n, v in counters.items() if v != 0}
            if left:
                problems.append("  %s: after CONFIG RESETSTAT still %r" % (label, left))
        if problems:
            self.fail("\nerror counters and CONFIG RESETSTAT:\n%s" % "\n".join(problems))


class SingleNodeErrorStatsTest(ErrorStatsMixin, h.ServerTestCase):
    label = "lone node"

    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis-reference")
        cls.target = cls.start_class_server(name="shoal")


@ch.skip_unless_shoal
class ClusterErrorStatsTest(ErrorStatsMixin, ch.ClusterTestCase):
    label = "cluster node1"

    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis-reference")
        cls.cluster = cls.start_class_cluster(2, replicas=2, read_quorum=1, write_quorum=1)
        cls.target = cls.cluster[0]

    def test_other_nodes_count_no_client_errors(self):
        # Only node1 has a client that gets errors: node2 serves node1 as a
        # peer, and Redis counts replies to clients.
        other = self.cluster[1]
        with other.client() as c:
            before, _ = error_counters(c)
        send_errors(self.target)
        with other.client() as c:
            after, _ = error_counters(c)
        self.assertEqual(delta(before, after), {}, "node2 counted errors that node1's client got")


if __name__ == "__main__":
    h.main()
