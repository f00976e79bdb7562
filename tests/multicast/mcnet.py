"""Two test hosts for multicast: network namespaces joined by a veth pair, with optional loss.

    host A  netns gzmq-mc-<pid>-a   mc0  10.213.0.1/24  (the test process enters it)
    host B  netns gzmq-mc-<pid>-b   mc0  10.213.0.2/24  (peers run there: `ip netns exec`)

Nothing touches the machine's own network: both veth ends are created directly inside the
namespaces, and everything is deleted again by close() (and, for namespaces left by a killed
run, by the next run: their pid is gone). Loss is injected with nftables in each namespace's
prerouting hook (the kernel here has no netem): `numgen random` drops the chosen per-mille of
arriving PGM datagrams, silently, as a lossy network would. A drop on output would not do:
the sender's sendto() would fail with EPERM and OpenPGM would simply send again.

Needs root, `ip` (iproute2) and `nft` (nftables).
"""
import ctypes
import json
import os
import re
import shutil
import subprocess

CLONE_NEWNET = 0x40000000
SUBNET = "10.213.0"
_libc = ctypes.CDLL(None, use_errno=True)


def _run(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def missing_tools():
    """What this machine lacks for the multicast tests (empty if nothing)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (network namespaces)")
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if not shutil.which(tool):
            missing.append(f"{tool} (Debian {package})")
    return missing


def remove_stale():
    """Delete namespaces left by test runs whose process is gone."""
    out = _run("ip", "netns", "list", check=False).stdout
    for name in re.findall(r"^(gzmq-mc-(\d+)-[ab])\b", out, re.M):
        ns, pid = name
        if not os.path.exists(f"/proc/{pid}"):
            _run("ip", "netns", "del", ns, check=False)


class Host:
    def __init__(self, netns, address):
        self.netns = netns
        self.address = address
        self.iface = "mc0"

    def run(self, *args, check=True):
        return _run("ip", "netns", "exec", self.netns, *args, check=check)

    def command(self, *args):
        """argv that runs `args` inside this host."""
        return ["ip", "netns", "exec", self.netns, *args]

    def enter(self):
        """Context manager: the calling thread's sockets are created inside this host."""
        return _Entered(self.netns)


class _Entered:
    def __init__(self, netns):
        self.netns = netns
        self.saved = None

    def __enter__(self):
        self.saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        target = os.open(f"/run/netns/{self.netns}", os.O_RDONLY)
        try:
            _setns(target)
        finally:
            os.close(target)
        return self

    def __exit__(self, *exc):
        try:
            _setns(self.saved)
        finally:
            os.close(self.saved)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


class MulticastNet:
    """Hosts a and b on one segment. loss() sets the drop rate for PGM on `port`."""

    def __init__(self):
        remove_stale()
        prefix = f"gzmq-mc-{os.getpid()}"
        self.a = Host(f"{prefix}-a", f"{SUBNET}.1")
        self.b = Host(f"{prefix}-b", f"{SUBNET}.2")
        self.hosts = (self.a, self.b)
        for host in self.hosts:
            _run("ip", "netns", "add", host.netns)
        try:
            _run("ip", "link", "add", "mc0", "netns", self.a.netns, "type", "veth",
                 "peer", "name", "mc0", "netns", self.b.netns)
            for host in self.hosts:
                host.run("ip", "link", "set", "lo", "up")
                host.run("ip", "addr", "add", f"{host.address}/24", "dev", "mc0")
                host.run("ip", "link", "set", "mc0", "up")
                host.run("nft", "add", "table", "inet", "gzmq_loss")
                host.run("nft", "add", "chain", "inet", "gzmq_loss", "pre",
                         "{ type filter hook prerouting priority 0; }")
        except BaseException:
            self.close()
            raise

    def loss(self, per_mille, port=None):
        """Drop per_mille/1000 of arriving PGM datagrams (UDP to `port`, and all of IP
        protocol 113) on both hosts; 0 removes the rules. Counters start from zero.

        The drops are spread evenly, not random: every (1000 / per_mille)th datagram, starting
        with the first. A random 1% could drop nothing at all from a short run of a few hundred
        datagrams, and then the repairs the tests are about would go untested."""
        for host in self.hosts:
            host.run("nft", "flush", "chain", "inet", "gzmq_loss", "pre")
            if not per_mille:
                continue
            matches = [["ip", "protocol", "113"]]
            if port is not None:
                matches.append(["udp", "dport", str(port)])
            for match in matches:
                host.run("nft", "add", "rule", "inet", "gzmq_loss", "pre", *match,
                         "numgen", "inc", "mod", str(max(1, round(1000 / per_mille))), "==", "0",
                         "counter", "drop")

    def dropped(self):
        """Datagrams dropped so far by loss(), per host: {'a': n, 'b': n}."""
        result = {}
        for name, host in (("a", self.a), ("b", self.b)):
            data = json.loads(host.run("nft", "-j", "list", "chain", "inet", "gzmq_loss", "pre").stdout)
            total = 0
            for item in data.get("nftables", ()):
                for expr in item.get("rule", {}).get("expr", ()):
                    if "counter" in expr:
                        total += expr["counter"]["packets"]
            result[name] = total
        return result

    def close(self):
        for host in self.hosts:
            _run("ip", "netns", "del", host.netns, check=False)
