"""Test harness for shoal integration and compatibility tests (Python 3 stdlib only).

Starts real server processes, talks RESP to them and cleans up after itself.

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
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

# Start-up and shut-down deadlines (seconds). Generous: sanitizer builds are slow.
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
IO_TIMEOUT = 10.0


class HarnessError(Exception):
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


def wait_for(cond, timeout, msg, interval=0.01):
    """Polls cond() until it returns a truthy value; returns that value.

    Raises AssertionError(msg) after `timeout` seconds. Exceptions raised by
    cond() count as "not yet" until the deadline, then the last one is chained.
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
        except Exception as e:  # noqa: BLE001 - polling: anything means "not yet"
            last_exc = e
        if time.monotonic() >= deadline:
            detail = " (last error: %r)" % (last_exc,) if last_exc else ""
            raise AssertionError("timed out after %.1fs waiting for: %s%s" % (timeout, msg, detail))
        time.sleep(delay)
        delay = min(delay * 1.5, 0.2)


def server_binary():
    path = os.environ.get("SHOAL_SERVER")
    if not path:
        raise HarnessError("SHOAL_SERVER is not set (path of the server binary to test)")
    return path


def is_redis_server():
    """True when the binary under test is Redis itself (reference runs)."""
    return os.path.basename(os.environ.get("SHOAL_SERVER", "")).startswith("redis-server")


def extra_args():
    value = os.environ.get("SHOAL_EXTRA_ARGS")
    if value is None:
        return ["--save", "", "--appendonly", "no"] if is_redis_server() else []
    return shlex.split(value)


def _can_bind(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(host="127.0.0.1", attempts=200):
    """A port free on host whose cluster-bus twin (port + 10000) is free as well."""
    for _ in range(attempts):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((host, 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port + 10000 > 65535:
            continue
        if _can_bind(host, port) and _can_bind(host, port + 10000):
            return port
    raise HarnessError("no free port pair found on %s" % host)


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


class Server:
    """One server process on host:port with a private temporary --dir.

    Use as a context manager, or call start() and stop() (stop is idempotent).
    After stop(), .output holds everything the process wrote to stdout/stderr.
    """

    def __init__(self, args=(), host="127.0.0.1", port=None, conf_text=None, password=None, name="server", dir=None):
        self.args = [str(a) for a in args]
        # A caller-owned dir survives stop() so a restart finds its data.
        self.fixed_dir = dir
        self.host = host
        self.port = port
        self.conf_text = conf_text
        self.password = password
        self.name = name
        self.dir = None
        self.log_path = None
        self.proc = None
        self.output = ""
        self.returncode = None
        self._log_file = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    # -- lifecycle --
    def command_line(self):
        cmd = [server_binary()]
        if self.conf_text is not None:
            conf_path = os.path.join(self.dir, "test.conf")
            with open(conf_path, "w") as f:
                f.write(self.conf_text)
            cmd.append(conf_path)
        cmd += ["--port", str(self.port), "--bind", self.host, "--dir", self.dir]
        cmd += extra_args()
        cmd += self.args
        return cmd

    def start(self, timeout=START_TIMEOUT, attempts=3):
        fixed_port = self.port is not None
        last = None
        for _ in range(attempts):
            if not fixed_port:
                self.port = free_port(self.host)
            try:
                self._start_once(timeout)
                return self
            except HarnessError as e:
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
        self.returncode = None
        self._log_file = open(self.log_path, "wb")
        cmd = self.command_line()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise HarnessError("%s exited with %s during start-up: %s" % (self.name, self.proc.returncode, shlex.join(cmd)))
            if self._answers():
                return
            if time.monotonic() >= deadline:
                raise HarnessError("%s did not answer PING within %.1fs: %s" % (self.name, timeout, shlex.join(cmd)))
            time.sleep(0.02)

    def _answers(self):
        try:
            with Client(self.host, self.port, timeout=2.0) as c:
                if self.password is not None:
                    c.send("AUTH", self.password)
                    c.read_reply()
                reply = c.request("PING")
                return reply == "PONG" or (isinstance(reply, ReplyError) and reply.message.startswith("NOAUTH"))
        except (OSError, ConnectionClosed, HarnessError):
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: a crash. Collects the output as stop() does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return self.stop()

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Waits for the process to exit; returns its code or None on timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, then SIGKILL after timeout. Returns the exit code."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
                if self.wait_exit(timeout) is None:
                    self.proc.kill()
                    self.proc.wait()
            self.returncode = self.proc.returncode
            self.proc = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if self.log_path and os.path.exists(self.log_path):
            with open(self.log_path, "rb") as f:
                self.output = f.read().decode("utf-8", "replace")
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
        if self.log_path and os.path.exists(self.log_path):
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        return self.output

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
        before = len(result.failures) + len(result.errors)
        ret = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            servers = self._servers + list(type(self).__dict__.get("_class_servers", []))
            for s in servers:
                out = s.output if s.proc is None else s.current_output()
                sys.stderr.write(
                    "\n===== %s (%s:%s) output for failed %s =====\n%s\n===== end =====\n"
                    % (s.name, s.host, s.port, self.id(), out[-20000:])
                )
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
