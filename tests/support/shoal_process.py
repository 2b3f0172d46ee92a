"""Server processes for the tests and the bench (Python 3 stdlib only).

One place for what tests/support/shoal_harness.py, tests/support/cluster_harness.py
and bench/harness.py all need: free ports, starting a server with its output in a
log file, waiting until it answers PING, stopping it (SIGTERM, then SIGKILL),
reading its log, and telling when a cluster's nodes agree.

Nothing here sleeps for a fixed time: every wait polls a condition under a deadline.
Everything here works for redis-server as well as shoal-server.
"""

import os
import signal
import socket
import subprocess
import time


class ProcessError(Exception):
    """A server would not start, exited early or did not answer in time."""


def wait_for(cond, timeout, msg, interval=0.01, error=AssertionError, fatal=()):
    """Polls cond() until it returns a truthy value; returns that value.

    Raises error(...) naming msg after `timeout` seconds. Exceptions raised by
    cond() count as "not yet" until the deadline, then the last one is named;
    those of the types in `fatal` end the wait at once.
    """
    deadline = time.monotonic() + timeout
    last_exc = None
    delay = interval
    while True:
        try:
            value = cond()
            if value:
                return value
            last_exc = None
        except fatal:
            raise
        except Exception as e:  # noqa: BLE001 - polling: anything else means "not yet"
            last_exc = e
        if time.monotonic() >= deadline:
            detail = " (last error: %r)" % (last_exc,) if last_exc else ""
            raise error("timed out after %.1fs waiting for: %s%s" % (timeout, msg, detail))
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


# ---------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------


def can_bind(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


_handed_out = set()  # (host, port) pairs given out by free_port in this process


def free_port(host="127.0.0.1", attempts=200):
    """A port free on host whose cluster-bus twin (port + 10000) is free as well.

    Never returns the same port (or twin) twice in one process, so servers
    given ports before any of them binds do not collide.
    """
    for _ in range(attempts):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port + 10000 > 65535:
            continue
        if {(host, port), (host, port + 10000)} & _handed_out:
            continue
        if can_bind(host, port) and can_bind(host, port + 10000):
            _handed_out.update(((host, port), (host, port + 10000)))
            return port
    raise ProcessError("no free port pair found on %s" % host)


# ---------------------------------------------------------------------------
# Readiness
# ---------------------------------------------------------------------------


def answers_ping(host, port, password=None, timeout=2.0):
    """True when host:port replies PONG to PING (after AUTH password, if given),
    or NOAUTH (it is up, it wants a password). False when it refuses the
    connection, closes it, or replies anything else (e.g. -LOADING)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            f = s.makefile("rb")
            if password is not None:
                pw = password.encode() if isinstance(password, str) else password
                s.sendall(b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(pw), pw))
                f.readline()
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            line = f.readline()
    except OSError:
        return False
    return line == b"+PONG\r\n" or line.startswith(b"-NOAUTH")


# ---------------------------------------------------------------------------
# One server process
# ---------------------------------------------------------------------------


class ServerProcess:
    """One server process whose stdout and stderr go to log_path.

    start() launches it (in a session of its own, so a terminal's ^C reaches
    only the harness, which then stops it); wait_ready() polls until it answers
    PING; stop() sends SIGTERM, then SIGKILL after a deadline, and is idempotent.
    """

    def __init__(self, argv, log_path, name="server", cwd=None):
        self.argv = [str(a) for a in argv]
        self.log_path = log_path
        self.name = name
        self.cwd = cwd
        self.proc = None
        self.returncode = None
        self.killed = False
        self._log_file = None

    def start(self):
        self.returncode = None
        self._log_file = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as e:
            self._close_log()
            raise ProcessError("%s: cannot run %s: %s" % (self.name, self.argv[0], e)) from e
        return self

    def wait_ready(self, host, port, timeout, password=None):
        """Polls until the server answers PING; ProcessError if it exits first
        or does not answer within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            if answers_ping(host, port, password):
                return
            if time.monotonic() >= deadline:
                raise ProcessError("%s did not answer PING on %s:%d within %.1fs: %s" % (self.name, host, port, timeout, self.command()))
            time.sleep(0.02)  # poll interval under the deadline

    def command(self):
        return " ".join("''" if a == "" else a for a in self.argv)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        """ProcessError if the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise ProcessError("%s exited with status %s: %s" % (self.name, self.proc.returncode, self.command()))

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Waits for the process to exit; returns its code or None on timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout):
        """SIGTERM, then SIGKILL after timeout seconds. Returns the exit code
        (None if it was never started); self.killed tells whether SIGKILL was
        needed."""
        self.killed = False
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
                if self.wait_exit(timeout) is None:
                    self.killed = True
                    self.proc.kill()
                    self.proc.wait()
            self.returncode = self.proc.returncode
            self.proc = None
        self._close_log()
        return self.returncode

    def kill(self):
        """SIGKILL (a crash); then stop() to collect the exit code."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return self.stop(0)

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # -- the log --
    def read_log(self):
        """Everything the process has written so far ("" when there is no log)."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def log_tail(self, lines=15):
        text = self.read_log().splitlines()[-lines:]
        return "\n  --- %s log (%s) ---\n  %s" % (self.name, self.log_path, "\n  ".join(text))


# ---------------------------------------------------------------------------
# INFO fields and cluster convergence
# ---------------------------------------------------------------------------


def parse_fields(value):
    """`field:value` lines (CLUSTER INFO, an INFO section) as {field: value str}.

    Takes str or bytes; skips blank lines and `# Section` headers.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    fields = {}
    for line in (value or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, v = line.split(":", 1)
        fields[name] = v
    return fields


def convergence_problem(infos, expected):
    """infos: {node name: CLUSTER INFO fields}. None when every node shows
    cluster_state ok, `expected` known nodes and the same ring epoch; else a
    description of what is not yet so."""
    seen = {
        name: (i.get("cluster_state"), i.get("cluster_known_nodes"), i.get("cluster_ring_epoch"))
        for name, i in infos.items()
    }
    if any(state != "ok" or known != str(expected) for state, known, _ in seen.values()):
        return "state/known_nodes/epoch per node: %r (want ok, %d known)" % (seen, expected)
    if len({epoch for _, _, epoch in seen.values()}) != 1:
        return "ring epochs differ: %r" % (seen,)
    return None


def cluster_hosts(size, first=1):
    """Node i of a local cluster listens on 127.0.0.(first+i): an address of its
    own, as on a network (Linux routes all of 127/8 to lo)."""
    if size < 1 or first + size - 1 > 254:
        raise ValueError("bad cluster size %d" % size)
    return ["127.0.0.%d" % (first + i) for i in range(size)]
