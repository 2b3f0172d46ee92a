"""Anti-entropy figures, for `make bench` (bench.py calls these).

  cost     a 3-node cluster (N=3 R=2 W=2): SET and GET -P 16 throughput
           through node 1 with anti-entropy off (anti-entropy-interval-ms 0:
           no trees, no exchanges) and running continuously (10 ms: the next
           exchange starts as soon as the previous ends, trees kept on every
           write), switched with CONFIG SET on the same cluster, off/on
           alternating, medians. Target: on/off >= 0.90 (Riak's AAE halved
           throughput for some users).
  repair   a 3-node cluster with read repair and hinted handoff off: node 3
           is stopped, 100,000 keys are SET through node 1, node 3 restarts
           empty (no log); the time until node 3 holds all of them again with
           no read touching them, and the rate, at an interval of 10 ms.

Figures are measured, never asserted: rows go into the bench report.
"""

import statistics
import time

import harness
from harness import BenchError, Conn, log

import cluster_faults

CONTINUOUS_MS = 10


def _config_set(nodes, interval_ms):
    for n in nodes:
        with Conn(n.port, host=n.host) as c:
            reply = c.call("CONFIG", "SET", "anti-entropy-interval-ms", str(interval_ms))
            if reply not in (b"OK", "OK"):
                raise BenchError("CONFIG SET anti-entropy-interval-ms on %s: %r" % (n.label, reply))


def _ae(node, field):
    return int(cluster_faults._info(node).get(field, "0"))


def cost(opts, tmp, requests, repeat):
    nodes = cluster_faults._cluster(opts, tmp, "ae-cost",
                                    ["--replicas", "3", "--read-quorum", "2", "--write-quorum", "2",
                                     "--anti-entropy-interval-ms", "0"])
    rows = []
    try:
        a = nodes[0]
        cluster_faults._benchmark(opts, a, "set", requests, 16)  # the keyspace exists in both
        runs = {"off": {"set": [], "get": []}, "on": {"set": [], "get": []}}
        exchanges = 0
        for _ in range(repeat):
            for mode in ("off", "on"):
                _config_set(nodes, 0 if mode == "off" else CONTINUOUS_MS)
                if mode == "on":
                    cluster_faults._wait(lambda: all(_ae(n, "anti_entropy_enabled") == 1 and
                                                     _ae(n, "anti_entropy_partitions_unbuilt") == 0
                                                     for n in nodes), 120, "anti-entropy trees built")
                    before = sum(_ae(n, "anti_entropy_exchanges") for n in nodes)
                for t in ("set", "get"):
                    runs[mode][t].append(cluster_faults._benchmark(opts, a, t, requests, 16))
                if mode == "on":
                    exchanges += sum(_ae(n, "anti_entropy_exchanges") for n in nodes) - before
        tree_bytes = _ae(a, "anti_entropy_tree_bytes")
        for t in ("set", "get"):
            off, on = statistics.median(runs["off"][t]), statistics.median(runs["on"][t])
            log("%s P16, 3 nodes: %.0f rps with anti-entropy every %d ms vs %.0f off (%.2f)"
                % (t.upper(), on, CONTINUOUS_MS, off, on / off))
            rows.append(("%s P16 3 nodes, anti-entropy every %d ms vs off (rps)" % (t.upper(), CONTINUOUS_MS),
                         off, on, on / off))
        log("anti-entropy during the 'on' runs: %d exchanges; node 1 trees %d bytes" % (exchanges, tree_bytes))
        rows.append(("anti-entropy exchanges during the 'on' runs", None, exchanges, None))
    finally:
        for n in nodes:
            n.stop()
    return rows


def repair(opts, tmp, keys):
    nodes = cluster_faults._cluster(opts, tmp, "ae-repair",
                                    ["--replicas", "3", "--read-quorum", "2", "--write-quorum", "2",
                                     "--read-repair", "no", "--hinted-handoff", "no",
                                     "--anti-entropy-interval-ms", str(CONTINUOUS_MS)])
    try:
        a, c = nodes[0], nodes[2]
        c_id = cluster_faults._node_id(c)
        c.stop()
        cluster_faults._wait(lambda: "fail" in cluster_faults._flags(a, c_id), 60, "node 1 to mark node 3 failing")
        with Conn(a.port, host=a.host) as conn:
            harness.load_keys(conn, keys)
        repaired_before = sum(_ae(n, "anti_entropy_keys_repaired") for n in nodes[:2])
        t0 = time.monotonic()
        c.start()
        c.wait_ready()

        def local_keys():
            with Conn(c.port, host=c.host) as conn:
                info = conn.info("keyspace")
            db = info.get("db0", "keys=0")
            return int(db.split(",")[0].split("=")[1])

        cluster_faults._wait(lambda: local_keys() >= keys, 900, "node 3 to hold every key again")
        took = time.monotonic() - t0
        repaired = sum(_ae(n, "anti_entropy_keys_repaired") for n in nodes) - repaired_before
        exchanges = sum(_ae(n, "anti_entropy_exchanges") for n in nodes)
        log("anti-entropy repaired %d divergent keys in %.1f s after node 3 restarted (%.0f keys/s; "
            "%d keys repaired counted, %d exchanges)" % (keys, took, keys / took, repaired, exchanges))
        return [("repair %d divergent keys, interval %d ms (s)" % (keys, CONTINUOUS_MS), None, took, None),
                ("repair %d divergent keys, interval %d ms (keys/s)" % (keys, CONTINUOUS_MS), None,
                 keys / took, None)]
    finally:
        for n in nodes:
            n.stop()
