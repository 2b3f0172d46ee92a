#!/usr/bin/python3
"""shoal vs redis-server, side by side in one run (Python 3 stdlib only).

`make bench` runs:  /usr/bin/python3 bench/bench.py --shoal ./build/shoal-server

Starts Debian's redis-server and shoal-server on free ports, runs the same
redis-benchmark commands against each (alternating servers so machine noise hits
both), measures memory per key, prints a table of redis | shoal | ratio with
PASS/MISS against the targets, and writes it as markdown (--out).

Exit status: 0 when every measurement was taken (a MISS is not a failure:
benchmarks do not fail the build); 1 when a server fails to start or dies, or
redis-benchmark reports an error or times out; 2 for bad usage.

See bench/README.md for how to read the results.
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

# Targets from the issue: shoal/redis ratio per metric.
kRpsMinRatio = 0.9  # throughput: shoal >= 0.9 x redis
kP99MaxRatio = 1.5  # tail latency: shoal p99 <= 1.5 x redis
kMemMaxRatio = 1.5  # memory per key: shoal <= 1.5 x redis

# redis-benchmark parameters common to every cell.
kClients = 50
kValueSize = 64
kKeyspace = 100_000

# Memory probe: keys like "key:000000000001" (16 bytes), 64-byte values.
kMemoryKeys = 1_000_000
kMemoryBatch = 10_000

kStartTimeout = 20.0  # seconds until a server answers PING
kStopTimeout = 10.0  # seconds between SIGTERM and SIGKILL
kBenchmarkTimeout = 600.0  # seconds for one redis-benchmark invocation
kIoTimeout = 60.0  # seconds for one socket read/write in the memory probe


@dataclasses.dataclass(frozen=True)
class Cell:
  """One redis-benchmark invocation, run identically against both servers.

  name:      row label, e.g. "P16"; table rows are "<TEST> <name>".
  tests:     redis-benchmark -t tests; each yields rps / p50 / p99 rows.
  args:      extra redis-benchmark arguments (beyond -c/-d/-r/-n/--csv).
  requests:  -n for a full run (--quick divides it by 10).
  conf:      server directives for both servers, e.g. (("appendonly", "yes"),
             ("appendfsync", "always")). Cells with equal conf and shoal_nodes
             share one pair of servers.
  shoal_nodes: shoal nodes to start (redis is always one node); the benchmark
             talks to the first. >1 needs cluster directives in shoal_conf.
  shoal_conf: directives for shoal only (e.g. replicas / quorums).
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


# Add rows here. Later: appendfsync always, and a 3-node cluster, e.g.
#   Cell("P1 fsync=always", ("set",), ("-P", "1"), 50_000,
#        conf=(("appendonly", "yes"), ("appendfsync", "always"))),
#   Cell("P1 cluster N3R2W2", ("set", "get"), ("-P", "1"), 200_000, shoal_nodes=3,
#        shoal_conf=(("replicas", "3"), ("read-quorum", "2"), ("write-quorum", "2"))),
CELLS = (
    Cell("P1", ("set", "get"), ("-P", "1"), 200_000),
    Cell("P16", ("set", "get"), ("-P", "16"), 1_000_000),
)


class BenchError(Exception):
  """A measurement could not be taken (server failed, redis-benchmark error)."""


def Log(msg):
  print("[bench] " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------


def PortFree(port):
  with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
      s.bind(("127.0.0.1", port))
    except OSError:
      return False
  return True


_taken_ports = set()


def FreePort():
  """A free client port whose cluster port (port + 10000) is free too."""
  for _ in range(1000):
    port = random.randrange(20000, 30000)
    if port in _taken_ports or port + 10000 in _taken_ports:
      continue
    if PortFree(port) and PortFree(port + 10000):
      _taken_ports.update((port, port + 10000))
      return port
  raise BenchError("no free port pair found")


def FreshDir(tmp, label):
  """A path under tmp not used by an earlier server: tmp/label, tmp/label.2, ..."""
  workdir, tag = os.path.join(tmp, label), 1
  while os.path.exists(workdir):
    tag += 1
    workdir = os.path.join(tmp, "%s.%d" % (label, tag))
  os.makedirs(workdir)
  return workdir


def Directives(conf):
  """(("appendonly", "no"),) -> ["--appendonly", "no"]."""
  out = []
  for name, value in conf:
    out += ["--" + name, value]
  return out


class Server:
  """One server process (redis-server or shoal-server), logging to a file."""

  def __init__(self, label, binary, port, workdir, args):
    self.label = label
    self.binary = binary
    self.port = port
    self.dir = workdir
    self.argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", workdir] + args
    self.log_path = os.path.join(workdir, "server.log")
    self.proc = None

  def Start(self):
    os.makedirs(self.dir, exist_ok=True)
    log = open(self.log_path, "wb")
    try:
      self.proc = subprocess.Popen(self.argv, cwd=self.dir, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    except OSError as e:
      raise BenchError("%s: cannot run %s: %s" % (self.label, self.binary, e))
    finally:
      log.close()

  def WaitReady(self):
    deadline = time.monotonic() + kStartTimeout
    last = None
    while time.monotonic() < deadline:
      self.CheckAlive()
      try:
        if Command(self.port, "PING", timeout=1.0) == "PONG":
          return
      except (OSError, BenchError) as e:
        last = e
      time.sleep(0.02)  # poll interval, not a wait-and-hope
    raise BenchError("%s did not answer PING on port %d within %.0fs (last: %s)%s" %
                     (self.label, self.port, kStartTimeout, last, self.LogTail()))

  def Alive(self):
    return self.proc is not None and self.proc.poll() is None

  def CheckAlive(self):
    if self.proc is not None and self.proc.poll() is not None:
      raise BenchError("%s exited with status %s%s" %
                       (self.label, self.proc.returncode, self.LogTail()))

  def Stop(self):
    if self.proc is None or self.proc.poll() is not None:
      return
    self.proc.send_signal(signal.SIGTERM)
    try:
      self.proc.wait(timeout=kStopTimeout)
    except subprocess.TimeoutExpired:
      Log("%s ignored SIGTERM for %.0fs; sending SIGKILL" % (self.label, kStopTimeout))
      self.proc.kill()
      self.proc.wait()

  def LogTail(self, lines=15):
    try:
      with open(self.log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
      return ""
    return "\n  --- %s log (%s) ---\n  " % (self.label, self.log_path) + "\n  ".join(text)


class Pair:
  """redis-server and shoal-server(s) started with the same settings."""

  def __init__(self, opts, tmp, cell):
    self.servers = []
    self.redis = None
    self.shoal = None
    redis_args = ["--save", "", "--appendonly", "no"] + Directives(cell.conf)
    self.redis = Server("redis", opts.redis, FreePort(), FreshDir(tmp, "redis"), redis_args)
    shoal_args = (["--appendonly", "no"] + (["--save", ""] if opts.shoal_is_redis else []) +
                  Directives(cell.conf) + Directives(cell.shoal_conf))
    self.shoal_nodes = StartShoalNodes(opts.shoal, cell.shoal_nodes, tmp, shoal_args,
                                       start=False)
    self.shoal = self.shoal_nodes[0]
    self.servers = [self.redis] + self.shoal_nodes

  def Start(self):
    for s in self.servers:
      s.Start()
    for s in self.servers:
      s.WaitReady()

  def CheckAlive(self):
    for s in self.servers:
      s.CheckAlive()

  def Stop(self):
    for s in self.servers:
      s.Stop()

  def Get(self, label):
    return self.redis if label == "redis" else self.shoal


def StartShoalNodes(binary, count, tmp, args, start=True):
  """count shoal nodes on 127.0.0.1 with free ports; nodes 2..N seed from node 1.

  With start=False the Server objects are returned unstarted. The benchmark
  drives the first node. (A cluster cell will also want to wait until the
  nodes see each other before measuring.)
  """
  ports = [FreePort() for _ in range(count)]
  nodes = []
  for i, port in enumerate(ports):
    node_args = list(args)
    if count > 1:
      seeds = ",".join("127.0.0.1:%d" % p for p in ports if p != port)
      node_args += ["--cluster-seeds", seeds]
    label = "shoal" if count == 1 else "shoal-%d" % (i + 1)
    nodes.append(Server(label, binary, port, FreshDir(tmp, label), node_args))
  if start:
    for n in nodes:
      n.Start()
    for n in nodes:
      n.WaitReady()
  return nodes


# ---------------------------------------------------------------------------
# RESP over a raw socket (for PING, FLUSHALL, INFO, DBSIZE and the memory load)
# ---------------------------------------------------------------------------


def Encode(*args):
  parts = [b"*%d\r\n" % len(args)]
  for a in args:
    if isinstance(a, str):
      a = a.encode()
    parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
  return b"".join(parts)


class Conn:

  def __init__(self, port, timeout=kIoTimeout):
    self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    self.buf = b""

  def close(self):
    self.sock.close()

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    self.close()

  def _Fill(self):
    data = self.sock.recv(1 << 16)
    if not data:
      raise BenchError("server closed the connection")
    self.buf += data

  def _Line(self):
    while True:
      i = self.buf.find(b"\r\n")
      if i >= 0:
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line
      self._Fill()

  def Read(self):
    """One reply: str for simple/bulk strings, int, list, None; raises on -ERR."""
    line = self._Line()
    kind, rest = line[:1], line[1:]
    if kind == b"+":
      return rest.decode()
    if kind == b"-":
      raise BenchError("server error reply: " + rest.decode("utf-8", "replace"))
    if kind == b":":
      return int(rest)
    if kind == b"$":
      n = int(rest)
      if n < 0:
        return None
      while len(self.buf) < n + 2:
        self._Fill()
      data, self.buf = self.buf[:n], self.buf[n + 2:]
      return data.decode("utf-8", "replace")
    if kind == b"*":
      n = int(rest)
      return None if n < 0 else [self.Read() for _ in range(n)]
    raise BenchError("bad RESP reply line: %r" % line[:80])

  def Call(self, *args):
    self.sock.sendall(Encode(*args))
    return self.Read()


def Command(port, *args, timeout=kIoTimeout):
  with Conn(port, timeout) as c:
    return c.Call(*args)


def UsedMemory(conn):
  info = conn.Call("INFO", "memory")
  for line in (info or "").splitlines():
    if line.startswith("used_memory:"):
      return int(line.split(":", 1)[1])
  raise BenchError("INFO memory has no used_memory: field")


def LoadKeys(conn, count):
  """SET key:%012d -> 64-byte value for 1..count, pipelined in batches."""
  for start in range(1, count + 1, kMemoryBatch):
    end = min(start + kMemoryBatch, count + 1)
    chunk = []
    for i in range(start, end):
      key = b"key:%012d" % i
      value = (b"value:%012d:" % i).ljust(kValueSize, b"x")
      chunk.append(b"*3\r\n$3\r\nSET\r\n$16\r\n%s\r\n$64\r\n%s\r\n" % (key, value))
    conn.sock.sendall(b"".join(chunk))
    for _ in range(end - start):
      reply = conn.Read()
      if reply != "OK":
        raise BenchError("SET replied %r" % (reply,))


def MemoryPerKey(server, count):
  with Conn(server.port) as c:
    if c.Call("FLUSHALL") != "OK":
      raise BenchError("%s: FLUSHALL failed" % server.label)
    before = UsedMemory(c)
    t0 = time.monotonic()
    LoadKeys(c, count)
    elapsed = time.monotonic() - t0
    size = c.Call("DBSIZE")
    if size != count:
      raise BenchError("%s: DBSIZE is %r after loading %d keys" % (server.label, size, count))
    after = UsedMemory(c)
  Log("%s: %d keys loaded in %.1fs, used_memory %d -> %d" %
      (server.label, count, elapsed, before, after))
  return (after - before) / count


# ---------------------------------------------------------------------------
# redis-benchmark
# ---------------------------------------------------------------------------


def RunBenchmark(opts, pair, server, cell, test, requests):
  """Runs one test of a cell against one server; returns {metric: float}."""
  argv = [
      opts.redis_benchmark, "-h", "127.0.0.1", "-p", str(server.port), "-t", test,
      "-c", str(kClients), "-d", str(kValueSize), "-r", str(kKeyspace), "-n", str(requests),
      "--csv"
  ] + list(cell.args)
  proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL)
  # redis-benchmark spins forever when a server goes away, so watch the servers.
  deadline = time.monotonic() + kBenchmarkTimeout
  try:
    while True:
      try:
        out, err = proc.communicate(timeout=0.5)
        break
      except subprocess.TimeoutExpired:
        if not all(s.Alive() for s in pair.servers):
          pair.CheckAlive()
        if time.monotonic() > deadline:
          raise BenchError("redis-benchmark against %s timed out after %.0fs: %s" %
                           (server.label, kBenchmarkTimeout, " ".join(argv)))
  finally:
    if proc.poll() is None:
      proc.kill()
      proc.wait()
  out = out.decode("utf-8", "replace")
  err = err.decode("utf-8", "replace")
  if proc.returncode != 0:
    raise BenchError("redis-benchmark against %s exited %d: %s\n%s%s" %
                     (server.label, proc.returncode, " ".join(argv), (err + out).strip(),
                      server.LogTail()))
  for line in err.splitlines():
    if line.strip() and "Could not fetch server CONFIG" not in line:
      Log("redis-benchmark (%s): %s" % (server.label, line))
  results = {}
  for row in csv.DictReader(io.StringIO(out)):
    try:
      results[row["test"].upper()] = {
          "rps": float(row["rps"]),
          "p50": float(row["p50_latency_ms"]),
          "p99": float(row["p99_latency_ms"]),
      }
    except (KeyError, TypeError, ValueError):
      raise BenchError("unexpected redis-benchmark CSV row %r" % (row,))
  if test.upper() not in results:
    raise BenchError("redis-benchmark against %s gave no result for %s:\n%s" %
                     (server.label, test.upper(), out))
  return results[test.upper()]


# ---------------------------------------------------------------------------
# Table
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Row:
  name: str
  redis: float
  shoal: float
  unit: str
  target: str = ""  # ">=" or "<=" or ""
  bound: float = 0.0
  spread: tuple = None  # (min, max) of the per-repetition shoal/redis ratios

  def Ratio(self):
    return self.shoal / self.redis if self.redis > 0 else float("inf")

  def Verdict(self):
    if not self.target:
      return ""
    r = self.Ratio()
    ok = r >= self.bound if self.target == ">=" else r <= self.bound
    return "PASS" if ok else "MISS"

  def Cells(self):
    fmt = "%.0f" if self.unit in ("rps", "B/key") else "%.3f"
    target = "%s %.2f" % (self.target, self.bound) if self.target else "-"
    spread = "%.2f-%.2f" % self.spread if self.spread else "-"
    return [
        "%s (%s)" % (self.name, self.unit), fmt % self.redis, fmt % self.shoal,
        "%.2f" % self.Ratio(), spread, target,
        self.Verdict() or "-"
    ]


kHeader = ["cell", "redis", "shoal", "shoal/redis", "runs' ratios", "target", "verdict"]


def TextTable(rows):
  table = [kHeader] + [r.Cells() for r in rows]
  widths = [max(len(line[i]) for line in table) for i in range(len(kHeader))]
  out = []
  for n, line in enumerate(table):
    out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(line, widths))).rstrip())
    if n == 0:
      out.append("  ".join("-" * w for w in widths))
  return "\n".join(out)


def MarkdownTable(rows):
  out = ["| " + " | ".join(kHeader) + " |", "|" + "|".join(["---"] + ["---:"] * (len(kHeader) - 1)) + "|"]
  for r in rows:
    out.append("| " + " | ".join(r.Cells()) + " |")
  return "\n".join(out)


def Version(binary):
  try:
    p = subprocess.run([binary, "--version"], capture_output=True, timeout=10)
    return p.stdout.decode("utf-8", "replace").strip().splitlines()[0]
  except (OSError, IndexError, subprocess.TimeoutExpired):
    return "?"


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def ParseArgs(argv):
  p = argparse.ArgumentParser(description="Benchmark shoal-server against redis-server.")
  p.add_argument("--shoal", required=True, help="shoal-server binary")
  p.add_argument("--redis", default="/usr/bin/redis-server", help="redis-server binary")
  p.add_argument("--redis-benchmark", default="/usr/bin/redis-benchmark")
  p.add_argument("--shoal-is-redis", action="store_true", default=None,
                 help="the --shoal binary is a redis-server (adds --save ''); "
                 "default: guessed from the binary's name")
  p.add_argument("--quick", action="store_true",
                 help="short run: -n / 10, 200000 memory keys, one repetition")
  p.add_argument("--repeat", type=int, default=None,
                 help="runs per cell and server, median taken (default 3, --quick 1)")
  p.add_argument("--keys", type=int, default=None, help="keys for the memory probe")
  p.add_argument("--cells", default=None,
                 help="comma-separated cell names to run (default all: %s)" %
                 ",".join(c.name for c in CELLS))
  p.add_argument("--no-memory", action="store_true", help="skip the memory probe")
  p.add_argument("--out", default="build/bench-results.md", help="markdown results file")
  opts = p.parse_args(argv)
  if opts.shoal_is_redis is None:
    opts.shoal_is_redis = os.path.basename(opts.shoal).startswith("redis-server")
  if opts.repeat is None:
    opts.repeat = 1 if opts.quick else 3
  if opts.keys is None:
    opts.keys = 200_000 if opts.quick else kMemoryKeys
  if opts.repeat < 1 or opts.keys < 1:
    p.error("--repeat and --keys must be positive")
  opts.scale = 0.1 if opts.quick else 1.0
  cells = CELLS
  if opts.cells:
    wanted = [c.strip() for c in opts.cells.split(",") if c.strip()]
    unknown = set(wanted) - {c.name for c in CELLS}
    if unknown:
      p.error("unknown cell(s): %s" % ", ".join(sorted(unknown)))
    cells = tuple(c for c in CELLS if c.name in wanted)
  opts.cell_list = cells
  for binary in (opts.shoal, opts.redis, opts.redis_benchmark):
    if not os.access(binary, os.X_OK):
      p.error("not an executable: %s" % binary)
  return opts


def RunCells(opts, tmp, rows):
  """Runs every cell; each test of a cell runs back to back on both servers,
  the server going first alternating, so both see the same machine noise."""
  order_flip = 0
  groups = {}
  for cell in opts.cell_list:
    groups.setdefault(cell.server_key(), []).append(cell)
  for cells in groups.values():
    pair = Pair(opts, tmp, cells[0])
    try:
      pair.Start()
      for cell in cells:
        requests = max(1000, int(cell.requests * opts.scale))
        # samples[TEST][label] = [{metric: value}, ...], one per repetition.
        samples = {t.upper(): {"redis": [], "shoal": []} for t in cell.tests}
        for rep in range(opts.repeat):
          for test in cell.tests:
            order = ("redis", "shoal") if order_flip % 2 == 0 else ("shoal", "redis")
            order_flip += 1
            for label in order:
              t0 = time.monotonic()
              res = RunBenchmark(opts, pair, pair.Get(label), cell, test, requests)
              Log("%s %s %s run %d/%d: %.0f rps, p50 %.3f ms, p99 %.3f ms (%.1fs)" %
                  (test.upper(), cell.name, label, rep + 1, opts.repeat, res["rps"], res["p50"],
                   res["p99"], time.monotonic() - t0))
              samples[test.upper()][label].append(res)
        for test, by_label in samples.items():
          name = "%s %s" % (test, cell.name)
          for metric, suffix, unit, target, bound in (("rps", "", "rps", ">=", kRpsMinRatio),
                                                      ("p50", " p50", "ms", "", 0.0),
                                                      ("p99", " p99", "ms", "<=", kP99MaxRatio)):
            redis = [r[metric] for r in by_label["redis"]]
            shoal = [r[metric] for r in by_label["shoal"]]
            pairs = [b / a for a, b in zip(redis, shoal) if a > 0]
            rows.append(
                Row(name + suffix, statistics.median(redis), statistics.median(shoal), unit,
                    target, bound, (min(pairs), max(pairs)) if len(pairs) > 1 else None))
    finally:
      pair.Stop()


def RunMemory(opts, tmp, rows):
  pair = Pair(opts, tmp, Cell("memory", (), (), 0))
  try:
    pair.Start()
    per_key = {label: MemoryPerKey(pair.Get(label), opts.keys) for label in ("redis", "shoal")}
  finally:
    pair.Stop()
  rows.append(Row("memory per key, %d keys" % opts.keys, per_key["redis"], per_key["shoal"],
                  "B/key", "<=", kMemMaxRatio))


def Main(argv):
  opts = ParseArgs(argv)
  # SIGTERM (e.g. make interrupted) unwinds through the finally blocks below.
  signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
  started = time.monotonic()
  tmp = tempfile.mkdtemp(prefix="shoal-bench-")
  rows = []
  failure = None
  try:
    RunCells(opts, tmp, rows)
    if not opts.no_memory:
      RunMemory(opts, tmp, rows)
  except BenchError as e:
    failure = str(e)
  except KeyboardInterrupt:
    failure = "interrupted"
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  elapsed = time.monotonic() - started

  notes = [
      "redis: %s (%s)" % (opts.redis, Version(opts.redis)),
      "shoal: %s (%s)" % (opts.shoal, Version(opts.shoal)),
      "redis-benchmark -c %d -d %d -r %d --csv; -n per cell: %s; median of %d run(s) each, "
      "servers alternated" % (kClients, kValueSize, kKeyspace, ", ".join(
          "%s=%d" % (c.name, max(1000, int(c.requests * opts.scale))) for c in opts.cell_list),
                               opts.repeat),
      "%s, %d CPUs; %s; took %.0fs" %
      (platform.node(), os.cpu_count() or 0, time.strftime("%Y-%m-%d %H:%M:%S %Z"), elapsed),
  ]
  if failure:
    notes.append("INCOMPLETE: " + failure.splitlines()[0])

  print()
  print(TextTable(rows))
  print()
  for n in notes:
    print("  " + n)
  if failure:
    print("\nbench FAILED: " + failure, file=sys.stderr)

  if opts.out:
    os.makedirs(os.path.dirname(os.path.abspath(opts.out)), exist_ok=True)
    with open(opts.out, "w") as f:
      f.write("# shoal vs redis-server\n\n" + MarkdownTable(rows) + "\n\n")
      f.write("".join("- %s\n" % n for n in notes))
    print("  results written to " + opts.out)
  return 1 if failure else 0


if __name__ == "__main__":
  sys.exit(Main(sys.argv[1:]))
