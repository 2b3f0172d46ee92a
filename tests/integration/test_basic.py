"""Strings and key commands, exact error strings, inline commands."""

import shoal_harness as h


class BasicTest(h.SharedServerTestCase):
    def test_ping_echo(self):
        self.assertEqual(self.c.call("PING"), "PONG")
        self.assertEqual(self.c.call("PING", "hello"), b"hello")
        self.assertEqual(self.c.call("ECHO", "a\r\nb"), b"a\r\nb")

    def test_set_get_roundtrip(self):
        self.assertEqual(self.c.call("SET", "k", "v"), "OK")
        self.assertEqual(self.c.call("GET", "k"), b"v")
        self.assertIsNone(self.c.call("GET", "missing"))
        binary = bytes(range(256)) * 4
        self.assertEqual(self.c.call("SET", b"bin\x00key", binary), "OK")
        self.assertEqual(self.c.call("GET", b"bin\x00key"), binary)
        self.assertEqual(self.c.call("SET", "empty", ""), "OK")
        self.assertEqual(self.c.call("GET", "empty"), b"")
        big = b"x" * 200000
        self.assertEqual(self.c.call("SET", "big", big), "OK")
        self.assertEqual(self.c.call("GET", "big"), big)
        self.assertEqual(self.c.call("STRLEN", "big"), 200000)

    def test_set_options(self):
        self.assertIsNone(self.c.call("SET", "k", "v", "XX"))
        self.assertEqual(self.c.call("SET", "k", "v", "NX"), "OK")
        self.assertIsNone(self.c.call("SET", "k", "w", "NX"))
        self.assertEqual(self.c.call("SET", "k", "w", "XX"), "OK")
        self.assertEqual(self.c.call("SET", "k", "z", "GET"), b"w")
        self.assertEqual(self.c.call("GET", "k"), b"z")
        self.assertEqual(self.c.call("SETNX", "k", "q"), 0)
        self.assertEqual(self.c.call("SETNX", "k2", "q"), 1)
        self.assertEqual(self.c.call("GETSET", "k2", "r"), b"q")
        self.assertEqual(self.c.call("GETDEL", "k2"), b"r")
        self.assertEqual(self.c.call("EXISTS", "k2"), 0)

    def test_multi_key(self):
        self.assertEqual(self.c.call("MSET", "a", "1", "b", "2", "c", "3"), "OK")
        self.assertEqual(self.c.call("MGET", "a", "b", "nope", "c"), [b"1", b"2", None, b"3"])
        self.assertEqual(self.c.call("MSETNX", "c", "x", "d", "y"), 0)
        self.assertEqual(self.c.call("MSETNX", "d", "x", "e", "y"), 1)
        self.assertEqual(self.c.call("EXISTS", "a", "b", "nope", "a"), 3)
        self.assertEqual(self.c.call("DEL", "a", "b", "nope"), 2)
        self.assertEqual(self.c.call("UNLINK", "c"), 1)
        self.assertEqual(self.c.call("DBSIZE"), 2)
        self.assertEqual(sorted(self.c.call("KEYS", "*")), [b"d", b"e"])

    def test_counters_and_string_ops(self):
        self.assertEqual(self.c.call("INCR", "n"), 1)
        self.assertEqual(self.c.call("INCRBY", "n", 10), 11)
        self.assertEqual(self.c.call("DECR", "n"), 10)
        self.assertEqual(self.c.call("DECRBY", "n", 20), -10)
        self.assertEqual(self.c.call("GET", "n"), b"-10")
        self.assertEqual(self.c.call("SET", "n", "100"), "OK")
        self.assertEqual(self.c.call("INCR", "n"), 101)
        self.assertEqual(self.c.call("APPEND", "s", "foo"), 3)
        self.assertEqual(self.c.call("APPEND", "s", "bar"), 6)
        self.assertEqual(self.c.call("GET", "s"), b"foobar")
        self.assertEqual(self.c.call("GETRANGE", "s", 1, -2), b"ooba")
        self.assertEqual(self.c.call("SETRANGE", "s", 3, "BAZ"), 6)
        self.assertEqual(self.c.call("GET", "s"), b"fooBAZ")
        self.assertEqual(float(self.c.call("INCRBYFLOAT", "f", "1.5")), 1.5)

    def test_key_commands(self):
        self.c.call("SET", "k", "v")
        self.assertEqual(self.c.call("TYPE", "k"), "string")
        self.assertEqual(self.c.call("TYPE", "nokey"), "none")
        self.assertEqual(self.c.call("TOUCH", "k", "nokey"), 1)
        self.assertEqual(self.c.call("RANDOMKEY"), b"k")
        self.assertEqual(self.c.call("GETEX", "k", "EX", 100), b"v")
        self.assertGreater(self.c.call("TTL", "k"), 0)
        self.assertEqual(self.c.call("GETEX", "k", "PERSIST"), b"v")
        self.assertEqual(self.c.call("TTL", "k"), -1)
        self.c.call("SET", "k2", "v")
        self.c.call("DEL", "k")
        self.c.call("MSET", "u1", "1", "u2", "2", "other", "3")
        self.assertEqual(sorted(self.c.call("KEYS", "u*")), [b"u1", b"u2"])
        cursor, seen = b"0", set()
        for _ in range(1000):
            cursor, keys = self.c.call("SCAN", cursor, "COUNT", 2)
            seen.update(keys)
            if cursor == b"0":
                break
        self.assertEqual(seen, {b"k2", b"u1", b"u2", b"other"})
        self.assertEqual(self.c.call("FLUSHDB"), "OK")
        self.assertEqual(self.c.call("DBSIZE"), 0)

    def test_error_strings(self):
        c = self.c
        self.assertReplyError(c.request("foo", "a", "b"), "ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
        self.assertReplyError(c.request("GET"), "ERR wrong number of arguments for 'get' command")
        self.assertReplyError(c.request("set", "k"), "ERR wrong number of arguments for 'set' command")
        self.assertReplyError(c.request("SET", "k", "v", "XX", "YY"), "ERR syntax error")
        self.assertReplyError(c.request("SET", "k", "v", "NX", "XX"), "ERR syntax error")
        self.assertReplyError(c.request("SET", "k", "v", "EX", "abc"), "ERR value is not an integer or out of range")
        self.assertReplyError(c.request("SET", "k", "v", "EX", "0"), "ERR invalid expire time in 'set' command")
        c.call("SET", "k", "notanumber")
        self.assertReplyError(c.request("INCR", "k"), "ERR value is not an integer or out of range")
        self.assertReplyError(c.request("INCRBY", "n", "x"), "ERR value is not an integer or out of range")
        c.call("SET", "big", "9223372036854775807")
        self.assertReplyError(c.request("INCR", "big"), "ERR increment or decrement would overflow")
        # The connection is still usable after errors.
        self.assertEqual(c.call("PING"), "PONG")

    def test_inline_commands(self):
        c = self.c
        c.send_raw(b"SET k v\r\nGET k\r\n")
        self.assertEqual(c.read_reply(), "OK")
        self.assertEqual(c.read_reply(), b"v")
        c.send_raw(b'SET k "a b"\r\nGET k\r\n')
        self.assertEqual(c.read_reply(), "OK")
        self.assertEqual(c.read_reply(), b"a b")
        c.send_raw(b'SET k "\\x41\\x42\\n\\t" \r\nGET k\r\n')
        self.assertEqual(c.read_reply(), "OK")
        self.assertEqual(c.read_reply(), b"AB\n\t")
        c.send_raw(b"SET k 'single \"quoted\"'\nGET k\n")  # bare LF ends a line too
        self.assertEqual(c.read_reply(), "OK")
        self.assertEqual(c.read_reply(), b'single "quoted"')
        c.send_raw(b"   PING   \r\n\r\nfoo a b\r\n")  # blank lines are ignored
        self.assertEqual(c.read_reply(), "PONG")
        self.assertReplyError(c.read_reply(), "ERR unknown command 'foo', with args beginning with: 'a' 'b' ")

    def test_inline_unbalanced_quotes_closes(self):
        c = self.client(self.server)
        c.send_raw(b'SET k "a b\r\n')
        self.assertClosed(c, b"-ERR Protocol error: unbalanced quotes in request\r\n")
        self.assertServesOthers(self.server)


if __name__ == "__main__":
    h.main()
