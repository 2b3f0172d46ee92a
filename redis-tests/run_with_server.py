"""Starts a server with the harness, runs a client program against it, stops it.

Usage: python3 run_with_server.py [--timeout S] [--server-arg ARG ...] [--cluster N] -- PROGRAM [ARGS...]
The program is run as `PROGRAM ARGS... HOST PORT`; its exit code becomes ours.
With --cluster N the server is node 1 of an N-node cluster (N=3, R=2, W=2,
tests/support/cluster_harness.py), started and converged first.
Server output is printed when the program fails.
"""

import argparse
import subprocess
import sys

import shoal_harness as h


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--server-arg", action="append", default=[])
    parser.add_argument("--cluster", type=int, default=0)
    parser.add_argument("program", nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    program = opts.program[1:] if opts.program[:1] == ["--"] else opts.program
    if not program:
        parser.error("no program given")
    cluster = None
    if opts.cluster > 0:
        import cluster_harness as ch

        cluster = ch.Cluster(opts.cluster, replicas=min(3, opts.cluster), read_quorum=min(2, opts.cluster),
                             write_quorum=min(2, opts.cluster), args=opts.server_arg)
        server = cluster.nodes[0]
    else:
        server = h.Server(args=opts.server_arg)
    code = 1
    try:
        if cluster is not None:
            cluster.start()
            cluster.wait_converged()
        else:
            server.start()
        cmd = program + [server.host, str(server.port)]
        try:
            code = subprocess.run(cmd, stdin=subprocess.DEVNULL, timeout=opts.timeout).returncode
        except subprocess.TimeoutExpired:
            print("run_with_server: %s timed out after %.0fs" % (cmd, opts.timeout), file=sys.stderr)
            code = 1
        if code == 0 and not server.alive():
            print("run_with_server: server died during the run", file=sys.stderr)
            code = 1
    finally:
        if cluster is not None:
            cluster.stop()
        else:
            server.stop()
        if code != 0:
            sys.stderr.write("===== server output =====\n%s\n===== end =====\n" % server.output[-20000:])
    return code


if __name__ == "__main__":
    sys.exit(main())
