"""python3-redis (Debian's redis-py) against one node of a 3-node cluster
(N=3, R=2, W=2): the single-node redis-py tests pass unchanged, with zero
errors, and a few cluster-specific ones (clients on different nodes)."""

import redis

import cluster_harness as ch
import shoal_harness as h
import test_python_redis as single  # the single-node suite (same directory)


class ClusterRedisPy:
    """Mixin: one 3-node cluster for the class; self.r talks to node 1 and
    starts each test with an empty (cluster-wide FLUSHALL) keyspace."""

    @classmethod
    def setUpClass(cls):
        cls.cl = cls.start_class_cluster(3, replicas=3, read_quorum=2, write_quorum=2)
        cls.server = cls.cl[0]

    def redis_for(self, node):
        r = redis.Redis(host=node.host, port=node.port, socket_timeout=10)
        self.addCleanup(r.close)
        return r


@ch.skip_unless_shoal
class ClusterPythonRedisTest(ClusterRedisPy, single.PythonRedisTest, ch.ClusterTestCase):
    """Every test of test_python_redis.PythonRedisTest, through node 1."""


@ch.skip_unless_shoal
class ClusterOnlyRedisPyTest(ClusterRedisPy, single.RedisPyTestCase, ch.ClusterTestCase):
    def test_clients_on_every_node_see_each_other(self):
        rs = [self.redis_for(n) for n in self.cl]
        for i, r in enumerate(rs):
            p = r.pipeline(transaction=False)
            for j in range(300):
                p.set("n%d:%d" % (i, j), j)
            self.assertEqual(p.execute(), [True] * 300)
        for r in rs:
            for i in range(3):
                self.assertEqual(r.mget(["n%d:%d" % (i, j) for j in range(300)]), [b"%d" % j for j in range(300)])
            self.assertEqual(r.dbsize(), 900)
        self.assertEqual(len(set(rs[2].scan_iter(match="n1:*", count=50))), 300)

    def test_siblings_through_two_nodes(self):
        ra, rb, rc = (self.redis_for(n) for n in self.cl)
        ra.set("cart", "base")
        ctx, values = ra.execute_command("GETV", "cart")
        self.assertEqual(values, [b"base"])
        self.assertEqual(ra.execute_command("SETV", "cart", ctx, "a"), b"OK")
        self.assertEqual(rb.execute_command("SETV", "cart", ctx, "b"), b"OK")
        self.assertEqual(sorted(rc.get("cart")), [b"a", b"b"])
        ctx2, _ = rc.execute_command("GETV", "cart")
        self.assertEqual(rc.execute_command("SETV", "cart", ctx2, "a+b"), b"OK")
        self.assertEqual(ra.get("cart"), b"a+b")

    def test_cluster_commands(self):
        info = self.r.execute_command("CLUSTER", "INFO")
        self.assertIn(b"cluster_state:ok", info)
        self.assertIn(b"cluster_known_nodes:3", info)
        pl = self.r.execute_command("CLUSTER", "PREFLIST", "k")
        self.assertEqual(len(pl), 3)
        self.assertEqual(len(self.r.execute_command("CLUSTER", "NODES").splitlines()), 3)


if __name__ == "__main__":
    h.main()
