"""Servers, a small RESP client and redis-benchmark runs for bench.py.

Python 3 stdlib only. Everything that raises raises BenchError: a measurement
could not be taken (bench.py then exits 1).
"""

import csv
import io
import os
import shutil
import socket
import subprocess
import sys
import time

# The server-process helpers the tests use too (tests/support/shoal_process.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "support"))
import shoal_process as sp  # noqa: E402

# redis-benchmark parameters common to every cell.
CLIENTS = 50
VALUE_SIZE = 64
KEYSPACE = 100_000

LOAD_BATCH = 10_000  # SETs per pipelined batch when loading keys

START_TIMEOUT = 20.0  # seconds until a server answers PING
CONVERGE_TIMEOUT = 30.0  # seconds until a cluster's nodes all know each other
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
BENCHMARK_TIMEOUT = 600.0  # seconds for one redis-benchmark invocation
IO_TIMEOUT = 60.0  # seconds for one socket operation


class BenchError(Exception):
    """A measurement could not be taken (server failed, redis-benchmark error)."""


def log(msg):
    print("[bench] " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------


def fresh_dir(tmp, label):
    """Creates and returns tmp/label, or tmp/label.2, ... if already used."""
    workdir, tag = os.path.join(tmp, label), 1
    while os.path.exists(workdir):
        tag += 1
        workdir = os.path.join(tmp, "%s.%d" % (label, tag))
    os.makedirs(workdir)
    return workdir


def directives(*confs):
    """Merges ((name, value), ...) tuples, later ones winning, into argv:
    (("appendonly", "no"),), (("appendonly", "yes"),) -> ["--appendonly", "yes"]."""
    merged = {}
    for conf in confs:
        for name, value in conf:
            merged[name] = value
    out = []
    for name, value in merged.items():
        out += ["--" + name, value]
    return out


class Server(sp.ServerProcess):
    """One server process (redis-server or shoal-server) logging to workdir/server.log.
    Failures raise BenchError with the tail of the log."""

    def __init__(self, label, binary, port, workdir, args, host="127.0.0.1"):
        argv = [binary, "--port", str(port), "--bind", host, "--dir", workdir] + list(args)
        super().__init__(argv, os.path.join(workdir, "server.log"), name=label, cwd=workdir)
        self.label = label
        self.binary = binary
        self.host = host
        self.port = port
        self.dir = workdir

    def start(self):
        log("starting %s: %s" % (self.label, self.command()))
        try:
            super().start()
        except sp.ProcessError as e:
            raise BenchError(str(e)) from e

    def wait_ready(self):
        try:
            super().wait_ready(self.host, self.port, START_TIMEOUT)
        except sp.ProcessError as e:
            raise BenchError("%s%s" % (e, self.log_tail())) from e

    def check_alive(self):
        try:
            super().check_alive()
        except sp.ProcessError as e:
            raise BenchError("%s%s" % (e, self.log_tail())) from e

    def stop(self):
        super().stop(STOP_TIMEOUT)
        if self.killed:
            log("%s ignored SIGTERM for %.0fs; sent SIGKILL" % (self.label, STOP_TIMEOUT))


def shoal_nodes(binary, count, tmp, args):
    """count unstarted shoal Servers: one on 127.0.0.1, or a cluster with node i
    on 127.0.0.(i+1) (its own address, as on a network; Linux routes 127/8 to
    lo), each given the others as --cluster-seeds. Pair.start waits until they
    know each other (wait_converged)."""
    hosts = sp.cluster_hosts(count)
    ports = [sp.free_port(host) for host in hosts]
    nodes = []
    for i, (host, port) in enumerate(zip(hosts, ports)):
        node_args = list(args)
        if count > 1:
            seeds = ",".join("%s:%d" % hp for hp in zip(hosts, ports) if hp != (host, port))
            node_args += ["--cluster-seeds", seeds]
        label = "shoal" if count == 1 else "shoal-%d" % (i + 1)
        nodes.append(Server(label, binary, port, fresh_dir(tmp, label), node_args, host))
    return nodes


def cluster_info(server):
    """CLUSTER INFO of server as {field: value string}."""
    with Conn(server.port, host=server.host) as c:
        return parse_fields(c.call("CLUSTER", "INFO"))


def placement_problem(servers):
    """None once no node is still to receive a partition (the last field of
    each CLUSTER NODES line), else which one is."""
    for s in servers:
        with Conn(s.port, host=s.host) as c:
            lines = c.call("CLUSTER", "NODES")
        for line in (lines.decode() if isinstance(lines, bytes) else lines).splitlines():
            fields = line.split()
            if fields and fields[-1] != "0":
                return "%s: %s still receiving %s partitions" % (s.label, fields[0][:8], fields[-1])
    return None


def wait_converged(servers):
    """Waits until every node reports cluster_state:ok, knows all the others
    and has the same ring epoch (membership exchange done), and no node is
    still receiving partitions."""
    last = [None]

    def converged():
        for s in servers:
            s.check_alive()  # a dead node ends the wait (BenchError is fatal below)
        try:
            last[0] = sp.convergence_problem({s.label: cluster_info(s) for s in servers}, len(servers))
            if last[0] is None:
                last[0] = placement_problem(servers)
        except (OSError, BenchError) as e:  # not answering yet, or reset: poll again
            last[0] = str(e)
        return last[0] is None

    try:
        sp.wait_for(converged, CONVERGE_TIMEOUT, "cluster convergence", interval=0.05, error=TimeoutError,
                    fatal=(BenchError,))
    except TimeoutError as e:
        raise BenchError("%s; last: %s%s" % (e, last[0], "".join(s.log_tail() for s in servers))) from None
    log("cluster of %d converged" % len(servers))


# Both servers run without persistence unless a cell's conf says otherwise
# (shoal's default is `appendonly yes`, Redis's `save 3600 1 ...`).
REDIS_BASE_CONF = (("save", ""), ("appendonly", "no"))
SHOAL_BASE_CONF = (("appendonly", "no"),)


class Pair:
    """redis-server and shoal-server(s) started with the settings of a cell
    (anything with conf, shoal_nodes and shoal_conf)."""

    def __init__(self, opts, tmp, cell):
        redis_args = directives(REDIS_BASE_CONF, cell.conf)
        self.redis = Server("redis", opts.redis, sp.free_port(), fresh_dir(tmp, "redis"), redis_args)
        shoal_base = REDIS_BASE_CONF if opts.shoal_is_redis else SHOAL_BASE_CONF
        shoal_args = directives(shoal_base, cell.conf, cell.shoal_conf)
        self.shoals = shoal_nodes(opts.shoal, cell.shoal_nodes, tmp, shoal_args)
        self.servers = [self.redis] + self.shoals

    def start(self):
        for s in self.servers:
            s.start()
        for s in self.servers:
            s.wait_ready()
        if len(self.shoals) > 1:
            wait_converged(self.shoals)

    def check_alive(self):
        for s in self.servers:
            s.check_alive()

    def stop(self):
        """Stops the servers and deletes their directories (logs, append-only files)."""
        for s in self.servers:
            s.stop()
        for s in self.servers:
            shutil.rmtree(s.dir, ignore_errors=True)

    def get(self, label):
        return self.redis if label == "redis" else self.shoals[0]


# ---------------------------------------------------------------------------
# RESP over a raw socket (PING, FLUSHALL, INFO, DBSIZE, BGREWRITEAOF, loading)
# ---------------------------------------------------------------------------


def encode(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(parts)


class Conn:
    def __init__(self, port, timeout=IO_TIMEOUT, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
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

    def info(self, section):
        """INFO <section> as {field: value string}."""
        return parse_fields(self.call("INFO", section))


parse_fields = sp.parse_fields


def command(port, *args, timeout=IO_TIMEOUT, host="127.0.0.1"):
    with Conn(port, timeout, host) as c:
        return c.call(*args)


def used_memory(conn):
    value = conn.info("memory").get("used_memory")
    if value is None:
        raise BenchError("INFO memory has no used_memory: field")
    return int(value)


def load_keys(conn, count):
    """SET key:%012d to a 64-byte value for 1..count, pipelined in batches.
    The keys have the shape of redis-benchmark's -r keys (16 bytes)."""
    for first in range(1, count + 1, LOAD_BATCH):
        last = min(first + LOAD_BATCH, count + 1)
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


# ---------------------------------------------------------------------------
# redis-benchmark
# ---------------------------------------------------------------------------


def test_label(test):
    """A test's name in the table: "SET" for "set", "HGET" for ("HGET", argv)."""
    return test.upper() if isinstance(test, str) else test[0]


class Benchmark:
    """One redis-benchmark process (one test) against one server.

    test: a built-in test ("set", run with -t), or (label, argv): a custom
    command line, given after the options (its __rand_int__s drawn below
    keyspace), whose CSV row is named by the command line itself.
    keyspace: the -r."""

    def __init__(self, opts, server, test, requests, args, keyspace=KEYSPACE):
        self.server = server
        self.test = test_label(test)
        self.argv = [opts.redis_benchmark, "-h", server.host, "-p", str(server.port)]
        if isinstance(test, str):
            self.argv += ["-t", test]
            self.row_name = test.upper()
            command = []
        else:
            command = list(test[1])
            self.row_name = " ".join(command).upper()
        self.argv += ["-c", str(CLIENTS), "-d", str(VALUE_SIZE), "-r", str(keyspace), "-n",
                      str(requests), "--csv"] + list(args) + command
        self.proc = None
        self.deadline = None

    def start(self):
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.deadline = time.monotonic() + BENCHMARK_TIMEOUT

    def running(self):
        return self.proc.poll() is None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def finish(self, pair):
        """Waits for the end; returns {"rps", "p50", "p99", "max"} (ms but rps)."""
        # redis-benchmark spins forever when its server goes away: watch the servers.
        try:
            while True:
                try:
                    out, err = self.proc.communicate(timeout=0.5)
                    break
                except subprocess.TimeoutExpired:
                    pair.check_alive()
                    if time.monotonic() > self.deadline:
                        raise BenchError("redis-benchmark against %s timed out after %.0fs: %s" %
                                         (self.server.label, BENCHMARK_TIMEOUT,
                                          " ".join(self.argv)))
        finally:
            self.kill()
        out = out.decode("utf-8", "replace")
        err = err.decode("utf-8", "replace")
        label = self.server.label
        if self.proc.returncode != 0:
            raise BenchError("redis-benchmark against %s exited %d: %s\n%s%s" %
                             (label, self.proc.returncode, " ".join(self.argv),
                              (err + out).strip(), self.server.log_tail()))
        for line in err.splitlines():
            if line.strip() and "Could not fetch server CONFIG" not in line:
                log("redis-benchmark (%s): %s" % (label, line))
        for row in csv.DictReader(io.StringIO(out)):
            if row.get("test", "").upper() == self.row_name:
                try:
                    return {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]),
                            "p99": float(row["p99_latency_ms"]),
                            "max": float(row["max_latency_ms"])}
                except (KeyError, TypeError, ValueError):
                    raise BenchError("unexpected redis-benchmark CSV row %r" % (row,))
        raise BenchError("redis-benchmark against %s gave no %s result (%s):\n%s" %
                         (label, self.test, " ".join(self.argv), (err + out).strip()))


def run_benchmark(opts, pair, server, test, requests, args, keyspace=KEYSPACE):
    """Runs one redis-benchmark test against one server to the end."""
    bench = Benchmark(opts, server, test, requests, args, keyspace)
    bench.start()
    try:
        return bench.finish(pair)
    finally:
        bench.kill()
