#!/usr/bin/python3
"""shoal vs redis-server, side by side in one run (Python 3 stdlib only).

`make bench` runs:  /usr/bin/python3 bench/bench.py --shoal ./build/shoal-server

Starts Debian's redis-server and shoal-server on free ports, runs the same
redis-benchmark commands against each (alternating which server goes first so
machine noise hits both), measures memory per key, prints a table of
redis | shoal | shoal/redis with PASS/MISS against the targets, and writes it as
markdown (--out, default build/bench-results.md).

Exit status: 0 when every measurement was taken (a MISS is not a failure:
benchmarks do not fail the build); 1 when a server fails to start or dies, or
redis-benchmark reports an error or times out; 2 for bad usage.

Developing the script itself: --shoal /usr/bin/redis-server compares Redis with
itself (ratios should be near 1.0). See bench/README.md for reading the results.
"""

import argparse
import csv
import dataclasses
import io
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

# ---------------------------------------------------------------------------
# What is measured
# ---------------------------------------------------------------------------

# Targets (shoal/redis ratios).
RPS_MIN_RATIO = 0.9  # throughput: shoal >= 0.9 x redis
P99_MAX_RATIO = 1.5  # tail latency: shoal p99 <= 1.5 x redis
MEM_MAX_RATIO = 1.5  # memory per key: shoal <= 1.5 x redis

# redis-benchmark parameters common to every cell.
CLIENTS = 50
VALUE_SIZE = 64
KEYSPACE = 100_000

# Memory probe: keys "key:000000000001" (16 bytes, the same shape as
# redis-benchmark's -r keys), 64-byte values.
MEMORY_KEYS = 1_000_000
MEMORY_BATCH = 10_000

START_TIMEOUT = 20.0  # seconds until a server answers PING
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
BENCHMARK_TIMEOUT = 600.0  # seconds for one redis-benchmark invocation
IO_TIMEOUT = 60.0  # seconds for one socket operation in the memory probe


@dataclasses.dataclass(frozen=True)
class Cell:
    """One redis-benchmark configuration, run identically against both servers.

    name:        row label, e.g. "P16"; table rows are "<TEST> <name>".
    tests:       redis-benchmark -t tests, each run (and reported) on its own.
    args:        extra redis-benchmark arguments (besides -c -d -r -n --csv).
    requests:    -n for a full run (--quick divides it by 10).
    conf:        directives for both servers, e.g. (("appendonly", "yes"),
                 ("appendfsync", "always")).
    shoal_nodes: shoal nodes to start (Redis is always one node); the benchmark
                 talks to the first one.
    shoal_conf:  directives for shoal only (replicas, quorums...).

    Consecutive cells with the same conf / shoal_nodes / shoal_conf share one
    pair of servers; a change starts a fresh pair.
    """

    name: str
    tests: tuple
    args: tuple
    requests: int
    conf: tuple = ()
    shoal_nodes: int = 1
    shoal_conf: tuple = ()

    def server_key(self):
        return (self.conf, self.shoal_nodes, self.shoal_conf)


# Add rows here. Later, for example:
#   Cell("P1 fsync=always", ("set",), ("-P", "1"), 50_000,
#        conf=(("appendonly", "yes"), ("appendfsync", "always"))),
#   Cell("P1 N3R2W2", ("set", "get"), ("-P", "1"), 200_000, shoal_nodes=3,
#        shoal_conf=(("replicas", "3"), ("read-quorum", "2"), ("write-quorum", "2"))),
CELLS = (
    Cell("P1", ("set", "get"), ("-P", "1"), 200_000),
    Cell("P16", ("set", "get"), ("-P", "16"), 1_000_000),
)


class BenchError(Exception):
    """A measurement could not be taken (server failed, redis-benchmark error)."""


def log(msg):
    print("[bench] " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


_taken_ports = set()


def free_port():
    """A free client port whose cluster port (port + 10000) is free too."""
    for _ in range(1000):
        port = random.randrange(20000, 30000)
        if port in _taken_ports or port + 10000 in _taken_ports:
            continue
        if port_free(port) and port_free(port + 10000):
            _taken_ports.update((port, port + 10000))
            return port
    raise BenchError("no free port pair found")


def fresh_dir(tmp, label):
    """Creates and returns tmp/label, or tmp/label.2, ... if already used."""
    workdir, tag = os.path.join(tmp, label), 1
    while os.path.exists(workdir):
        tag += 1
        workdir = os.path.join(tmp, "%s.%d" % (label, tag))
    os.makedirs(workdir)
    return workdir


def directives(conf):
    """(("appendonly", "no"),) -> ["--appendonly", "no"]."""
    out = []
    for name, value in conf:
        out += ["--" + name, value]
    return out


class Server:
    """One server process (redis-server or shoal-server) logging to a file."""

    def __init__(self, label, binary, port, workdir, args):
        self.label = label
        self.binary = binary
        self.port = port
        self.dir = workdir
        self.argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir]
        self.argv += args
        self.log_path = os.path.join(workdir, "server.log")
        self.proc = None

    def start(self):
        with open(self.log_path, "wb") as logfile:
            try:
                self.proc = subprocess.Popen(self.argv, cwd=self.dir, stdin=subprocess.DEVNULL,
                                             stdout=logfile, stderr=subprocess.STDOUT)
            except OSError as e:
                raise BenchError("%s: cannot run %s: %s" % (self.label, self.binary, e))

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        last = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if command(self.port, "PING", timeout=1.0) == "PONG":
                    return
            except (OSError, BenchError) as e:
                last = e
            time.sleep(0.02)  # poll interval under the deadline
        raise BenchError("%s did not answer PING on port %d within %.0fs (last: %s)%s" %
                         (self.label, self.port, START_TIMEOUT, last, self.log_tail()))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        if self.proc is not None and self.proc.poll() is not None:
            raise BenchError("%s exited with status %s%s" %
                             (self.label, self.proc.returncode, self.log_tail()))

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            log("%s ignored SIGTERM for %.0fs; sending SIGKILL" % (self.label, STOP_TIMEOUT))
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines=15):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n  --- %s log (%s) ---\n  %s" % (self.label, self.log_path, "\n  ".join(text))


def shoal_nodes(binary, count, tmp, args):
    """count unstarted shoal Servers on 127.0.0.1; with count > 1 each node gets
    the others as --cluster-seeds. (A cluster cell will also want to wait until
    the nodes see each other before measuring.)"""
    ports = [free_port() for _ in range(count)]
    nodes = []
    for i, port in enumerate(ports):
        node_args = list(args)
        if count > 1:
            seeds = ",".join("127.0.0.1:%d" % p for p in ports if p != port)
            node_args += ["--cluster-seeds", seeds]
        label = "shoal" if count == 1 else "shoal-%d" % (i + 1)
        nodes.append(Server(label, binary, port, fresh_dir(tmp, label), node_args))
    return nodes


class Pair:
    """redis-server and shoal-server(s) started with the settings of a cell."""

    def __init__(self, opts, tmp, cell):
        redis_args = ["--save", "", "--appendonly", "no"] + directives(cell.conf)
        self.redis = Server("redis", opts.redis, free_port(), fresh_dir(tmp, "redis"), redis_args)
        shoal_args = ["--appendonly", "no"]
        if opts.shoal_is_redis:
            shoal_args += ["--save", ""]
        shoal_args += directives(cell.conf) + directives(cell.shoal_conf)
        self.shoals = shoal_nodes(opts.shoal, cell.shoal_nodes, tmp, shoal_args)
        self.servers = [self.redis] + self.shoals

    def start(self):
        for s in self.servers:
            s.start()
        for s in self.servers:
            s.wait_ready()

    def check_alive(self):
        for s in self.servers:
            s.check_alive()

    def stop(self):
        for s in self.servers:
            s.stop()

    def get(self, label):
        return self.redis if label == "redis" else self.shoals[0]


# ---------------------------------------------------------------------------
# RESP over a raw socket (PING, FLUSHALL, INFO, DBSIZE and the memory load)
# ---------------------------------------------------------------------------


def encode(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


class Conn:
    def __init__(self, port, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.pos = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.sock.close()

    def _fill(self):
        data = self.sock.recv(1 << 16)
        if not data:
            raise BenchError("server closed the connection")
        self.buf = self.buf[self.pos:] + data
        self.pos = 0

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line, self.pos = self.buf[self.pos:i], i + 2
                return line
            self._fill()

    def read_exact(self, n):
        while len(self.buf) - self.pos < n:
            self._fill()
        data, self.pos = self.buf[self.pos:self.pos + n], self.pos + n
        return data

    def read(self):
        """One reply: str (simple or bulk string), int, list or None; an error
        reply raises BenchError."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise BenchError("server replied with an error: " + rest.decode("utf-8", "replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.read_exact(n + 2)[:-2].decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise BenchError("bad RESP reply line: %r" % line[:80])

    def call(self, *args):
        self.sock.sendall(encode(*args))
        return self.read()


def command(port, *args, timeout=IO_TIMEOUT):
    with Conn(port, timeout) as c:
        return c.call(*args)


def used_memory(conn):
    info = conn.call("INFO", "memory")
    for line in (info or "").splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":", 1)[1])
    raise BenchError("INFO memory has no used_memory: field")


def load_keys(conn, count):
    """SET key:%012d to a 64-byte value for 1..count, pipelined in batches."""
    for first in range(1, count + 1, MEMORY_BATCH):
        last = min(first + MEMORY_BATCH, count + 1)
        chunk = []
        for i in range(first, last):
            key = b"key:%012d" % i
            value = (b"value:%012d:" % i).ljust(VALUE_SIZE, b"x")
            chunk.append(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$64\r\n%s\r\n" % (key, value))
        conn.sock.sendall(b"".join(chunk))
        expected = b"+OK\r\n" * (last - first)
        got = conn.read_exact(len(expected))
        if got != expected:
            at = next(i for i in range(len(got)) if got[i] != expected[i])
            raise BenchError("SET replied %r" % got[at - at % 5:at - at % 5 + 80])


def memory_per_key(server, count):
    with Conn(server.port) as c:
        if c.call("FLUSHALL") != "OK":
            raise BenchError("%s: FLUSHALL failed" % server.label)
        before = used_memory(c)
        t0 = time.monotonic()
        load_keys(c, count)
        elapsed = time.monotonic() - t0
        size = c.call("DBSIZE")
        if size != count:
            raise BenchError("%s: DBSIZE is %r after loading %d keys" % (server.label, size, count))
        after = used_memory(c)
    log("%s: %d keys loaded in %.1fs, used_memory %d -> %d" %
        (server.label, count, elapsed, before, after))
    return (after - before) / count


# ---------------------------------------------------------------------------
# redis-benchmark
# ---------------------------------------------------------------------------


def run_benchmark(opts, pair, server, cell, test, requests):
    """Runs one test of a cell against one server; returns {metric: float}."""
    argv = [opts.redis_benchmark, "-h", "127.0.0.1", "-p", str(server.port), "-t", test,
            "-c", str(CLIENTS), "-d", str(VALUE_SIZE), "-r", str(KEYSPACE), "-n", str(requests),
            "--csv"] + list(cell.args)
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    # redis-benchmark spins forever when its server goes away: watch the servers.
    deadline = time.monotonic() + BENCHMARK_TIMEOUT
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                pair.check_alive()
                if time.monotonic() > deadline:
                    raise BenchError("redis-benchmark against %s timed out after %.0fs: %s" %
                                     (server.label, BENCHMARK_TIMEOUT, " ".join(argv)))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    out = out.decode("utf-8", "replace")
    err = err.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise BenchError("redis-benchmark against %s exited %d: %s\n%s%s" %
                         (server.label, proc.returncode, " ".join(argv), (err + out).strip(),
                          server.log_tail()))
    for line in err.splitlines():
        if line.strip() and "Could not fetch server CONFIG" not in line:
            log("redis-benchmark (%s): %s" % (server.label, line))
    for row in csv.DictReader(io.StringIO(out)):
        if row.get("test", "").upper() == test.upper():
            try:
                return {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]),
                        "p99": float(row["p99_latency_ms"])}
            except (KeyError, TypeError, ValueError):
                raise BenchError("unexpected redis-benchmark CSV row %r" % (row,))
    raise BenchError("redis-benchmark against %s gave no %s result:\n%s" %
                     (server.label, test.upper(), out))


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

    def ratio(self):
        return self.shoal / self.redis if self.redis > 0 else float("inf")

    def verdict(self):
        if not self.target:
            return "-"
        r = self.ratio()
        ok = r >= self.bound if self.target == ">=" else r <= self.bound
        return "PASS" if ok else "MISS"

    def cells(self):
        fmt = "%.3f" if self.unit == "ms" else "%.0f"
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
                   help="short run: -n / 10 and 200000 memory keys")
    p.add_argument("--repeat", type=int, default=3,
                   help="runs per test and server; the table shows medians (default 3)")
    p.add_argument("--keys", type=int, default=None,
                   help="keys for the memory probe (default %d, --quick 200000)" % MEMORY_KEYS)
    p.add_argument("--cells", default=None,
                   help="comma-separated cells to run (default all: %s)" %
                   ",".join(c.name for c in CELLS))
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
    opts.cell_list = CELLS
    if opts.cells:
        wanted = [c.strip() for c in opts.cells.split(",") if c.strip()]
        unknown = set(wanted) - {c.name for c in CELLS}
        if unknown:
            p.error("unknown cell(s): %s" % ", ".join(sorted(unknown)))
        opts.cell_list = tuple(c for c in CELLS if c.name in wanted)
    for binary in (opts.shoal, opts.redis, opts.redis_benchmark):
        if not os.access(binary, os.X_OK):
            p.error("not an executable: %s" % binary)
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
                # samples[TEST][label]: one {metric: value} per repetition.
                samples = {t.upper(): {"redis": [], "shoal": []} for t in cell.tests}
                for rep in range(opts.repeat):
                    for test in cell.tests:
                        order = ("redis", "shoal") if flip % 2 == 0 else ("shoal", "redis")
                        flip += 1
                        for label in order:
                            t0 = time.monotonic()
                            res = run_benchmark(opts, pair, pair.get(label), cell, test,
                                                requests_for(opts, cell))
                            log("%s %s %s %d/%d: %.0f rps, p50 %.3f ms, p99 %.3f ms (%.1fs)" %
                                (test.upper(), cell.name, label, rep + 1, opts.repeat,
                                 res["rps"], res["p50"], res["p99"], time.monotonic() - t0))
                            samples[test.upper()][label].append(res)
                for test, by_label in samples.items():
                    add_rows(rows, "%s %s" % (test, cell.name), by_label)
        finally:
            pair.stop()


def add_rows(rows, name, by_label):
    for metric, suffix, unit, target, bound in (("rps", "", "rps", ">=", RPS_MIN_RATIO),
                                                ("p50", " p50", "ms", "", 0.0),
                                                ("p99", " p99", "ms", "<=", P99_MAX_RATIO)):
        redis = [r[metric] for r in by_label["redis"]]
        shoal = [r[metric] for r in by_label["shoal"]]
        ratios = [s / r for r, s in zip(redis, shoal) if r > 0]
        spread = (min(ratios), max(ratios)) if len(ratios) > 1 else None
        rows.append(Row(name + suffix, statistics.median(redis), statistics.median(shoal), unit,
                        target, bound, spread))


def run_memory(opts, tmp, rows):
    pair = Pair(opts, tmp, Cell("memory", (), (), 0))
    try:
        pair.start()
        per_key = {label: memory_per_key(pair.get(label), opts.keys)
                   for label in ("redis", "shoal")}
    finally:
        pair.stop()
    rows.append(Row("memory per key, %d keys" % opts.keys, per_key["redis"], per_key["shoal"],
                    "B/key", "<=", MEM_MAX_RATIO))


def main(argv):
    opts = parse_args(argv)
    # SIGTERM (make interrupted, CI timeout) unwinds through the finally blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    load = os.getloadavg()[0]
    tmp = tempfile.mkdtemp(prefix="shoal-bench-")
    rows = []
    failure = None
    try:
        run_cells(opts, tmp, rows)
        if not opts.no_memory:
            run_memory(opts, tmp, rows)
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
        "redis-benchmark -c %d -d %d -r %d --csv, -n %s; median of %d run(s) per server, "
        "the server going first alternating" %
        (CLIENTS, VALUE_SIZE, KEYSPACE,
         ", ".join("%d (%s)" % (requests_for(opts, c), c.name) for c in opts.cell_list),
         opts.repeat),
        "%s, %d CPUs, load average %.1f at start, %s; took %.0fs" %
        (platform.node(), os.cpu_count() or 0, load, time.strftime("%Y-%m-%d %H:%M:%S %Z"),
         elapsed),
    ]
    if failure:
        notes.append("INCOMPLETE: " + failure.splitlines()[0])

    print()
    print(text_table(rows))
    print()
    for n in notes:
        print("  " + n)
    if opts.out:
        os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
        with open(opts.out, "w") as f:
            f.write("# shoal vs redis-server\n\n%s\n\n" % markdown_table(rows))
            f.write("".join("- %s\n" % n for n in notes))
        print("  results written to " + opts.out)
    if failure:
        print("\nbench FAILED: " + failure, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
