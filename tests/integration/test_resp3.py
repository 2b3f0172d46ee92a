"""RESP3: HELLO and the replies of the implemented commands, byte for byte
against redis-server 7.0.15, and RESP3 through a 3-node cluster where the
command is coordinated by another node (SHOAL.FWD carries the protocol)."""

import re
import unittest

import cluster_harness as ch
import shoal_harness as h


def normalize(reply):
    """Masks what legitimately differs between two servers: HELLO's client id."""
    return re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"$2\r\nid\r\n:ID\r\n", reply)


# Sequences run on a fresh connection of each server after FLUSHALL; every
# reply must be the same bytes. Each starts in RESP2.
SEQUENCES = [
    [("HELLO",), ("HELLO", "3"), ("HELLO", "2"), ("HELLO", "3"), ("HELLO",)],
    [("HELLO", "4"), ("HELLO", "x"), ("HELLO", "1"), ("HELLO", "3", "FOO"), ("HELLO", "3", "AUTH", "default"),
     ("HELLO", "3", "SETNAME", "bad name"), ("HELLO", "3", "SETNAME", "resp3-name"), ("CLIENT", "GETNAME"),
     ("HELLO", "2", "AUTH", "default", "anything")],
    [("HELLO", "3"), ("GET", "nokey"), ("SET", "k", "v"), ("GET", "k"), ("MGET", "k", "nokey", "k"),
     ("SET", "k", "w", "GET"), ("SET", "nokey2", "x", "NX", "GET"), ("GETDEL", "nokey"), ("GETEX", "nokey"),
     ("SET", "k", "v", "XX"), ("SET", "nokey3", "v", "XX"), ("EXISTS", "k", "nokey"), ("TYPE", "k"),
     ("STRLEN", "k"), ("APPEND", "k", "xyz"), ("GETRANGE", "k", "0", "1"), ("SETRANGE", "k", "1", "Q"),
     ("INCR", "n"), ("INCRBY", "n", "5"), ("DECR", "n"), ("INCRBYFLOAT", "f", "1.5"), ("INCRBYFLOAT", "f", "0.1"),
     ("INCR", "k"), ("TTL", "k"), ("EXPIRE", "k", "100"), ("PERSIST", "k"), ("PTTL", "nokey"), ("KEYS", "k*"),
     ("DEL", "n", "f", "nokey", "nokey2"), ("SCAN", "0"), ("DBSIZE",), ("CLIENT", "GETNAME"), ("PING",), ("PING", "x"),
     ("ECHO", "hi"), ("CONFIG", "GET", "maxmemory"), ("CONFIG", "GET", "maxmemory-policy"),
     ("CLIENT", "TRACKINGINFO"), ("CLIENT", "GETREDIR"), ("CLIENT", "LIST", "TYPE", "pubsub"),
     ("COMMAND", "INFO", "nosuch"), ("SELECT", "0"), ("GET",), ("NOSUCHCOMMAND",)],
    [("HELLO", "3"), ("RANDOMKEY",), ("MSET", "a", "1", "b", "2"), ("MGET", "a", "x", "b"), ("MSETNX", "a", "3", "c", "4"),
     ("GETSET", "a", "9"), ("GETSET", "zz", "1"), ("SETNX", "a", "0"), ("SETEX", "e", "100", "v"), ("TTL", "e"),
     ("PSETEX", "e", "100000", "v"), ("DEL", "a", "b", "zz", "e"), ("RANDOMKEY",), ("HELLO", "2"), ("GET", "a"),
     ("RANDOMKEY",)],
    # RESET goes back to RESP2.
    [("HELLO", "3"), ("GET", "nokey"), ("RESET",), ("GET", "nokey")],
]


class Resp3CompareTest(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = cls.start_class_server(binary=h.reference_redis_binary(), name="redis-reference")
        cls.shoal = cls.start_class_server(name="shoal")

    def run_sequence(self, server, seq):
        with server.client() as c:
            c.call("FLUSHALL")
        with server.client() as c:
            return [normalize(c.call_bytes(*cmd)) for cmd in seq]

    def test_sequences_match_redis(self):
        for seq in SEQUENCES:
            want = self.run_sequence(self.redis, seq)
            got = self.run_sequence(self.shoal, seq)
            for cmd, w, g in zip(seq, want, got):
                self.assertEqual(g, w, "reply to %r differs from Redis 7.0.15" % (cmd,))

    def shapes(self, server):
        with server.client() as c:
            c.call("HELLO", "3")
            return {
                "info": c.call_bytes("INFO", "server"),
                "client info": c.call_bytes("CLIENT", "INFO"),
                "client list": c.call_bytes("CLIENT", "LIST"),
                "command info": c.call_bytes("COMMAND", "INFO", "get"),
                "command docs": c.call_bytes("COMMAND", "DOCS", "get"),
                "time": c.call_bytes("TIME"),
            }

    def test_reply_types_match_redis(self):
        # The contents differ (versions, addresses, docs); the RESP3 types
        # and the leading structure must not.
        want = self.shapes(self.redis)
        got = self.shapes(self.shoal)
        self.assertTrue(got["info"].startswith(b"="), got["info"][:40])
        self.assertIn(b"\r\ntxt:# Server\r\n", got["info"][:40])
        for key in ("client info", "client list"):
            self.assertRegex(got[key], rb"^=\d+\r\ntxt:id=\d+ ", key)
            self.assertTrue(want[key].startswith(b"="), key)
        # COMMAND INFO: flags, ACL categories, tips, key specs and
        # subcommands are sets, each key spec a map.
        prefix = b"*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n~0\r\n~1\r\n%3\r\n$5\r\nflags\r\n~"
        self.assertTrue(want["command info"].startswith(prefix), want["command info"][:200])
        self.assertTrue(got["command info"].startswith(prefix), got["command info"][:200])
        self.assertIn(b"$12\r\nbegin_search\r\n%2\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n%1\r\n", got["command info"])
        self.assertTrue(got["command info"].endswith(b"$5\r\nlimit\r\n:0\r\n~0\r\n"), got["command info"][-40:])
        self.assertTrue(got["command docs"].startswith(b"%1\r\n$3\r\nget\r\n%"), got["command docs"][:40])
        self.assertRegex(got["time"], rb"^\*2\r\n\$\d+\r\n\d+\r\n\$\d+\r\n\d+\r\n$")

    def test_pipelined_hello_switches_from_the_next_reply(self):
        for server in (self.redis, self.shoal):
            with server.client() as c:
                c.send_raw(h.encode_command("GET", "nokey") + h.encode_command("HELLO", "3")
                           + h.encode_command("GET", "nokey") + h.encode_command("HELLO", "2")
                           + h.encode_command("GET", "nokey"))
                replies = [c.read_reply_bytes() for _ in range(5)]
                self.assertEqual(replies[0], b"$-1\r\n", server.name)
                self.assertTrue(replies[1].startswith(b"%7\r\n"), server.name)
                self.assertEqual(replies[2], b"_\r\n", server.name)
                self.assertTrue(replies[3].startswith(b"*14\r\n"), server.name)
                self.assertEqual(replies[4], b"$-1\r\n", server.name)


@ch.skip_unless_shoal
class ClusterResp3Test(ch.ClusterTestCase):
    @classmethod
    def setUpClass(cls):
        # N=2 of 3 nodes: some keys have no replica on node1, whose commands
        # on them are forwarded (SHOAL.FWD) to a replica that builds the reply.
        cls.cluster = cls.start_class_cluster(3, replicas=2, read_quorum=1, write_quorum=1)

    def test_forwarded_nil_is_resp3_null(self):
        node = self.cluster[0]
        key = self.cluster.key_not_on(node, prefix="resp3fwd")
        with node.client() as c:
            c.call("DEL", key)
            self.assertEqual(c.call_bytes("GET", key), b"$-1\r\n")
            c.call("HELLO", "3")
            self.assertEqual(c.call_bytes("GET", key), b"_\r\n")
            self.assertEqual(c.call_bytes("MGET", key, key), b"*2\r\n_\r\n_\r\n")
            self.assertEqual(c.call_bytes("SET", key, "v"), b"+OK\r\n")
            self.assertEqual(c.call_bytes("GET", key), b"$1\r\nv\r\n")
            self.assertEqual(c.call_bytes("SET", key, "w", "GET"), b"$1\r\nv\r\n")
            self.assertEqual(c.call_bytes("GETDEL", key), b"$1\r\nw\r\n")
            self.assertEqual(c.call_bytes("GETDEL", key), b"_\r\n")
            c.call("HELLO", "2")
            self.assertEqual(c.call_bytes("GET", key), b"$-1\r\n")
        self.assertGreater(int(node.counter("cluster_forwards") or 0), 0)

    def test_pipelined_hello_behind_a_forwarded_command(self):
        # HELLO waits until the forwarded GET before it is answered, so the
        # GET behind HELLO is planned (and forwarded) in RESP3.
        node = self.cluster[0]
        key = self.cluster.key_not_on(node, prefix="resp3pipe")
        with node.client() as c:
            c.call("DEL", key)
            c.send_raw(h.encode_command("GET", key) + h.encode_command("HELLO", "3")
                       + h.encode_command("GET", key) + h.encode_command("CLIENT", "REPLY", "SKIP")
                       + h.encode_command("GET", key) + h.encode_command("PING", "done"))
            self.assertEqual(c.read_reply_bytes(), b"$-1\r\n")
            self.assertTrue(c.read_reply_bytes().startswith(b"%7\r\n"))
            self.assertEqual(c.read_reply_bytes(), b"_\r\n")
            self.assertEqual(c.read_reply_bytes(), b"$4\r\ndone\r\n")

    def test_cluster_wide_combined_reply_in_resp3(self):
        node = self.cluster[1]
        with node.client() as c:
            c.call("FLUSHALL")
            c.call("HELLO", "3")
            self.assertEqual(c.call_bytes("RANDOMKEY"), b"_\r\n")
            self.assertEqual(c.call_bytes("KEYS", "*"), b"*0\r\n")
            self.assertEqual(c.call_bytes("DBSIZE"), b":0\r\n")
            c.call("SET", "rk", "1")
            self.assertEqual(c.call_bytes("RANDOMKEY"), b"$2\r\nrk\r\n")


if __name__ == "__main__":
    h.main()
