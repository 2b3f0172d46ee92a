"""Test harness for shoal integration and compatibility tests (Python 3 stdlib only).

Starts real server processes, talks RESP to them and cleans up after itself.
The process side (free ports, start, readiness, stop, logs) is shoal_process,
shared with cluster_harness and bench/harness.py.

Environment:
  SHOAL_SERVER       the server binary (required; ctest sets it to build/shoal-server).
                     Every test also passes against /usr/bin/redis-server 7.0.15.
  SHOAL_EXTRA_ARGS   extra command-line arguments appended to every server start
                     (shell-quoted, e.g. "--save '' --appendonly no"). When unset and
                     SHOAL_SERVER is a redis-server, that very value is used so Redis
                     neither snapshots nor logs to disk.
  SHOAL_KEEP_TMP     keep the servers' temporary directories (for debugging).

Nothing here sleeps for a fixed time: everything polls a condition under a deadline.
"""

import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import shoal_process as sp

# Start-up and shut-down deadlines (seconds). Generous: sanitizer builds are slow.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 10.0


class HarnessError(sp.ProcessError):
    """The harness could not do its job (server would not start, timeout...)."""


class ReplyError(Exception):
    """A RESP error reply ("-ERR ..."). str(e) and e.message are the text without '-'."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __eq__(self, other):
        return isinstance(other, ReplyError) and other.message == self.message

    def __hash__(self):
        return hash(self.message)

    def __repr__(self):
        return "ReplyError(%r)" % self.message


# Short alias used by tests.
Error = ReplyError


class ConnectionClosed(Exception):
    """The server closed the connection (EOF or reset) while we expected data."""


# ---------------------------------------------------------------------------
# Small utilities
# ---------------------------------------------------------------------------


# Shared with cluster_harness and bench/harness.py (see shoal_process).
wait_for = sp.wait_for
free_port = sp.free_port


def server_binary():
    path = os.environ.get("SHOAL_SERVER")
    if not path:
        raise HarnessError("SHOAL_SERVER is not set (path of the server binary to test)")
    return path


def is_redis_server():
    """True when the binary under test is Redis itself (reference runs)."""
    return os.path.basename(os.environ.get("SHOAL_SERVER", "")).startswith("redis-server")


# What a redis-server is given so that it neither snapshots nor logs to disk.
REDIS_NO_DISK_ARGS = ["--save", "", "--appendonly", "no"]


def extra_args():
    value = os.environ.get("SHOAL_EXTRA_ARGS")
    if value is None:
        return list(REDIS_NO_DISK_ARGS) if is_redis_server() else []
    return shlex.split(value)


def reference_redis_binary():
    """The redis-server (7.0.15 on Debian) tests compare shoal with."""
    path = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not os.access(path, os.X_OK):
        raise HarnessError("no redis-server on PATH to compare with")
    return path


def encode_command(*args):
    """RESP multibulk encoding of one command. Accepts str, bytes, int, float."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode()
        elif isinstance(a, (int, float)):
            b = repr(a).encode()
        else:
            raise TypeError("cannot encode %r" % (a,))
        out.append(b"$%d\r\n" % len(b))
        out.append(b)
        out.append(b"\r\n")
    return b"".join(out)


# ---------------------------------------------------------------------------
# RESP client
# ---------------------------------------------------------------------------


class Client:
    """A minimal blocking RESP client over one TCP connection.

    Replies: simple string -> str, bulk -> bytes, integer -> int, nil -> None,
    array -> list (nested), error -> ReplyError instance (returned by read_reply,
    raised by call). RESP3 types are parsed too (map -> dict, set -> list...).
    """

    def __init__(self, host, port, timeout=IO_TIMEOUT):
        self.host = host
        self.port = port
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    # -- context manager --
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    # -- raw I/O --
    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, *args):
        self.send_raw(encode_command(*args))

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("timed out waiting for a reply")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except ConnectionResetError as e:
            raise ConnectionClosed("connection reset by server") from e
        if not chunk:
            raise ConnectionClosed("connection closed by server")
        if self.pos > 65536 and self.pos * 2 > len(self.buf):
            del self.buf[: self.pos]
            self.pos = 0
        self.buf += chunk

    def _line(self, deadline):
        while True:
            i = self.buf.find(b"\r\n", self.pos)
            if i >= 0:
                line = bytes(self.buf[self.pos : i])
                self.pos = i + 2
                return line
            self._fill(deadline)

    def _exact(self, n, deadline):
        while len(self.buf) - self.pos < n + 2:
            self._fill(deadline)
        data = bytes(self.buf[self.pos : self.pos + n])
        if self.buf[self.pos + n : self.pos + n + 2] != b"\r\n":
            raise HarnessError("bulk string not terminated by CRLF")
        self.pos += n + 2
        return data

    def _parse(self, deadline):
        line = self._line(deadline)
        if not line:
            raise HarnessError("empty reply line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode("utf-8", "replace")
        if t == b"-":
            return ReplyError(rest.decode("utf-8", "replace"))
        if t == b":":
            return int(rest)
        if t in (b"$", b"=", b"!"):
            n = int(rest)
            if n < 0:
                return None
            data = self._exact(n, deadline)
            if t == b"!":
                return ReplyError(data.decode("utf-8", "replace"))
            return data
        if t in (b"*", b"~", b">"):
            n = int(rest)
            if n < 0:
                return None
            return [self._parse(deadline) for _ in range(n)]
        if t == b"%":
            n = int(rest)
            out = {}
            for _ in range(n):
                k = self._parse(deadline)
                out[k] = self._parse(deadline)
            return out
        if t == b"_":
            return None
        if t == b",":
            return float(rest)
        if t == b"#":
            return rest == b"t"
        if t == b"(":
            return int(rest)
        raise HarnessError("unknown RESP type byte %r in line %r" % (t, line))

    def read_reply(self, timeout=None):
        """Reads one reply; errors come back as ReplyError values, not raised."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        start = self.pos
        try:
            return self._parse(deadline)
        except socket.timeout:
            self.pos = start  # keep the partial reply for a later read
            raise

    def read_reply_bytes(self, timeout=None):
        """Reads one reply and returns its bytes exactly as they arrived."""
        start = self.pos
        self.read_reply(timeout)
        return bytes(self.buf[start : self.pos])

    def call_bytes(self, *args):
        """Sends one command, returns its reply's raw bytes (RESP2 or RESP3)."""
        self.send(*args)
        return self.read_reply_bytes()

    def call(self, *args):
        """Sends one command, returns its reply; raises ReplyError on an error reply."""
        self.send(*args)
        reply = self.read_reply()
        if isinstance(reply, ReplyError):
            raise reply
        return reply

    def request(self, *args):
        """Sends one command, returns its reply (a ReplyError value on error)."""
        self.send(*args)
        return self.read_reply()

    def pipeline(self, commands):
        """Sends all commands in one write; returns their replies in order."""
        self.send_raw(b"".join(encode_command(*c) for c in commands))
        return [self.read_reply() for _ in commands]

    def pending_bytes(self):
        return bytes(self.buf[self.pos :])

    def read_until_closed(self, timeout=IO_TIMEOUT):
        """Reads everything until the server closes; returns the unread bytes.

        Raises AssertionError if the connection is still open after timeout.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fill(deadline)
            except ConnectionClosed:
                data = self.pending_bytes()
                self.pos = len(self.buf)
                return data
            except socket.timeout:
                raise AssertionError(
                    "server did not close the connection within %.1fs (received %r)"
                    % (timeout, self.pending_bytes()[:200])
                )

    def expect_no_data(self, wait):
        """Asserts that nothing arrives and the connection stays open for `wait` seconds."""
        deadline = time.monotonic() + wait
        try:
            self._fill(deadline)
        except socket.timeout:
            return
        except ConnectionClosed:
            raise AssertionError("connection closed unexpectedly (received %r)" % self.pending_bytes())
        raise AssertionError("unexpected data from server: %r" % self.pending_bytes()[:200])


# ---------------------------------------------------------------------------
# Server process
# ---------------------------------------------------------------------------


class Server(sp.ServerProcess):
    """One server process on host:port with a private temporary --dir.

    Use as a context manager, or call start() and stop() (stop is idempotent).
    After stop(), .output holds everything the process wrote to stdout/stderr;
    .previous_output what earlier runs wrote, when it was started again.
    """

    def __init__(self, args=(), host="127.0.0.1", port=None, conf_text=None, password=None, name="server", dir=None,
                 binary=None):
        super().__init__(argv=(), log_path=None, name=name)
        # None: the binary under test (SHOAL_SERVER) with SHOAL_EXTRA_ARGS;
        # else this binary (e.g. reference_redis_binary()), kept off the disk.
        self.binary = binary
        self.args = [str(a) for a in args]
        # A caller-owned dir survives stop() so a restart finds its data.
        self.fixed_dir = dir
        self.host = host
        self.port = port
        self.conf_text = conf_text
        self.password = password
        self.dir = None
        self.output = ""
        self.previous_output = ""

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- lifecycle --
    def command_line(self):
        cmd = [self.binary or server_binary()]
        if self.conf_text is not None:
            conf_path = os.path.join(self.dir, "test.conf")
            with open(conf_path, "w") as f:
                f.write(self.conf_text)
            cmd.append(conf_path)
        cmd += ["--port", str(self.port), "--bind", self.host, "--dir", self.dir]
        if self.binary is None:
            cmd += extra_args()
        elif os.path.basename(self.binary).startswith("redis-server"):
            cmd += REDIS_NO_DISK_ARGS
        cmd += self.args
        return cmd

    def start(self, timeout=START_TIMEOUT, attempts=3):
        """Starts the process and waits until it answers PING."""
        fixed_port = self.port is not None
        last = None
        for _ in range(attempts):
            if not fixed_port:
                self.port = sp.free_port(self.host)
            try:
                self._start_once(timeout)
                return self
            except sp.ProcessError as e:
                last = e
                exited = self.proc is not None and self.proc.poll() is not None
                self.stop()
                # Retry only when the process died early (e.g. the port was taken
                # between free_port() and bind); a hang is a real failure.
                if fixed_port or not exited:
                    break
        raise HarnessError("%s\n--- %s output ---\n%s" % (last, self.name, self.output))

    def _start_once(self, timeout):
        self.dir = self.fixed_dir or tempfile.mkdtemp(prefix="shoal-test-")
        # The output goes next to, not into, a caller's dir (which may be a
        # deliberately tiny filesystem).
        log_dir = self.dir if self.fixed_dir is None else tempfile.gettempdir()
        self.log_path = os.path.join(log_dir, "shoal-%s-%d.log" % (self.name, id(self)))
        self.output = ""
        self.argv = self.command_line()
        super().start()
        self.wait_ready(self.host, self.port, timeout, self.password)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after timeout. Returns the exit code."""
        super().stop(timeout)
        if self.log_path and os.path.exists(self.log_path):
            self.output = self.read_log()
        if self.fixed_dir is not None and self.log_path and not os.environ.get("SHOAL_KEEP_TMP"):
            try:
                os.unlink(self.log_path)
            except OSError:
                pass
        if self.dir is not None:
            if not os.environ.get("SHOAL_KEEP_TMP") and self.fixed_dir is None:
                shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        return self.returncode

    def current_output(self):
        """All the output so far, this run's included (running or not)."""
        if self.log_path and os.path.exists(self.log_path):
            return self.previous_output + self.read_log()
        return self.previous_output + self.output

    # -- clients --
    def client(self, auth=True, timeout=IO_TIMEOUT):
        c = Client(self.host, self.port, timeout=timeout)
        if auth and self.password is not None:
            c.call("AUTH", self.password)
        return c


def run_redis_benchmark(test, host, port, *args, timeout=120):
    """Runs the unmodified redis-benchmark against host:port; fails `test`
    unless it exits 0 with no error line. Returns its output lines (progress
    lines are separated by carriage returns)."""
    import re

    binary = shutil.which("redis-benchmark") or "/usr/bin/redis-benchmark"
    cmd = [binary, "-h", host, "-p", str(port)] + [str(a) for a in args]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    test.assertEqual(p.returncode, 0, "%s failed:\n%s" % (cmd, out[-3000:]))
    lines = [l.strip() for l in re.split(r"[\r\n]+", out) if l.strip()]
    bad = [l for l in lines if re.search(r"err", l, re.IGNORECASE)]
    test.assertEqual(bad, [], "error lines in redis-benchmark output")
    return lines


def run_server_expecting_exit(args=(), conf_text=None, timeout=START_TIMEOUT):
    """Runs the binary expecting it to exit by itself (bad config).

    Returns (exit code, combined stdout+stderr, conf path or None). Kills it and
    fails when it is still running after timeout.
    """
    d = tempfile.mkdtemp(prefix="shoal-test-")
    try:
        cmd = [server_binary()]
        conf_path = None
        if conf_text is not None:
            conf_path = os.path.join(d, "test.conf")
            with open(conf_path, "w") as f:
                f.write(conf_text)
            cmd.append(conf_path)
        cmd += ["--dir", d] + extra_args() + [str(a) for a in args]
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            raise AssertionError("server kept running (expected it to exit): %s\n%s" % (shlex.join(cmd), out.decode("utf-8", "replace")))
        return p.returncode, out.decode("utf-8", "replace"), conf_path
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------
# unittest integration
# ---------------------------------------------------------------------------


def dump_output(servers, what):
    """Writes each server's output (the last 20000 characters) to stderr."""
    for s in servers:
        sys.stderr.write(
            "\n===== %s (%s:%s) output for failed %s =====\n%s\n===== end =====\n"
            % (s.name, s.host, s.port, what, s.current_output()[-20000:])
        )



class ServerTestCase(unittest.TestCase):
    """unittest.TestCase that owns servers and prints their output when a test fails.

    self.start_server(...) starts a server stopped at the end of the test;
    cls.start_class_server(...) (from setUpClass) one stopped after the class.
    """

    _class_servers = []

    @classmethod
    def start_class_server(cls, *args, **kwargs):
        s = Server(*args, **kwargs)
        if "_class_servers" not in cls.__dict__:
            cls._class_servers = []
        cls._class_servers.append(s)
        s.start()
        return s

    @classmethod
    def tearDownClass(cls):
        for s in cls.__dict__.get("_class_servers", []):
            s.stop()
        super().tearDownClass()

    def start_server(self, *args, **kwargs):
        s = Server(*args, **kwargs)
        self._servers.append(s)
        self.addCleanup(s.stop)
        s.start()
        return s

    def client(self, server, **kwargs):
        c = server.client(**kwargs)
        self.addCleanup(c.close)
        return c

    def run(self, result=None):
        self._servers = []
        if result is None:
            result = self.defaultTestResult()
        before_failures, before_errors = len(result.failures), len(result.errors)
        ret = super().run(result)
        new = result.failures[before_failures:] + result.errors[before_errors:]
        if new:
            # The reason first, then the servers' output: a log shown only in
            # part (its head and tail, as CI shows it) still holds the reason.
            for _, text in new:
                more = "\n[... %d more characters]" % (len(text) - 4000) if len(text) > 4000 else ""
                sys.stderr.write("\n===== why %s failed =====\n%s%s\n===== end =====\n"
                                 % (self.id(), text[:4000].rstrip("\n"), more))
            dump_output(self._servers + list(type(self).__dict__.get("_class_servers", [])), self.id())
        return ret

    # -- assertions --
    def assertReplyError(self, reply, message):
        self.assertIsInstance(reply, ReplyError, "expected error %r, got %r" % (message, reply))
        self.assertEqual(reply.message, message)

    def assertClosed(self, client, expected_bytes=None, timeout=IO_TIMEOUT):
        data = client.read_until_closed(timeout)
        if expected_bytes is not None:
            self.assertEqual(data, expected_bytes)
        return data

    def assertServesOthers(self, server, key=None, value=None):
        """A fresh connection gets PONG, and key (if given) still holds value."""
        with server.client() as c:
            self.assertEqual(c.call("PING"), "PONG")
            if key is not None:
                self.assertEqual(c.call("GET", key), value)


class SharedServerTestCase(ServerTestCase):
    """One server for the whole class; each test starts with an empty keyspace
    and a fresh client in self.c."""

    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server()

    def setUp(self):
        self.c = self.client(self.server)
        self.c.call("FLUSHALL")


def main():
    """Runs the calling module's tests; exits non-zero on failure."""
    server_binary()  # fail early and clearly when SHOAL_SERVER is missing
    unittest.main(verbosity=2)
