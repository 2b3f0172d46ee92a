"""CLIENT LIST / INFO / KILL / REPLY / PAUSE and MONITOR against
redis-server 7.0.15: the same scenario on both, the same bytes where
nothing legitimately differs (field names and formats where values do)."""

import re
import time

import shoal_harness as h

# Redis 7.0.15's CLIENT LIST fields, in its order.
FIELDS = ("id addr laddr fd name age idle flags db sub psub ssub multi qbuf qbuf-free argv-mem multi-mem "
          "rbs rbp obl oll omem tot-mem events cmd user redir resp").split()
# Which values are integers (the others are formats checked below).
INT_FIELDS = {"id", "fd", "age", "idle", "db", "sub", "psub", "ssub", "multi", "qbuf", "qbuf-free", "argv-mem",
              "multi-mem", "rbs", "rbp", "obl", "oll", "omem", "tot-mem", "redir", "resp"}


def parse_line(line):
    pairs = [item.split("=", 1) for item in line.split(" ")]
    return [k for k, _ in pairs], dict(pairs)


def lines(reply):
    text = reply.decode() if isinstance(reply, bytes) else reply
    assert text.endswith("\n"), repr(text)
    return text[:-1].split("\n") if text != "\n" else []


def monitor_lines(c, n):
    return [c.read_reply() for _ in range(n)]


def mask_monitor(line, addr):
    # "+1339518083.107412 [0 127.0.0.1:60866] ..." without the time and address.
    m = re.match(r"^(\d+)\.(\d{6}) \[0 ([^\]]+)\] (.*)$", line)
    assert m, "not a MONITOR line: %r" % line
    assert m.group(3) == addr, (m.group(3), addr)
    return m.group(4)


def local_addr(c):
    host, port = c.sock.getsockname()[:2]
    return "%s:%d" % (host, port)


class ClientCommandsTest(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis-reference")
        cls.shoal = cls.start_class_server(name="shoal")
        cls.servers = (cls.redis, cls.shoal)

    def test_client_list_fields_in_redis_order(self):
        for server in self.servers:
            with server.client() as a, server.client() as b:
                a.call("CLIENT", "SETNAME", "alpha")
                b.call("SET", "k", "v")
                listing = lines(a.call("CLIENT", "LIST"))
                self.assertGreaterEqual(len(listing), 2, server.name)
                for line in listing:
                    names, values = parse_line(line)
                    self.assertEqual(names, FIELDS, "%s: %s" % (server.name, line))
                    for f in INT_FIELDS:
                        self.assertRegex(values[f], r"^-?\d+$", "%s field %s" % (server.name, f))
                    self.assertRegex(values["addr"], r"^127\.0\.0\.1:\d+$")
                    self.assertEqual(values["laddr"], "%s:%d" % (server.host, server.port))
                    self.assertEqual(values["user"], "default")
                    self.assertIn(values["events"], ("r", "rw"))
                by_id = {parse_line(l)[1]["id"]: parse_line(l)[1] for l in listing}
                me = parse_line(lines(a.call("CLIENT", "INFO"))[0])[1]
                self.assertEqual(me["name"], "alpha")
                self.assertEqual(me["cmd"], "client|info")
                self.assertEqual(me["flags"], "N")
                self.assertEqual(me["multi"], "-1")
                self.assertEqual(me["resp"], "2")
                self.assertEqual(me["argv-mem"], "10")  # "client" + "info"
                other = by_id[str(b.call("CLIENT", "ID"))]
                self.assertEqual(other["cmd"], "set")
                self.assertEqual(other["addr"], local_addr(b))
                # The listing is in connection order; ID keeps the order asked.
                ids = [int(parse_line(l)[1]["id"]) for l in listing]
                self.assertEqual(ids, sorted(ids))
                b_id = b.call("CLIENT", "ID")
                a_id = a.call("CLIENT", "ID")
                picked = lines(a.call("CLIENT", "LIST", "ID", b_id, "999999", a_id))
                self.assertEqual([int(parse_line(l)[1]["id"]) for l in picked], [b_id, a_id])
                self.assertEqual(a.call("CLIENT", "LIST", "TYPE", "pubsub"), b"")
                self.assertEqual(len(lines(a.call("CLIENT", "LIST", "TYPE", "normal"))), len(listing))

    ERROR_CASES = [
        ("CLIENT", "LIST", "ID", "x"),
        ("CLIENT", "LIST", "TYPE", "bogus"),
        ("CLIENT", "LIST", "TYPE", "normal", "ID", "1"),
        ("CLIENT", "LIST", "foo"),
        ("CLIENT", "KILL", "1.2.3.4:5"),
        ("CLIENT", "KILL", "ID", "0"),
        ("CLIENT", "KILL", "ID", "abc"),
        ("CLIENT", "KILL", "TYPE", "bogus"),
        ("CLIENT", "KILL", "USER", "nobody"),
        ("CLIENT", "KILL", "SKIPME", "maybe"),
        ("CLIENT", "KILL", "ID", "1", "ADDR"),
        ("CLIENT", "KILL", "FOO", "bar"),
        ("CLIENT", "KILL", "ID", "999999"),
        ("CLIENT", "KILL", "ADDR", "1.2.3.4:5", "SKIPME", "no"),
        ("CLIENT", "KILL", "TYPE", "master"),
        ("CLIENT", "KILL", "TYPE", "replica"),
        ("CLIENT", "KILL", "TYPE", "pubsub"),
        ("CLIENT", "KILL", "USER", "default", "ID", "999999"),
        ("CLIENT", "REPLY", "maybe"),
        ("CLIENT", "PAUSE", "x"),
        ("CLIENT", "PAUSE", "-1"),
        ("CLIENT", "PAUSE", "10", "foo"),
        ("CLIENT", "PAUSE", "x", "foo"),
        ("CLIENT", "PAUSE"),
        ("CLIENT", "UNPAUSE", "x"),
        ("CLIENT", "GETREDIR"),
        ("CLIENT", "TRACKINGINFO"),
        ("CLIENT", "NO-EVICT", "maybe"),
        ("CLIENT", "UNPAUSE"),
    ]

    def test_errors_and_small_replies_match_redis(self):
        for cmd in self.ERROR_CASES:
            want = self.redis.client().call_bytes(*cmd)
            got = self.shoal.client().call_bytes(*cmd)
            self.assertEqual(got, want, "reply to %r" % (cmd,))

    def kill_scenario(self, server):
        """Kills by each filter; returns the replies and which of 3 victims survived."""
        out = []
        killer = server.client()
        victims = [server.client() for _ in range(3)]
        ids = [v.call("CLIENT", "ID") for v in victims]
        out.append(killer.call_bytes("CLIENT", "KILL", "ID", str(ids[0])))
        out.append(killer.call_bytes("CLIENT", "KILL", "ADDR", local_addr(victims[1]), "SKIPME", "yes"))
        out.append(killer.call_bytes("CLIENT", "KILL", local_addr(victims[2])))  # old form
        out.append(killer.call_bytes("CLIENT", "KILL", local_addr(victims[2])))  # gone already
        for v in victims:
            self.assertClosed(v)
        more = [server.client() for _ in range(2)]
        for m in more:
            m.call("PING")
        out.append(killer.call_bytes("CLIENT", "KILL", "LADDR", "%s:%d" % (server.host, server.port), "TYPE", "normal",
                                     "USER", "default"))
        for m in more:
            self.assertClosed(m)
        out.append(killer.call_bytes("PING"))  # SKIPME yes by default
        # SKIPME no: the killer gets its reply, then the connection closes.
        out.append(killer.call_bytes("CLIENT", "KILL", "ID", str(killer.call("CLIENT", "ID")), "SKIPME", "no"))
        self.assertClosed(killer)
        return out

    def test_client_kill_filters(self):
        want = self.kill_scenario(self.redis)
        got = self.kill_scenario(self.shoal)
        self.assertEqual(got, want)
        self.assertEqual(got, [b":1\r\n", b":1\r\n", b"+OK\r\n", b"-ERR No such client\r\n", b":2\r\n",
                               b"+PONG\r\n", b":1\r\n"])

    def test_client_reply(self):
        script = [("CLIENT", "REPLY", "SKIP"), ("SET", "r", "1"), ("PING", "a"), ("CLIENT", "REPLY", "OFF"),
                  ("PING", "b"), ("GET", "r"), ("NOSUCH",), ("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "ON"),
                  ("CLIENT", "REPLY", "SKIP"), ("CLIENT", "REPLY", "ON"), ("GET", "r"), ("CLIENT", "REPLY", "SKIP"),
                  ("INCR", "r"), ("GET", "r")]
        got = {}
        for server in self.servers:
            with server.client() as c:
                c.send_raw(b"".join(h.encode_command(*cmd) for cmd in script))
                got[server.name] = [c.read_reply_bytes() for _ in range(5)]
                c.expect_no_data(0.1)
        self.assertEqual(got["shoal"], got["redis-reference"])
        self.assertEqual(got["shoal"], [b"$1\r\na\r\n", b"+OK\r\n", b"+OK\r\n", b"$1\r\n1\r\n", b"$1\r\n2\r\n"])

    def test_client_pause_write_holds_writes_until_unpause(self):
        for server in self.servers:
            with server.client() as admin, server.client() as writer, server.client() as reader:
                reader.call("SET", "p", "old")
                self.assertEqual(admin.call("CLIENT", "PAUSE", "100000", "WRITE"), "OK")
                writer.send("SET", "p", "new")
                writer.send("GET", "p")
                # Reads of other clients go on; the write (and what follows it
                # on its connection) waits.
                self.assertEqual(reader.call("GET", "p"), b"old")
                writer.expect_no_data(0.3)
                # The waiting client shows as blocked (flag b); no one else does.
                info = {parse_line(l)[1]["id"]: parse_line(l)[1] for l in lines(admin.call("CLIENT", "LIST"))}
                blocked = [i for i, f in info.items() if "b" in f["flags"]]
                self.assertEqual(len(blocked), 1, server.name)
                self.assertNotEqual(blocked[0], str(reader.call("CLIENT", "ID")))
                self.assertEqual(admin.call("CLIENT", "UNPAUSE"), "OK")
                self.assertEqual(writer.read_reply(timeout=10), "OK", server.name)
                self.assertEqual(writer.read_reply(timeout=10), b"new", server.name)

    def test_client_pause_all_ends_at_its_timeout(self):
        for server in self.servers:
            with server.client() as admin, server.client() as other:
                start = time.monotonic()
                self.assertEqual(admin.call("CLIENT", "PAUSE", "1000", "ALL"), "OK")
                other.send("PING")
                other.expect_no_data(0.3)
                self.assertEqual(other.read_reply(timeout=10), "PONG", server.name)
                self.assertGreaterEqual(time.monotonic() - start, 0.9, server.name)
                # Errors are answered at once, paused or not (Redis checks the
                # pause after the command lookup).
                admin.call("CLIENT", "PAUSE", "1500", "ALL")
                self.assertEqual(other.call_bytes("NOSUCH"),
                                 b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n")
                self.assertEqual(other.call_bytes("GET"), b"-ERR wrong number of arguments for 'get' command\r\n")
                self.assertEqual(admin.call("PING"), "PONG")  # once the pause is over
                # CLIENT UNPAUSE itself waits under ALL: only the timeout ends it.
                admin.call("CLIENT", "PAUSE", "500", "ALL")
                other.send("CLIENT", "UNPAUSE")
                self.assertEqual(other.read_reply(timeout=10), "OK", server.name)

    def monitor_scenario(self, server):
        with server.client() as mon, server.client() as c:
            self.assertEqual(mon.call_bytes("MONITOR"), b"+OK\r\n")
            c.call("SET", "mk", 'sp ace"q\\\n\x01')
            c.call("GET", "mk")
            c.call_bytes("AUTH", "secret")  # an error (no password set), still shown, redacted
            c.call_bytes("HELLO", "3", "AUTH", "default", "pw", "SETNAME", "mon-test")
            c.call_bytes("CONFIG", "GET", "maxmemory")  # admin: not shown
            c.call_bytes("NOSUCH")  # rejected before it runs: not shown
            c.call_bytes("INCR", "mk")  # runs and fails: shown
            c.call("DEL", "mk")
            got = [mask_monitor(l, local_addr(c)) for l in monitor_lines(mon, 6)]
            mon.expect_no_data(0.1)
            return got

    def test_monitor_lines(self):
        want = self.monitor_scenario(self.redis)
        got = self.monitor_scenario(self.shoal)
        self.assertEqual(got, want)
        self.assertEqual(got[0], '"SET" "mk" "sp ace\\"q\\\\\\n\\x01"')
        self.assertEqual(got[2], '"AUTH" "(redacted)"')


if __name__ == "__main__":
    h.main()
