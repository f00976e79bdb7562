"""Several test hosts in network namespaces on one switch, for the multi-host bridge test.

    switch  netns gzmq-bh-<pid>-sw   a Linux bridge br0 joining every host's eth0
    lb      10.214.0.1   haproxy (Debian) in TCP mode: the load balancer browsers reach
    a, b    10.214.0.2/3 one bridge each
    fwd     10.214.0.4   the XSUB/XPUB forwarder (examples/devices/forwarder_device.py)

Built like tests/multicast/mcnet.py: every link is created directly inside the namespaces,
nothing touches the machine's own network, close() deletes it all, and namespaces left by a
killed run are removed by the next. Needs root and iproute2.
"""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "multicast"))

from mcnet import Host, _run, missing_tools  # noqa: E402,F401  (re-exported)

SUBNET = "10.214.0"
HOSTS = (("lb", 1), ("a", 2), ("b", 3), ("fwd", 4))


def remove_stale():
    out = _run("ip", "netns", "list", check=False).stdout
    for ns, pid in re.findall(r"^(gzmq-bh-(\d+)-\w+)\b", out, re.M):
        if not os.path.exists(f"/proc/{pid}"):
            _run("ip", "netns", "del", ns, check=False)


class HostNet:
    def __init__(self):
        remove_stale()
        prefix = f"gzmq-bh-{os.getpid()}"
        self.switch = Host(f"{prefix}-sw", None)
        self.hosts = {name: Host(f"{prefix}-{name}", f"{SUBNET}.{n}") for name, n in HOSTS}
        self._all = [self.switch, *self.hosts.values()]
        created = []
        try:
            for host in self._all:
                _run("ip", "netns", "add", host.netns)
                created.append(host)
            self.switch.run("ip", "link", "add", "br0", "type", "bridge")
            self.switch.run("ip", "link", "set", "br0", "up")
            for name, host in self.hosts.items():
                _run("ip", "link", "add", f"p-{name}", "netns", self.switch.netns, "type", "veth",
                     "peer", "name", "eth0", "netns", host.netns)
                self.switch.run("ip", "link", "set", f"p-{name}", "master", "br0")
                self.switch.run("ip", "link", "set", f"p-{name}", "up")
                host.run("ip", "link", "set", "lo", "up")
                host.run("ip", "addr", "add", f"{host.address}/24", "dev", "eth0")
                host.run("ip", "link", "set", "eth0", "up")
        except BaseException:
            self._all = created
            self.close()
            raise

    def __getitem__(self, name):
        return self.hosts[name]

    def close(self):
        for host in self._all:
            _run("ip", "netns", "del", host.netns, check=False)
