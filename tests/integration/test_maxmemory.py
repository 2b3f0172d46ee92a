"""maxmemory: noeviction refuses writes with Redis's OOM error; the eviction
policies keep memory under the limit; volatile-* never evict keys without a
TTL; evictions are logged, so a restart does not bring evicted keys back."""

import shutil
import tempfile

import shoal_harness as h

OOM = "OOM command not allowed when used memory > 'maxmemory'."
VALUE = "x" * 1000


def info_field(c, section, name):
    for line in c.call("INFO", section).decode().splitlines():
        if line.startswith(name + ":"):
            return int(line.split(":", 1)[1])
    raise AssertionError("no %s in INFO %s" % (name, section))


class MaxmemoryTest(h.ServerTestCase):
    def fill(self, c, prefix, n, ttl=None):
        """SETs n keys in pipelined batches; returns the replies."""
        replies = []
        for start in range(0, n, 200):
            cmds = []
            for i in range(start, min(n, start + 200)):
                args = ["SET", "%s%d" % (prefix, i), VALUE]
                if ttl is not None:
                    args += ["EX", str(ttl)]
                cmds.append(tuple(args))
            replies += c.pipeline(cmds)
        return replies

    def test_noeviction_refuses_writes_but_serves_reads_and_deletes(self):
        s = self.start_server(["--maxmemory", "8mb", "--maxmemory-policy", "noeviction"])
        c = self.client(s)
        replies = self.fill(c, "k", 30000)
        errors = [r for r in replies if isinstance(r, h.ReplyError)]
        self.assertTrue(errors, "no write was refused past maxmemory")
        self.assertEqual(errors[0].message, OOM)
        self.assertEqual(c.call("GET", "k0"), VALUE.encode())
        self.assertEqual(c.call("DEL", "k0"), 1)
        # The fill's pipelined query buffers are freed by now and DEL freed a
        # key: single writes take the node back over the limit, after which
        # every write is refused.
        for i in range(5000):
            reply = c.request("SET", "top%d" % i, VALUE)
            if isinstance(reply, h.ReplyError):
                break
        self.assertReplyError(reply, OOM)
        self.assertReplyError(c.request("INCR", "fresh"), OOM)
        self.assertEqual(info_field(c, "stats", "evicted_keys"), 0)

    def test_allkeys_lru_stays_under_the_limit(self):
        s = self.start_server(["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"])
        c = self.client(s)
        replies = self.fill(c, "k", 30000)
        self.assertTrue(all(r == "OK" for r in replies), [r for r in replies if r != "OK"][:3])
        self.assertGreater(info_field(c, "stats", "evicted_keys"), 0)
        self.assertLessEqual(info_field(c, "memory", "used_memory"), 8 * 1024 * 1024 * 1.05)
        self.assertLess(c.call("DBSIZE"), 30000)

    def test_volatile_ttl_only_evicts_keys_with_a_ttl(self):
        s = self.start_server(["--maxmemory", "8mb", "--maxmemory-policy", "volatile-ttl"])
        c = self.client(s)
        self.assertTrue(all(r == "OK" for r in self.fill(c, "keep", 1000)))
        replies = self.fill(c, "ttl", 30000, ttl=3600)
        self.assertGreater(info_field(c, "stats", "evicted_keys"), 0)
        self.assertEqual(c.call("EXISTS", *["keep%d" % i for i in range(1000)]), 1000)
        # Once only keys without a TTL are left, writes are refused.
        self.fill(c, "more", 20000)
        self.assertReplyError(c.request("SET", "late", VALUE), OOM)
        self.assertEqual(c.call("EXISTS", *["keep%d" % i for i in range(1000)]), 1000)
        self.assertTrue(replies)

    def test_evictions_survive_a_restart(self):
        d = tempfile.mkdtemp(prefix="shoal-maxmemory-")
        self.addCleanup(shutil.rmtree, d, True)
        args = ["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-random", "--appendonly", "yes"]
        s = h.Server(args=args, dir=d, name="node")
        self._servers.append(s)
        self.addCleanup(s.stop)
        s.start()
        c = self.client(s)
        self.fill(c, "k", 30000)
        before = set(c.call("KEYS", "*"))
        self.assertLess(len(before), 30000)
        s.stop()
        s.start()
        after = set(self.client(s).call("KEYS", "*"))
        # No evicted key comes back from the log. The node may evict a few
        # more while it starts (its memory after a replay is not byte for
        # byte what it was), but keeps almost all of them.
        self.assertLessEqual(after, before)
        self.assertGreater(len(after), 0.9 * len(before))


if __name__ == "__main__":
    h.main()
