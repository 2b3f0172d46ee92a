#!/usr/bin/python3
"""False failure declarations under load: `make fd-soak`.

Starts a 5-node shoal cluster (N=3 R=2 W=2, the default node-timeout-ms and
gossip-interval-ms unless given) on 127.0.0.1..5 and keeps redis-benchmark
saturating both cores against every node in turn for --minutes (default 10).
Then reads each node's failure-detector counters (INFO cluster) and reports
them. A node that was never stopped must never be marked failing: the run
fails (exit 1) if any node counted `cluster_nodes_marked_down` above 0.
Suspicions that were refuted are reported, not failed: Lifeguard expects some
under starvation.

This is a measurement, not a timed test: it runs only when asked.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Conn, log  # noqa: E402

COUNTERS = (
    "cluster_nodes_marked_down",
    "cluster_nodes_marked_up",
    "cluster_suspicions",
    "cluster_suspicions_cleared",
    "cluster_refutations",
    "cluster_probes",
    "cluster_probe_failures",
    "cluster_local_health",
)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shoal", required=True, help="the shoal-server binary")
    p.add_argument("--redis-benchmark", default="/usr/bin/redis-benchmark")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--nodes", type=int, default=5)
    p.add_argument("--node-timeout-ms", type=int, default=None)
    p.add_argument("--gossip-interval-ms", type=int, default=None)
    opts = p.parse_args()

    args = ["--appendonly", "no", "--replicas", 3, "--read-quorum", 2, "--write-quorum", 2]
    if opts.node_timeout_ms is not None:
        args += ["--node-timeout-ms", opts.node_timeout_ms]
    if opts.gossip_interval_ms is not None:
        args += ["--gossip-interval-ms", opts.gossip_interval_ms]
    tmp = tempfile.mkdtemp(prefix="shoal-fd-soak-")
    nodes = harness.shoal_nodes(opts.shoal, opts.nodes, tmp, [str(a) for a in args])
    try:
        for n in nodes:
            n.start()
        harness.wait_converged(nodes)
        deadline = time.monotonic() + opts.minutes * 60
        runs = 0
        while time.monotonic() < deadline:
            node = nodes[runs % len(nodes)]
            # -P 16 with 50 clients keeps the coordinator and the replicas
            # (all on this machine) busy; each run is short so every node
            # takes a turn as the loaded coordinator.
            subprocess.run(
                [opts.redis_benchmark, "-h", node.host, "-p", str(node.port), "-c", "50", "-P", "16",
                 "-n", "400000", "-r", "100000", "-d", "64", "-t", "set,get", "-q"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=300)
            runs += 1
            for n in nodes:
                n.check_alive()
        log("%d redis-benchmark runs over %.1f minutes" % (runs, opts.minutes))
        bad = 0
        for n in nodes:
            with Conn(n.port, host=n.host) as c:
                info = c.info("cluster")
            row = {k: int(info.get(k, "0")) for k in COUNTERS}
            bad += row["cluster_nodes_marked_down"]
            log("%s: %s" % (n.label, " ".join("%s=%d" % (k.replace("cluster_", ""), v) for k, v in row.items())))
        if bad:
            log("FAIL: %d false failure declarations" % bad)
            return 1
        log("no false failure declarations")
        return 0
    finally:
        for n in nodes:
            n.stop()


if __name__ == "__main__":
    sys.exit(main())
