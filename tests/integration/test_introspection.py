"""Introspection in Redis 7.0's shapes: INFO sections and fields, COMMAND
LIST / GETKEYS, SLOWLOG and LATENCY.

Each comparison sends the same commands to redis-server 7.0.15 (started here
as the reference) and to the server under test, and compares the replies, or
the names and shapes where the figures are the servers' own (timings, ids,
memory)."""

import cluster_harness as ch
import shoal_harness as h

SHOAL_ONLY = h.unittest.skipIf(h.is_redis_server(), "shoal-specific behaviour")


def sections(info):
    return [line[2:] for line in info.decode().split("\r\n") if line.startswith("# ")]


def fields(info):
    """[(name, value)] of an INFO reply, in order."""
    out = []
    for line in info.decode().split("\r\n"):
        if line and not line.startswith("#"):
            name, _, value = line.partition(":")
            out.append((name, value))
    return out


def info_dict(c, *section):
    return dict(fields(c.call("INFO", *section)))


class IntrospectionTest(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis")
        cls.shoal = cls.start_class_server(name="shoal")

    def setUp(self):
        self.r = self.client(self.redis)
        self.s = self.client(self.shoal)
        for c in (self.r, self.s):
            c.call("FLUSHALL")
            c.call("CONFIG", "RESETSTAT")

    def both(self, *args):
        """The replies of redis-server and of shoal to one command."""
        return self.r.request(*args), self.s.request(*args)

    def assertSame(self, *args):
        want, got = self.both(*args)
        self.assertEqual(got, want, "reply to %r differs from redis-server's" % (args,))
        return got

    # --- INFO ---

    def test_info_section_selection(self):
        cases = [(), ("default",), ("all",), ("everything",), ("server", "clients"), ("CLIENTS",),
                 ("replication", "server"), ("commandstats",), ("latencystats",), ("errorstats",),
                 ("all", "default"), ("nosuchsection",), ("keyspace", "nosuch", "memory")]
        for args in cases:
            with self.subTest(args=args):
                want, got = self.both("INFO", *args)
                self.assertEqual(sections(got), sections(want))
        self.assertEqual(self.s.call("INFO", "nosuchsection"), b"")

    def test_replication_section_as_a_master_without_replicas(self):
        want, got = self.both("INFO", "replication")
        self.assertEqual([n for n, _ in fields(got)], [n for n, _ in fields(want)])
        g = dict(fields(got))
        for name in ("role", "connected_slaves", "master_failover_state", "master_replid2",
                     "master_repl_offset", "second_repl_offset", "repl_backlog_active"):
            self.assertEqual(g[name], dict(fields(want))[name], name)
        self.assertRegex(g["master_replid"], "^[0-9a-f]{40}$")

    def test_fields_exporters_read(self):
        wanted = {
            "memory": ["used_memory", "used_memory_human", "used_memory_rss", "used_memory_peak",
                       "used_memory_peak_human", "used_memory_peak_perc", "used_memory_dataset",
                       "total_system_memory", "maxmemory", "maxmemory_policy",
                       "mem_fragmentation_ratio", "mem_not_counted_for_evict", "mem_aof_buffer",
                       "mem_allocator"],
            "persistence": ["loading", "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
                            "rdb_last_save_time", "rdb_last_bgsave_status", "aof_enabled",
                            "aof_rewrite_in_progress", "aof_last_write_status"],
            "stats": ["total_connections_received", "total_commands_processed",
                      "instantaneous_ops_per_sec", "total_net_input_bytes",
                      "total_net_output_bytes", "instantaneous_input_kbps",
                      "instantaneous_output_kbps", "rejected_connections", "expired_keys",
                      "evicted_keys", "keyspace_hits", "keyspace_misses", "pubsub_channels",
                      "pubsub_patterns", "total_error_replies"],
        }
        for section, names in wanted.items():
            r, s = info_dict(self.r, section), info_dict(self.s, section)
            for n in names:
                self.assertIn(n, r, "redis-server lacks %s (the list is wrong)" % n)
                self.assertIn(n, s, "INFO %s lacks %s" % (section, n))
        s = info_dict(self.s, "memory", "stats", "persistence")
        self.assertGreaterEqual(int(s["used_memory_peak"]), int(s["used_memory"]) // 2)
        self.assertRegex(s["used_memory_peak_perc"], r"^\d+\.\d\d%$")
        self.assertRegex(s["instantaneous_input_kbps"], r"^\d+\.\d\d$")
        self.assertGreater(int(s["rdb_last_save_time"]), 1600000000)

    def test_instantaneous_kbps_are_sampled(self):
        value = "v" * 10000
        h.wait_for(lambda: [self.s.call("SET", "k", value)] and
                   float(info_dict(self.s, "stats")["instantaneous_input_kbps"]) > 0,
                   10, "instantaneous_input_kbps above 0 under load")

    def test_avg_ttl_is_sampled(self):
        for c in (self.r, self.s):
            c.pipeline([("SET", "t%d" % i, "v", "EX", "1000") for i in range(50)])

        def avg_ttl(c):
            line = info_dict(c, "keyspace")["db0"]
            return int(dict(p.split("=") for p in line.split(","))["avg_ttl"])

        for c in (self.r, self.s):
            got = h.wait_for(lambda: avg_ttl(c), 10, "avg_ttl above 0")
            self.assertGreater(got, 900 * 1000)
            self.assertLessEqual(got, 1000 * 1000)

    def test_commandstats_count_like_redis(self):
        commands = [("SET", "k", "v"), ("GET", "k"), ("GET",), ("SET", "k", "v", "bogus"),
                    ("CONFIG", "GET", "maxmemory"), ("INCR", "k"), ("GET", "k")]
        for c in (self.r, self.s):
            for cmd in commands:
                c.request(*cmd)

        def counts(c):
            out = {}
            for name, value in fields(c.call("INFO", "commandstats")):
                kv = dict(p.split("=") for p in value.split(","))
                self.assertEqual(list(kv), ["calls", "usec", "usec_per_call", "rejected_calls",
                                            "failed_calls"])
                out[name] = (kv["calls"], kv["rejected_calls"], kv["failed_calls"])
            return out

        want, got = counts(self.r), counts(self.s)
        want.pop("cmdstat_info", None)
        got.pop("cmdstat_info", None)
        self.assertEqual(got, want)
        self.assertIn("cmdstat_config|get", got)
        lat = dict(fields(self.s.call("INFO", "latencystats")))
        self.assertRegex(lat["latency_percentiles_usec_get"],
                         r"^p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}$")
        self.assertEqual(set(lat) - {"latency_percentiles_usec_info"},
                         set(n for n, _ in fields(self.r.call("INFO", "latencystats")))
                         - {"latency_percentiles_usec_info"})
        # CONFIG RESETSTAT clears them.
        self.s.call("CONFIG", "RESETSTAT")
        self.assertNotIn("cmdstat_get", dict(fields(self.s.call("INFO", "commandstats"))))

    # --- COMMAND ---

    def test_command_list_and_getkeys(self):
        r_list, s_list = self.both("COMMAND", "LIST", "FILTERBY", "PATTERN", "config*")
        self.assertIn(b"config|get", s_list)
        self.assertIn(b"config|set", s_list)
        self.assertIn(b"config", s_list)
        self.assertTrue(set(s_list) <= set(r_list), set(s_list) - set(r_list))
        self.assertIn(b"client|list", self.s.call("COMMAND", "LIST"))
        self.assertEqual(self.s.call("COMMAND", "LIST", "FILTERBY", "MODULE", "x"), [])
        self.assertSame("COMMAND", "LIST", "FILTERBY", "BOGUS", "x")
        for args in [("GETKEYS", "set", "k", "v"), ("GETKEYS", "SET", "k", "v", "EX", "10"),
                     ("GETKEYS", "mset", "a", "1", "b", "2"), ("GETKEYS", "mget", "a", "b", "c"),
                     ("GETKEYS", "del", "a", "b"), ("GETKEYS", "expire", "k", "10"),
                     ("GETKEYS", "getrange", "k", "0", "1"), ("GETKEYS", "nosuch", "k"),
                     ("GETKEYS", "ping"), ("GETKEYS", "get"), ("GETKEYS", "config", "get", "x"),
                     ("GETKEYS", "config", "nosuch"), ("GETKEYSANDFLAGS", "get", "k"),
                     ("GETKEYSANDFLAGS", "ping"), ("GETKEYSANDFLAGS", "set", "k", "v"),
                     ("GETKEYSANDFLAGS", "del", "a", "b"), ("GETKEYSANDFLAGS", "incr", "k"),
                     ("GETKEYSANDFLAGS", "exists", "k"), ("GETKEYSANDFLAGS", "expire", "k", "1"),
                     ("GETKEYSANDFLAGS", "append", "k", "v"), ("GETKEYSANDFLAGS", "getdel", "k"),
                     ("GETKEYSANDFLAGS", "msetnx", "a", "1", "b", "2")]:
            with self.subTest(args=args):
                self.assertSame("COMMAND", *args)
        self.assertIsInstance(self.s.call("COMMAND", "COUNT"), int)
        info = self.s.call("COMMAND", "INFO", "config|get", "get")
        self.assertEqual(info[0][0], b"config|get")
        self.assertIn("@read", info[1][6])

    def test_getkeys_for_every_command_with_keys(self):
        """Every command shoal lists with key positions answers GETKEYS as Redis."""
        rows = self.s.call("COMMAND")
        checked = 0
        for row in rows:
            name, arity, first = row[0].decode(), row[1], row[3]
            if first <= 0:
                continue
            argc = arity if arity > 0 else -arity
            args = [name] + ["a%d" % i for i in range(1, argc)]
            want, got = self.both("COMMAND", "GETKEYS", *args)
            if isinstance(want, h.ReplyError) and "Invalid command" in want.message:
                continue  # shoal's own commands (GETV, SETV...)
            # Commands whose Redis arguments must be well formed (numbers,
            # options) may differ in the error only; keys must match.
            if isinstance(want, list):
                self.assertEqual(got, want, "COMMAND GETKEYS %s" % " ".join(args))
                checked += 1
        self.assertGreater(checked, 10)

    # --- SLOWLOG ---

    def test_slowlog_entries_like_redis(self):
        for c in (self.r, self.s):
            c.call("CONFIG", "SET", "slowlog-log-slower-than", "0")
            c.call("SLOWLOG", "RESET")
            c.call("CLIENT", "SETNAME", "slowpoke")
            c.call("SET", "k", "x" * 200)
            c.call("MSET", *["m%d" % i for i in range(40)])
        try:
            want, got = self.both("SLOWLOG", "GET", "2")
            self.assertEqual(len(got), 2)
            for w, g in zip(want, got):
                self.assertEqual(len(g), 6)
                self.assertEqual(g[3], w[3])  # the arguments, trimmed alike
                self.assertEqual(g[5], b"slowpoke")
                self.assertRegex(g[4].decode(), r"^127\.0\.0\.1:\d+$")
                self.assertIsInstance(g[0], int)
                self.assertIsInstance(g[2], int)
            self.assertEqual(got[0][3][-1], b"... (10 more arguments)")
            self.assertEqual(got[1][3][2], b"x" * 128 + b"... (72 more bytes)")
            self.assertGreater(got[0][0], got[1][0])
            self.assertGreaterEqual(self.s.call("SLOWLOG", "LEN"), 2)
            for args in [("GET", "-2"), ("GET", "x"), ("GET", "1", "2"), ("HELP",), ("NOSUCH",),
                         ("LEN", "x")]:
                self.assertSame("SLOWLOG", *args)
            # -1: every entry (the LEN before it is one more).
            n = self.s.call("SLOWLOG", "LEN")
            self.assertEqual(len(self.s.call("SLOWLOG", "GET", "-1")), n + 1)
            self.assertSame("SLOWLOG", "RESET")
            self.assertSame("SLOWLOG", "LEN")  # the RESET itself, logged after it ran
        finally:
            for c in (self.r, self.s):
                c.call("CONFIG", "SET", "slowlog-log-slower-than", "10000")

    def test_slowlog_threshold_and_length(self):
        self.s.call("CONFIG", "SET", "slowlog-log-slower-than", "-1")
        self.s.call("SLOWLOG", "RESET")
        self.s.call("SET", "k", "v")
        self.assertEqual(self.s.call("SLOWLOG", "LEN"), 0)
        self.s.call("CONFIG", "SET", "slowlog-log-slower-than", "0", "slowlog-max-len", "3")
        for i in range(10):
            self.s.call("SET", "k", str(i))
        self.assertEqual(self.s.call("SLOWLOG", "LEN"), 3)
        self.s.call("CONFIG", "SET", "slowlog-log-slower-than", "10000", "slowlog-max-len", "128")

    # --- LATENCY ---

    def test_latency_replies(self):
        for args in [("LATEST",), ("HISTORY", "command"), ("RESET",), ("RESET", "command", "x"),
                     ("HISTORY",), ("NOSUCH",)]:
            with self.subTest(args=args):
                self.assertSame("LATENCY", *args)
        self.assertIsInstance(self.s.call("LATENCY", "DOCTOR"), bytes)


@ch.skip_unless_shoal
class ClusterCommandstatsTest(ch.ClusterTestCase):
    """A command coordinated through the cluster counts on the node the client
    sent it to; the nodes serving it as peers count nothing."""

    @classmethod
    def setUpClass(cls):
        cls.cluster = cls.start_class_cluster(3, replicas=3, read_quorum=2, write_quorum=2)

    def calls(self, node, name):
        line = dict(fields(node.call("INFO", "commandstats"))).get("cmdstat_" + name)
        return int(dict(p.split("=") for p in line.split(","))["calls"]) if line else 0

    def test_coordinated_commands_count_where_received(self):
        first, others = self.cluster[0], list(self.cluster)[1:]
        for n in self.cluster:
            n.call("CONFIG", "RESETSTAT")
        with first.client() as c:
            for i in range(20):
                self.assertEqual(c.call("SET", "key%d" % i, "v"), "OK")
                self.assertEqual(c.call("GET", "key%d" % i), b"v")
            self.assertReplyError(c.request("GET"), "ERR wrong number of arguments for 'get' command")
        self.assertEqual(self.calls(first, "set"), 20)
        self.assertEqual(self.calls(first, "get"), 20)
        for n in others:
            self.assertEqual(self.calls(n, "set"), 0)
            self.assertEqual(self.calls(n, "get"), 0)
        stats = dict(fields(first.call("INFO", "commandstats")))
        self.assertIn("rejected_calls=1", stats["cmdstat_get"])
        # Every replica answers in time here: no reply is late.
        self.assertEqual(first.counter("cluster_late_replies", section="cluster"), 0)


if __name__ == "__main__":
    h.main()
