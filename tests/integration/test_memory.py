"""Memory given back: buffers that grow with a burst of large values (the
append-only log's write buffer and record buffer, a rewrite's queue) are
freed afterwards, so used_memory returns near where it started and an almost
empty node accepts writes under a small maxmemory."""

import shoal_harness as h


MB = 1000 * 1000
VALUE = b"x" * MB


def info(c, section):
    out = {}
    for line in c.call("INFO", section).decode().splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def used_memory(c):
    return int(info(c, "memory")["used_memory"])


class MemoryGivenBackTest(h.ServerTestCase):
    def load_and_delete(self, c, n, pipelined):
        keys = ["big%d" % i for i in range(n)]
        if pipelined:
            # One loop iteration logs every value: the log's buffer holds them all.
            self.assertEqual(c.pipeline([("SET", k, VALUE) for k in keys]), ["OK"] * n)
        else:
            for k in keys:
                self.assertEqual(c.call("SET", k, VALUE), "OK")
        self.assertGreater(used_memory(c), n * MB)
        self.assertEqual(c.call("DEL", *keys), n)

    def check_given_back(self, c, start):
        # The cron samples memory; wait for the figure rather than sleeping.
        h.wait_for(lambda: used_memory(c) < start + 2 * MB, 10,
                   "used_memory back near its start (%d)" % start)
        self.assertEqual(c.call("DBSIZE"), 0)
        self.assertEqual(c.call("CONFIG", "SET", "maxmemory", "10000000"), "OK")
        # The maxmemory check starts from the cron's sample of used_memory.
        for i in range(20):
            self.assertEqual(c.call("SET", "small%d" % i, "v"), "OK")

    def test_appendonly_burst_is_given_back(self):
        s = self.start_server(["--appendonly", "yes", "--appendfsync", "everysec"])
        c = self.client(s)
        start = used_memory(c)
        self.load_and_delete(c, 14, pipelined=True)
        self.load_and_delete(c, 14, pipelined=False)
        self.check_given_back(c, start)

    def test_rewrite_queue_is_given_back(self):
        s = self.start_server(["--appendonly", "yes"])
        c = self.client(s)
        start = used_memory(c)
        for i in range(10):
            self.assertEqual(c.call("SET", "big%d" % i, VALUE), "OK")
        self.assertEqual(c.call("BGREWRITEAOF"), "Background append only file rewriting started")
        # Writes while the rewrite runs are queued for the new file too.
        self.load_and_delete(c, 10, pipelined=True)
        h.wait_for(lambda: info(c, "persistence")["aof_rewrite_in_progress"] == "0", 30,
                   "the rewrite to finish")
        self.check_given_back(c, start)

    def test_large_value_reads_are_given_back(self):
        s = self.start_server(["--appendonly", "yes"])
        c = self.client(s)
        start = used_memory(c)
        for i in range(5):
            self.assertEqual(c.call("SET", "big%d" % i, VALUE), "OK")
        self.assertEqual(c.pipeline([("GET", "big%d" % i) for i in range(5)]), [VALUE] * 5)
        self.assertEqual(c.call("DEL", *["big%d" % i for i in range(5)]), 5)
        self.check_given_back(c, start)


if __name__ == "__main__":
    h.main()
