"""Compatibility through Debian's python3-redis (redis-py), run by /usr/bin/python3."""

import unittest

import redis

import shoal_harness as h


class RedisPyTestCase(h.ServerTestCase):
    """One server for the class; each test gets a redis-py client in self.r
    and an empty keyspace."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def setUp(self):
        self.r = redis.Redis(host=self.server.host, port=self.server.port, socket_timeout=10)
        self.addCleanup(self.r.close)
        self.r.flushall()


class PythonRedisTest(RedisPyTestCase):

    def test_strings(self):
        r = self.r
        self.assertTrue(r.set("k", "v"))
        self.assertEqual(r.get("k"), b"v")
        self.assertIsNone(r.get("missing"))
        self.assertIsNone(r.set("k", "w", nx=True))
        self.assertTrue(r.set("k", "w", xx=True))
        self.assertEqual(r.getset("k", "z"), b"w")
        self.assertTrue(r.mset({"a": "1", "b": "2"}))
        self.assertEqual(r.mget("a", "nope", "b"), [b"1", None, b"2"])
        self.assertEqual(r.incr("a"), 2)
        self.assertEqual(r.incrby("a", 10), 12)
        self.assertEqual(r.decr("a"), 11)
        self.assertEqual(r.incrbyfloat("f", 2.5), 2.5)
        self.assertEqual(r.append("b", "34"), 3)
        self.assertEqual(r.strlen("b"), 3)
        self.assertEqual(r.getrange("b", 0, 1), b"23")
        blob = bytes(range(256))
        self.assertTrue(r.set(b"bin\x00", blob))
        self.assertEqual(r.get(b"bin\x00"), blob)
        self.assertEqual(r.exists("a", "b", "nope"), 2)
        self.assertEqual(r.delete("a", "b", "nope"), 2)
        self.assertEqual(r.type("k"), b"string")
        self.assertTrue(r.ping())
        self.assertEqual(r.echo("hi"), b"hi")

    def test_expiry(self):
        r = self.r
        self.assertTrue(r.set("e", "v", ex=100))
        self.assertTrue(99 <= r.ttl("e") <= 100)
        self.assertTrue(98000 < r.pttl("e") <= 100000)
        self.assertEqual(r.ttl("missing"), -2)
        r.set("plain", "v")
        self.assertEqual(r.ttl("plain"), -1)
        self.assertTrue(r.expire("plain", 50))
        self.assertTrue(r.persist("plain"))
        self.assertEqual(r.ttl("plain"), -1)
        self.assertTrue(r.set("short", "v", px=200))
        self.assertEqual(r.get("short"), b"v")
        h.wait_for(lambda: r.get("short") is None, 5, "short to expire")
        self.assertTrue(r.setex("sx", 100, "v"))
        self.assertTrue(r.psetex("psx", 100000, "v"))
        self.assertGreater(r.pttl("psx"), 0)

    def test_pipeline(self):
        r = self.r
        n = 2000
        p = r.pipeline(transaction=False)
        for i in range(n):
            p.set("p:%d" % i, "v%d" % i)
        for i in range(n):
            p.get("p:%d" % i)
        p.incr("p:0")  # not an integer: an error in the middle
        p.incr("counter")
        results = p.execute(raise_on_error=False)
        self.assertEqual(len(results), 2 * n + 2)
        self.assertEqual(results[:n], [True] * n)
        self.assertEqual(results[n : 2 * n], [b"v%d" % i for i in range(n)])
        self.assertIsInstance(results[2 * n], redis.ResponseError)
        self.assertEqual(str(results[2 * n]), "value is not an integer or out of range")
        self.assertEqual(results[2 * n + 1], 1)

    def test_transaction_pipeline(self):
        # Keys share a hash tag so that the same test runs on a cluster
        # (test_cluster_python.py), where a transaction's keys must share
        # one replica set.
        # pipeline() is transactional by default: MULTI ... EXEC.
        r = self.r
        with r.pipeline() as p:
            p.set("{t}:a", "1").incr("{t}:a").incr("{t}:n").get("{t}:a")
            self.assertEqual(p.execute(), [True, 2, 1, b"2"])
        # A runtime error is an element; the other commands ran.
        r.set("{t}:s", "text")
        with r.pipeline() as p:
            p.incr("{t}:s").set("{t}:b", "x")
            results = p.execute(raise_on_error=False)
        self.assertIsInstance(results[0], redis.ResponseError)
        self.assertEqual(results[1], True)
        self.assertEqual(r.get("{t}:b"), b"x")
        # A queue-time error discards the whole transaction.
        with r.pipeline() as p:
            p.incr("{t}:n").execute_command("NOSUCHCOMMAND")
            with self.assertRaises(redis.ResponseError):
                p.execute()
        self.assertEqual(r.get("{t}:n"), b"1")

    def test_watch_and_transaction_helper(self):
        r = self.r
        r.set("w:n", "5")
        other = redis.Redis(host=self.server.host, port=self.server.port, socket_timeout=10)
        self.addCleanup(other.close)
        with r.pipeline() as p:
            p.watch("w:n")
            other.set("w:n", "6")  # a write by another client after WATCH
            p.multi()
            p.incr("w:n")
            with self.assertRaises(redis.WatchError):
                p.execute()
        self.assertEqual(r.get("w:n"), b"6")
        # redis-py's optimistic-locking helper retries until it commits.
        calls = []

        def double(pipe):
            value = int(pipe.get("w:n"))
            if not calls:
                other.set("w:n", value + 1)  # the first attempt is interfered with
            calls.append(value)
            pipe.multi()
            pipe.set("w:n", value * 2)

        r.transaction(double, "w:n")
        self.assertEqual(calls, [6, 7])
        self.assertEqual(r.get("w:n"), b"14")

    def test_rename_and_copy(self):
        r = self.r
        r.set("{rn}:a", "v", ex=100)
        self.assertTrue(r.rename("{rn}:a", "{rn}:b"))
        self.assertTrue(r.renamenx("{rn}:b", "{rn}:c"))
        self.assertTrue(r.copy("{rn}:c", "{rn}:d"))
        self.assertEqual(r.get("{rn}:d"), b"v")
        self.assertGreater(r.ttl("{rn}:d"), 90)
        with self.assertRaises(redis.ResponseError) as cm:
            r.rename("{rn}:nope", "{rn}:x")
        self.assertEqual(str(cm.exception), "no such key")

    def test_errors(self):
        r = self.r
        with self.assertRaises(redis.ResponseError) as cm:
            r.execute_command("foo", "a", "b")
        self.assertEqual(str(cm.exception), "unknown command 'foo', with args beginning with: 'a' 'b' ")
        with self.assertRaises(redis.ResponseError) as cm:
            r.execute_command("GET")
        self.assertEqual(str(cm.exception), "wrong number of arguments for 'get' command")
        with self.assertRaises(redis.ResponseError) as cm:
            r.execute_command("SET", "k", "v", "XX", "NX")
        self.assertEqual(str(cm.exception), "syntax error")
        r.set("s", "abc")
        with self.assertRaises(redis.ResponseError) as cm:
            r.incr("s")
        self.assertEqual(str(cm.exception), "value is not an integer or out of range")
        self.assertTrue(r.ping())

    def test_scan_iter(self):
        r = self.r
        n = 500
        p = r.pipeline(transaction=False)
        for i in range(n):
            p.set("scan:%d" % i, i)
        p.set("other", 1)
        p.execute()
        keys = list(r.scan_iter(match="scan:*", count=40))
        self.assertEqual(len(set(keys)), n)
        self.assertEqual(set(keys), {b"scan:%d" % i for i in range(n)})
        self.assertEqual(len(set(r.scan_iter(count=100))), n + 1)
        self.assertEqual(r.dbsize(), n + 1)
        self.assertEqual(sorted(r.keys("oth*")), [b"other"])

    def test_session_hash_flow(self):
        # A web session kept in a hash: fields set at login, a counter bumped
        # per request, an idle timeout, a field dropped at logout.
        r = self.r
        self.assertEqual(r.hset("session:42", mapping={"user": "ann", "role": "admin", "hits": 0}), 3)
        self.assertEqual(r.hgetall("session:42"), {b"user": b"ann", b"role": b"admin", b"hits": b"0"})
        for _ in range(5):
            r.hincrby("session:42", "hits", 1)
        self.assertEqual(r.hget("session:42", "hits"), b"5")
        self.assertEqual(r.hincrbyfloat("session:42", "score", 1.5), 1.5)
        self.assertTrue(r.expire("session:42", 1800))
        self.assertTrue(1790 <= r.ttl("session:42") <= 1800)
        self.assertEqual(r.hdel("session:42", "role", "nope"), 1)
        self.assertEqual(r.hmget("session:42", "user", "role"), [b"ann", None])
        self.assertTrue(r.hexists("session:42", "user"))
        self.assertEqual(r.hlen("session:42"), 3)
        self.assertEqual(sorted(r.hkeys("session:42")), [b"hits", b"score", b"user"])
        self.assertEqual(r.type("session:42"), b"hash")
        self.assertTrue(1790 <= r.ttl("session:42") <= 1800)  # writes kept the TTL
        self.assertTrue(r.hsetnx("session:42", "theme", "dark"))
        self.assertFalse(r.hsetnx("session:42", "theme", "light"))
        self.assertEqual(dict(r.hscan_iter("session:42", match="u*")), {b"user": b"ann"})
        self.assertIn(r.hrandfield("session:42"), {b"user", b"hits", b"score", b"theme"})
        with self.assertRaises(redis.ResponseError) as cm:
            r.get("session:42")
        self.assertEqual(str(cm.exception), "WRONGTYPE Operation against a key holding the wrong kind of value")
        self.assertEqual(r.delete("session:42"), 1)
        self.assertEqual(r.hgetall("session:42"), {})

    def test_cart_set_flow(self):
        # A shopping cart kept in a set.
        r = self.r
        self.assertEqual(r.sadd("cart:7", "apple", "pear", "fig", "apple"), 3)
        self.assertEqual(r.srem("cart:7", "pear", "kiwi"), 1)
        self.assertEqual(r.smembers("cart:7"), {b"apple", b"fig"})
        self.assertEqual(r.scard("cart:7"), 2)
        self.assertTrue(r.sismember("cart:7", "fig"))
        self.assertFalse(r.sismember("cart:7", "pear"))
        self.assertEqual(r.smismember("cart:7", ["apple", "kiwi"]), [1, 0])
        self.assertEqual(set(r.sscan_iter("cart:7")), {b"apple", b"fig"})
        self.assertIn(r.srandmember("cart:7"), {b"apple", b"fig"})
        self.assertEqual(r.type("cart:7"), b"set")
        r.sadd("{c}:a", "1", "2", "3")
        r.sadd("{c}:b", "2", "3", "4")
        self.assertEqual(r.sinter("{c}:a", "{c}:b"), {b"2", b"3"})
        self.assertEqual(r.sunionstore("{c}:u", ["{c}:a", "{c}:b"]), 4)
        self.assertEqual(r.sdiff("{c}:a", "{c}:b"), {b"1"})
        self.assertTrue(r.smove("{c}:a", "{c}:b", "1"))
        self.assertEqual(r.scard("{c}:b"), 4)
        popped = r.spop("cart:7", 5)
        self.assertEqual(set(popped), {b"apple", b"fig"})
        self.assertEqual(r.exists("cart:7"), 0)


@unittest.skipIf(h.is_redis_server(), "GETV/SETV/DELV and siblings are shoal's own")
class PythonVersionsTest(RedisPyTestCase):
    """Siblings, contexts and counters through redis-py's execute_command."""

    def setUp(self):
        super().setUp()
        self.r.config_set("max-siblings", 100)
        self.r.config_set("siblings-warn", 25)

    def getv(self, key):
        ctx, values = self.r.execute_command("GETV", key)
        return ctx, values

    def test_stale_context_makes_siblings_and_a_covering_write_resolves_them(self):
        r = self.r
        self.assertTrue(r.set("cart", "a"))
        ctx, values = self.getv("cart")
        self.assertEqual(values, [b"a"])
        self.assertEqual(r.execute_command("SETV", "cart", ctx, "b"), b"OK")
        self.assertEqual(r.execute_command("SETV", "cart", ctx, "c"), b"OK")
        self.assertEqual(sorted(r.get("cart")), [b"b", b"c"])
        ctx2, values = self.getv("cart")
        self.assertEqual(sorted(values), [b"b", b"c"])
        self.assertNotEqual(ctx2, ctx)
        self.assertEqual(r.execute_command("SETV", "cart", ctx2, "b+c"), b"OK")
        self.assertEqual(r.get("cart"), b"b+c")

    def test_read_modify_write_on_siblings_is_refused(self):
        r = self.r
        r.set("k", "v")
        ctx, _ = self.getv("k")
        r.execute_command("SETV", "k", ctx, "x")
        r.execute_command("SETV", "k", ctx, "y")
        for call in (lambda: r.append("k", "z"), lambda: r.incr("k"), lambda: r.getset("k", "w"),
                     lambda: r.strlen("k"), lambda: r.expire("k", 10)):
            with self.assertRaises(redis.ResponseError) as e:
                call()
            self.assertTrue(str(e.exception).startswith("CONFLICT 2 siblings"), str(e.exception))
        # A plain SET supersedes everything this node has seen.
        self.assertTrue(r.set("k", "final"))
        self.assertEqual(r.get("k"), b"final")

    def test_delv_and_expiry_in_versions(self):
        r = self.r
        r.set("d", "v")
        ctx, _ = self.getv("d")
        self.assertEqual(r.execute_command("DELV", "d", ctx), 1)
        self.assertIsNone(r.get("d"))
        ctx, values = self.getv("d")
        self.assertEqual(values, [])
        self.assertEqual(r.execute_command("SETV", "d", ctx, "again", "PX", "100000"), b"OK")
        self.assertGreater(r.pttl("d"), 90000)

    def test_counters_converge(self):
        r = self.r
        self.assertEqual(r.incr("n"), 1)
        self.assertEqual(r.incrby("n", 41), 42)
        self.assertEqual(r.decrby("n", 2), 40)
        self.assertEqual(r.get("n"), b"40")
        _, values = self.getv("n")
        self.assertEqual(values, [b"40"])
        r.set("s", "10")
        self.assertEqual(r.incr("s"), 11)

    def test_bad_context_and_sibling_limit(self):
        r = self.r
        with self.assertRaises(redis.ResponseError) as e:
            r.execute_command("SETV", "k", "not-a-context", "v")
        self.assertEqual(str(e.exception), "invalid context")
        r.config_set("max-siblings", 3)
        r.config_set("siblings-warn", 2)
        warned = r.info("stats")["sibling_warnings"]
        ctx, _ = self.getv("k")  # the empty context
        for v in ("a", "b", "c"):
            r.execute_command("SETV", "k", ctx, v)
        with self.assertRaises(redis.ResponseError) as e:
            r.execute_command("SETV", "k", ctx, "d")
        self.assertTrue(str(e.exception).startswith("CONFLICT 3 siblings"), str(e.exception))
        self.assertEqual(sorted(r.get("k")), [b"a", b"b", b"c"])
        self.assertGreater(r.info("stats")["sibling_warnings"], warned)
        self.assertGreaterEqual(r.info("stats")["sibling_conflicts"], 1)


if __name__ == "__main__":
    h.main()
