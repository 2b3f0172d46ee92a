"""requirepass: NOAUTH, AUTH forms, HELLO AUTH, stricter limits before AUTH."""

import shoal_harness as h

NOAUTH = "NOAUTH Authentication required."
WRONGPASS = "WRONGPASS invalid username-password pair or user is disabled."


class AuthTest(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server(args=["--requirepass", "secret"], password="secret")

    def raw(self):
        return self.client(self.server, auth=False)

    def test_commands_need_auth(self):
        c = self.raw()
        self.assertReplyError(c.request("GET", "k"), NOAUTH)
        self.assertReplyError(c.request("SET", "k", "v"), NOAUTH)
        self.assertReplyError(c.request("PING"), NOAUTH)  # Redis 7: PING needs AUTH too
        self.assertReplyError(c.request("ECHO", "hi"), NOAUTH)
        c.send_raw(b"PING\r\n")  # inline form as well
        self.assertReplyError(c.read_reply(), NOAUTH)
        # AUTH's own arity check still comes first.
        self.assertReplyError(c.request("AUTH"), "ERR wrong number of arguments for 'auth' command")
        self.assertReplyError(c.request("AUTH", "a", "b", "c"), "ERR syntax error")

    def test_wrong_password(self):
        c = self.raw()
        self.assertReplyError(c.request("AUTH", "wrong"), WRONGPASS)
        self.assertReplyError(c.request("AUTH", "default", "wrong"), WRONGPASS)
        self.assertReplyError(c.request("AUTH", "someone", "secret"), WRONGPASS)
        self.assertReplyError(c.request("GET", "k"), NOAUTH)

    def test_auth_password(self):
        c = self.raw()
        self.assertEqual(c.call("AUTH", "secret"), "OK")
        self.assertEqual(c.call("SET", "k", "v"), "OK")
        self.assertEqual(c.call("GET", "k"), b"v")
        self.assertEqual(c.call("PING"), "PONG")

    def test_auth_default_user(self):
        c = self.raw()
        self.assertEqual(c.call("AUTH", "default", "secret"), "OK")
        self.assertEqual(c.call("PING"), "PONG")

    def test_hello_auth(self):
        c = self.raw()
        err = c.request("HELLO", "2")
        self.assertIsInstance(err, h.ReplyError)
        self.assertTrue(err.message.startswith("NOAUTH HELLO must be called with the client already authenticated"), err)
        self.assertReplyError(c.request("HELLO", "2", "AUTH", "default", "bad"), WRONGPASS)
        reply = c.call("HELLO", "2", "AUTH", "default", "secret")
        self.assertIsInstance(reply, list)
        fields = dict(zip(reply[0::2], reply[1::2]))
        self.assertEqual(fields[b"proto"], 2)
        self.assertIn(b"server", fields)
        self.assertIn(b"version", fields)
        self.assertEqual(c.call("PING"), "PONG")

    def test_quit_without_auth(self):
        c = self.raw()
        c.send_raw(b"QUIT\r\n")
        self.assertClosed(c, b"+OK\r\n")

    def test_unauthenticated_multibulk_limit(self):
        c = self.raw()
        c.send_raw(b"*10\r\n$1\r\n")  # 10 is allowed
        c.expect_no_data(0.1)
        c = self.raw()
        c.send_raw(b"*11\r\n")
        self.assertClosed(c, b"-ERR Protocol error: unauthenticated multibulk length\r\n")
        self.assertServesOthers(self.server)

    def test_unauthenticated_bulk_limit(self):
        c = self.raw()
        c.send_raw(b"*2\r\n$16384\r\n")  # 16384 is allowed
        c.expect_no_data(0.1)
        c = self.raw()
        c.send_raw(b"*2\r\n$16385\r\n")
        self.assertClosed(c, b"-ERR Protocol error: unauthenticated bulk length\r\n")
        self.assertServesOthers(self.server)

    def test_limits_lifted_after_auth(self):
        c = self.raw()
        c.call("AUTH", "secret")
        args = ["MSET"]
        for i in range(20):
            args += ["k%d" % i, "v%d" % i]
        self.assertEqual(c.call(*args), "OK")
        big = b"x" * 100000
        self.assertEqual(c.call("SET", "big", big), "OK")
        self.assertEqual(c.call("GET", "big"), big)


if __name__ == "__main__":
    h.main()
