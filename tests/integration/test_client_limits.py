"""Memory one client can make the node hold: client-output-buffer-limit, the
output limit before AUTH, and the argument vector against
client-query-buffer-limit. Each test checks that the client is closed, that the
node's memory comes back down and that other clients are served meanwhile."""

import os
import shutil
import socket
import time
import unittest

import shoal_harness as h

MB = 1024 * 1024


def info_fields(c, section):
    out = {}
    for line in c.call("INFO", section).decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def stat(c, name):
    return int(info_fields(c, "stats")[name])


def used_memory(c):
    return int(info_fields(c, "memory")["used_memory"])


def client_list(c):
    rows = []
    for line in c.call("CLIENT", "LIST").decode().splitlines():
        rows.append(dict(f.split("=", 1) for f in line.split(" ") if "=" in f))
    return rows


def slow_reader(server):
    """A client with a small receive buffer that never reads."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(h.IO_TIMEOUT)
    s.connect((server.host, server.port))
    return s


def send_ignoring_close(sock, data):
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        return False


class LimitsTestCase(h.ServerTestCase):
    def wait_disconnections(self, c, field, n=1, timeout=10):
        h.wait_for(lambda: stat(c, field) >= n, timeout, "%s reached %d" % (field, n))

    def assert_ping_fast(self, c, bound=0.5):
        t = time.monotonic()
        self.assertEqual(c.call("PING"), "PONG")
        self.assertLess(time.monotonic() - t, bound)

    def assert_memory_back(self, c, start, slack=16 * MB):
        h.wait_for(lambda: used_memory(c) < start + slack, 10,
                   "used_memory back near %d (now %d)" % (start, used_memory(c)))


class OutputBufferLimitTest(LimitsTestCase):
    def test_config_get_and_set(self):
        server = self.start_server()
        c = self.client(server)
        self.assertEqual(c.call("CONFIG", "GET", "client-output-buffer-limit"),
                         [b"client-output-buffer-limit",
                          b"normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"])
        self.assertEqual(c.call("CONFIG", "SET", "client-output-buffer-limit",
                                "normal 10mb 5mb 1 replica 1mb 1mb 0"), "OK")
        self.assertEqual(c.call("CONFIG", "GET", "client-output-buffer-limit")[1],
                         b"normal 10485760 5242880 1 slave 1048576 1048576 0 pubsub 33554432 8388608 60")
        for bad, why in (("normal 1 2", "Wrong number of arguments"),
                         ("master 1 2 3", "Invalid client class"),
                         ("normal 1x 2 3", "Error in hard, soft or soft_seconds")):
            with self.assertRaises(h.ReplyError) as e:
                c.call("CONFIG", "SET", "client-output-buffer-limit", bad)
            self.assertIn(why, e.exception.message)

    def test_hard_limit_closes_a_client_that_does_not_read(self):
        server = self.start_server(args=["--client-output-buffer-limit", "normal 10mb 5mb 1"])
        c = self.client(server)
        c.call("SET", "big", b"v" * MB)
        start = used_memory(c)
        hog = slow_reader(server)
        self.addCleanup(hog.close)
        # 200 GETs of 1 MiB in one write: 200 MiB of replies if nothing stops it.
        send_ignoring_close(hog, h.encode_command("GET", "big") * 200)
        self.wait_disconnections(c, "client_output_buffer_limit_disconnections")
        self.assert_ping_fast(c)
        h.wait_for(lambda: len(client_list(c)) == 1, 10, "the hog gone from CLIENT LIST")
        self.assert_memory_back(c, start)
        self.assertIn("scheduled to be closed ASAP for overcoming of output buffer limits.",
                      server.current_output())
        # The hog's connection is closed: once its buffered bytes are read, EOF.
        hog.settimeout(10)
        got = 0
        try:
            while True:
                data = hog.recv(1 << 20)
                if not data:
                    break
                got += len(data)
        except ConnectionResetError:
            pass
        self.assertLess(got, 12 * MB)

    def test_soft_limit_closes_after_its_seconds(self):
        server = self.start_server(args=["--client-output-buffer-limit", "normal 10mb 5mb 1"])
        c = self.client(server)
        c.call("SET", "v", b"s" * (256 * 1024))
        hog = slow_reader(server)
        self.addCleanup(hog.close)
        my_id = str(c.call("CLIENT", "ID"))

        def hog_omem():
            rows = [r for r in client_list(c) if r["id"] != my_id]
            return int(rows[0]["omem"]) if rows else 0

        # The kernel's socket buffers take the first few MiB: add 256 KiB
        # replies until the pending output is over the soft limit. It cannot
        # have been over it before the first of them.
        t_first = time.monotonic()
        for _ in range(200):
            if hog_omem() >= 5 * MB:
                break
            self.assertTrue(send_ignoring_close(hog, h.encode_command("GET", "v")))
            time.sleep(0.01)
        self.assertGreaterEqual(hog_omem(), 5 * MB)
        row = [r for r in client_list(c) if int(r["omem"]) >= 5 * MB][0]
        self.assertGreaterEqual(int(row["tot-mem"]), int(row["omem"]))
        self.assertEqual(stat(c, "client_output_buffer_limit_disconnections"), 0)
        t0 = time.monotonic()
        # One more 256 KiB reply every 100 ms: still under the hard limit
        # when the soft one's second has passed.
        while stat(c, "client_output_buffer_limit_disconnections") == 0:
            self.assertLess(time.monotonic() - t0, 5, "not closed 5 s after passing the soft limit")
            if not send_ignoring_close(hog, h.encode_command("GET", "v")):
                break
            time.sleep(0.1)
        self.wait_disconnections(c, "client_output_buffer_limit_disconnections")
        # Closed once over the soft limit for longer than its second.
        self.assertGreaterEqual(time.monotonic() - t_first, 1.0)

    def test_reading_client_is_not_closed(self):
        server = self.start_server(args=["--client-output-buffer-limit", "normal 10mb 5mb 1"])
        c = self.client(server)
        c.call("SET", "big", b"v" * MB)
        for r in c.pipeline([("GET", "big")] * 4):
            self.assertEqual(len(r), MB)
        self.assertEqual(stat(c, "client_output_buffer_limit_disconnections"), 0)


class UnauthenticatedOutputTest(LimitsTestCase):
    def test_unauthenticated_client_that_does_not_read_is_closed(self):
        server = self.start_server(args=["--requirepass", "secret"], password="secret")
        c = self.client(server)
        start = used_memory(c)
        hog = slow_reader(server)
        self.addCleanup(hog.close)
        burst = b"AUTH x\r\n" * 8192
        for _ in range(200):
            if not send_ignoring_close(hog, burst):
                break
            if stat(c, "client_output_buffer_limit_disconnections") >= 1:
                break
        self.wait_disconnections(c, "client_output_buffer_limit_disconnections")
        self.assert_ping_fast(c)
        self.assert_memory_back(c, start)

    def test_authenticated_pipeline_is_not_limited_so(self):
        server = self.start_server(args=["--requirepass", "secret"], password="secret")
        c = self.client(server)
        replies = c.pipeline([("SET", "k%d" % i, "x" * 100) for i in range(2000)])
        self.assertEqual(set(replies), {"OK"})
        self.assertEqual(stat(c, "client_output_buffer_limit_disconnections"), 0)


class ArgumentVectorTest(LimitsTestCase):
    def test_huge_argument_count_counts_against_query_buffer_limit(self):
        server = self.start_server(args=["--client-query-buffer-limit", "1mb"])
        c = self.client(server)
        c.call("SET", "k", "v")
        start = used_memory(c)
        hog = h.Client(server.host, server.port)
        self.addCleanup(hog.close)
        hog.send_raw(b"*1000000000\r\n")
        chunk = b"$0\r\n\r\n" * 10000
        for _ in range(200):  # 12 MB of empty arguments: 2 million of them
            if not send_ignoring_close(hog.sock, chunk):
                break
        self.assertEqual(hog.read_until_closed(), b"")
        self.assertEqual(stat(c, "client_query_buffer_limit_disconnections"), 1)
        self.assertIn("Closing client that reached max query buffer length", server.current_output())
        self.assert_memory_back(c, start, slack=8 * MB)
        self.assertServesOthers(server, "k", b"v")


class BigValueTest(LimitsTestCase):
    def test_del_of_a_big_value_does_not_stall_the_loop(self):
        # appendonly no: the disk's speed is not what is measured here.
        server = self.start_server(args=["--appendonly", "no"])
        c = self.client(server)
        pinger = self.client(server)
        c.call("SET", "big", b"x" * (256 * MB))
        c.send("DEL", "big")
        worst = 0.0
        deadline = time.monotonic() + 10
        done = None
        while done is None:
            self.assertLess(time.monotonic(), deadline, "DEL did not answer")
            t = time.monotonic()
            self.assertEqual(pinger.call("PING"), "PONG")
            worst = max(worst, time.monotonic() - t)
            c.sock.settimeout(0.001)
            try:
                done = c.read_reply()
            except (socket.timeout, TimeoutError):
                pass
            finally:
                c.sock.settimeout(h.IO_TIMEOUT)
        self.assertEqual(done, 1)
        # Decoding the old 256 MB value held the loop for over a second.
        self.assertLess(worst, 0.5)


class LowFileLimitServer(h.Server):
    """A server started under `prlimit --nofile=256:256`, unable to raise it
    (as root, CAP_SYS_RESOURCE is dropped from the bounding set)."""

    def command_line(self):
        prefix = ["prlimit", "--nofile=256:256"]
        if os.geteuid() == 0:
            prefix += ["setpriv", "--bounding-set=-sys_resource", "--inh-caps=-sys_resource", "--"]
        return prefix + super().command_line()


class OpenFilesLimitTest(LimitsTestCase):
    @unittest.skipUnless(shutil.which("prlimit") and shutil.which("setpriv"), "needs prlimit and setpriv")
    def test_maxclients_lowered_to_fit_and_extra_clients_told(self):
        server = LowFileLimitServer()
        self._servers.append(server)
        self.addCleanup(server.stop)
        server.start()
        h.wait_for(lambda: "maxclients has been reduced to 128" in server.current_output(), 10,
                   "the maxclients warning")
        c = self.client(server)
        self.assertEqual(c.call("CONFIG", "GET", "maxclients"), [b"maxclients", b"128"])
        admitted, refused, other = [], 0, []
        for i in range(300):
            cl = h.Client(server.host, server.port)
            self.addCleanup(cl.close)
            try:
                cl.send("PING")
                r = cl.read_reply()
            except (h.ConnectionClosed, ConnectionResetError, BrokenPipeError) as e:
                other.append("client %d: %r" % (i, e))
                continue
            if r == "PONG":
                admitted.append(cl)
            elif isinstance(r, h.ReplyError) and r.message == "ERR max number of clients reached":
                refused += 1
                cl.read_until_closed()
                cl.close()
            else:
                other.append("client %d: %r" % (i, r))
        self.assertEqual(other, [])
        self.assertEqual(len(admitted), 127)  # c is the 128th
        self.assertEqual(refused, 300 - 127)
        self.assertEqual(c.call("PING"), "PONG")

    @unittest.skipUnless(shutil.which("prlimit") and shutil.which("setpriv"), "needs prlimit and setpriv")
    def test_config_set_maxclients_checks_the_open_file_limit(self):
        server = LowFileLimitServer()
        self._servers.append(server)
        self.addCleanup(server.stop)
        server.start()
        c = self.client(server)
        # 256 descriptors less the 128 reserved: 128 clients fit, not 129.
        with self.assertRaises(h.ReplyError) as err:
            c.call("CONFIG", "SET", "maxclients", "129")
        self.assertEqual(err.exception.message, "ERR CONFIG SET failed (possibly related to argument 'maxclients') - "
                         "The operating system is not able to handle the specified number of clients, "
                         "try with 128")
        self.assertEqual(c.call("CONFIG", "GET", "maxclients"), [b"maxclients", b"128"])
        # Lowering always works, and raising back within the limit too.
        self.assertEqual(c.call("CONFIG", "SET", "maxclients", "50"), "OK")
        self.assertEqual(c.call("CONFIG", "SET", "maxclients", "128"), "OK")
        self.assertEqual(c.call("CONFIG", "GET", "maxclients"), [b"maxclients", b"128"])


if __name__ == "__main__":
    h.main()
