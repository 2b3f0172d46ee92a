"""maxclients and idle timeout."""

import time

import shoal_harness as h


class MaxClientsTest(h.ServerTestCase):
    def admitted_client(self, server):
        # The harness's readiness probe may not be reaped by the server yet, so a
        # refusal right after start-up is retried until a deadline.
        def connect():
            c = h.Client(server.host, server.port)
            if c.request("PING") == "PONG":
                return c
            c.close()
            return None

        c = h.wait_for(connect, 10, "client admitted")
        self.addCleanup(c.close)
        return c

    def test_sixth_client_is_refused(self):
        server = self.start_server(args=["--maxclients", "5"])
        clients = [self.admitted_client(server) for _ in range(5)]
        extra = h.Client(server.host, server.port)
        self.addCleanup(extra.close)
        self.assertClosed(extra, b"-ERR max number of clients reached\r\n")
        # The five admitted clients are unaffected.
        for c in clients:
            self.assertEqual(c.call("PING"), "PONG")
        # A freed slot is reusable.
        clients[0].close()

        def admitted():
            with h.Client(server.host, server.port) as c:
                return c.request("PING") == "PONG"

        h.wait_for(admitted, 10, "a new client admitted after one disconnected")


class TimeoutTest(h.ServerTestCase):
    def test_idle_client_disconnected_active_kept(self):
        server = self.start_server(args=["--timeout", "1"])
        idle = self.client(server)
        active = self.client(server)
        self.assertEqual(idle.call("PING"), "PONG")
        start = time.monotonic()
        closed = []

        def idle_closed():
            # Keep the active client busy while we wait for the idle one to go.
            self.assertEqual(active.call("PING"), "PONG")
            try:
                idle.sock.settimeout(0.05)
                data = idle.sock.recv(100)
            except TimeoutError:
                return False
            except ConnectionResetError:
                data = b""
            if data:
                raise AssertionError("unexpected data on idle client: %r" % data)
            closed.append(time.monotonic() - start)
            return True

        h.wait_for(idle_closed, 10, "idle client disconnected by --timeout 1")
        # Not before the timeout: an idle second is required (Redis checks at 10 Hz
        # or slower, so allow some slack below one second for clock granularity).
        self.assertGreaterEqual(closed[0], 0.9)
        self.assertEqual(active.call("PING"), "PONG")
        # The active client survives well past the timeout.
        for _ in range(25):
            self.assertEqual(active.call("PING"), "PONG")
            time.sleep(0.1)  # pacing the active client's traffic, not waiting on a condition


if __name__ == "__main__":
    h.main()
