"""TLS: clients on tls-port (port 0 turning plain TCP off), tls-auth-clients,
reloads by CONFIG SET, and peer links under tls-cluster yes.

The certificates (a CA, server and client certificates it signs, a second
server certificate, an encrypted key, and a stranger's certificate from
another CA) are generated for the run with the openssl command-line tool
into a temporary directory; nothing is checked in.
"""

import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

import cluster_harness as ch
import shoal_harness as h
import shoal_process as sp

PKI = None  # the temporary directory, set by setUpModule


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_pki(d):
    """ca.crt/key, other-ca, server.crt (SAN 127.0.0.1-9 and localhost),
    server2.crt, client.crt, stranger.crt (other CA), server-pass.key."""

    def ca(name, cn):
        openssl("req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-keyout", os.path.join(d, name + ".key"), "-out", os.path.join(d, name + ".crt"),
                "-days", "2", "-subj", "/CN=" + cn)

    def leaf(name, cn, issuer):
        key, csr, crt = (os.path.join(d, name + ext) for ext in (".key", ".csr", ".crt"))
        openssl("req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-keyout", key, "-out", csr, "-subj", "/CN=" + cn)
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=DNS:localhost,%s\n" % ",".join("IP:127.0.0.%d" % i for i in range(1, 10)))
        openssl("x509", "-req", "-in", csr, "-CA", os.path.join(d, issuer + ".crt"),
                "-CAkey", os.path.join(d, issuer + ".key"), "-CAcreateserial", "-out", crt,
                "-days", "2", "-extfile", ext)

    ca("ca", "shoal test CA")
    ca("other-ca", "another CA")
    leaf("server", "shoal server", "ca")
    leaf("server2", "shoal server two", "ca")
    leaf("client", "shoal client", "ca")
    leaf("stranger", "stranger", "other-ca")
    openssl("pkey", "-in", os.path.join(d, "server.key"), "-aes256", "-passout", "pass:open sesame",
            "-out", os.path.join(d, "server-pass.key"))


def setUpModule():
    global PKI
    PKI = tempfile.mkdtemp(prefix="shoal-tls-")
    make_pki(PKI)


def tearDownModule():
    shutil.rmtree(PKI, ignore_errors=True)


def pki(name):
    return os.path.join(PKI, name)


def tls_args(**extra):
    args = ["--tls-cert-file", pki("server.crt"), "--tls-key-file", pki("server.key"),
            "--tls-ca-cert-file", pki("ca.crt")]
    for k, v in extra.items():
        args += ["--" + k.replace("_", "-"), v]
    return args


def client_context(cert="client", ca="ca"):
    ctx = ssl.create_default_context(cafile=pki(ca + ".crt"))
    if cert is not None:
        ctx.load_cert_chain(pki(cert + ".crt"), pki(cert + ".key"))
    return ctx


class TlsClient(h.Client):
    """shoal_harness.Client over TLS (the handshake runs in the constructor)."""

    def __init__(self, host, port, cert="client", timeout=h.IO_TIMEOUT):
        super().__init__(host, port, timeout)
        self.sock = client_context(cert).wrap_socket(self.sock, server_hostname=host)


def tls_ping(host, port):
    try:
        with TlsClient(host, port, timeout=2.0) as c:
            return c.call("PING") == "PONG"
    except (OSError, h.ConnectionClosed, h.ReplyError):
        return False


class TlsServer(h.Server):
    """A node serving clients on tls-port only (port 0)."""

    def __init__(self, args=(), **kwargs):
        super().__init__(args=args, **kwargs)
        self.tls_port = None

    def command_line(self):
        cmd = super().command_line()
        # The harness's --port names the TLS port; later arguments win.
        return cmd + ["--tls-port", str(self.port), "--port", "0",
                      "--cluster-port", str(self.cport)]

    def _start_once(self, timeout):
        self.cport = sp.free_port(self.host)
        super()._start_once(timeout)

    def wait_ready(self, host, port, timeout, password=None):
        sp.wait_for(lambda: (self.check_alive(), tls_ping(host, port))[1], timeout,
                    "%s to answer PING over TLS" % self.name)

    def client(self, auth=True, timeout=h.IO_TIMEOUT, cert="client"):
        return TlsClient(self.host, self.port, cert=cert, timeout=timeout)


def handshake_refused(host, port, cert):
    """True if a TLS client with `cert` (None: none) cannot run a command:
    the server refuses the handshake (TLSv1.3 reports it on the first read)."""
    try:
        with TlsClient(host, port, cert=cert, timeout=5.0) as c:
            c.call("PING")
    except (OSError, h.ConnectionClosed):
        return True
    return False


class TlsClientTest(h.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = cls.start_class_server_tls()

    @classmethod
    def start_class_server_tls(cls):
        s = TlsServer(args=tls_args(appendonly="no"))
        if "_class_servers" not in cls.__dict__:
            cls._class_servers = []
        cls._class_servers.append(s)
        s.start()
        return s

    def start_tls_server(self, args):
        s = TlsServer(args=args)
        self._servers.append(s)
        self.addCleanup(s.stop)
        s.start()
        return s

    def test_plain_port_is_off(self):
        self.assertFalse(sp.answers_ping(self.server.host, self.server.port))  # TLS port, plain bytes
        with self.server.client() as c:
            fields = sp.parse_fields(c.call("INFO", "server").decode())
            self.assertEqual(c.call("CONFIG", "GET", "port"), [b"port", b"0"])
        self.assertEqual(fields["tcp_port"], "0")

    def test_redis_cli(self):
        base = ["redis-cli", "-h", self.server.host, "-p", str(self.server.port), "--tls",
                "--cacert", pki("ca.crt"), "--cert", pki("client.crt"), "--key", pki("client.key")]
        out = subprocess.run(base + ["SET", "cli-key", "cli-value"], capture_output=True, text=True, timeout=20)
        self.assertEqual(out.stdout.strip(), "OK", out.stderr)
        out = subprocess.run(base + ["GET", "cli-key"], capture_output=True, text=True, timeout=20)
        self.assertEqual(out.stdout.strip(), "cli-value", out.stderr)

    def test_redis_py(self):
        import redis

        r = redis.Redis(host=self.server.host, port=self.server.port, ssl=True, ssl_ca_certs=pki("ca.crt"),
                        ssl_certfile=pki("client.crt"), ssl_keyfile=pki("client.key"), socket_timeout=10)
        try:
            self.assertTrue(r.set("py-key", "py-value"))
            self.assertEqual(r.get("py-key"), b"py-value")
            self.assertTrue(any(c["addr"] for c in r.client_list()))
        finally:
            r.close()

    def test_big_value_and_pipeline(self):
        value = os.urandom(5 * 1024 * 1024)
        with self.server.client(timeout=60) as c:
            self.assertEqual(c.call("SET", "big", value), "OK")
            self.assertEqual(c.call("GET", "big"), value)
            self.assertEqual(c.call("STRLEN", "big"), len(value))
            # 1000 commands in one write, and their 1000 replies.
            c.send_raw(b"".join(h.encode_command("INCR", "counter") for _ in range(1000)))
            replies = [c.read_reply(timeout=30) for _ in range(1000)]
            self.assertEqual(replies, list(range(1, 1001)))
            c.call("DEL", "big")

    def garbage(self, data):
        """Sends plain bytes to the TLS port; returns what came back before the close."""
        with socket.create_connection((self.server.host, self.server.port), timeout=10) as s:
            s.sendall(data)
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        return got
                    got += chunk
            except ConnectionResetError:
                return got

    def test_plain_bytes_close_the_connection(self):
        def logged():
            return self.server.current_output().count("Error accepting a client connection")

        data = self.garbage(b"PING\r\n")
        self.assertNotIn(b"PONG", data)  # at most a TLS alert
        # Logged, at most a line a second: keep sending until one is admitted.
        before = logged()
        sp.wait_for(lambda: self.garbage(b"PING\r\n") is not None and logged() > before, 10,
                    "the failed handshake's log line")
        # A burst of garbage connections is not a line each.
        before = logged()
        start = time.monotonic()
        for _ in range(50):
            self.garbage(b"GET k\r\n" * 3)
        elapsed = time.monotonic() - start
        self.assertLessEqual(logged() - before, int(elapsed) + 2)
        self.assertTrue(tls_ping(self.server.host, self.server.port))

    def test_client_certificates(self):
        # tls-auth-clients yes (the default): no certificate, or one of another CA, is refused.
        self.assertTrue(handshake_refused(self.server.host, self.server.port, None))
        self.assertTrue(handshake_refused(self.server.host, self.server.port, "stranger"))
        self.assertIn("Error accepting a client connection", self.server.current_output())
        with self.server.client() as c:
            try:
                self.assertEqual(c.call("CONFIG", "SET", "tls-auth-clients", "optional"), "OK")
                # optional: none is accepted; a bad one is still refused.
                with self.server.client(cert=None) as anon:
                    self.assertEqual(anon.call("PING"), "PONG")
                self.assertTrue(handshake_refused(self.server.host, self.server.port, "stranger"))
                self.assertEqual(c.call("CONFIG", "SET", "tls-auth-clients", "no"), "OK")
                with self.server.client(cert=None) as anon:
                    self.assertEqual(anon.call("PING"), "PONG")
                with self.server.client(cert="stranger") as anon:
                    self.assertEqual(anon.call("PING"), "PONG")
            finally:
                c.call("CONFIG", "SET", "tls-auth-clients", "yes")

    def test_config_get_and_reload(self):
        with self.server.client() as c:
            got = dict(zip(*[iter(c.call("CONFIG", "GET", "tls-*"))] * 2))
            self.assertEqual(got[b"tls-port"], str(self.server.port).encode())
            self.assertEqual(got[b"tls-auth-clients"], b"yes")
            self.assertEqual(got[b"tls-protocols"], b"TLSv1.2 TLSv1.3")
            self.assertEqual(got[b"tls-session-cache-size"], b"20480")
            self.assertEqual(got[b"tls-replication"], b"no")
            # A file that cannot load is refused; the old context stays.
            reply = c.request("CONFIG", "SET", "tls-cert-file", pki("missing.crt"))
            self.assertIsInstance(reply, h.ReplyError)
            self.assertIn("Unable to update TLS configuration", reply.message)
            self.assertEqual(c.call("CONFIG", "GET", "tls-cert-file")[1], pki("server.crt").encode())
            self.assertTrue(tls_ping(self.server.host, self.server.port))

            def served_cn():
                with TlsClient(self.server.host, self.server.port) as t:
                    subject = dict(x[0] for x in t.sock.getpeercert()["subject"])
                    return subject["commonName"]

            self.assertEqual(served_cn(), "shoal server")
            try:
                self.assertEqual(c.call("CONFIG", "SET", "tls-cert-file", pki("server2.crt"),
                                        "tls-key-file", pki("server2.key")), "OK")
                self.assertEqual(served_cn(), "shoal server two")
                self.assertEqual(c.call("PING"), "PONG")  # the open connection kept its session
            finally:
                c.call("CONFIG", "SET", "tls-cert-file", pki("server.crt"), "tls-key-file", pki("server.key"))

    def test_encrypted_key_and_redacted_passphrase(self):
        s = self.start_tls_server(tls_args(appendonly="no", tls_key_file=pki("server-pass.key"),
                                           tls_key_file_pass="open sesame"))
        with s.client() as c:
            self.assertEqual(c.call("CONFIG", "GET", "tls-key-file-pass"), [b"tls-key-file-pass", b"(redacted)"])
        self.assertNotIn("open sesame", s.current_output())

    def test_start_up_fails_without_readable_cert(self):
        port = sp.free_port()
        code, out, _ = h.run_server_expecting_exit(["--port", port, "--tls-port", port + 1 if port < 65000 else port - 1,
                                                    "--cluster-port", sp.free_port()])
        self.assertNotEqual(code, 0)
        self.assertIn("tls-cert-file", out)
        code, out, _ = h.run_server_expecting_exit(
            ["--port", port, "--cluster-port", sp.free_port(), "--tls-cluster", "yes"]
            + tls_args(tls_cert_file=pki("missing.crt")))
        self.assertNotEqual(code, 0)
        self.assertIn("Failed to load certificate: " + pki("missing.crt"), out)
        code, out, _ = h.run_server_expecting_exit(
            ["--port", port, "--cluster-port", sp.free_port(), "--tls-port", sp.free_port()]
            + tls_args(tls_key_file=pki("server-pass.key"), tls_key_file_pass="wrong"))
        self.assertNotEqual(code, 0)
        self.assertIn("Failed to load private key", out)
        self.assertNotIn("wrong", out.replace("wrong cluster", ""))


def tls_cluster_args():
    return tls_args(tls_cluster="yes")


@ch.skip_unless_shoal
class TlsClusterTest(ch.ClusterTestCase):
    def test_tls_cluster_replicates_and_refuses_plain_peers(self):
        cl = self.start_cluster(3, replicas=3, read_quorum=3, write_quorum=3, secret="s3",
                                args=tls_cluster_args())
        a, b, c = cl.nodes
        with a.client() as ca:
            self.assertEqual(ca.call("SET", "tls-key", "tls-value"), "OK")
        with c.client() as cc:
            self.assertEqual(cc.call("GET", "tls-key"), b"tls-value")
            self.assertEqual(cc.call("CONFIG", "GET", "tls-cluster"), [b"tls-cluster", b"yes"])

        # The peer port speaks TLS: a plain PING is closed with no RESP reply,
        # a TLS client with a certificate of the CA completes the handshake,
        # one without a certificate is refused.
        with socket.create_connection((a.host, a.cport), timeout=10) as s:
            s.sendall(b"PING\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        self.assertNotIn(b"ERR", data)
        self.assertNotIn(b"PONG", data)
        with client_context().wrap_socket(socket.create_connection((a.host, a.cport), timeout=10),
                                          server_hostname=a.host) as t:
            self.assertEqual(t.version(), "TLSv1.3")
        sp.wait_for(lambda: "this node has tls-cluster yes" in a.current_output(), 10, "the refused peer's log line")

        # A plain node seeded with node 1 cannot join: node 1 refuses it, and
        # it never appears in the cluster.
        host = sp.cluster_hosts(4)[3]
        port = sp.free_port(host)
        plain = h.Server(args=["--cluster-secret", "s3", "--replicas", 3, "--cluster-seeds", a.address,
                               "--gossip-interval-ms", 100], host=host, port=port, name="plain")
        self._servers.append(plain)
        self.addCleanup(plain.stop)
        plain.start()
        marker = 'Peer connection from "%s:' % host
        sp.wait_for(lambda: marker in a.current_output(), 20, "node 1 to refuse the plain node")
        line = [l for l in a.current_output().splitlines() if marker in l][-1]
        self.assertIn("tls-cluster yes", line)
        self.assertNotIn(port, [n["port"] for n in a.cluster_nodes()])
        # And node 1, told to meet it, gets no further (its TLS handshake fails).
        with a.client() as ca:
            self.assertEqual(ca.call("CLUSTER", "MEET", host, port), "OK")
        sp.wait_for(lambda: "TLS with peer at %s:%d failed" % (host, port + 10000) in a.current_output(), 30,
                    "node 1's TLS failure towards the plain node")
        self.assertNotIn(port, [n["port"] for n in a.cluster_nodes()])
        with a.client() as ca:
            self.assertEqual(ca.call("SET", "after", "plain"), "OK")
        self.assertEqual(c.call("GET", "after"), b"plain")


if __name__ == "__main__":
    h.main()
