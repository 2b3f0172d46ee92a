"""Starts a server with the harness, runs a client program against it, stops it.

Usage: python3 run_with_server.py [--timeout S] [--server-arg ARG ...] -- PROGRAM [ARGS...]
The program is run as `PROGRAM ARGS... HOST PORT`; its exit code becomes ours.
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
    parser.add_argument("program", nargs=argparse.REMAINDER)
    opts = parser.parse_args()
    program = opts.program[1:] if opts.program[:1] == ["--"] else opts.program
    if not program:
        parser.error("no program given")
    server = h.Server(args=opts.server_arg)
    code = 1
    try:
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
        server.stop()
        if code != 0:
            sys.stderr.write("===== server output =====\n%s\n===== end =====\n" % server.output[-20000:])
    return code


if __name__ == "__main__":
    sys.exit(main())
