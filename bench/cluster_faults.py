"""Cluster figures under failure, for `make bench` (bench.py calls run()).

  degraded   a 3-node cluster (N=3 R=2 W=2): SET and GET -P 16 throughput
             through node 1 while healthy, then with node 3 frozen (SIGSTOP)
             and marked failing, and the ratio of the two. Requests stop
             waiting for a failing node, so the ratio should stay near 1
             (each request waits for 2 of 2 live replicas instead of 2 of 3).
  hand-off   a 3-node cluster with N=2: node 3 killed, SETs for --outage
             seconds through node 1 (node 2 or node 1 stands in for node 3 and
             keeps hints), node 3 restarted; the time until every hint is
             delivered, and the hand-off rate in hints/s and MB/s.

Figures are measured, never asserted: the returned rows go into the bench
report beside the shoal/redis cells.
"""

import os
import signal
import subprocess
import time

import harness
from harness import BenchError, Conn, log

NODE_TIMEOUT_MS = 2000


def _info(node, section="cluster"):
    with Conn(node.port, host=node.host) as c:
        return c.info(section)


def _flags(observer, target_id):
    with Conn(observer.port, host=observer.host) as c:
        nodes = c.call("CLUSTER", "NODES")
    for line in (nodes.decode() if isinstance(nodes, bytes) else nodes).splitlines():
        parts = line.split()
        if parts and parts[0] == target_id:
            return parts[2].split(",")
    return []


def _node_id(node):
    with Conn(node.port, host=node.host) as c:
        v = c.call("CLUSTER", "MYID")
    return v.decode() if isinstance(v, bytes) else v


def _wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise BenchError("timed out waiting for %s" % what)


def _benchmark(opts, node, test, requests, pipeline):
    argv = [opts.redis_benchmark, "-h", node.host, "-p", str(node.port), "-t", test, "-c", "50",
            "-d", "64", "-r", "100000", "-n", str(requests), "-P", str(pipeline), "--csv"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=True).stdout
    for line in out.splitlines():
        fields = [f.strip('"') for f in line.split(",")]
        if fields and fields[0].upper() == test.upper():
            return float(fields[1])
    raise BenchError("no %s result from redis-benchmark: %s" % (test, out))


def _cluster(opts, tmp, name, args):
    nodes = harness.shoal_nodes(opts.shoal, 3, os.path.join(tmp, name),
                                ["--appendonly", "no", "--node-timeout-ms", str(NODE_TIMEOUT_MS)] + args)
    for n in nodes:
        n.start()
    for n in nodes:
        n.wait_ready()
    harness.wait_converged(nodes)
    return nodes


def degraded(opts, tmp, requests):
    rows = []
    nodes = _cluster(opts, tmp, "degraded", ["--replicas", "3", "--read-quorum", "2", "--write-quorum", "2"])
    try:
        a, c = nodes[0], nodes[2]
        healthy = {t: _benchmark(opts, a, t, requests, 16) for t in ("set", "get")}
        c_id = _node_id(c)
        c.send_signal(signal.SIGSTOP)
        try:
            _wait(lambda: "fail" in _flags(a, c_id), 30, "node 1 to mark node 3 failing")
            frozen = {t: _benchmark(opts, a, t, requests, 16) for t in ("set", "get")}
        finally:
            c.send_signal(signal.SIGCONT)
        for t in ("set", "get"):
            ratio = frozen[t] / healthy[t]
            log("%s P16, 3 nodes, one frozen: %.0f rps vs %.0f healthy (%.2f)" % (t.upper(), frozen[t], healthy[t], ratio))
            rows.append(("%s P16 3 nodes, 1 of 3 frozen (rps)" % t.upper(), healthy[t], frozen[t], ratio))
    finally:
        for n in nodes:
            n.stop()
    return rows


def handoff(opts, tmp, outage_s):
    nodes = _cluster(opts, tmp, "handoff", ["--replicas", "2", "--read-quorum", "1", "--write-quorum", "2"])
    try:
        a, c = nodes[0], nodes[2]
        c.stop()  # its links close at once: node 1 or 2 stands in for it
        deadline = time.monotonic() + outage_s
        writes = 0
        while time.monotonic() < deadline:
            _benchmark(opts, a, "set", 50000, 16)
            writes += 50000
        pending = sum(int(_info(n).get("cluster_hints_pending", "0")) for n in nodes[:2])
        delivered_before = sum(int(_info(n).get("cluster_hints_delivered_bytes", "0")) for n in nodes[:2])
        t0 = time.monotonic()
        c.start()
        c.wait_ready()
        _wait(lambda: sum(int(_info(n).get("cluster_hints_pending", "0")) for n in nodes[:2]) == 0, 300,
              "the hand-off")
        took = time.monotonic() - t0
        delivered = sum(int(_info(n).get("cluster_hints_delivered_bytes", "0")) for n in nodes[:2]) - delivered_before
        log("hand-off after a %.0f s outage (%d SETs): %d hints in %.1f s: %.0f hints/s, %.2f MB/s" %
            (outage_s, writes, pending, took, pending / took, delivered / took / 1e6))
        return [("hand-off after %.0f s outage (hints/s)" % outage_s, None, pending / took, None),
                ("hand-off after %.0f s outage (MB/s)" % outage_s, None, delivered / took / 1e6, None)]
    finally:
        for n in nodes:
            n.stop()
