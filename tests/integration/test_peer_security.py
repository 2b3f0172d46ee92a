"""The peer channel under attack: a relayed handshake (issue 13's relay
hijack), idle and failing connections on the cluster port.

The relay: a client makes node A connect to an address the test controls
(CLUSTER MEET), the test relays A's handshake to node B byte for byte, keeps
B's connection once B says +OK and injects a SHOAL.FWD SET of its own. The
handshake alone proves nothing about the frames that follow; every batch of
frames is sealed with a MAC keyed from the handshake, which the relay cannot
compute, so B closes the connection and nothing is written.
"""

import re
import resource
import selectors
import socket
import time

import cluster_harness as ch
import shoal_harness as h
import shoal_process as sp

SECRET = "relay-test-secret"
IO_TIMEOUT = 10.0


def read_resp(sock, buf, deadline):
    """Reads one complete RESP value from sock; returns (raw bytes, rest of buf)."""

    def need(n):
        nonlocal buf
        while len(buf) < n:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                raise h.ConnectionClosed("closed after %r" % buf[:200])
            buf += chunk

    def line(pos):
        while True:
            end = buf.find(b"\r\n", pos)
            if end >= 0:
                return end
            need(len(buf) + 1)

    def value(pos):
        end = line(pos)
        kind, head = buf[pos : pos + 1], buf[pos + 1 : end]
        pos = end + 2
        if kind in (b"+", b"-", b":"):
            return pos
        if kind == b"$":
            n = int(head)
            if n < 0:
                return pos
            need(pos + n + 2)
            return pos + n + 2
        if kind == b"*":
            for _ in range(max(0, int(head))):
                pos = value(pos)
            return pos
        raise AssertionError("not RESP: %r" % buf[:200])

    need(1)
    end = value(0)
    return buf[:end], buf[end:]


def closed_without_reply(sock, timeout):
    """True if the peer closes sock (EOF or reset) before sending any byte."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        return True, b""
    except socket.timeout:
        return False, b""
    return data == b"", data


@ch.skip_unless_shoal
class RelayHijackTest(ch.ClusterTestCase):
    def relay_handshake(self):
        """Relays A's handshake to B byte for byte (A was told with CLUSTER
        MEET that a new node listens where the test does); returns the two
        nodes and the relay's connection to B, authenticated by B."""
        cl = self.start_cluster(2, replicas=2, read_quorum=1, write_quorum=1, secret=SECRET)
        a, b = cl.nodes
        relay_host = "127.0.0.77"
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(listener.close)
        listener.bind((relay_host, 0))
        listener.listen(4)
        relay_cport = listener.getsockname()[1]
        relay_port = sp.free_port(relay_host)
        self.assertEqual(a.call("CLUSTER", "MEET", relay_host, str(relay_port), str(relay_cport)), "OK")

        deadline = time.monotonic() + IO_TIMEOUT
        listener.settimeout(IO_TIMEOUT)
        from_a, _ = listener.accept()
        self.addCleanup(from_a.close)
        to_b = socket.create_connection((b.host, b.cport), timeout=IO_TIMEOUT)
        self.addCleanup(to_b.close)
        abuf, bbuf = b"", b""
        # HELLO, A -> B; B's proof, B -> A; AUTH, A -> B; +OK, B -> A.
        hello, abuf = read_resp(from_a, abuf, deadline)
        self.assertIn(b"SHOAL.HELLO", hello)
        to_b.sendall(hello)
        proof, bbuf = read_resp(to_b, bbuf, deadline)
        from_a.sendall(proof)
        auth, abuf = read_resp(from_a, abuf, deadline)
        self.assertIn(b"SHOAL.AUTH", auth)
        to_b.sendall(auth)
        ok, bbuf = read_resp(to_b, bbuf, deadline)
        self.assertEqual(ok, b"+OK\r\n", "B refused the relayed handshake")
        from_a.sendall(ok)
        return a, b, to_b

    def assert_refused(self, a, b, to_b, logged):
        closed, data = closed_without_reply(to_b, IO_TIMEOUT)
        self.assertTrue(closed, "B answered the injected frame: %r" % data[:200])
        for n in (a, b):
            ctx, values = n.getlocal("hijacked")
            self.assertEqual(values, [], "the injected SET landed on %s" % n.name)
        h.wait_for(lambda: logged in b.current_output(), IO_TIMEOUT, "B to log: " + logged)
        self.assertGreaterEqual(b.counter("cluster_peer_mac_failures"), 1)
        # Both nodes still serve their clients.
        for n in (a, b):
            with n.client() as c:
                self.assertEqual(c.call("PING"), "PONG")

    def test_relayed_handshake_gives_the_relay_nothing(self):
        a, b, to_b = self.relay_handshake()
        # The hijack: a frame of the relay's own on B's authenticated
        # connection, sealed with a MAC the relay cannot compute.
        to_b.sendall(
            h.encode_command("SHOAL.FWD", "SET", "hijacked", "by-the-relay")
            + h.encode_command("SHOAL.SEAL", b"\x01" * 32)
        )
        self.assert_refused(a, b, to_b, "failed its MAC check")

    def test_an_unsealed_frame_never_runs(self):
        a, b, to_b = self.relay_handshake()
        # No seal at all: B holds the frame, never runs it, and closes the
        # connection at the deadline (5 s, the handshake's).
        started = time.monotonic()
        to_b.sendall(h.encode_command("SHOAL.FWD", "SET", "hijacked", "by-the-relay"))
        self.assert_refused(a, b, to_b, "was not sealed within 5000 ms")
        self.assertGreaterEqual(time.monotonic() - started, 4.0)

    def test_old_protocol_hello_is_refused_clearly(self):
        cl = self.start_cluster(1, replicas=1, read_quorum=1, write_quorum=1, secret=SECRET)
        (a,) = cl.nodes
        c = h.Client(a.host, a.cport)
        self.addCleanup(c.close)
        c.send("SHOAL.HELLO", "f" * 40, "0" * 32)  # version 1: no version argument
        reply = c.read_reply()
        self.assertIsInstance(reply, h.ReplyError)
        self.assertIn("peer protocol version mismatch", str(reply))
        self.assertClosed(c)
        h.wait_for(lambda: "speaks protocol version" in a.current_output(), IO_TIMEOUT, "the refusal logged")

    def test_peer_strings_cannot_forge_log_lines(self):
        cl = self.start_cluster(1, replicas=1, read_quorum=1, write_quorum=1, secret=SECRET)
        (a,) = cl.nodes
        c = h.Client(a.host, a.cport)
        self.addCleanup(c.close)
        forged_id = "x\n12345:M 01 Jan 2030 00:00:00.000 # FORGED LINE\r"
        c.send_raw(h.encode_command("SHOAL.HELLO", forged_id, "1" * 32, "3") + h.encode_command("SHOAL.AUTH", "0" * 64))
        c.read_reply()
        self.assertIsInstance(c.read_reply(), h.ReplyError)
        self.assertClosed(c)
        h.wait_for(lambda: "failed authentication" in a.current_output(), IO_TIMEOUT, "the failure logged")
        log = a.current_output()
        # Quoted and escaped as sdscatrepr does (and cut at 40 bytes).
        self.assertIn('(node "x\\n12345:M 01 Jan 2030 00:00:00.000 # FOR"...)', log)
        self.assertFalse(any(l.startswith("12345:M") for l in log.splitlines()), "a forged line in the log")


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


@ch.skip_unless_shoal
class HandshakeLimitsTest(ch.ClusterTestCase):
    def test_idle_connections_are_capped_and_time_out(self):
        # The node starts with this process's limit (1024 on a default
        # system): 1,100 idle peer connections used to exhaust it.
        cl = self.start_cluster(1, replicas=1, read_quorum=1, write_quorum=1, secret=SECRET)
        (a,) = cl.nodes
        if raise_nofile(1400) < 1300:
            self.skipTest("cannot open 1,100 sockets here")
        socks = []

        def close_all():
            for s in socks:
                s.close()

        self.addCleanup(close_all)
        opened_at = time.monotonic()
        for _ in range(1100):
            s = socket.create_connection((a.host, a.cport), timeout=IO_TIMEOUT)
            socks.append(s)
        # The node keeps serving clients while they are open.
        for _ in range(5):
            with a.client() as c:
                self.assertEqual(c.call("PING"), "PONG")
                self.assertEqual(c.call("SET", "k", "v"), "OK")
        # Every idle one is closed: most at once (over the cap), the rest at
        # the 5 s handshake deadline.
        sel = selectors.DefaultSelector()
        for s in socks:
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
        open_ = len(socks)
        deadline = time.monotonic() + 30
        while open_ > 0 and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1.0):
                try:
                    data = key.fileobj.recv(4096)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                if data == b"":
                    sel.unregister(key.fileobj)
                    open_ -= 1
        sel.close()
        elapsed = time.monotonic() - opened_at
        self.assertEqual(open_, 0, "%d idle peer connections still open after %.1f s" % (open_, elapsed))
        self.assertGreaterEqual(elapsed, 4.0, "idle connections closed before the handshake deadline")
        log = a.current_output()
        self.assertIn("no handshake within 5000 ms", log)
        self.assertIn("already in the handshake", log)
        # Refusals and timeouts are rate limited: 1,100 events, a few lines.
        lines = [l for l in log.splitlines() if "Refusing peer connection" in l or "no handshake within" in l]
        self.assertLessEqual(len(lines), 2 * (elapsed + 2), lines[:10])
        with a.client() as c:
            self.assertEqual(c.call("GET", "k"), b"v")
        # INFO counts what the log lines rate-limit away: every one of them.
        refused = a.counter("cluster_peer_refused_connections")
        timeouts = a.counter("cluster_peer_handshake_timeouts")
        self.assertGreater(refused, 0)
        self.assertGreater(timeouts, 0)
        self.assertEqual(refused + timeouts, 1100)

    def test_failed_handshakes_write_a_bounded_number_of_lines(self):
        cl = self.start_cluster(1, replicas=1, read_quorum=1, write_quorum=1, secret=SECRET)
        (a,) = cl.nodes
        raise_nofile(1024)
        attempt = h.encode_command("SHOAL.HELLO", "e" * 40, "1" * 32, "3") + h.encode_command("SHOAL.AUTH", "0" * 64)
        total, batch = 20000, 200
        started = time.monotonic()
        done = 0
        while done < total:
            socks = []
            for _ in range(min(batch, total - done)):
                s = socket.create_connection((a.host, a.cport), timeout=IO_TIMEOUT)
                s.sendall(attempt)
                socks.append(s)
            for s in socks:
                s.settimeout(IO_TIMEOUT)
                try:
                    while s.recv(65536):
                        pass
                except ConnectionResetError:
                    pass
                s.close()
            done += len(socks)
        elapsed = time.monotonic() - started

        def failure_lines():
            return [l for l in a.current_output().splitlines() if "failed authentication" in l]

        h.wait_for(lambda: failure_lines(), IO_TIMEOUT, "a failed handshake to be logged")
        lines = failure_lines()
        # At most one line per second (plus the first).
        self.assertLessEqual(len(lines), elapsed + 2, "%d lines in %.1f s" % (len(lines), elapsed))
        if elapsed > 1.5:
            self.assertTrue(any(re.search(r"\(\d+ similar lines suppressed\)", l) for l in lines), lines[:5])
        with a.client() as c:
            self.assertEqual(c.call("PING"), "PONG")


if __name__ == "__main__":
    h.main()
