"""Compatibility through the unmodified redis-cli: commands, inline stdin, --pipe,
--raw/--no-raw, -x, error output, and the tools a user runs against a live
server: --stat, --bigkeys, --memkeys (MEMORY USAGE), --hotkeys (OBJECT FREQ),
--latency, --latency-history, --scan --pattern, -r."""

import re
import shutil
import subprocess
import time
import unittest

import shoal_harness as h

REDIS_CLI = shutil.which("redis-cli") or "/usr/bin/redis-cli"


class RedisCliTest(h.SharedServerTestCase):
    def cli(self, *args, stdin=b"", expect_rc=0, timeout=60):
        cmd = [REDIS_CLI, "-h", self.server.host, "-p", str(self.server.port)] + list(args)
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout)
        if expect_rc is not None:
            self.assertEqual(p.returncode, expect_rc, "%s\nstdout: %r\nstderr: %r" % (cmd, p.stdout[-2000:], p.stderr[-2000:]))
        return p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def test_commands(self):
        self.assertEqual(self.cli("PING")[0], "PONG\n")
        self.assertEqual(self.cli("SET", "k", "hello world")[0], "OK\n")
        self.assertEqual(self.cli("GET", "k")[0], "hello world\n")
        self.assertEqual(self.cli("--no-raw", "GET", "k")[0], '"hello world"\n')
        self.assertEqual(self.cli("--no-raw", "GET", "missing")[0], "(nil)\n")
        self.assertEqual(self.cli("--no-raw", "INCR", "n")[0], "(integer) 1\n")
        self.assertEqual(self.cli("MSET", "a", "1", "b", "2")[0], "OK\n")
        self.assertEqual(self.cli("--no-raw", "MGET", "a", "missing", "b")[0], '1) "1"\n2) (nil)\n3) "2"\n')
        self.assertEqual(self.cli("--csv", "MGET", "a", "b")[0], '"1","2"\n')
        self.assertEqual(self.cli("DBSIZE")[0], "4\n")
        self.assertEqual(self.c.call("GET", "k"), b"hello world")

    @unittest.skipIf(h.is_redis_server(), "GETV/SETV/DELV are shoal's own")
    def test_versions_round_trip(self):
        self.assertEqual(self.cli("SET", "cart", "a")[0], "OK\n")
        out = self.cli("--no-raw", "GETV", "cart")[0].splitlines()
        # 1) "<context>"  2) 1) "a"
        self.assertEqual(len(out), 2, out)
        ctx = out[0].split('"')[1]
        self.assertEqual(out[1].strip(), '2) 1) "a"')
        self.assertEqual(self.cli("SETV", "cart", ctx, "b")[0], "OK\n")
        self.assertEqual(self.cli("SETV", "cart", ctx, "c")[0], "OK\n")
        self.assertEqual(sorted(self.cli("--raw", "GET", "cart")[0].split()), ["b", "c"])
        err = self.cli("APPEND", "cart", "x")[0]
        self.assertTrue(err.startswith("CONFLICT 2 siblings"), err)
        ctx2 = self.cli("--raw", "GETV", "cart")[0].splitlines()[0]
        self.assertEqual(self.cli("SETV", "cart", ctx2, "b,c")[0], "OK\n")
        self.assertEqual(self.cli("GET", "cart")[0], "b,c\n")
        ctx3 = self.cli("--raw", "GETV", "cart")[0].splitlines()[0]
        self.assertEqual(self.cli("DELV", "cart", ctx3)[0], "1\n")
        self.assertEqual(self.cli("EXISTS", "cart")[0], "0\n")

    def test_raw(self):
        self.c.call("SET", "nl", b"line1\nline2")
        self.c.call("MSET", "x", "1", "y", "2")
        self.assertEqual(self.cli("--raw", "GET", "nl")[0], "line1\nline2\n")
        self.assertEqual(self.cli("--raw", "MGET", "x", "missing", "y")[0], "1\n\n2\n")
        self.assertEqual(self.cli("--raw", "INCR", "x")[0], "2\n")
        self.assertEqual(self.cli("--no-raw", "GET", "nl")[0], '"line1\\nline2"\n')

    def test_inline_commands_from_stdin(self):
        script = b'SET a 10\nINCRBY a 5\nGET a\nSET "quoted key" "x y"\nGET "quoted key"\n'
        out, _ = self.cli(stdin=script)
        self.assertEqual(out, "OK\n15\n15\nOK\nx y\n")
        self.assertEqual(self.c.call("GET", "quoted key"), b"x y")

    def test_x_reads_last_argument_from_stdin(self):
        payload = b"from stdin\nwith newline\x00and nul"
        self.assertEqual(self.cli("-x", "SET", "xk", stdin=payload)[0], "OK\n")
        self.assertEqual(self.c.call("GET", "xk"), payload)

    def test_error_output(self):
        out, _ = self.cli("foo", "a", "b")
        self.assertEqual(out, "ERR unknown command 'foo', with args beginning with: 'a' 'b' \n\n")
        out, _ = self.cli("--no-raw", "GET")
        self.assertEqual(out, "(error) ERR wrong number of arguments for 'get' command\n")
        self.c.call("SET", "s", "abc")
        out, _ = self.cli("--no-raw", "INCR", "s")
        self.assertEqual(out, "(error) ERR value is not an integer or out of range\n")

    def stream_lines(self, args, want, timeout=20):
        """Runs a redis-cli mode that never ends (--stat, --latency-history),
        line-buffered, until `want` output lines arrived; stops it and returns
        them."""
        cmd = ["stdbuf", "-oL", REDIS_CLI, "-h", self.server.host, "-p", str(self.server.port)] + list(args)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines = []
        deadline = time.monotonic() + timeout
        try:
            while len(lines) < want and time.monotonic() < deadline:
                line = p.stdout.readline()
                if not line:
                    break
                lines.append(line.decode("utf-8", "replace").rstrip("\n"))
        finally:
            p.kill()
            p.wait()
            p.stdout.close()
        self.assertEqual(len(lines), want, "%s gave %r" % (cmd, lines))
        return lines

    def fill_keys(self):
        self.c.call("SET", "big", "x" * 5000)
        for i in range(30):
            self.c.call("SET", "key:%d" % i, "v" * (i + 1))
        self.c.call("INCRBY", "counter", 7)

    def test_bigkeys(self):
        self.fill_keys()
        out, _ = self.cli("--bigkeys")
        self.assertIn("Sampled 32 keys in the keyspace!", out)
        self.assertIn("Biggest string found '\"big\"' has 5000 bytes", out)
        self.assertIn("32 strings with", out)

    def test_memkeys(self):
        self.fill_keys()
        for args in (("--memkeys",), ("--memkeys-samples", "10")):
            out, _ = self.cli(*args)
            self.assertIn("Sampled 32 keys in the keyspace!", out, args)
            m = re.search(r"Biggest string found '\"big\"' has (\d+) bytes", out)
            self.assertIsNotNone(m, out)
            # MEMORY USAGE: the value plus what the key costs around it.
            self.assertTrue(5000 < int(m.group(1)) < 7000, out)
            self.assertIn("32 strings with", out)

    def test_hotkeys_needs_an_lfu_policy(self):
        self.fill_keys()
        out, err = self.cli("--hotkeys", expect_rc=None)
        self.assertIn("LFU maxmemory policy is not selected", out + err)
        self.c.call("CONFIG", "SET", "maxmemory-policy", "allkeys-lfu")
        try:
            for _ in range(50):
                self.c.call("GET", "key:3")
            out, _ = self.cli("--hotkeys")
            self.assertIn('keyname: "key:3"', out)
        finally:
            self.c.call("CONFIG", "SET", "maxmemory-policy", "noeviction")

    def test_stat(self):
        self.fill_keys()
        lines = self.stream_lines(["--stat", "-i", "0.1"], 4)
        self.assertIn("keys", lines[1])
        self.assertIn("requests", lines[1])
        # keys, mem, clients, blocked, requests: 32 keys; two clients (the
        # test's own and redis-cli).
        fields = lines[2].split()
        self.assertEqual(fields[0], "32", lines)
        self.assertEqual(fields[2], "2", lines)

    def test_latency(self):
        # Not on a terminal, --latency samples for -i seconds and prints
        # "min max avg samples" once.
        out, _ = self.cli("--latency", "-i", "1")
        fields = out.split()
        self.assertEqual(len(fields), 4, out)
        self.assertGreater(int(fields[3]), 0, out)
        lines = self.stream_lines(["--latency-history", "-i", "1"], 2)
        for line in lines:
            self.assertEqual(len(line.split()), 4, lines)

    def test_scan_pattern(self):
        self.fill_keys()
        out, _ = self.cli("--scan", "--pattern", "key:2*")
        self.assertEqual(sorted(out.split()), sorted(["key:2"] + ["key:%d" % i for i in range(20, 30)]))
        out, _ = self.cli("--scan", "--pattern", "key:*")
        self.assertEqual(len(out.split()), 30)

    def test_repeat(self):
        self.assertEqual(self.cli("-r", "3", "INCR", "x")[0], "1\n2\n3\n")
        self.assertEqual(self.cli("-r", "2", "-i", "0.01", "GET", "x")[0], "3\n3\n")

    def test_bit_commands(self):
        self.assertEqual(self.cli("SETBIT", "bits", "7", "1")[0], "0\n")
        self.assertEqual(self.cli("GETBIT", "bits", "7")[0], "1\n")
        self.assertEqual(self.cli("BITCOUNT", "bits")[0], "1\n")
        self.assertEqual(self.cli("--no-raw", "BITFIELD", "bits", "INCRBY", "u8", "0", "10")[0], "1) (integer) 11\n")
        self.assertEqual(self.cli("MSET", "l1", "ohmytext", "l2", "mynewtext")[0], "OK\n")
        self.assertEqual(self.cli("LCS", "l1", "l2")[0], "mytext\n")
        self.assertEqual(self.cli("OBJECT", "ENCODING", "l1")[0], "embstr\n")

    def test_pipe_mass_insert(self):
        n = 100000
        parts = []
        for i in range(n):
            k = b"mass:%d" % i
            v = b"value:%d" % i
            parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
        out, err = self.cli("--pipe", stdin=b"".join(parts), timeout=120)
        self.assertIn("errors: 0, replies: %d" % n, out + err)
        self.assertEqual(self.c.call("DBSIZE"), n)
        self.assertEqual(self.c.call("GET", "mass:0"), b"value:0")
        self.assertEqual(self.c.call("GET", "mass:99999"), b"value:99999")

    def test_pipe_counts_errors(self):
        data = h.encode_command("SET", "p", "1") + h.encode_command("NOSUCH") + h.encode_command("INCR", "p")
        out, err = self.cli("--pipe", stdin=data, expect_rc=1)
        self.assertIn("errors: 1, replies: 3", out + err)
        self.assertIn("ERR unknown command 'NOSUCH'", out + err)
        self.assertEqual(self.c.call("GET", "p"), b"2")


if __name__ == "__main__":
    h.main()
