"""Key expiry: SET EX/PX, TTL/PTTL, lazy and active expiry."""

import shoal_harness as h


class ExpiryTest(h.SharedServerTestCase):
    def test_ttl_of_plain_and_missing_keys(self):
        self.c.call("SET", "plain", "v")
        self.assertEqual(self.c.call("TTL", "plain"), -1)
        self.assertEqual(self.c.call("PTTL", "plain"), -1)
        self.assertEqual(self.c.call("TTL", "missing"), -2)
        self.assertEqual(self.c.call("PTTL", "missing"), -2)

    def test_set_ex_ttl_decreases(self):
        self.assertEqual(self.c.call("SET", "k", "v", "EX", 100), "OK")
        ttl = self.c.call("TTL", "k")
        self.assertTrue(99 <= ttl <= 100, ttl)
        first = self.c.call("PTTL", "k")
        self.assertTrue(98000 < first <= 100000, first)
        h.wait_for(lambda: self.c.call("PTTL", "k") < first, 5, "PTTL decreasing")
        self.assertEqual(self.c.call("GET", "k"), b"v")

    def test_set_px_key_gone_after_expiry(self):
        self.assertEqual(self.c.call("SET", "k", "v", "PX", 300), "OK")
        pttl = self.c.call("PTTL", "k")
        self.assertTrue(0 < pttl <= 300, pttl)
        self.assertEqual(self.c.call("GET", "k"), b"v")
        h.wait_for(lambda: self.c.call("GET", "k") is None, 5, "key expired")
        self.assertEqual(self.c.call("TTL", "k"), -2)
        self.assertEqual(self.c.call("EXISTS", "k"), 0)

    def test_set_clears_ttl_keepttl_keeps_it(self):
        self.c.call("SET", "k", "v", "EX", 100)
        self.c.call("SET", "k", "w")
        self.assertEqual(self.c.call("TTL", "k"), -1)
        self.c.call("SET", "k", "v", "EX", 100)
        self.c.call("SET", "k", "w", "KEEPTTL")
        self.assertGreater(self.c.call("TTL", "k"), 0)

    def test_expire_family(self):
        self.c.call("SET", "k", "v")
        self.assertEqual(self.c.call("EXPIRE", "k", 100), 1)
        self.assertTrue(99 <= self.c.call("TTL", "k") <= 100)
        self.assertEqual(self.c.call("PEXPIRE", "k", 50000), 1)
        self.assertTrue(49000 <= self.c.call("PTTL", "k") <= 50000)
        self.assertEqual(self.c.call("PERSIST", "k"), 1)
        self.assertEqual(self.c.call("TTL", "k"), -1)
        self.assertEqual(self.c.call("PERSIST", "k"), 0)
        self.assertEqual(self.c.call("EXPIRE", "missing", 10), 0)
        self.assertEqual(self.c.call("SETEX", "s", 100, "v"), "OK")
        self.assertTrue(99 <= self.c.call("TTL", "s") <= 100)
        self.assertEqual(self.c.call("PSETEX", "p", 100000, "v"), "OK")
        self.assertTrue(99000 <= self.c.call("PTTL", "p") <= 100000)
        # A TTL in the past deletes the key at once.
        self.assertEqual(self.c.call("EXPIRE", "k", -1), 1)
        self.assertEqual(self.c.call("EXISTS", "k"), 0)
        self.assertReplyError(self.c.request("SETEX", "s", 0, "v"), "ERR invalid expire time in 'setex' command")

    def test_active_expiry_reclaims_unread_keys(self):
        n = 1000
        replies = self.c.pipeline([("SET", "ae:%d" % i, "v", "PX", 1500) for i in range(n)])
        self.assertEqual(replies, ["OK"] * n)
        self.c.call("SET", "survivor", "v")
        # Some may already be gone on a slow (sanitizer) build; most are not.
        self.assertGreater(self.c.call("DBSIZE"), 1)
        # Only DBSIZE is asked: no one reads the keys, so only active expiry can
        # bring the count down.
        h.wait_for(lambda: self.c.call("DBSIZE") == 1, 10, "DBSIZE dropping to 1 through active expiry")
        self.assertEqual(self.c.call("GET", "survivor"), b"v")


if __name__ == "__main__":
    h.main()
