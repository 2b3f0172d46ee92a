"""Configuration: conf file errors, command-line overrides, CONFIG GET/SET."""

import os
import shutil
import socket
import tempfile
import unittest

import shoal_harness as h

SHOAL_ONLY = unittest.skipIf(h.is_redis_server(), "shoal-specific behaviour")

# Directives DESIGN.md promises (CONFIG GET reads every directive).
DESIGN_DIRECTIVES = [
    "port", "bind", "dir", "cluster-port", "cluster-seeds", "node-name", "replicas",
    "read-quorum", "write-quorum", "sloppy-quorum", "hinted-handoff", "read-repair",
    "conflict-resolution", "vnodes", "request-timeout-ms", "gossip-interval-ms",
    "node-timeout-ms", "anti-entropy-interval-ms", "appendonly", "appendfsync",
    "appendfilename", "maxmemory", "maxmemory-policy", "requirepass", "cluster-secret",
    "maxclients", "timeout", "proto-max-bulk-len", "client-query-buffer-limit",
    "loglevel", "logfile",
]  # fmt: skip


def config_get(c, name):
    reply = c.call("CONFIG", "GET", name)
    return dict(zip(reply[0::2], reply[1::2]))


class ConfFileErrorTest(h.ServerTestCase):
    def check_rejected(self, conf_text, line, words):
        port = h.free_port()
        code, out, conf_path = h.run_server_expecting_exit(["--port", port], conf_text=conf_text)
        self.assertNotEqual(code, 0, "server accepted a bad conf file:\n" + out)
        self.assertRegex(out, r"\b%d\b" % line, "line number missing from:\n" + out)
        for w in words:
            self.assertIn(w, out, "%r missing from:\n%s" % (w, out))
        if not h.is_redis_server():
            # Redis names line and directive; shoal also names the file.
            self.assertIn(conf_path, out)
        return out

    def test_unknown_directive(self):
        self.check_rejected("# a comment\n\nbogus-directive 12\nmaxclients 10\n", 3, ["bogus-directive"])

    def test_bad_value(self):
        self.check_rejected("maxclients 10\n# comment\n\nmaxclients abc\n", 4, ["maxclients", "abc"])

    @SHOAL_ONLY
    def test_bad_value_shoal_directives(self):
        self.check_rejected("replicas 3\nappendfsync sometimes\n", 2, ["appendfsync", "sometimes"])
        self.check_rejected("port 70000\n", 1, ["port"])

    def test_unknown_command_line_option(self):
        port = h.free_port()
        code, out, _ = h.run_server_expecting_exit(["--port", port, "--bogus-option", "1"])
        self.assertNotEqual(code, 0, out)
        self.assertIn("bogus-option", out)


class ConfigCommandTest(h.ServerTestCase):
    def test_port_override_and_config_get(self):
        other = h.free_port()
        conf = "# test conf\nport %d\nmaxclients 77\ntimeout 0\n" % other
        server = self.start_server(conf_text=conf)  # the harness adds --port after the file
        self.assertNotEqual(server.port, other)
        c = self.client(server)
        self.assertEqual(config_get(c, "port"), {b"port": b"%d" % server.port})
        self.assertEqual(config_get(c, "maxclients"), {b"maxclients": b"77"})
        with self.assertRaises(OSError):
            h.Client(server.host, other, timeout=1).close()

    def test_config_set_maxclients(self):
        server = self.start_server(args=["--maxclients", "100"])
        c = self.client(server)
        self.assertEqual(config_get(c, "maxclients"), {b"maxclients": b"100"})
        self.assertEqual(c.call("CONFIG", "SET", "maxclients", "50"), "OK")
        self.assertEqual(config_get(c, "maxclients"), {b"maxclients": b"50"})
        err = c.request("CONFIG", "SET", "maxclients", "notanumber")
        self.assertIsInstance(err, h.ReplyError)
        self.assertTrue(err.message.startswith("ERR"), err)
        self.assertEqual(config_get(c, "maxclients"), {b"maxclients": b"50"})
        self.assertEqual(c.call("CONFIG", "GET", "no-such-directive"), [])
        self.assertIn(b"maxclients", config_get(c, "maxc*"))
        self.assertReplyError(c.request("CONFIG", "GET"), "ERR wrong number of arguments for 'config|get' command")

    def test_config_set_timeout_takes_effect(self):
        server = self.start_server()
        c = self.client(server)
        self.assertEqual(c.call("CONFIG", "SET", "timeout", "1"), "OK")
        self.assertEqual(config_get(c, "timeout"), {b"timeout": b"1"})
        idle = self.client(server)
        self.assertEqual(idle.call("PING"), "PONG")
        self.assertClosed(idle, b"", timeout=10)

    @SHOAL_ONLY
    def test_every_design_directive_readable(self):
        server = self.start_server()
        c = self.client(server)
        missing = [d for d in DESIGN_DIRECTIVES if d.encode() not in config_get(c, d)]
        self.assertEqual(missing, [], "CONFIG GET lacks these directives")
        cport = config_get(c, "cluster-port")[b"cluster-port"]
        # Default cluster bus port: client port + 10000 (0 may mean "derived").
        self.assertIn(cport, (b"%d" % (server.port + 10000), b"0"))

    @SHOAL_ONLY
    def test_shipped_conf_file_starts(self):
        conf = os.path.join(os.path.dirname(__file__), "..", "..", "conf", "shoal.conf")
        if not os.path.exists(conf):
            self.skipTest("conf/shoal.conf not present")
        with open(conf) as f:
            text = f.read()
        server = self.start_server(conf_text=text)
        c = self.client(server)
        self.assertEqual(c.call("PING"), "PONG")
        self.assertEqual(config_get(c, "port"), {b"port": b"%d" % server.port})


def ipv6_loopback():
    """True when ::1 can be bound here."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        s.bind(("::1", 0))
        return True
    except OSError:
        return False
    finally:
        s.close()


class ConfigSetManyTest(h.ServerTestCase):
    """CONFIG SET with several parameters and CONFIG GET with several
    patterns, reply for reply as redis-server 7.0.15."""

    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis")
        cls.shoal = cls.start_class_server(name="shoal")

    def setUp(self):
        self.r = self.client(self.redis)
        self.s = self.client(self.shoal)

    def same(self, *args):
        want, got = self.r.request(*args), self.s.request(*args)
        self.assertEqual(got, want, "reply to %r differs from redis-server's" % (args,))
        return got

    def get(self, c, *patterns):
        reply = c.call("CONFIG", "GET", *patterns)
        return dict(zip(reply[0::2], reply[1::2]))

    def test_several_parameters_atomic(self):
        self.same("CONFIG", "SET", "maxmemory", "10000001", "maxmemory-policy", "allkeys-lru")
        for c in (self.r, self.s):
            self.assertEqual(self.get(c, "maxmemory", "maxmemory-policy"),
                             {b"maxmemory": b"10000001", b"maxmemory-policy": b"allkeys-lru"})
        # A bad value anywhere: nothing changes.
        self.same("CONFIG", "SET", "maxmemory", "5", "maxmemory-policy", "bogus")
        self.same("CONFIG", "SET", "maxmemory-policy", "noeviction", "maxmemory", "lots")
        self.same("CONFIG", "SET", "timeout", "7", "maxclients", "0")
        for c in (self.r, self.s):
            self.assertEqual(self.get(c, "maxmemory", "maxmemory-policy", "timeout"),
                             {b"maxmemory": b"10000001", b"maxmemory-policy": b"allkeys-lru",
                              b"timeout": b"0"})
        # Names are checked first; the first problem wins.
        self.same("CONFIG", "SET", "maxmemory", "1", "maxmemory", "2")
        self.same("CONFIG", "SET", "maxmemory", "1", "MAXMEMORY", "2")
        self.same("CONFIG", "SET", "nosuch", "1", "maxmemory", "2")
        self.same("CONFIG", "SET", "maxmemory", "x", "nosuch", "1")
        self.same("CONFIG", "SET", "maxmemory", "1", "daemonize", "no")
        self.same("CONFIG", "SET", "databases", "16")
        self.same("CONFIG", "SET", "MaxClients", "0")
        self.same("CONFIG", "SET", "maxmemory", "1", "timeout")  # odd: syntax error
        self.same("CONFIG", "SET", "maxmemory")
        self.same("CONFIG", "SET", "save", "900")
        self.same("CONFIG", "SET", "maxmemory", "0", "maxmemory-policy", "noeviction", "save", "",
                  "protected-mode", "yes", "slowlog-max-len", "128")
        self.same("CONFIG", "GET", "maxmemory", "nosuch", "MAXMEMORY")

    def test_bind_that_fails_keeps_the_old_sockets(self):
        # 192.0.2.1 (TEST-NET-1) is on no interface here.
        self.same("CONFIG", "SET", "bind", "127.0.0.1 192.0.2.1")
        self.same("CONFIG", "SET", "timeout", "3", "bind", "127.0.0.1 192.0.2.1")
        for c in (self.r, self.s):
            self.assertEqual(self.get(c, "timeout"), {b"timeout": b"0"})
        self.assertServesOthers(self.shoal)


@SHOAL_ONLY
class ConfigRoundTripTest(h.ServerTestCase):
    def test_every_value_config_get_returns_can_be_set_back(self):
        server = self.start_server()
        c = self.client(server)
        reply = c.call("CONFIG", "GET", "*")
        pairs = list(zip(reply[0::2], reply[1::2]))
        self.assertGreater(len(pairs), 60)
        problems = []
        for name, value in pairs:
            # Secrets (requirepass, cluster-secret, rename-command) read back
            # as "(redacted)" when set: that mask is not their value.
            if value == b"(redacted)":
                continue
            got = c.request("CONFIG", "SET", name, value)
            immutable = h.ReplyError(
                "ERR CONFIG SET failed (possibly related to argument '%s') - can't set immutable config"
                % name.decode())
            if got != "OK" and got != immutable:
                problems.append("%s %r -> %r" % (name.decode(), value, got))
            if self.get_one(c, name) != value:
                problems.append("%s changed from %r" % (name.decode(), value))
        self.assertEqual(problems, [])
        self.assertEqual(c.call("PING"), "PONG")

    def get_one(self, c, name):
        return c.call("CONFIG", "GET", name)[1]


@SHOAL_ONLY
class BindTest(h.ServerTestCase):
    def test_several_addresses(self):
        server = self.start_server(args=["--bind", "127.0.0.1 127.0.0.3"])
        for host in ("127.0.0.1", "127.0.0.3"):
            with h.Client(host, server.port) as c:
                self.assertEqual(c.call("PING"), "PONG")
        c = self.client(server)
        self.assertEqual(c.call("CONFIG", "GET", "bind"), [b"bind", b"127.0.0.1 127.0.0.3"])
        with self.assertRaises(OSError):
            h.Client("127.0.0.4", server.port, timeout=1).close()

    def test_ipv6_loopback(self):
        if not ipv6_loopback():
            self.skipTest("no IPv6 loopback here")
        server = self.start_server(args=["--bind", "127.0.0.1", "::1"])
        with h.Client("::1", server.port) as c:
            self.assertEqual(c.call("PING"), "PONG")
        self.assertNotIn("no requirepass set", server.current_output())

    def test_optional_address_missing(self):
        # "-": the address may be missing; start-up goes on without it.
        server = self.start_server(args=["--bind", "127.0.0.1 -192.0.2.1"])
        self.assertEqual(self.client(server).call("PING"), "PONG")
        port = h.free_port()
        code, out, _ = h.run_server_expecting_exit(["--port", port, "--bind", "127.0.0.1 192.0.2.1"])
        self.assertNotEqual(code, 0, out)
        self.assertIn("192.0.2.1", out)

    def test_config_set_bind_rebinds(self):
        server = self.start_server()
        c = self.client(server)
        self.assertEqual(c.call("CONFIG", "SET", "bind", "127.0.0.1 127.0.0.5"), "OK")
        with h.Client("127.0.0.5", server.port) as other:
            self.assertEqual(other.call("PING"), "PONG")
        # Connections made before stay up.
        self.assertEqual(c.call("PING"), "PONG")
        self.assertEqual(c.call("CONFIG", "SET", "bind", "127.0.0.5"), "OK")
        with self.assertRaises(OSError):
            h.Client("127.0.0.1", server.port, timeout=1).close()
        self.assertEqual(c.call("CONFIG", "GET", "bind"), [b"bind", b"127.0.0.5"])


@SHOAL_ONLY
class RedisStartupFlagsTest(h.ServerTestCase):
    def test_flags_redis_users_pass(self):
        server = self.start_server(args=[
            "--protected-mode", "no", "--databases", "16", "--save", "", "--daemonize", "no",
            "--appendonly", "no", "--dbfilename", "dump.rdb", "--supervised", "no",
            "--stop-writes-on-bgsave-error", "no", "--always-show-logo", "no",
        ])
        c = self.client(server)
        self.assertEqual(config_get(c, "databases"), {b"databases": b"16"})
        self.assertEqual(config_get(c, "protected-mode"), {b"protected-mode": b"no"})
        self.assertEqual(config_get(c, "save"), {b"save": b""})
        out = server.current_output()
        self.assertIn("databases 16: shoal has one database (db 0); SELECT of any other is refused", out)
        self.assertIn("stop-writes-on-bgsave-error 'no' is accepted for compatibility", out)
        self.assertNotIn("save '' is accepted", out)

    def test_pidfile(self):
        d = tempfile.mkdtemp(prefix="shoal-pid-")
        self.addCleanup(shutil.rmtree, d, True)
        pidfile = os.path.join(d, "shoal.pid")
        server = self.start_server(args=["--pidfile", pidfile])
        with open(pidfile) as f:
            self.assertEqual(int(f.read()), server.proc.pid)
        server.stop()
        self.assertFalse(os.path.exists(pidfile), "the pidfile is removed at exit")


@SHOAL_ONLY
class StartupWarningTest(h.ServerTestCase):
    """The "no requirepass" warning is for addresses other machines can reach."""

    WARNING = "no requirepass set and listening on"

    def test_no_warning_on_any_loopback_address(self):
        # All of 127.0.0.0/8 is loopback (it once warned for 127.0.0.2).
        server = self.start_server(host="127.0.0.2", args=["--bind", "127.0.0.2 127.9.9.9"])
        self.assertEqual(self.client(server).call("PING"), "PONG")
        self.assertNotIn(self.WARNING, server.current_output())

    def test_warning_on_a_wildcard(self):
        server = self.start_server(args=["--bind", "0.0.0.0"])
        self.assertEqual(self.client(server).call("PING"), "PONG")
        self.assertIn(self.WARNING + " 0.0.0.0", server.current_output())
        # A wildcard-bound node never advertises 0.0.0.0 to peers.
        self.assertNotIn("advertising 0.0.0.0", server.current_output())
        self.assertIn("no cluster-announce-ip: advertising", server.current_output())


if __name__ == "__main__":
    h.main()
