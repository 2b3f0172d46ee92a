"""The unmodified redis-benchmark against one node of a 3-node cluster
(N=3, R=2, W=2): every request succeeds, and the keys it wrote are readable
through the other nodes. No figure is judged (timings live in `make bench`).
Small -n: under `make sanitize` a 3-node cluster does ~2000 requests a second."""

import re

import cluster_harness as ch
import shoal_harness as h


@ch.skip_unless_shoal
class ClusterRedisBenchmarkTest(ch.ClusterTestCase):
    @classmethod
    def setUpClass(cls):
        cls.cl = cls.start_class_cluster(3, replicas=3, read_quorum=2, write_quorum=2)

    def setUp(self):
        self.c = [self.client(n) for n in self.cl]
        self.c[0].call("FLUSHALL")

    def bench(self, node, *args):
        return h.run_redis_benchmark(self, node.host, node.port, *args, timeout=180)

    def test_set_get_quiet(self):
        lines = self.bench(self.cl[0], "-t", "set,get", "-n", "5000", "-q")
        for t in ("SET", "GET"):
            self.assertTrue(any(re.search(r"^%s: [0-9.]+ requests per second" % t, l) for l in lines), lines)
        # Without -r every SET hits one literal key: readable through every node.
        for c in self.c:
            self.assertEqual(c.call("STRLEN", "key:__rand_int__"), 3)

    def test_set_get_csv(self):
        lines = self.bench(self.cl[1], "-t", "set,get", "-n", "5000", "--csv")
        rows = [l for l in lines if l.startswith('"') and not l.startswith('"test"')]
        self.assertEqual([r.split(",")[0].strip('"') for r in rows], ["SET", "GET"])
        for r in rows:
            self.assertGreater(float(r.split(",")[1].strip('"')), 0)

    def test_container_tests(self):
        # SADD, HSET and SPOP of redis-benchmark's default set, through one
        # node; the set and hash are read through the others. Each test
        # writes one key (one container of up to 500 elements, re-encoded on
        # every write), so -n stays small for the sanitizer build.
        lines = self.bench(self.cl[1], "-t", "sadd,hset,spop", "-n", "1000", "-r", "500", "-q")
        for t in ("SADD", "HSET", "SPOP"):
            self.assertTrue(any(re.search(r"^%s: [0-9.]+ requests per second" % t, l) for l in lines), lines)
        hlens = [c.call("HLEN", "myhash") for c in self.c]
        self.assertEqual(len(set(hlens)), 1, hlens)
        self.assertGreater(hlens[0], 100)
        self.assertEqual(len({tuple(sorted(c.call("SMEMBERS", "myset"))) for c in self.c}), 1)

    def test_pipelined_random_keys(self):
        self.bench(self.cl[2], "-t", "set,get,incr,mset", "-n", "5000", "-P", "16", "-r", "1000", "-c", "20", "-q")
        sizes = [c.call("DBSIZE") for c in self.c]
        self.assertEqual(len(set(sizes)), 1, sizes)
        self.assertGreater(sizes[0], 500)
        keys = self.c[0].call("KEYS", "key:*")[:50]
        values = self.c[0].call("MGET", *keys)
        self.assertEqual(self.c[1].call("MGET", *keys), values)
        self.assertTrue(all(v is not None for v in values))


if __name__ == "__main__":
    h.main()
