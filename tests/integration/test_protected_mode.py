"""protected-mode (Redis 7.0's rule: no password and a client that is not on
the loopback interface -> -DENIED and closed) and rename-command."""

import socket
import subprocess
import unittest

import shoal_harness as h

SHOAL_ONLY = unittest.skipIf(h.is_redis_server(), "shoal-specific behaviour")


def non_loopback_ipv4():
    """An IPv4 address of this machine outside 127/8, or None."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        parts = line.split()
        if "inet" in parts:
            addr = parts[parts.index("inet") + 1].split("/")[0]
            if not addr.startswith("127."):
                return addr
    return None


ADDR = non_loopback_ipv4()
NEEDS_ADDR = unittest.skipIf(ADDR is None, "no non-loopback IPv4 address on this machine")


def connect_from(addr, port):
    """A client connected to addr:port with addr as its source too."""
    c = h.Client.__new__(h.Client)
    c.host, c.port, c.timeout = addr, port, h.IO_TIMEOUT
    c.sock = socket.create_connection((addr, port), timeout=h.IO_TIMEOUT, source_address=(addr, 0))
    c.buf = bytearray()
    c.pos = 0
    return c


@NEEDS_ADDR
class ProtectedModeTest(h.ServerTestCase):
    def test_non_loopback_client_denied_without_password(self):
        server = self.start_server(args=["--bind", "127.0.0.1 %s" % ADDR])
        outside = connect_from(ADDR, server.port)
        self.addCleanup(outside.close)
        outside.send("PING")
        data = self.assertClosed(outside)
        self.assertTrue(data.startswith(b"-DENIED "), data[:80])
        self.assertIn(b"protected mode is enabled and no password is set for the default user", data)
        self.assertTrue(data.endswith(b"from the outside.\r\n"))
        # Loopback clients are served, and may turn protected mode off.
        local = self.client(server)
        self.assertEqual(local.call("PING"), "PONG")
        self.assertEqual(local.call("CONFIG", "SET", "protected-mode", "no"), "OK")
        with connect_from(ADDR, server.port) as c:
            self.assertEqual(c.call("PING"), "PONG")

    def test_password_lifts_protected_mode(self):
        server = self.start_server(args=["--bind", "127.0.0.1 %s" % ADDR, "--requirepass", "pw"], password="pw")
        with connect_from(ADDR, server.port) as c:
            self.assertEqual(c.call("AUTH", "pw"), "OK")
            self.assertEqual(c.call("PING"), "PONG")

    def test_protected_mode_no(self):
        server = self.start_server(args=["--bind", "127.0.0.1 %s" % ADDR, "--protected-mode", "no"])
        with connect_from(ADDR, server.port) as c:
            self.assertEqual(c.call("PING"), "PONG")


@SHOAL_ONLY
class RenameCommandTest(h.ServerTestCase):
    def test_rename_and_disable(self):
        server = self.start_server(conf_text='rename-command CONFIG "cfg-7f3a"\nrename-command FLUSHALL ""\n')
        c = self.client(server)
        with self.assertRaises(h.ReplyError) as e:
            c.call("CONFIG", "GET", "maxclients")
        self.assertTrue(e.exception.message.startswith("ERR unknown command 'CONFIG'"), e.exception.message)
        self.assertEqual(c.call("cfg-7f3a", "GET", "maxclients"), [b"maxclients", b"10000"])
        with self.assertRaises(h.ReplyError):
            c.call("FLUSHALL")
        # The renames are a secret too.
        self.assertEqual(c.call("CFG-7F3A", "GET", "rename-command"), [b"rename-command", b"(redacted)"])
        self.assertEqual(c.call("SET", "k", "v"), "OK")

    def test_unknown_command_refused_at_start(self):
        code, out, _ = h.run_server_expecting_exit(["--port", h.free_port(), "--rename-command", "NOSUCH", "x"])
        self.assertNotEqual(code, 0)
        self.assertIn("No such command in rename-command", out)


@SHOAL_ONLY
class SecretsTest(h.ServerTestCase):
    def test_config_get_redacts_secrets(self):
        server = self.start_server(password="pw-123", args=["--requirepass", "pw-123", "--cluster-secret", "s3cret-xyz"])
        c = self.client(server)
        self.assertEqual(c.call("CONFIG", "GET", "requirepass"), [b"requirepass", b"(redacted)"])
        self.assertEqual(c.call("CONFIG", "GET", "cluster-secret"), [b"cluster-secret", b"(redacted)"])
        everything = b" ".join(c.call("CONFIG", "GET", "*"))
        self.assertNotIn(b"pw-123", everything)
        self.assertNotIn(b"s3cret-xyz", everything)
        # CONFIG SET of a secret leaves no trace in SLOWLOG.
        self.assertEqual(c.call("CONFIG", "SET", "slowlog-log-slower-than", "0"), "OK")
        self.assertEqual(c.call("CONFIG", "SET", "requirepass", "new-pw-456"), "OK")
        log = repr(c.call("SLOWLOG", "GET", "10"))
        self.assertNotIn("new-pw-456", log)
        self.assertIn("(redacted)", log)
        self.assertNotIn("s3cret-xyz", server.current_output())
        self.assertNotIn("new-pw-456", server.current_output())

    def test_unset_secret_reads_empty(self):
        server = self.start_server()
        c = self.client(server)
        self.assertEqual(c.call("CONFIG", "GET", "requirepass"), [b"requirepass", b""])


if __name__ == "__main__":
    h.main()
