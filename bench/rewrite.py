"""The "rewrite under load" cell: BGREWRITEAOF while redis-benchmark SETs.

For each server, with `appendonly yes`, `appendfsync everysec` and automatic
rewrites off:

  1. load `keys` keys (harness.load_keys), check DBSIZE;
  2. idle rewrite: BGREWRITEAOF with no load, timed (also compacts the log so
     both servers start the measured rewrite from the same state);
  3. calibration: a short SET -P 1 run gives the rate, from which -n is chosen
     so that the measured run lasts LEAD + SLOWDOWN x (idle rewrite) + TAIL
     seconds on the faster server; both servers get the same -n;
  4. measured run: redis-benchmark SET -P 1 starts; LEAD seconds later (it must
     still be running) BGREWRITEAOF; INFO persistence is polled until the
     rewrite completed; if redis-benchmark was still running then, the run
     overlapped the rewrite. A run that did not overlap is retried once with
     3x -n; if it still does not, the result says so.

A rewrite's duration is from sending BGREWRITEAOF to the first INFO reply that
shows it completed: aof_rewrite_in_progress:0 and aof_rewrite_scheduled:0 with
aof_rewrites increased (Redis 7.0 and shoal both have aof_rewrites; without
it, completion is in_progress going back to 0 after it was seen at 1), and
aof_last_bgrewrite_status:ok (else BenchError). Its resolution is the poll
interval plus the server's own reaping (Redis notices its child's exit in
serverCron, every 100 ms at the default hz 10).
"""

import dataclasses
import time

from harness import BenchError, Benchmark, Conn, Pair, load_keys, log, run_benchmark

CONF = (("appendonly", "yes"), ("appendfsync", "everysec"), ("auto-aof-rewrite-percentage", "0"))
TEST = "set"
ARGS = ("-P", "1")

LEAD = 1.0  # seconds of benchmark before BGREWRITEAOF
TAIL = 1.5  # seconds of benchmark planned after the rewrite
SLOWDOWN = 2.0  # planned rewrite duration under load, x the idle one
CALIBRATION_REQUESTS = 20_000
MIN_REQUESTS = 20_000
MAX_REQUESTS = 5_000_000
RETRY_FACTOR = 3  # -n multiplier for the one retry of a run that did not overlap
POLL_INTERVAL = 0.02  # seconds between INFO persistence polls
REWRITE_TIMEOUT = 300.0  # seconds from BGREWRITEAOF to completion


@dataclasses.dataclass(frozen=True)
class Setup:
    """Server settings of the cell, in the shape harness.Pair takes."""

    conf: tuple = CONF
    shoal_nodes: int = 1
    shoal_conf: tuple = ()


@dataclasses.dataclass
class Result:
    keys: int
    requests: int  # -n of the measured runs (before any retry)
    idle: dict  # label -> idle rewrite seconds
    load: dict  # label -> {"rps", "p50", "p99", "max", "duration", "overlapped", "requests"}


def rewrite_busy(info):
    return (info.get("aof_rewrite_in_progress", "0") != "0" or
            info.get("aof_rewrite_scheduled", "0") != "0")


def wait_no_rewrite(conn, pair, server):
    """Waits until no rewrite runs or is scheduled; returns INFO persistence."""
    deadline = time.monotonic() + REWRITE_TIMEOUT
    while True:
        info = conn.info("persistence")
        if info.get("aof_enabled") != "1":
            raise BenchError("%s: INFO persistence says aof_enabled:%s, expected 1" %
                             (server.label, info.get("aof_enabled")))
        if not rewrite_busy(info):
            return info
        pair.check_alive()
        if time.monotonic() > deadline:
            raise BenchError("%s: a rewrite still runs after %.0fs" %
                             (server.label, REWRITE_TIMEOUT))
        time.sleep(POLL_INTERVAL)


class Rewrite:
    """One BGREWRITEAOF, from the command to its completion seen by polling."""

    def __init__(self, conn, pair, server):
        self.conn = conn
        self.pair = pair
        self.server = server
        self.before = None  # aof_rewrites before the command, if the server has it
        self.seen_busy = False
        self.t0 = None

    def start(self):
        info = wait_no_rewrite(self.conn, self.pair, self.server)
        if "aof_rewrites" in info:
            self.before = int(info["aof_rewrites"])
        self.t0 = time.monotonic()
        reply = self.conn.call("BGREWRITEAOF")
        # "... started", or Redis's "... scheduled" while another child runs.
        if not str(reply).startswith("Background append only file rewriting"):
            raise BenchError("%s: BGREWRITEAOF replied %r" % (self.server.label, reply))

    def done(self):
        """Polls INFO once; the monotonic time it saw completion, or None."""
        info = self.conn.info("persistence")
        now = time.monotonic()
        if rewrite_busy(info):
            self.seen_busy = True
            return None
        if self.before is not None and "aof_rewrites" in info:
            if int(info["aof_rewrites"]) <= self.before:
                return None
        elif not self.seen_busy:
            return None
        status = info.get("aof_last_bgrewrite_status", "ok")
        if status != "ok":
            raise BenchError("%s: rewrite failed (aof_last_bgrewrite_status:%s)%s" %
                             (self.server.label, status, self.server.log_tail()))
        return now

    def wait(self):
        """Seconds from BGREWRITEAOF to completion."""
        deadline = self.t0 + REWRITE_TIMEOUT
        while True:
            t1 = self.done()
            if t1 is not None:
                return t1 - self.t0
            self.pair.check_alive()
            if time.monotonic() > deadline:
                raise BenchError("%s: rewrite not completed %.0fs after BGREWRITEAOF%s" %
                                 (self.server.label, REWRITE_TIMEOUT, self.server.log_tail()))
            time.sleep(POLL_INTERVAL)


def rewrite_idle(pair, server):
    with Conn(server.port) as conn:
        rewrite = Rewrite(conn, pair, server)
        rewrite.start()
        return rewrite.wait()


def rewrite_under_load(opts, pair, server, requests):
    """One measured run; the benchmark result plus duration and overlapped."""
    with Conn(server.port) as conn:
        wait_no_rewrite(conn, pair, server)
        bench = Benchmark(opts, server, TEST, requests, ARGS)
        bench.start()
        try:
            lead_end = time.monotonic() + LEAD
            while time.monotonic() < lead_end and bench.running():
                pair.check_alive()
                time.sleep(POLL_INTERVAL)
            running_at_start = bench.running()
            rewrite = Rewrite(conn, pair, server)
            rewrite.start()
            duration = rewrite.wait()
            overlapped = running_at_start and bench.running()
            result = bench.finish(pair)
        finally:
            bench.kill()
    result.update(duration=duration, overlapped=overlapped, requests=requests)
    return result


def run(opts, tmp, keys):
    """Runs the cell on a fresh pair of servers; returns a Result."""
    labels = ("redis", "shoal")
    pair = Pair(opts, tmp, Setup())
    try:
        pair.start()
        for label in labels:
            server = pair.get(label)
            with Conn(server.port) as conn:
                t0 = time.monotonic()
                load_keys(conn, keys)
                size = conn.call("DBSIZE")
            if size != keys:
                raise BenchError("%s: DBSIZE is %r after loading %d keys" %
                                 (label, size, keys))
            log("rewrite: %s: %d keys loaded in %.1fs" % (label, keys, time.monotonic() - t0))

        idle = {}
        for label in labels:
            idle[label] = rewrite_idle(pair, pair.get(label))
            log("rewrite: %s: idle rewrite of %d keys took %.2fs" % (label, keys, idle[label]))

        rps = {}
        for label in labels:
            rps[label] = run_benchmark(opts, pair, pair.get(label), TEST, CALIBRATION_REQUESTS,
                                       ARGS)["rps"]
        window = LEAD + SLOWDOWN * max(idle.values()) + TAIL
        requests = int(max(rps.values()) * window)
        requests = max(MIN_REQUESTS, min(MAX_REQUESTS, requests))
        log("rewrite: calibration %s rps; -n %d for a %.1fs run" %
            (" / ".join("%s %.0f" % (label, rps[label]) for label in labels), requests, window))

        load = {}
        for label in labels:
            n = requests
            for attempt in (1, 2):
                t0 = time.monotonic()
                res = rewrite_under_load(opts, pair, pair.get(label), n)
                log("rewrite: %s under load: rewrite %.2fs, SET -n %d %.0f rps, p99 %.3f ms, "
                    "max %.3f ms, %s (%.1fs)" %
                    (label, res["duration"], n, res["rps"], res["p99"], res["max"],
                     "overlapped" if res["overlapped"] else "DID NOT OVERLAP",
                     time.monotonic() - t0))
                if res["overlapped"] or attempt == 2:
                    break
                n *= RETRY_FACTOR
                log("rewrite: %s: retrying with -n %d" % (label, n))
            load[label] = res
    finally:
        pair.stop()
    return Result(keys, requests, idle, load)
