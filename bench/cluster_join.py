"""Partition transfer figures, for `make bench` (bench.py calls join()).

  join   a 3-node cluster (N=3 R=2 W=2) holding 1,000,000 keys (64-byte
         values); a 4th node joins and receives its share (3/4 of the keys
         with N=3 on 4 nodes) from the nodes that held it. Measured: the time
         from its start until every node holds what it replicates, the keys
         and bytes it received and their rate, and the SET and GET -P 16
         throughput through node 1 while the transfer runs, against the same
         before it.

Figures are measured, never asserted: rows go into the bench report.
"""

import os
import threading
import time

import harness
from harness import BenchError, Conn, log

import cluster_faults


def _receiving(node):
    """Partitions each node is still to receive, as `node` sees them."""
    with Conn(node.port, host=node.host) as c:
        lines = c.call("CLUSTER", "NODES")
    lines = lines.decode() if isinstance(lines, bytes) else lines
    return [int(line.split()[-1]) for line in lines.splitlines() if line.strip()]


def _settled(nodes):
    for n in nodes:
        counts = _receiving(n)
        if len(counts) != len(nodes) or any(counts):
            return False
    return True


def join(opts, tmp, keys, requests):
    nodes = harness.shoal_nodes(opts.shoal, 4, os.path.join(tmp, "join"),
                                ["--appendonly", "no", "--node-timeout-ms", str(cluster_faults.NODE_TIMEOUT_MS),
                                 "--replicas", "3", "--read-quorum", "2", "--write-quorum", "2"])
    try:
        first, joiner = nodes[:3], nodes[3]
        for n in first:
            n.start()
        for n in first:
            n.wait_ready()
        harness.wait_converged(first)
        cluster_faults._wait(lambda: _settled(first), 120, "the 3 nodes to settle")
        a = first[0]
        t0 = time.monotonic()
        with Conn(a.port, host=a.host) as conn:
            harness.load_keys(conn, keys)
        log("join: %d keys loaded in %.1f s" % (keys, time.monotonic() - t0))
        before = {t: cluster_faults._benchmark(opts, a, t, requests, 16) for t in ("set", "get")}

        during = {}
        done = threading.Event()

        def load():
            # Client traffic while the transfer runs: the same benchmarks,
            # repeated until the transfer ends, the first full run counted.
            try:
                while not done.is_set():
                    for t in ("set", "get"):
                        rps = cluster_faults._benchmark(opts, a, t, requests, 16)
                        if not done.is_set():
                            during.setdefault(t, rps)
            except Exception as e:  # noqa: BLE001 - reported below
                during["error"] = e

        t0 = time.monotonic()
        joiner.start()
        worker = threading.Thread(target=load, daemon=True)
        worker.start()
        joiner.wait_ready()
        cluster_faults._wait(lambda: _settled(nodes), 900, "the 4th node to receive its partitions")
        took = time.monotonic() - t0
        done.set()
        worker.join(300)
        if "error" in during:
            raise BenchError("benchmark during the transfer: %s" % during["error"])
        info = cluster_faults._info(joiner)
        moved = int(info.get("cluster_transfer_keys_received", "0"))
        nbytes = int(info.get("cluster_transfer_bytes_received", "0"))
        log("join: the 4th node received %d keys (%.1f MB) in %.1f s: %.0f keys/s, %.1f MB/s" %
            (moved, nbytes / 1e6, took, moved / took, nbytes / 1e6 / took))
        rows = [("join: 4th node receives its share of %d keys (s)" % keys, None, took, None),
                ("join: keys moved to the 4th node (keys/s)", None, moved / took, None)]
        for t in ("set", "get"):
            if t not in during:
                log("join: the transfer ended before a %s benchmark did" % t.upper())
                continue
            log("join: %s P16 through node 1: %.0f rps during the transfer vs %.0f before (%.2f)" %
                (t.upper(), during[t], before[t], during[t] / before[t]))
            rows.append(("join: %s P16 during the transfer vs before (rps)" % t.upper(),
                         before[t], during[t], during[t] / before[t]))
        return rows
    finally:
        for n in nodes:
            n.stop()
