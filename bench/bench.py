#!/usr/bin/python3
"""shoal vs redis-server, side by side in one run (Python 3 stdlib only).

`make bench` runs:  /usr/bin/python3 bench/bench.py --shoal ./build/shoal-server

Starts Debian's redis-server and shoal-server on free ports, runs the same
redis-benchmark commands against each (alternating which server goes first so
machine noise hits both), with and without the append-only log, times an
append-only-log rewrite under load, runs HSET/HGET/SADD/SISMEMBER/ZADD on
pre-filled containers, measures memory per key and per container element,
prints a table of redis | shoal | shoal/redis with PASS/MISS against the
targets, and writes it as markdown (--out, default build/bench-results.md).

Exit status: 0 when every measurement was taken (a MISS is not a failure:
benchmarks do not fail the build); 1 when a server fails to start or dies,
redis-benchmark reports an error or times out, or a rewrite fails or does not
complete; 2 for bad usage.

Developing the script itself: --shoal /usr/bin/redis-server compares Redis with
itself (ratios should be near 1.0). See bench/README.md for reading the results.
Modules: harness.py (servers, RESP, redis-benchmark; the server processes are
tests/support/shoal_process.py, shared with the tests), rewrite.py (the rewrite
under load cell), containers.py (the hash, set and sorted-set command lines,
their pre-fill, memory per element).
"""

import argparse
import dataclasses
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no bench/__pycache__ from the imports below

import anti_entropy  # noqa: E402
import cluster_faults  # noqa: E402
import cluster_join  # noqa: E402
import containers  # noqa: E402
import harness  # noqa: E402
import rewrite  # noqa: E402
from harness import BenchError, Conn, Pair, log, run_benchmark  # noqa: E402

# ---------------------------------------------------------------------------
# What is measured
# ---------------------------------------------------------------------------

# Targets (shoal/redis ratios).
RPS_MIN_RATIO = 0.9  # throughput: shoal >= 0.9 x redis
FSYNC_RPS_MIN_RATIO = 0.8  # throughput with the append-only log on
P99_MAX_RATIO = 1.5  # tail latency: shoal p99 <= 1.5 x redis
# A 3-node cluster (every write and read goes to 2 of 3 replicas over the peer
# channel) against one redis-server: unpipelined and with -P 16.
CLUSTER_RPS_MIN_RATIO = 0.35
CLUSTER_P16_RPS_MIN_RATIO = 0.5
MEM_MAX_RATIO = 1.5  # memory per key: shoal <= 1.5 x redis
# Memory per element of a hash, set or sorted set: shoal <= 2 x redis.
ELEMENT_MEM_MAX_RATIO = 2.0

# Memory probe: keys "key:000000000001" (16 bytes, the same shape as
# redis-benchmark's -r keys), 64-byte values. The rewrite cell loads as many.
MEMORY_KEYS = 1_000_000


@dataclasses.dataclass(frozen=True)
class Cell:
    """One redis-benchmark configuration, run identically against both servers.

    key:         its --cells name, e.g. "P16" or "always".
    name:        row label, e.g. "P16"; table rows are "<TEST> <name>".
    tests:       redis-benchmark -t tests, each run (and reported) on its own;
                 a test is a name ("set") or (label, command argv): a custom
                 command line (containers.commands).
    args:        extra redis-benchmark arguments (besides -c -d -r -n --csv).
    requests:    -n for a full run (--quick divides it by 10).
    conf:        directives for both servers, e.g. (("appendonly", "yes"),
                 ("appendfsync", "always")); they override harness's base
                 (no persistence).
    shoal_nodes: shoal nodes to start (Redis is always one node); the benchmark
                 talks to the first one.
    shoal_conf:  directives for shoal only (replicas, quorums...).
    rps_min:     target for the rps ratio.
    p99_max:     target for the p99 ratio (None: no target).
    keyspace:    redis-benchmark's -r.
    containers:  0, or how many hashes, sets and sorted sets of `keyspace`
                 elements each to fill before the cell runs
                 (containers.prefill).

    Consecutive cells with the same conf / shoal_nodes / shoal_conf share one
    pair of servers; a change starts a fresh pair.
    """

    key: str
    name: str
    tests: tuple
    args: tuple
    requests: int
    conf: tuple = ()
    shoal_nodes: int = 1
    shoal_conf: tuple = ()
    rps_min: float = RPS_MIN_RATIO
    p99_max: float = P99_MAX_RATIO
    keyspace: int = harness.KEYSPACE
    containers: int = 0

    def server_key(self):
        return (self.conf, self.shoal_nodes, self.shoal_conf)


def aof(fsync):
    """Append-only log on with `appendfsync fsync`; automatic rewrites off so
    that a rewrite (measured on its own by the rewrite cell) does not land in
    one server's runs and not the other's."""
    return (("appendonly", "yes"), ("appendfsync", fsync), ("auto-aof-rewrite-percentage", "0"))


# The cluster cells: 3 shoal nodes on 127.0.0.1..3 (N=3, R=2, W=2; otherwise
# the settings of the single-node P1/P16 cells: no persistence), redis-benchmark
# talking to the first node; Redis is the same single redis-server as always.
N3R2W2 = (("replicas", "3"), ("read-quorum", "2"), ("write-quorum", "2"))

# The container cells (containers.py): HSET, HGET, SADD, SISMEMBER, ZADD on
# SMALL hashes, sets and sorted sets of SMALL elements each (-r SMALL:
# keys and elements drawn at random), or on one of each holding BIG elements.
SMALL = 100
BIG = 1000
SMALL_TESTS = containers.commands(SMALL)
BIG_TESTS = containers.commands(1)

# Add rows here.
CELLS = (
    Cell("P1", "P1", ("set", "get"), ("-P", "1"), 200_000),
    Cell("P16", "P16", ("set", "get"), ("-P", "16"), 1_000_000),
    Cell("containers-P1", "P1 %dx%d" % (SMALL, SMALL), SMALL_TESTS, ("-P", "1"), 25_000,
         keyspace=SMALL, containers=SMALL),
    Cell("containers-P16", "P16 %dx%d" % (SMALL, SMALL), SMALL_TESTS, ("-P", "16"), 150_000,
         keyspace=SMALL, containers=SMALL),
    Cell("containers-big", "P1 1x%d" % BIG, BIG_TESTS, ("-P", "1"), 10_000,
         keyspace=BIG, containers=1),
    # The same with the append-only log (appendfsync everysec) on both servers:
    # container writes then log a delta (README, Hashes and sets).
    Cell("containers-aof-P1", "P1 %dx%d everysec" % (SMALL, SMALL), SMALL_TESTS, ("-P", "1"),
         25_000, conf=aof("everysec"), keyspace=SMALL, containers=SMALL),
    Cell("containers-aof-P16", "P16 %dx%d everysec" % (SMALL, SMALL), SMALL_TESTS, ("-P", "16"),
         150_000, conf=aof("everysec"), keyspace=SMALL, containers=SMALL),
    Cell("containers-aof-big", "P1 1x%d everysec" % BIG, BIG_TESTS, ("-P", "1"), 10_000,
         conf=aof("everysec"), keyspace=BIG, containers=1),
    Cell("cluster-P1", "P1 3 nodes N3R2W2", ("set", "get"), ("-P", "1"), 200_000,
         shoal_nodes=3, shoal_conf=N3R2W2, rps_min=CLUSTER_RPS_MIN_RATIO, p99_max=None),
    Cell("cluster-P16", "P16 3 nodes N3R2W2", ("set", "get"), ("-P", "16"), 1_000_000,
         shoal_nodes=3, shoal_conf=N3R2W2, rps_min=CLUSTER_P16_RPS_MIN_RATIO, p99_max=None),
    Cell("cluster-containers-P1", "P1 %dx%d 3 nodes N3R2W2" % (SMALL, SMALL), SMALL_TESTS,
         ("-P", "1"), 10_000, shoal_nodes=3, shoal_conf=N3R2W2, rps_min=CLUSTER_RPS_MIN_RATIO,
         p99_max=None, keyspace=SMALL, containers=SMALL),
    Cell("cluster-containers-P16", "P16 %dx%d 3 nodes N3R2W2" % (SMALL, SMALL), SMALL_TESTS,
         ("-P", "16"), 15_000, shoal_nodes=3, shoal_conf=N3R2W2,
         rps_min=CLUSTER_P16_RPS_MIN_RATIO, p99_max=None, keyspace=SMALL, containers=SMALL),
    Cell("always", "P1 appendfsync always", ("set",), ("-P", "1"), 25_000,
         conf=aof("always"), rps_min=FSYNC_RPS_MIN_RATIO),
    Cell("always-P16", "P16 appendfsync always", ("set",), ("-P", "16"), 200_000,
         conf=aof("always"), rps_min=FSYNC_RPS_MIN_RATIO),
    Cell("everysec", "P1 appendfsync everysec", ("set",), ("-P", "1"), 60_000,
         conf=aof("everysec"), rps_min=FSYNC_RPS_MIN_RATIO),
    Cell("everysec-P16", "P16 appendfsync everysec", ("set",), ("-P", "16"), 300_000,
         conf=aof("everysec"), rps_min=FSYNC_RPS_MIN_RATIO),
)
REWRITE_KEY = "rewrite"  # rewrite.py
MEMORY_KEY = "memory"
ELEMENTS_KEY = "memory-elements"  # memory per element of a hash, set, sorted set
FAULTS_KEY = "faults"  # cluster_faults.py: one node of three frozen; hand-off after an outage
AE_KEY = "anti-entropy"  # anti_entropy.py: its throughput cost; repairing 100,000 keys
JOIN_KEY = "join"  # cluster_join.py: a 4th node receiving its share of 1,000,000 keys
ALL_KEYS = tuple(c.key for c in CELLS) + (REWRITE_KEY, MEMORY_KEY, ELEMENTS_KEY, FAULTS_KEY,
                                          AE_KEY, JOIN_KEY)
# Elements per container in the memory-elements cell (100: Redis's listpack
# for hashes and sorted sets; --quick: 100, 1,000 and 10,000), and elements
# in all per row (--quick: a tenth).
ELEMENT_COUNTS = (100, 1_000, 100_000)
ELEMENTS_TOTAL = 1_000_000
AE_REPAIR_KEYS = 100_000
JOIN_KEYS = 1_000_000
# The hand-off cell's outage, in seconds (--quick: a tenth).
OUTAGE_S = 30


# ---------------------------------------------------------------------------
# Memory per key
# ---------------------------------------------------------------------------


def memory_per_key(server, count):
    with Conn(server.port) as c:
        if c.call("FLUSHALL") != "OK":
            raise BenchError("%s: FLUSHALL failed" % server.label)
        before = harness.used_memory(c)
        t0 = time.monotonic()
        harness.load_keys(c, count)
        elapsed = time.monotonic() - t0
        size = c.call("DBSIZE")
        if size != count:
            raise BenchError("%s: DBSIZE is %r after loading %d keys" % (server.label, size, count))
        after = harness.used_memory(c)
    log("%s: %d keys loaded in %.1fs, used_memory %d -> %d" %
        (server.label, count, elapsed, before, after))
    return (after - before) / count


# ---------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
    name: str
    redis: float
    shoal: float
    unit: str
    target: str = ""  # ">=", "<=" or "" (no target)
    bound: float = 0.0
    spread: tuple = None  # (min, max) of the per-repetition shoal/redis ratios
    note: str = ""  # replaces the verdict, e.g. "NO OVERLAP"

    def ratio(self):
        return self.shoal / self.redis if self.redis > 0 else float("inf")

    def verdict(self):
        if self.note:
            return self.note
        if not self.target:
            return "-"
        r = self.ratio()
        ok = r >= self.bound if self.target == ">=" else r <= self.bound
        return "PASS" if ok else "MISS"

    def cells(self):
        fmt = {"ms": "%.3f", "s": "%.2f"}.get(self.unit, "%.0f")
        return ["%s (%s)" % (self.name, self.unit), fmt % self.redis, fmt % self.shoal,
                "%.2f" % self.ratio(),
                "%.2f-%.2f" % self.spread if self.spread else "-",
                "%s %.2f" % (self.target, self.bound) if self.target else "-",
                self.verdict()]


HEADER = ["cell", "redis", "shoal", "shoal/redis", "runs' ratios", "target", "verdict"]


def text_table(rows):
    table = [HEADER] + [r.cells() for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    out = []
    for line in table:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                             for i, (c, w) in enumerate(zip(line, widths))).rstrip())
        if line is HEADER:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def markdown_table(rows):
    out = ["| " + " | ".join(HEADER) + " |", "|---" + "|---:" * (len(HEADER) - 1) + "|"]
    out += ["| " + " | ".join(r.cells()) + " |" for r in rows]
    return "\n".join(out)


def version(binary):
    try:
        p = subprocess.run([binary, "--version"], capture_output=True, timeout=10)
        return p.stdout.decode("utf-8", "replace").strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description="Benchmark shoal-server against redis-server.")
    p.add_argument("--shoal", required=True, help="shoal-server binary")
    p.add_argument("--redis", default="/usr/bin/redis-server", help="redis-server binary")
    p.add_argument("--redis-benchmark", default="/usr/bin/redis-benchmark")
    p.add_argument("--shoal-is-redis", action="store_true", default=None,
                   help="the --shoal binary is a redis-server: add --save '' "
                   "(default: guessed from the binary's name)")
    p.add_argument("--quick", action="store_true",
                   help="short run: -n / 10 and 200000 keys for memory and rewrite")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs per test and server; the table shows medians (default 3)")
    p.add_argument("--keys", type=int, default=None,
                   help="keys for the memory probe and the rewrite cell "
                   "(default %d, --quick 200000)" % MEMORY_KEYS)
    p.add_argument("--cells", default=None,
                   help="comma-separated cells to run (default all: %s)" % ",".join(ALL_KEYS))
    p.add_argument("--no-memory", action="store_true", help="skip the memory probe")
    p.add_argument("--out", default="build/bench-results.md",
                   help="markdown results file ('' for none)")
    opts = p.parse_args(argv)
    if opts.shoal_is_redis is None:
        opts.shoal_is_redis = os.path.basename(opts.shoal).startswith("redis-server")
    if opts.keys is None:
        opts.keys = 200_000 if opts.quick else MEMORY_KEYS
    if opts.repeat < 1 or opts.keys < 1:
        p.error("--repeat and --keys must be positive")
    opts.scale = 0.1 if opts.quick else 1.0
    wanted = set(ALL_KEYS)
    if opts.cells:
        wanted = {c.strip() for c in opts.cells.split(",") if c.strip()}
        unknown = wanted - set(ALL_KEYS)
        if unknown or not wanted:
            p.error("unknown cell(s): %s (known: %s)" %
                    (", ".join(sorted(unknown)), ",".join(ALL_KEYS)))
    opts.cell_list = tuple(c for c in CELLS if c.key in wanted)
    if opts.shoal_is_redis:
        # Redis has no shoal cluster to compare with itself.
        skipped = [c.key for c in opts.cell_list if c.shoal_nodes > 1]
        if skipped:
            harness.log("--shoal is a redis-server: skipping cluster cells %s" % ",".join(skipped))
        opts.cell_list = tuple(c for c in opts.cell_list if c.shoal_nodes == 1)
    opts.rewrite = REWRITE_KEY in wanted
    opts.memory = MEMORY_KEY in wanted and not opts.no_memory
    opts.elements = ELEMENTS_KEY in wanted and not opts.no_memory
    opts.faults = FAULTS_KEY in wanted and not opts.shoal_is_redis
    opts.anti_entropy = AE_KEY in wanted and not opts.shoal_is_redis
    opts.join = JOIN_KEY in wanted and not opts.shoal_is_redis
    for binary in (opts.shoal, opts.redis, opts.redis_benchmark):
        if not os.access(binary, os.X_OK):
            p.error("not an executable: %s" % binary)
    # Servers run in their own directories.
    opts.shoal, opts.redis = os.path.abspath(opts.shoal), os.path.abspath(opts.redis)
    return opts


def requests_for(opts, cell):
    return max(1000, int(cell.requests * opts.scale))


def run_cells(opts, tmp, rows):
    """Runs every cell. Each test runs on both servers back to back, the one going
    first alternating, so that both see the same machine noise."""
    flip = 0
    groups = []  # [(server_key, [cells])], consecutive cells sharing servers
    for cell in opts.cell_list:
        if groups and groups[-1][0] == cell.server_key():
            groups[-1][1].append(cell)
        else:
            groups.append((cell.server_key(), [cell]))
    for _, cells in groups:
        pair = Pair(opts, tmp, cells[0])
        try:
            pair.start()
            for cell in cells:
                if cell.containers:
                    for label in ("redis", "shoal"):
                        containers.prefill(pair.get(label), cell.containers, cell.keyspace)
                # samples[TEST][label]: one {metric: value} per repetition.
                samples = {harness.test_label(t): {"redis": [], "shoal": []} for t in cell.tests}
                for rep in range(opts.repeat):
                    for test in cell.tests:
                        name = harness.test_label(test)
                        order = ("redis", "shoal") if flip % 2 == 0 else ("shoal", "redis")
                        flip += 1
                        for label in order:
                            t0 = time.monotonic()
                            res = run_benchmark(opts, pair, pair.get(label), test,
                                                requests_for(opts, cell), cell.args,
                                                cell.keyspace)
                            log("%s %s %s %d/%d: %.0f rps, p50 %.3f ms, p99 %.3f ms (%.1fs)" %
                                (name, cell.name, label, rep + 1, opts.repeat,
                                 res["rps"], res["p50"], res["p99"], time.monotonic() - t0))
                            samples[name][label].append(res)
                for test, by_label in samples.items():
                    add_rows(rows, "%s %s" % (test, cell.name), by_label, cell.rps_min,
                             cell.p99_max)
        finally:
            pair.stop()


def add_rows(rows, name, by_label, rps_min, p99_max=P99_MAX_RATIO):
    p99_target = ("<=", p99_max) if p99_max is not None else ("", 0.0)
    for metric, suffix, unit, target, bound in (("rps", "", "rps", ">=", rps_min),
                                                ("p50", " p50", "ms", "", 0.0),
                                                ("p99", " p99", "ms") + p99_target):
        redis = [r[metric] for r in by_label["redis"]]
        shoal = [r[metric] for r in by_label["shoal"]]
        ratios = [s / r for r, s in zip(redis, shoal) if r > 0]
        spread = (min(ratios), max(ratios)) if len(ratios) > 1 else None
        rows.append(Row(name + suffix, statistics.median(redis), statistics.median(shoal), unit,
                        target, bound, spread))


def run_memory(opts, tmp, rows):
    pair = Pair(opts, tmp, Cell(MEMORY_KEY, "memory", (), (), 0))
    try:
        pair.start()
        per_key = {label: memory_per_key(pair.get(label), opts.keys)
                   for label in ("redis", "shoal")}
    finally:
        pair.stop()
    rows.append(Row("memory per key, %d keys" % opts.keys, per_key["redis"], per_key["shoal"],
                    "B/key", "<=", MEM_MAX_RATIO))


def run_elements(opts, tmp, rows, notes):
    """Memory per element: hashes, sets and sorted sets of each of
    ELEMENT_COUNTS 16-byte elements, as many containers as make
    ELEMENTS_TOTAL elements, on a flushed server."""
    total = ELEMENTS_TOTAL if not opts.quick else ELEMENTS_TOTAL // 10
    counts = ELEMENT_COUNTS if not opts.quick else tuple(max(n // 10, min(n, 1000))
                                                         for n in ELEMENT_COUNTS)
    pair = Pair(opts, tmp, Cell(ELEMENTS_KEY, "memory per element", (), (), 0))
    over = []  # shoal's MEMORY USAGE over the payload, per element
    try:
        pair.start()
        for kind in containers.KINDS:
            for count in counts:
                how_many = max(1, total // count)
                res = {label: containers.memory_per_element(pair.get(label), kind, count, how_many)
                       for label in ("redis", "shoal")}
                name = "%d %s of %d" % (how_many, containers.PLURAL[kind], count)
                rows.append(Row("memory per element, " + name, res["redis"][0], res["shoal"][0],
                                "B/element", "<=", ELEMENT_MEM_MAX_RATIO))
                rows.append(Row("MEMORY USAGE per element, " + name, res["redis"][1],
                                res["shoal"][1], "B/element"))
                over.append("%s of %d: %.1f" % (kind, count,
                                                res["shoal"][1] - containers.PAYLOAD[kind]))
    finally:
        pair.stop()
    notes.append(
        "memory per element: %d elements in all per row (containers of 16-byte fields, members "
        "and hash values, filled in commands of %d elements or a tenth of the container) on a "
        "flushed server; used_memory delta / "
        "elements, and the sum of MEMORY USAGE key SAMPLES 0 / elements. Payload per element: "
        "hash %d B (field + value), set %d B, sorted set %d B (member + 8-byte score); shoal's "
        "MEMORY USAGE over the payload (causal metadata, the encoding's lengths, the key's entry "
        "and jemalloc's size-class rounding), B/element: %s" %
        (total, containers.ELEMENTS_PER_COMMAND, containers.PAYLOAD["hash"],
         containers.PAYLOAD["set"], containers.PAYLOAD["zset"], ", ".join(over)))


def run_rewrite(opts, tmp, rows, notes):
    res = rewrite.run(opts, tmp, opts.keys)
    rows.append(Row("rewrite idle, %d keys: duration" % res.keys, res.idle["redis"],
                    res.idle["shoal"], "s"))
    missed = [label for label in ("redis", "shoal") if not res.load[label]["overlapped"]]
    note = "NO OVERLAP (%s)" % "+".join(missed) if missed else ""
    redis, shoal = res.load["redis"], res.load["shoal"]
    for metric, title, unit in (("duration", "rewrite under load: duration", "s"),
                                ("rps", "rewrite under load: SET P1", "rps"),
                                ("p99", "rewrite under load: SET P1 p99", "ms"),
                                ("max", "rewrite under load: SET P1 max latency", "ms")):
        rows.append(Row(title, redis[metric], shoal[metric], unit, note=note))
    notes.append(
        "rewrite: %d keys, appendfsync everysec, automatic rewrites off; one run per server of "
        "SET -P 1 -n %s (as above otherwise), BGREWRITEAOF %.0fs into it, INFO persistence "
        "polled every %.0f ms; the issue asks for this comparison, no target; Redis writes its "
        "default RDB-preamble base file" %
        (res.keys, "/".join(str(res.load[label]["requests"]) for label in ("redis", "shoal")),
         rewrite.LEAD, rewrite.POLL_INTERVAL * 1000))
    if missed:
        notes.append("rewrite: redis-benchmark ended before the rewrite completed on %s "
                     "(did not overlap): its latencies do not cover the rewrite" %
                     " and ".join(missed))


def main(argv):
    opts = parse_args(argv)
    # SIGTERM (make interrupted, CI timeout) unwinds through the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    load = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="shoal-bench-")
    rows = []
    extra_notes = []
    fault_rows = []
    failure = None
    try:
        run_cells(opts, tmp, rows)
        if opts.rewrite:
            run_rewrite(opts, tmp, rows, extra_notes)
        if opts.memory:
            run_memory(opts, tmp, rows)
        if opts.elements:
            run_elements(opts, tmp, rows, extra_notes)
        if opts.faults:
            fault_rows += cluster_faults.degraded(opts, tmp, max(20_000, int(300_000 * opts.scale)))
            fault_rows += cluster_faults.handoff(opts, tmp, OUTAGE_S * opts.scale)
        if opts.anti_entropy:
            fault_rows += anti_entropy.cost(opts, tmp, max(20_000, int(300_000 * opts.scale)),
                                            opts.repeat)
            fault_rows += anti_entropy.repair(opts, tmp, max(10_000, int(AE_REPAIR_KEYS * opts.scale)))
        if opts.join:
            fault_rows += cluster_join.join(opts, tmp, max(20_000, int(JOIN_KEYS * opts.scale)),
                                            max(20_000, int(200_000 * opts.scale)))
    except BenchError as e:
        failure = str(e)
    except KeyboardInterrupt:
        failure = "interrupted"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.monotonic() - started

    notes = [
        "redis: %s (%s)" % (opts.redis, version(opts.redis)),
        "shoal: %s (%s)" % (opts.shoal, version(opts.shoal)),
    ]
    if opts.cell_list:
        notes.append(
            "redis-benchmark -c %d -d %d -r %d --csv, -n %s; median of %d run(s) per server, "
            "the server going first alternating" %
            (harness.CLIENTS, harness.VALUE_SIZE, harness.KEYSPACE,
             ", ".join("%d (%s)" % (requests_for(opts, c), c.name) for c in opts.cell_list),
             opts.repeat))
    if any(c.containers for c in opts.cell_list):
        notes.append(
            "hashes, sets, sorted sets: custom command lines (%s), -r %d for %dx%d (%d containers "
            "of each type, each pre-filled with %d elements, keys and elements drawn at random) "
            "and -r %d for 1x%d (one container of each type, pre-filled with %d elements); "
            "writes overwrite existing elements, reads find them" %
            ("; ".join(" ".join(argv) for _, argv in SMALL_TESTS).replace(containers.VALUE,
                                                                          "<64-byte value>"),
             SMALL, SMALL, SMALL, SMALL, SMALL, BIG, BIG, BIG))
    if any(c.shoal_nodes > 1 for c in opts.cell_list):
        notes.append(
            "3 nodes: shoal-server on 127.0.0.1, .2, .3 with N=3 R=2 W=2 (every SET waits for "
            "2 replicas, every GET for 2 replies), redis-benchmark against node 1, all on this "
            "machine; compared with the single redis-server; targets %.2f (P1) and %.2f (P16), "
            "no p99 target" % (CLUSTER_RPS_MIN_RATIO, CLUSTER_P16_RPS_MIN_RATIO))
    notes += [
        "%s, %d CPUs, load average %.1f at start, %s; took %.0fs" %
        (platform.node(), os.cpu_count() or 0, load, time.strftime("%Y-%m-%d %H:%M:%S %Z"),
         elapsed),
    ] + extra_notes
    if failure:
        notes.append("INCOMPLETE: " + failure.splitlines()[0])

    faults_md = ""
    if fault_rows:
        lines = ["| figure | healthy | under failure | ratio |", "|---|---:|---:|---:|"]
        for name, healthy, faulty, ratio in fault_rows:
            lines.append("| %s | %s | %s | %s |" % (
                name, "-" if healthy is None else "%.0f" % healthy,
                "%.2f" % faulty if faulty < 100 else "%.0f" % faulty,
                "-" if ratio is None else "%.2f" % ratio))
        faults_md = ("## Cluster under failure, anti-entropy and partition transfer (shoal alone)\n\n"
                     "Columns: the figure healthy / at rest (off, before), then under failure / "
                     "running (on, during), and their ratio.\n\n" + "\n".join(lines) + "\n\n")
    print()
    print(text_table(rows))
    print()
    if faults_md:
        print(faults_md)
    for n in notes:
        print("  " + n)
    if opts.out:
        os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
        with open(opts.out, "w") as f:
            f.write("# shoal vs redis-server\n\n%s\n\n" % markdown_table(rows))
            f.write(faults_md)
            f.write("".join("- %s\n" % n for n in notes))
        print("  results written to " + opts.out)
    if failure:
        print("\nbench FAILED: " + failure, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
