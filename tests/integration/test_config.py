"""Configuration: conf file errors, command-line overrides, CONFIG GET/SET."""

import os
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


@SHOAL_ONLY
class StartupWarningTest(h.ServerTestCase):
    """The "no requirepass" warning is for addresses other machines can reach."""

    WARNING = "no requirepass set and listening on"

    def test_no_warning_on_any_loopback_address(self):
        # All of 127.0.0.0/8 is loopback (it once warned for 127.0.0.2).
        server = self.start_server(host="127.0.0.2")
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
