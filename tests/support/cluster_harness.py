"""Cluster test harness: several shoal-server nodes on 127.0.0.x addresses.

Builds on shoal_harness (Server, Client, wait_for, free_port, ServerTestCase).
Node i of a cluster listens on 127.0.0.(i+1) (Linux routes all of 127/8 to lo),
so every node has an address of its own, as on a real network: its outbound
peer connections leave from it too (`bind`).

    with Cluster(3, replicas=3, read_quorum=2, write_quorum=2) as cl:
        cl.wait_converged()
        a, b, c = cl.nodes
        with a.client() as ca, b.client() as cb:
            ca.call("SET", "k", "v"); assert cb.call("GET", "k") == b"v"

Nothing here sleeps for a fixed time: every wait polls a condition under a
deadline. A node stopped with pause() is always continued before it is
stopped, so SIGTERM can reach it (the paused() context manager continues it on
the way out, failure or not).
"""

import contextlib
import os
import shutil
import signal
import tempfile
import unittest

import shoal_harness as h
import shoal_process as sp

# Deadlines (seconds). Generous: sanitizer builds on a shared 2-core machine are slow.
CONVERGE_TIMEOUT = 30.0
RECOVER_TIMEOUT = 20.0

# Faster than the default membership exchange period (200 ms) so clusters
# form quickly in tests; still a real period, not a busy loop.
TEST_GOSSIP_INTERVAL_MS = 100

# Longer than the default request timeout (1000 ms): tests that are not about
# timeouts must not see NOQUORUM because a sanitizer build on a loaded
# machine is slow (a 4000-command pipeline takes over a second under ASan).
# Tests about timeouts pass their own request_timeout_ms.
TEST_REQUEST_TIMEOUT_MS = 5000


def skip_unless_shoal(cls):
    """Class decorator: cluster tests make no sense against redis-server."""
    return unittest.skipIf(h.is_redis_server(), "cluster tests need shoal-server")(cls)


def text(value):
    """A bulk reply (bytes) or a simple string as str."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, h.ReplyError):
        raise value
    return value


def parse_fields(value):
    """`field:value` lines (CLUSTER INFO, an INFO section) as {field: value}.

    Skips blank lines and `# Section` headers; values stay strings.
    """
    return sp.parse_fields(text(value))


def parse_nodes(value):
    """CLUSTER NODES as a list of dicts.

    Each line: `<id> <host>:<port>@<cport> <flags> <partitions> <share>`.
    Keys: id, host, port, cport, flags (list), partitions (int), share (float,
    percent), line (the raw line). Extra trailing fields are kept in `extra`.
    """
    out = []
    for line in text(value).splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) < 5:
            raise AssertionError("CLUSTER NODES line with fewer than 5 fields: %r" % line)
        addr, _, cport = parts[1].partition("@")
        host, _, port = addr.rpartition(":")
        share = parts[4]
        if not share.endswith("%"):
            raise AssertionError("CLUSTER NODES share %r does not end in %%: %r" % (share, line))
        out.append(
            {
                "id": parts[0],
                "host": host,
                "port": int(port),
                "cport": int(cport) if cport else None,
                "flags": parts[2].split(","),
                "partitions": int(parts[3]),
                "share": float(share[:-1]),
                "extra": parts[5:],
                "line": line,
            }
        )
    return out


class Node(h.Server):
    """One cluster node: a shoal_harness.Server with a fixed port and a
    harness-owned dir, so it can be killed and restarted with its identity and
    data (restart()), and SIGSTOPped (pause()/resume())."""

    def __init__(self, index, host, port, workdir, args, name, cport=None):
        super().__init__(args=args, host=host, port=port, name=name, dir=workdir)
        self.index = index
        self.cport_ = cport
        self.paused_ = False
        self._id = None

    # -- addresses --
    @property
    def cport(self):
        return self.cport_ if self.cport_ is not None else self.port + 10000

    @property
    def address(self):
        """The client address as CLUSTER NODES/PREFLIST print it."""
        return "%s:%d" % (self.host, self.port)

    def __repr__(self):
        return "<%s %s>" % (self.name, self.address)

    # -- lifecycle --
    def pause(self):
        """SIGSTOP: the process stops reading its sockets; the kernel still
        accepts and buffers TCP data for it. Returns once the process is seen
        stopped (state T in /proc), so nothing sent afterwards is read."""
        self.proc.send_signal(signal.SIGSTOP)
        self.paused_ = True
        h.wait_for(lambda: self.proc_state() in ("T", "t"), 10, "%s to stop" % self.name)

    def proc_state(self):
        """The process state letter of /proc/<pid>/stat (R, S, T...)."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]

    def resume(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.paused_ = False

    def stop(self, timeout=h.STOP_TIMEOUT):
        if self.paused_:
            self.resume()
        code = super().stop(timeout)
        return code

    def restart(self, timeout=h.START_TIMEOUT):
        """Starts the node again on the same address and dir (after stop/kill)."""
        if self.alive():
            raise h.HarnessError("%s is still running" % self.name)
        self.previous_output += self.output
        self.start(timeout)
        return self

    # -- commands (one short connection each; robust across restarts) --
    def call(self, *args):
        with self.client() as c:
            return c.call(*args)

    def request(self, *args):
        with self.client() as c:
            return c.request(*args)

    @property
    def id(self):
        """The node id (CLUSTER MYID), cached: it survives restarts."""
        if self._id is None:
            self._id = text(self.call("CLUSTER", "MYID"))
        return self._id

    def cluster_info(self):
        return parse_fields(self.call("CLUSTER", "INFO"))

    def cluster_nodes(self):
        return parse_nodes(self.call("CLUSTER", "NODES"))

    def info(self, section):
        return parse_fields(self.call("INFO", section))

    def counter(self, name, section="cluster"):
        """An integer field of INFO <section>; AssertionError if absent."""
        fields = self.info(section)
        if name not in fields:
            raise AssertionError("INFO %s of %s has no %s field: %r" % (section, self.name, name, sorted(fields)))
        return int(fields[name])

    def getlocal(self, key):
        """CLUSTER GETLOCAL key -> (context, [values]) of this node's own copy."""
        reply = self.call("CLUSTER", "GETLOCAL", key)
        if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
            raise AssertionError("CLUSTER GETLOCAL %r on %s: not [context, [values]]: %r" % (key, self.name, reply))
        return reply[0], reply[1]


class NetnsNode(Node):
    """A Node run inside the network namespace `netns` (`ip netns exec`,
    which execs the server, so signals reach it), listening on `bind` (e.g.
    0.0.0.0) while the test reaches it at `host`, its address there."""

    def __init__(self, netns, bind, index, host, port, workdir, args, name, cport=None):
        super().__init__(index, host, port, workdir, args, name, cport)
        self.netns = netns
        self.bind = bind

    def command_line(self):
        cmd = super().command_line()
        cmd[cmd.index("--bind") + 1] = self.bind
        # The test reaches the node from outside its namespace, not over
        # loopback: protected mode (no requirepass) would deny it.
        cmd += ["--protected-mode", "no"]
        return ["ip", "netns", "exec", self.netns] + cmd


class Cluster:
    """`size` nodes on 127.0.0.1, 127.0.0.2, ... each seeded with the others.

    Options become directives: replicas (N), read_quorum (R), write_quorum (W),
    vnodes (Q), request_timeout_ms (default TEST_REQUEST_TIMEOUT_MS; None:
    the server's default), gossip_interval_ms, secret
    (cluster-secret; a list gives one per node), appendonly ("yes"/"no").
    seeds: True gives every node all the others as seeds; "chain" gives node
    i only node i-1 (membership must spread); False starts every node alone
    (join them with CLUSTER MEET).
    explicit_cports: each node gets a free `cluster-port` other than
    port + 10000, and seeds name it (`host:port@cport`).
    args: extra arguments for every node; node_args: {index: [args]}.
    """

    def __init__(
        self,
        size,
        replicas=3,
        read_quorum=2,
        write_quorum=2,
        vnodes=None,
        request_timeout_ms=TEST_REQUEST_TIMEOUT_MS,
        gossip_interval_ms=TEST_GOSSIP_INTERVAL_MS,
        secret=None,
        appendonly=None,
        seeds=True,
        args=(),
        node_args=None,
        first_host=1,
        explicit_cports=False,
        name="node",
    ):
        hosts = sp.cluster_hosts(size, first_host)
        self.size = size
        self.replicas = replicas
        self.read_quorum = read_quorum
        self.write_quorum = write_quorum
        self.vnodes = vnodes
        self.seeds = seeds
        self.root = tempfile.mkdtemp(prefix="shoal-cluster-")
        ports = [sp.free_port(host) for host in hosts]
        cports = [None] * size
        if explicit_cports:
            cports = [self._free_cport(host, port) for host, port in zip(hosts, ports)]
        addrs = ["%s:%d" % hp if cp is None else "%s:%d@%d" % (hp + (cp,)) for hp, cp in zip(zip(hosts, ports), cports)]
        secrets = secret if isinstance(secret, (list, tuple)) else [secret] * size
        self.nodes = []
        for i, (host, port) in enumerate(zip(hosts, ports)):
            a = ["--replicas", replicas, "--read-quorum", read_quorum, "--write-quorum", write_quorum]
            if vnodes is not None:
                a += ["--vnodes", vnodes]
            if request_timeout_ms is not None:
                a += ["--request-timeout-ms", request_timeout_ms]
            if gossip_interval_ms is not None:
                a += ["--gossip-interval-ms", gossip_interval_ms]
            if secrets[i] is not None:
                a += ["--cluster-secret", secrets[i]]
            if appendonly is not None:
                a += ["--appendonly", appendonly]
            if cports[i] is not None:
                a += ["--cluster-port", cports[i]]
            if seeds == "chain":
                if i > 0:
                    a += ["--cluster-seeds", addrs[i - 1]]
            elif seeds and size > 1:
                a += ["--cluster-seeds", ",".join(addr for j, addr in enumerate(addrs) if j != i)]
            a += list(args)
            if node_args and i in node_args:
                a += list(node_args[i])
            workdir = os.path.join(self.root, "%s%d" % (name, i + 1))
            os.makedirs(workdir)
            self.nodes.append(Node(i, host, port, workdir, a, "%s%d" % (name, i + 1), cports[i]))

    @staticmethod
    def _free_cport(host, port):
        for _ in range(200):
            cport = sp.free_port(host)  # free, and so is cport + 10000: fine
            if cport not in (port, port + 10000) and sp.can_bind(host, cport):
                return cport
        raise h.HarnessError("no free cluster port on %s" % host)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def __getitem__(self, i):
        return self.nodes[i]

    def __iter__(self):
        return iter(self.nodes)

    def __len__(self):
        return len(self.nodes)

    # -- lifecycle --
    def start(self):
        try:
            for n in self.nodes:
                n.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Continues paused nodes, stops every node (SIGTERM, then SIGKILL),
        removes the nodes' dirs. Idempotent."""
        for n in self.nodes:
            if n.paused_:
                n.resume()
        for n in self.nodes:
            n.stop()
        if self.root is not None and not os.environ.get("SHOAL_KEEP_TMP"):
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    # -- convergence --
    def convergence(self, nodes=None, expected=None):
        """None when converged, else a description of what is not yet."""
        nodes = list(self.nodes if nodes is None else nodes)
        expected = len(nodes) if expected is None else expected
        problem = sp.convergence_problem({n.name: n.cluster_info() for n in nodes}, expected)
        if problem is not None:
            return problem
        # Peer links: every other node shown connected (a write right after
        # convergence must not meet a link still in reconnect backoff).
        ids = {n.name: n.id for n in nodes}
        for n in nodes:
            lines = n.cluster_nodes()
            for other in nodes:
                if other is n:
                    continue
                row = next((l for l in lines if l["id"] == ids[other.name]), None)
                if row is None or "connected" not in row["flags"]:
                    return "%s shows %s as %r" % (n.name, other.name, row["line"] if row else None)
            # Data placement: no node still to receive a partition (the last
            # field of CLUSTER NODES), so every key's replicas are its primaries.
            for row in lines:
                if row["extra"] and row["extra"][-1] != "0":
                    return "%s shows %s still receiving %s partitions" % (n.name, row["id"][:8], row["extra"][-1])
        return None

    def wait_converged(self, nodes=None, expected=None, timeout=CONVERGE_TIMEOUT):
        """Waits until the nodes (default all) agree: cluster_state ok, the same
        known_nodes (expected, default len(nodes)) and ring epoch, and each
        shows the others connected."""
        last = []

        def done():
            last[:] = [self.convergence(nodes, expected)]
            return last[0] is None

        try:
            h.wait_for(done, timeout, "cluster convergence")
        except AssertionError as e:
            raise AssertionError("%s; last: %s" % (e, last[0] if last else "?")) from None

    # -- keys and replicas --
    def node_by_id(self, node_id):
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise AssertionError("no node with id %r (ids: %r)" % (node_id, [n.id for n in self.nodes]))

    def preflist(self, key, via=None):
        """CLUSTER PREFLIST key through `via` (default node 0): [[id, addr, role]...]
        with str fields."""
        via = self.nodes[0] if via is None else via
        reply = via.call("CLUSTER", "PREFLIST", key)
        if not isinstance(reply, list):
            raise AssertionError("CLUSTER PREFLIST %r: not an array: %r" % (key, reply))
        return [[text(f) for f in entry] for entry in reply]

    def replicas_of(self, key, via=None):
        """The key's preference-list nodes, in order."""
        return [self.node_by_id(e[0]) for e in self.preflist(key, via)]

    def find_key(self, pred, prefix="key", limit=5000):
        """The first key `prefix:<i>` whose replica nodes (list) satisfy pred."""
        for i in range(limit):
            key = "%s:%d" % (prefix, i)
            if pred(self.replicas_of(key)):
                return key
        raise AssertionError("no key %s:<0..%d> satisfies the condition" % (prefix, limit))

    def key_not_on(self, node, prefix="key"):
        """A key whose preference list does not contain node (needs N < size)."""
        return self.find_key(lambda reps: node not in reps, prefix)


def scan_all(client, *args):
    """Every key a full SCAN iteration returns (a list: duplicates kept)."""
    cursor, keys = b"0", []
    for _ in range(100000):
        cursor, batch = client.call("SCAN", cursor, *args)
        keys += batch
        if cursor == b"0":
            return keys
    raise AssertionError("SCAN did not finish")


@contextlib.contextmanager
def paused(*nodes):
    """SIGSTOPs the nodes for the body; always SIGCONTs them on the way out."""
    stopped = []
    try:
        for n in nodes:
            n.pause()
            stopped.append(n)
        yield nodes
    finally:
        for n in stopped:
            n.resume()


class ClusterTestCase(h.ServerTestCase):
    """ServerTestCase with clusters: self.start_cluster(...) for one test,
    cls.start_class_cluster(...) (from setUpClass) for the class. Their nodes'
    output is printed when a test fails, and they are always stopped."""

    @classmethod
    def start_class_cluster(cls, size, converge=True, **kwargs):
        cl = Cluster(size, **kwargs)
        if "_class_servers" not in cls.__dict__:
            cls._class_servers = []
        if "_class_clusters" not in cls.__dict__:
            cls._class_clusters = []
        cls._class_servers.extend(cl.nodes)
        cls._class_clusters.append(cl)
        try:
            cl.start()
            if converge:
                cl.wait_converged()
        except BaseException:
            h.dump_output(cl.nodes, "setUpClass of %s" % cls.__name__)
            cl.stop()
            raise
        return cl

    @classmethod
    def tearDownClass(cls):
        for cl in cls.__dict__.get("_class_clusters", []):
            cl.stop()
        super().tearDownClass()

    def start_cluster(self, size, converge=True, **kwargs):
        cl = Cluster(size, **kwargs)
        self._servers.extend(cl.nodes)
        self.addCleanup(cl.stop)
        cl.start()
        if converge:
            cl.wait_converged()
        return cl

    def assertNoQuorum(self, reply, got, required):
        self.assertIsInstance(reply, h.ReplyError, "expected a NOQUORUM error, got %r" % (reply,))
        prefix = "NOQUORUM got %d of %d required replies" % (got, required)
        self.assertTrue(reply.message.startswith(prefix), "expected %r..., got %r" % (prefix, reply.message))
