"""Pipelining, byte-at-a-time requests and many concurrent clients."""

import threading

import shoal_harness as h


class PipelineTest(h.SharedServerTestCase):
    def test_ten_thousand_pipelined_in_one_write(self):
        n = 10000
        cmds = []
        for i in range(n):
            if i % 3 == 0:
                cmds.append(("SET", "key:%d" % i, "value:%d" % i))
            elif i % 3 == 1:
                cmds.append(("GET", "key:%d" % (i - 1)))
            else:
                cmds.append(("INCR", "counter"))
        replies = self.c.pipeline(cmds)
        self.assertEqual(len(replies), n)
        incrs = 0
        for i, r in enumerate(replies):
            if i % 3 == 0:
                self.assertEqual(r, "OK", "reply %d" % i)
            elif i % 3 == 1:
                self.assertEqual(r, b"value:%d" % (i - 1), "reply %d" % i)
            else:
                incrs += 1
                self.assertEqual(r, incrs, "reply %d" % i)
        self.assertEqual(self.c.call("GET", "counter"), b"%d" % incrs)

    def test_pipelined_errors_keep_order(self):
        replies = self.c.pipeline([("SET", "a", "1"), ("NOSUCH",), ("GET", "a"), ("GET",), ("INCR", "a"), ("PING",)])
        self.assertEqual(replies[0], "OK")
        self.assertReplyError(replies[1], "ERR unknown command 'NOSUCH', with args beginning with: ")
        self.assertEqual(replies[2], b"1")
        self.assertReplyError(replies[3], "ERR wrong number of arguments for 'get' command")
        self.assertEqual(replies[4], 2)
        self.assertEqual(replies[5], "PONG")

    def test_request_split_one_byte_at_a_time(self):
        value = b"v\r\nwith\r\ncrlf" * 3
        data = h.encode_command("SET", "split", value) + h.encode_command("GET", "split") + b"PING\r\n"
        for i in range(len(data)):
            self.c.send_raw(data[i : i + 1])
        self.assertEqual(self.c.read_reply(), "OK")
        self.assertEqual(self.c.read_reply(), value)
        self.assertEqual(self.c.read_reply(), "PONG")

    def test_hundred_concurrent_clients(self):
        nclients, nops = 100, 300
        errors = []
        barrier = threading.Barrier(nclients)

        def worker(idx):
            try:
                with self.server.client() as c:
                    barrier.wait(timeout=30)
                    for j in range(nops):
                        key = "c%d:k%d" % (idx, j % 17)
                        val = "v%d-%d" % (idx, j)
                        if c.call("SET", key, val) != "OK":
                            raise AssertionError("SET failed")
                        got = c.call("GET", key)
                        if got != val.encode():
                            raise AssertionError("client %d op %d: got %r want %r" % (idx, j, got, val))
                        c.call("INCR", "shared")
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append("client %d: %r" % (idx, e))

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(nclients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        self.assertFalse(any(t.is_alive() for t in threads), "worker threads hung")
        self.assertEqual(errors, [])
        self.assertEqual(self.c.call("GET", "shared"), b"%d" % (nclients * nops))
        self.assertEqual(self.c.call("DBSIZE"), nclients * 17 + 1)


if __name__ == "__main__":
    h.main()
