"""Nodes on real networks: a cluster whose nodes live in network namespaces.

Each node runs in a namespace of its own (`ip netns exec`), bound to 0.0.0.0,
with one private address on a veth whose other end is on a bridge in a
"switch" namespace; the test reaches the nodes through one more veth from the
root namespace to that bridge. No node can reach another over 127.0.0.1, so
the cluster forms only if every node advertises an address its peers can
reach (issue 10, "Nodes on real networks").

Node 3 has a second address, added first, on a subnet no peer has a route
to: its first guess of its own address is wrong and only the address its
peer connections use is right, so the test sees a node learn its address.

Needs root and `ip netns` (iproute2); skips with the reason otherwise. The
namespaces and links carry the test's pid in their names and are removed in
`finally`, whatever happens.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

import cluster_harness as ch
import shoal_harness as h
import shoal_process as sp

PORT = 7001  # every node on the same port: they are told apart by address
SIZE = 3


def ip(*args, netns=None):
    """Runs `ip [-n netns] args...`; raises with ip's message on failure."""
    cmd = ["ip"] + (["-n", netns] if netns else []) + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), (r.stderr or r.stdout).strip()))
    return r.stdout


def netns_unavailable():
    """Why namespaces cannot be made here, or None."""
    if shutil.which("ip") is None:
        return "needs `ip` (iproute2; scripts/install-deps.sh installs it)"
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    probe = "shoalprobe%d" % os.getpid()
    try:
        ip("netns", "add", probe)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        return "`ip netns` is unavailable here: %s" % e
    try:
        ip("netns", "del", probe)
    except (RuntimeError, OSError, subprocess.SubprocessError):
        pass
    return None


class Network:
    """The namespaces and links of one test run, named after the pid.

    setup() builds them; teardown() removes whatever exists, and is safe to
    call after a setup() that failed half way.
    """

    def __init__(self, size):
        pid = os.getpid()
        self.size = size
        self.switch = "shoal%dsw" % pid
        self.nodes = ["shoal%dn%d" % (pid, i + 1) for i in range(size)]
        # Interface names are at most 15 characters: "sh" + pid (<= 7 digits) + 2.
        self.host_link = "sh%dh" % pid
        self.node_links = ["sh%da%d" % (pid, i + 1) for i in range(size)]
        self.port_links = ["sh%db%d" % (pid, i + 1) for i in range(size)]
        self.subnet = None
        self.unrouted = None

    def address(self, i):
        return "%s.%d" % (self.subnet, i + 1)

    def _pick_subnet(self):
        # A /24 of 10.213/16 that the root namespace has no route to (other
        # than a default one), so the link added there hides nothing.
        start = os.getpid() % 250
        for k in range(250):
            third = (start + k) % 250 + 1
            candidate = "10.213.%d" % third
            routes = [l for l in ip("-4", "route", "show", "to", "match", candidate + ".1").splitlines() if l.strip() and not l.startswith("default")]
            if not routes:
                return candidate, "10.214.%d" % third
        raise RuntimeError("no free 10.213.x.0/24 subnet in the root namespace")

    def setup(self):
        self.subnet, self.unrouted = self._pick_subnet()
        ip("netns", "add", self.switch)
        ip("link", "add", "br0", "type", "bridge", netns=self.switch)
        ip("link", "set", "br0", "up", netns=self.switch)
        ip("link", "set", "lo", "up", netns=self.switch)
        # The test's own way in: root namespace <-> bridge.
        ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.host_link + "p")
        ip("link", "set", self.host_link + "p", "netns", self.switch)
        ip("link", "set", self.host_link + "p", "master", "br0", "up", netns=self.switch)
        ip("addr", "add", self.subnet + ".254/24", "dev", self.host_link)
        ip("link", "set", self.host_link, "up")
        for i, ns in enumerate(self.nodes):
            ip("netns", "add", ns)
            ip("link", "add", self.node_links[i], "type", "veth", "peer", "name", self.port_links[i])
            ip("link", "set", self.port_links[i], "netns", self.switch)
            ip("link", "set", self.port_links[i], "master", "br0", "up", netns=self.switch)
            ip("link", "set", self.node_links[i], "netns", ns)
            ip("link", "set", self.node_links[i], "name", "eth0", netns=ns)
            ip("link", "set", "lo", "up", netns=ns)
            if i == self.size - 1:
                # Listed first by the OS, so the node's first guess; no
                # peer has a route to it.
                ip("addr", "add", "%s.%d/24" % (self.unrouted, i + 1), "dev", "eth0", netns=ns)
            ip("addr", "add", self.address(i) + "/24", "dev", "eth0", netns=ns)
            ip("link", "set", "eth0", "up", netns=ns)

    def teardown(self):
        errors = []
        # Deleting a namespace destroys the veth ends in it, and with them
        # their peers; the root-side link goes with the switch's end.
        for ns in self.nodes + [self.switch]:
            try:
                ip("netns", "del", ns)
            except RuntimeError as e:
                if "No such file" not in str(e):
                    errors.append(str(e))
        # The kernel destroys those peers after `netns del` returns: a link
        # seen here may be gone by the time it is deleted.
        links = [self.host_link] + self.node_links
        for link in links:
            if os.path.exists("/sys/class/net/%s" % link):
                try:
                    ip("link", "del", link)
                except RuntimeError as e:
                    if "Cannot find device" not in str(e):
                        errors.append(str(e))
        try:
            h.wait_for(lambda: not any(os.path.exists("/sys/class/net/%s" % l) for l in links),
                       10.0, "the root namespace's links removed")
        except AssertionError as e:
            errors.append(str(e))
        return errors


def problem(nodes, addresses):
    """None once the nodes agree (3 known, one ring epoch, cluster ok, each
    shows the others connected) and every CLUSTER NODES lists exactly the
    private addresses; else what is not so yet."""
    p = sp.convergence_problem({n.name: n.cluster_info() for n in nodes}, len(nodes))
    if p is not None:
        return p
    ids = {n.name: n.id for n in nodes}
    for n in nodes:
        rows = n.cluster_nodes()
        hosts = sorted("%s:%d" % (r["host"], r["port"]) for r in rows)
        want = sorted("%s:%d" % (a, PORT) for a in addresses)
        if hosts != want:
            return "%s lists %r, want %r" % (n.name, hosts, want)
        for other in nodes:
            row = next((r for r in rows if r["id"] == ids[other.name]), None)
            if other is not n and (row is None or "connected" not in row["flags"]):
                return "%s shows %s as %r" % (n.name, other.name, row["line"] if row else None)
    return None


@ch.skip_unless_shoal
class NetnsClusterTest(h.ServerTestCase):
    def test_wildcard_bound_nodes_in_namespaces_form_a_cluster(self):
        why = netns_unavailable()
        if why is not None:
            self.skipTest(why)
        net = Network(SIZE)
        root = tempfile.mkdtemp(prefix="shoal-netns-")
        nodes = []
        try:
            try:
                net.setup()
            except RuntimeError as e:
                self.skipTest("cannot build the test network here: %s" % e)
            addresses = [net.address(i) for i in range(SIZE)]
            # The same seed list on every node, itself included, as one conf
            # file shared by all would have it.
            seeds = ",".join("%s:%d" % (a, PORT) for a in addresses)
            for i, ns in enumerate(net.nodes):
                workdir = os.path.join(root, "node%d" % (i + 1))
                os.makedirs(workdir)
                args = [
                    "--replicas", 3, "--read-quorum", 2, "--write-quorum", 2,
                    "--gossip-interval-ms", ch.TEST_GOSSIP_INTERVAL_MS,
                    "--request-timeout-ms", ch.TEST_REQUEST_TIMEOUT_MS,
                    "--cluster-seeds", seeds,
                ]
                node = ch.NetnsNode(ns, "0.0.0.0", i, addresses[i], PORT, workdir, args, "node%d" % (i + 1))
                nodes.append(node)
                self._servers.append(node)  # its log is printed if the test fails
            for node in nodes:
                node.start()

            last = []

            def converged():
                last[:] = [problem(nodes, addresses)]
                return last[0] is None

            try:
                h.wait_for(converged, ch.CONVERGE_TIMEOUT, "3 nodes in namespaces to converge")
            except AssertionError as e:
                raise AssertionError("%s; last: %s" % (e, last[0] if last else "?")) from None

            for node in nodes:
                rows = node.cluster_nodes()
                self.assertFalse([r["line"] for r in rows if r["host"] in ("127.0.0.1", "0.0.0.0")])
                self.assertEqual({r["cport"] for r in rows}, {PORT + 10000})

            # Nodes 1 and 2 guessed right and had it confirmed; node 3
            # guessed the unrouted address and learnt the real one.
            for i in range(SIZE - 1):
                self.assertIn("Cluster address %s confirmed by" % addresses[i], nodes[i].current_output())
            self.assertIn(
                "Cluster address is now %s (was %s.%d)" % (addresses[-1], net.unrouted, SIZE),
                nodes[-1].current_output(),
            )
            for node in nodes:
                # Logged once, however many peers told it.
                self.assertEqual(node.current_output().count("Cluster address"), 1, node.name)

            # Data flows across the namespaces.
            self.assertEqual(nodes[0].call("SET", "netns:k", "v1"), "OK")
            for node in nodes:
                self.assertEqual(node.call("GET", "netns:k"), b"v1", node.name)
            self.assertEqual(nodes[2].call("SET", "netns:k2", "v2"), "OK")
            self.assertEqual(nodes[1].call("GET", "netns:k2"), b"v2")
        finally:
            for node in nodes:
                node.stop()
            errors = net.teardown()
            if not os.environ.get("SHOAL_KEEP_TMP"):
                shutil.rmtree(root, ignore_errors=True)
        self.assertEqual(errors, [], "cleaning up the namespaces")


@ch.skip_unless_shoal
class AnnounceTest(h.ServerTestCase):
    """cluster-announce-ip/-port: what peers are told, whatever the node
    listens on (here a wildcard, reached through another loopback address)."""

    def test_peers_see_the_announced_address(self):
        announce_port = sp.free_port("127.0.0.9")
        with ch.Cluster(
            2,
            node_args={1: ["--bind", "0.0.0.0", "--cluster-announce-ip", "127.0.0.9", "--cluster-announce-port", announce_port]},
        ) as cl:
            self._servers.extend(cl.nodes)
            cl.wait_converged()
            a, b = cl.nodes
            for n in cl.nodes:
                row = next(r for r in n.cluster_nodes() if r["id"] == b.id)
                self.assertEqual((row["host"], row["port"], row["cport"]), ("127.0.0.9", announce_port, b.port + 10000), n.name)
            # Fixed by the directive: nothing learnt from peer connections.
            self.assertNotIn("Cluster address", b.current_output())
            self.assertEqual(a.call("SET", "announce:k", "v"), "OK")
            self.assertEqual(b.call("GET", "announce:k"), b"v")


if __name__ == "__main__":
    h.main()
