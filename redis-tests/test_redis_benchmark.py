"""Compatibility through the unmodified redis-benchmark (no figures are judged:
timings live in `make bench`; this only checks that every request succeeds)."""

import re

import shoal_harness as h

TESTS = ["SET", "GET", "INCR", "ZADD", "ZPOPMIN", "MSET (10 keys)"]


class RedisBenchmarkTest(h.SharedServerTestCase):
    def bench(self, *args):
        return h.run_redis_benchmark(self, self.server.host, self.server.port, *args)

    def check_keys_written(self):
        # Without -r every SET/INCR/MSET hits one literal key.
        self.assertEqual(self.c.call("STRLEN", "key:__rand_int__"), 3)  # -d default: 3 bytes
        self.assertGreater(int(self.c.call("GET", "counter:__rand_int__")), 0)

    def test_quiet(self):
        lines = self.bench("-t", "set,get,incr,zadd,zpopmin,mset", "-n", "20000", "-q")
        for t in TESTS:
            pat = re.compile(r"^%s: [0-9.]+ requests per second" % re.escape(t))
            self.assertTrue(any(pat.search(l) for l in lines), "no result line for %s in %r" % (t, lines))
        self.check_keys_written()

    def test_csv(self):
        lines = self.bench("-t", "set,get,incr,zadd,zpopmin,mset", "-n", "20000", "--csv")
        rows = [l for l in lines if l.startswith('"') and not l.startswith('"test"')]
        names = [r.split(",")[0].strip('"') for r in rows]
        self.assertEqual(names, TESTS)
        for r in rows:
            rps = float(r.split(",")[1].strip('"'))
            self.assertGreater(rps, 0)
        self.check_keys_written()

    def test_pipelined_random_keys(self):
        lines = self.bench("-t", "set,get", "-n", "20000", "-P", "16", "-r", "1000", "-c", "20", "-q")
        for t in ("SET", "GET"):
            self.assertTrue(any(l.startswith(t + ":") and "requests per second" in l for l in lines), lines)
        self.assertGreater(self.c.call("DBSIZE"), 500)


if __name__ == "__main__":
    h.main()
