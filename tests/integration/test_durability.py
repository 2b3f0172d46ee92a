"""The append-only log: no acknowledged write is lost to a crash, a torn tail
always recovers, damage in the middle stops start-up (unless told to skip),
a rewrite under concurrent writes loses nothing, and a failed write is fatal."""

import os
import random
import shutil
import subprocess
import tempfile
import threading
import time

import shoal_harness as h

AOF = "appendonly.aof"


class Writer(threading.Thread):
    """Sends pipelined SETs of k<i> = v<i>-<round>; records what was acknowledged.

    Stops at the first connection error (the server was killed)."""

    def __init__(self, server, prefix="k", batch=20, start=0):
        super().__init__(daemon=True)
        self.server = server
        self.prefix = prefix
        self.batch = batch
        self.next = start
        self.acked = {}
        self.sent_upto = start
        self.stop_flag = threading.Event()
        self.error = None

    def run(self):
        try:
            c = self.server.client(timeout=10)
        except OSError as e:
            self.error = e
            return
        try:
            while not self.stop_flag.is_set():
                cmds = []
                for i in range(self.next, self.next + self.batch):
                    cmds.append(("SET", "%s%d" % (self.prefix, i), "v%d" % i))
                self.sent_upto = self.next + self.batch
                replies = c.pipeline(cmds)
                for (_, k, v), r in zip(cmds, replies):
                    if r != "OK":
                        raise AssertionError("SET %s replied %r" % (k, r))
                    self.acked[k] = v.encode()
                self.next += self.batch
        except (OSError, h.ConnectionClosed, h.HarnessError) as e:
            self.error = e
        finally:
            c.close()


class DurabilityTest(h.ServerTestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="shoal-durability-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def node(self, *args, fsync="always"):
        return h.Server(args=["--appendonly", "yes", "--appendfsync", fsync] + list(args), dir=self.dir, name="node")

    def started(self, *args, fsync="always"):
        s = self.node(*args, fsync=fsync)
        self._servers.append(s)
        self.addCleanup(s.stop)
        s.start()
        return s

    def check_all(self, server, acked, prefix, upto):
        c = self.client(server)
        keys = ["%s%d" % (prefix, i) for i in range(upto + 1)]
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            values = c.call("MGET", *chunk)
            for k, v in zip(chunk, values):
                if k in acked:
                    self.assertEqual(v, acked[k], "acknowledged write of %s lost" % k)
                elif v is not None:
                    # Sent but not acknowledged: may or may not be there, but
                    # if it is, it holds the value that was sent.
                    self.assertEqual(v, ("v" + k[len(prefix):]).encode())

    def test_sigkill_loses_no_acknowledged_write(self):
        rng = random.Random(os.getpid())
        for round_no in range(3):
            s = self.started()
            w = Writer(s, prefix="r%d_" % round_no)
            w.start()
            h.wait_for(lambda: len(w.acked) >= 200 + rng.randrange(2000), 30, "writer made no progress")
            s.kill()
            w.join(10)
            self.assertFalse(w.is_alive())
            s = self.started()
            self.check_all(s, w.acked, w.prefix, w.sent_upto)
            s.stop()

    def test_torn_tail_always_recovers(self):
        s = self.started()
        c = self.client(s)
        c.pipeline([("SET", "t%d" % i, "x" * (i % 50)) for i in range(300)])
        s.kill()
        path = os.path.join(self.dir, AOF)
        with open(path, "rb") as f:
            full = f.read()
        rng = random.Random(7)
        cuts = sorted(rng.sample(range(1, len(full)), 12))
        for cut in cuts:
            with open(path, "wb") as f:
                f.write(full[:cut])
            s = self.started()
            keys = self.client(s).call("DBSIZE")
            self.assertLessEqual(keys, 300)
            s.stop()
            with open(path, "rb") as f:
                self.assertTrue(full.startswith(f.read()[: cut]), "log rewritten with foreign bytes")
        # The whole file again: everything is back.
        with open(path, "wb") as f:
            f.write(full)
        s = self.started()
        self.assertEqual(self.client(s).call("DBSIZE"), 300)

    def test_damage_in_the_middle_stops_startup(self):
        s = self.started()
        c = self.client(s)
        c.pipeline([("SET", "d%d" % i, "value-%d" % i) for i in range(500)])
        s.stop()
        path = os.path.join(self.dir, AOF)
        with open(path, "rb") as f:
            data = bytearray(f.read())
        middle = len(data) // 2
        data[middle] ^= 0xFF
        with open(path, "wb") as f:
            f.write(bytes(data))
        code, out, _ = h.run_server_expecting_exit(
            ["--appendonly", "yes", "--dir", self.dir, "--port", str(h.free_port())]
        )
        self.assertNotEqual(code, 0)
        self.assertIn(AOF, out)
        self.assertIn("offset", out)
        # The operator's way out: skip the damage; the rest loads.
        s = self.started("--aof-load-corrupt", "skip")
        n = self.client(s).call("DBSIZE")
        self.assertGreater(n, 400)
        self.assertLess(n, 500)

    def test_rewrite_under_concurrent_writes_loses_nothing(self):
        s = self.started(fsync="everysec")
        c = self.client(s)
        c.pipeline([("SET", "base%d" % i, "b%d" % i) for i in range(20000)])
        w = Writer(s, prefix="during")
        w.start()
        h.wait_for(lambda: len(w.acked) > 100, 30, "writer made no progress")
        self.assertEqual(c.call("BGREWRITEAOF"), "Background append only file rewriting started")

        def rewritten():
            info = c.call("INFO", "persistence").decode()
            return "aof_rewrite_in_progress:0" in info and "aof_rewrites:1" in info

        h.wait_for(rewritten, 60, "rewrite did not finish")
        self.assertIn("aof_last_bgrewrite_status:ok", c.call("INFO", "persistence").decode())
        h.wait_for(lambda: len(w.acked) > 2000, 30, "writer stalled after the rewrite")
        w.stop_flag.set()
        w.join(10)
        s.stop()  # clean shutdown: everysec data is flushed
        s = self.started(fsync="everysec")
        c = self.client(s)
        self.assertEqual(c.call("GET", "base19999"), b"b19999")
        self.assertEqual(c.call("DBSIZE"), 20000 + len(w.acked))
        self.check_all(s, w.acked, w.prefix, w.sent_upto)

    def test_siblings_and_counters_survive_restart_and_rewrite(self):
        s = self.started(fsync="everysec")
        c = self.client(s)
        c.call("SET", "k", "base")
        ctx, _ = c.call("GETV", "k")
        c.call("SETV", "k", ctx, "left")
        c.call("SETV", "k", ctx, "right")
        for _ in range(5):
            c.call("INCR", "n")
        before = c.call("GETV", "k")
        self.assertEqual(sorted(before[1]), [b"left", b"right"])
        s.kill()
        s = self.started(fsync="everysec")
        c = self.client(s)
        self.assertEqual(c.call("GETV", "k"), before)
        self.assertEqual(c.call("GET", "n"), b"5")
        self.assertEqual(c.call("BGREWRITEAOF"), "Background append only file rewriting started")
        h.wait_for(lambda: b"aof_rewrites:1" in c.call("INFO", "persistence"), 30, "rewrite")
        s.stop()
        s = self.started(fsync="everysec")
        c = self.client(s)
        self.assertEqual(c.call("GETV", "k"), before)
        self.assertEqual(c.call("INCR", "n"), 6)
        # A stale context from before the restarts still makes a sibling
        # rather than overwriting what it never saw.
        c.call("SETV", "k", ctx, "late")
        self.assertEqual(sorted(c.call("GETV", "k")[1]), [b"late", b"left", b"right"])

    def test_container_writes_survive_kill_and_rewrite(self):
        # Writes of cached containers log deltas and leave their encoding for
        # later (README, Hashes and sets): the log alone must bring back every
        # acknowledged write, across kill -9, DEL and a rewrite made while
        # keys are dirty.
        rng = random.Random(os.getpid())
        hashes, sets, zsets = {}, {}, {}
        keys = ["%s%d" % (t, i) for t in "hsz" for i in range(4)]

        def op():
            key = rng.choice(keys)
            name = "e%02d" % rng.randrange(60)
            roll = rng.randrange(100)
            if roll < 2:
                (hashes if key[0] == "h" else sets if key[0] == "s" else zsets).pop(key, None)
                return ("DEL", key)
            if key[0] == "h":
                fields = hashes.setdefault(key, {})
                if roll < 15:
                    fields.pop(name, None)
                    return ("HDEL", key, name)
                value = "v%d" % rng.randrange(10**6)
                fields[name] = value
                return ("HSET", key, name, value)
            if key[0] == "s":
                members = sets.setdefault(key, set())
                if roll < 15:
                    members.discard(name)
                    return ("SREM", key, name)
                members.add(name)
                return ("SADD", key, name)
            scores = zsets.setdefault(key, {})
            if roll < 15:
                scores.pop(name, None)
                return ("ZREM", key, name)
            scores[name] = rng.randrange(1000)
            return ("ZADD", key, str(scores[name]), name)

        def check(c):
            for key in keys:
                if key[0] == "h":
                    got = c.call("HGETALL", key)
                    got = {got[i].decode(): got[i + 1].decode() for i in range(0, len(got), 2)}
                    self.assertEqual(got, hashes.get(key, {}), key)
                elif key[0] == "s":
                    got = {m.decode() for m in c.call("SMEMBERS", key)}
                    self.assertEqual(got, sets.get(key, set()), key)
                else:
                    got = c.call("ZRANGE", key, "0", "-1", "WITHSCORES")
                    got = {got[i].decode(): int(got[i + 1]) for i in range(0, len(got), 2)}
                    self.assertEqual(got, zsets.get(key, {}), key)

        s = self.started()
        c = self.client(s)
        # Big enough that a one-element write's delta is logged.
        c.pipeline([op() for _ in range(60 * len(keys))])
        dirty = []
        for round_no in range(3):
            for _ in range(30):
                c.pipeline([op() for _ in range(20)])
            if round_no == 1:
                self.assertEqual(c.call("BGREWRITEAOF"), "Background append only file rewriting started")
                for _ in range(30):
                    c.pipeline([op() for _ in range(20)])
                h.wait_for(lambda: b"aof_rewrite_in_progress:0" in c.call("INFO", "persistence"), 60,
                           "rewrite did not finish")
                c.pipeline([op() for _ in range(20)])
            info = c.call("INFO", "stats").decode()
            dirty.append(int(info.split("container_cache_dirty_keys:")[1].split()[0]))
            s.kill()  # appendfsync always: every acknowledged write is in the log
            s = self.started()
            c = self.client(s)
            check(c)
        self.assertGreater(max(dirty), 0, "no write was left dirty: the lazy path did not run")


class WriteFailureTest(h.ServerTestCase):
    """A failed write is fatal: the node exits non-zero and says why."""

    def test_full_disk_is_fatal(self):
        if os.geteuid() != 0:
            self.fail("this test mounts a tmpfs and needs root")
        mnt = tempfile.mkdtemp(prefix="shoal-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt], check=True)
        self.addCleanup(shutil.rmtree, mnt, True)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        s = h.Server(args=["--appendonly", "yes", "--appendfsync", "always"], dir=mnt, name="full")
        self._servers.append(s)
        self.addCleanup(s.stop)
        s.start()
        c = self.client(s)
        try:
            for i in range(1000):
                c.call("SET", "k%d" % i, "x" * 1024)
        except (OSError, h.ConnectionClosed, h.HarnessError):
            pass
        code = s.wait_exit(10)
        self.assertIsNotNone(code, "the node kept running with a failed log write")
        self.assertNotEqual(code, 0)
        self.assertIn("No space left on device", s.current_output())


if __name__ == "__main__":
    h.main()
