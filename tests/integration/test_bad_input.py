"""Malformed input: the offender gets Redis's error (and is closed where Redis closes
it); everybody else keeps being served and the data stays intact."""

import random
import socket

import shoal_harness as h

KEY, VALUE = "sentinel", b"still-here"


class BadInputTest(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server(args=["--proto-max-bulk-len", "1mb"])

    def setUp(self):
        with self.server.client() as c:
            c.call("SET", KEY, VALUE)

    def tearDown(self):
        self.assertTrue(self.server.alive(), "server died")
        self.assertServesOthers(self.server, KEY, VALUE)

    def offender(self):
        return self.client(self.server)

    def check_closed_with(self, payload, expected):
        c = self.offender()
        c.send_raw(payload)
        self.assertClosed(c, expected)

    def test_invalid_multibulk_length(self):
        self.check_closed_with(b"*99999999999\r\n", b"-ERR Protocol error: invalid multibulk length\r\n")
        self.check_closed_with(b"*2147483648\r\n", b"-ERR Protocol error: invalid multibulk length\r\n")
        self.check_closed_with(b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n")

    def test_invalid_bulk_length(self):
        self.check_closed_with(b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n")
        self.check_closed_with(b"*2\r\n$4\r\nPING\r\n$-1\r\n", b"-ERR Protocol error: invalid bulk length\r\n")
        self.check_closed_with(b"*1\r\n$x\r\n", b"-ERR Protocol error: invalid bulk length\r\n")

    def test_bulk_over_proto_max_bulk_len(self):
        # 1mb = 1048576 is the limit itself: accepted; one more byte is not.
        self.check_closed_with(b"*1\r\n$1048577\r\n", b"-ERR Protocol error: invalid bulk length\r\n")
        self.check_closed_with(b"*1\r\n$2000000\r\n", b"-ERR Protocol error: invalid bulk length\r\n")
        with self.server.client() as c:
            big = b"b" * 1048576
            self.assertEqual(c.call("SET", "big", big), "OK")
            self.assertEqual(c.call("STRLEN", "big"), len(big))
            self.assertEqual(c.call("DEL", "big"), 1)

    def test_expected_dollar(self):
        self.check_closed_with(b"*3\r\nxx\r\n", b"-ERR Protocol error: expected '$', got 'x'\r\n")
        self.check_closed_with(b"*1\r\n:4\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n")
        # Good commands before the bad one are answered first, in order.
        self.check_closed_with(
            b"PING\r\n*2\r\n$3\r\nGET\r\n$8\r\nsentinel\r\n*3\r\nxx\r\n",
            b"+PONG\r\n$10\r\nstill-here\r\n-ERR Protocol error: expected '$', got 'x'\r\n",
        )

    def test_incomplete_dollar_line_waits(self):
        # Redis needs the CRLF before judging the line: "xx" alone is just pending.
        c = self.offender()
        c.send_raw(b"*3\r\nxx")
        c.expect_no_data(0.3)
        self.assertServesOthers(self.server, KEY, VALUE)
        c.send_raw(b"\r\n")
        self.assertClosed(c, b"-ERR Protocol error: expected '$', got 'x'\r\n")

    def test_too_big_count_strings(self):
        self.check_closed_with(b"*" + b"1" * 70000, b"-ERR Protocol error: too big mbulk count string\r\n")
        self.check_closed_with(b"*1\r\n$" + b"1" * 70000, b"-ERR Protocol error: too big bulk count string\r\n")
        self.check_closed_with(b"x" * 70000, b"-ERR Protocol error: too big inline request\r\n")

    def test_empty_and_null_multibulk_are_ignored(self):
        with self.server.client() as c:
            c.send_raw(b"*0\r\n*-1\r\n\r\nPING\r\n")
            self.assertEqual(c.read_reply(), "PONG")
            c.expect_no_data(0.1)

    def test_half_request_then_disconnect(self):
        for payload in (
            b"*3\r\n$3\r\nSET\r\n$8\r\nsentinel\r\n$5\r\nab",
            b"*2\r\n$3\r\nGET",
            b"SET sentinel bro",
            b"*1\r\n$1000000\r\n" + b"z" * 500000,
        ):
            c = h.Client(self.server.host, self.server.port)
            c.send_raw(payload)
            c.close()
            self.assertServesOthers(self.server, KEY, VALUE)

    def test_huge_multibulk_count_is_bounded(self):
        # A count near INT_MAX is legal but must not preallocate; the server keeps
        # serving while the offender sits on it, then drops it on disconnect.
        offenders = []
        for _ in range(20):
            c = self.offender()
            c.send_raw(b"*2147483647\r\n$3\r\nSET\r\n")
            offenders.append(c)
        for c in offenders:
            c.expect_no_data(0.01)
        self.assertServesOthers(self.server, KEY, VALUE)
        for c in offenders:
            c.close()

    def test_random_bytes(self):
        rng = random.Random(1234)
        for i in range(30):
            blob = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096)))
            c = h.Client(self.server.host, self.server.port, timeout=5)
            try:
                c.send_raw(blob)
                # Whatever it makes of the bytes, it must answer or close; it must
                # not crash. Read what arrives briefly, then hang up.
                c.sock.settimeout(0.05)
                try:
                    while c.sock.recv(65536):
                        pass
                except (socket.timeout, ConnectionResetError):
                    pass
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                c.close()
            self.assertTrue(self.server.alive(), "server died on random blob %d" % i)
        self.assertServesOthers(self.server, KEY, VALUE)


class QueryBufferLimitTest(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server(args=["--client-query-buffer-limit", "1mb"])

    def test_client_over_query_buffer_limit_is_closed(self):
        with self.server.client() as c:
            c.call("SET", KEY, VALUE)
        c = self.client(self.server)
        c.send_raw(b"*1\r\n$3000000\r\n")
        chunk = b"a" * 65536
        sent = 0
        try:
            while sent < 3000000:
                c.send_raw(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we were still sending: that is the expected outcome
        # Redis closes without a reply.
        data = c.read_until_closed()
        self.assertEqual(data, b"")
        self.assertServesOthers(self.server, KEY, VALUE)

    def test_below_limit_is_fine(self):
        with self.server.client() as c:
            v = b"q" * 900000
            self.assertEqual(c.call("SET", "nearly", v), "OK")
            self.assertEqual(c.call("GET", "nearly"), v)


if __name__ == "__main__":
    h.main()
