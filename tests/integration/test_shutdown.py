"""Signals: SIGTERM/SIGINT end the server cleanly; SIGPIPE never kills it."""

import signal
import socket
import struct
import time

import shoal_harness as h

PROMPT = 5.0  # seconds a clean shutdown may take


class ShutdownTest(h.ServerTestCase):
    def check_clean_exit(self, sig):
        server = self.start_server()
        clients = [self.client(server) for _ in range(3)]
        for c in clients:
            self.assertEqual(c.call("SET", "k", "v"), "OK")
        start = time.monotonic()
        server.send_signal(sig)
        code = server.wait_exit(PROMPT)
        self.assertIsNotNone(code, "server still running %.0fs after %s" % (PROMPT, sig.name))
        self.assertEqual(code, 0, "exit code after %s" % sig.name)
        self.assertLess(time.monotonic() - start, PROMPT)
        for c in clients:
            c.read_until_closed(5)

    def test_sigterm_exits_zero(self):
        self.check_clean_exit(signal.SIGTERM)

    def test_sigint_exits_zero(self):
        self.check_clean_exit(signal.SIGINT)

    def test_sigpipe_does_not_kill(self):
        server = self.start_server()
        c = self.client(server)
        value = b"x" * 10000
        keys = ["big:%d" % i for i in range(1000)]
        self.assertEqual(c.pipeline([("SET", k, value) for k in keys]), ["OK"] * len(keys))
        mget = h.encode_command("MGET", *keys)  # ~10 MB reply
        for _ in range(10):
            s = socket.create_connection((server.host, server.port), timeout=10)
            # Send several MGETs, read a bit, then reset the connection so the
            # server's pending writes hit EPIPE/ECONNRESET.
            s.sendall(mget * 3)
            s.recv(4096)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        # And the polite variant: shutdown without reading anything.
        for _ in range(5):
            s = socket.create_connection((server.host, server.port), timeout=10)
            s.sendall(mget)
            s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.assertTrue(server.alive(), "server died (SIGPIPE?)")
        self.assertServesOthers(server, "big:0", value)
        self.assertEqual(c.call("DBSIZE"), len(keys))
        self.assertEqual(c.call("MGET", "big:1", "big:999"), [value, value])


if __name__ == "__main__":
    h.main()
