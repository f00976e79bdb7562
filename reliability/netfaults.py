"""Network faults: two namespaced hosts with packet loss and partitions, and a loopback relay
that delays and cuts connections.

net.loss: hosts A (this process, after setns) and B (peer processes, `ip netns exec`) joined
by a veth pair inside namespaces created here and deleted afterwards; nftables drops a
random LOSS_PER_MILLE of the TCP segments arriving on each side, and once in the run drops
everything for PARTITION_S (a partition that heals). This kernel has no netem, so there is no
delay here. TCP repairs all of it: a pipeline (gzmq PUSH in A -> workers in B -> PULL in A)
and a REQ/REP exchange (REQ in A, REP in B) must deliver every message exactly once.

net.relay: a loopback relay between a Lazy Pirate REQ client and a REP server (both gzmq, this
process) delays every chunk by 0-30 ms (order kept) and cuts a live connection every
0.3-1 s. Messages in a cut connection are gone, so the client retries (close, reopen,
resend): every request must still be answered exactly once.

Needs root, `ip` (iproute2) and `nft` (nftables) for net.loss.
"""
import ctypes
import json
import os
import random
import re
import shutil
import socket as _stdsocket
import subprocess as _subprocess
import time
from collections import Counter

import gevent
import gevent.event
from gevent import socket as gsocket
from gevent.queue import Queue

import gzmq

from .faults import PeerProcess
from .report import ErrorWatch, Measure, Row

SUBNET = "10.214.0"
LOSS_PER_MILLE = 50
PARTITION_S = 1.5
CLONE_NEWNET = 0x40000000
SIZES = {"short": dict(loss_s=6, relay_s=6), "long": dict(loss_s=40, relay_s=40)}


def _run(*args, check=True):
    return _subprocess.run(args, check=check, capture_output=True, text=True, timeout=30)


def missing_tools():
    missing = []
    if os.geteuid() != 0:
        missing.append("root (network namespaces)")
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if not shutil.which(tool):
            missing.append(f"{tool} (Debian {package})")
    return missing


class TwoHosts:
    """Namespaces gzmq-rel-<pid>-a/b joined by veth rel0, 10.214.0.1 and .2, nft loss tables."""

    def __init__(self):
        out = _run("ip", "netns", "list", check=False).stdout
        for ns, pid in re.findall(r"^(gzmq-rel-(\d+)-[ab])\b", out, re.M):
            if not os.path.exists(f"/proc/{pid}"):
                _run("ip", "netns", "del", ns, check=False)
        prefix = f"gzmq-rel-{os.getpid()}"
        self.a, self.b = f"{prefix}-a", f"{prefix}-b"
        self.addr = {self.a: f"{SUBNET}.1", self.b: f"{SUBNET}.2"}
        for ns in (self.a, self.b):
            _run("ip", "netns", "add", ns)
        try:
            _run("ip", "link", "add", "rel0", "netns", self.a, "type", "veth", "peer", "name", "rel0",
                 "netns", self.b)
            for ns in (self.a, self.b):
                ex = ("ip", "netns", "exec", ns)
                _run(*ex, "ip", "link", "set", "lo", "up")
                _run(*ex, "ip", "addr", "add", f"{self.addr[ns]}/24", "dev", "rel0")
                _run(*ex, "ip", "link", "set", "rel0", "up")
                _run(*ex, "nft", "add", "table", "inet", "gzmq_rel")
                _run(*ex, "nft", "add", "chain", "inet", "gzmq_rel", "pre",
                     "{ type filter hook prerouting priority 0; }")
        except BaseException:
            self.close()
            raise

    def rules(self, per_mille):
        """Drop per_mille/1000 of arriving TCP segments on both hosts (1000: partition)."""
        for ns in (self.a, self.b):
            ex = ("ip", "netns", "exec", ns)
            _run(*ex, "nft", "flush", "chain", "inet", "gzmq_rel", "pre")
            if per_mille >= 1000:
                _run(*ex, "nft", "add", "rule", "inet", "gzmq_rel", "pre", "meta", "l4proto", "tcp",
                     "counter", "drop")
            elif per_mille:
                _run(*ex, "nft", "add", "rule", "inet", "gzmq_rel", "pre", "meta", "l4proto", "tcp",
                     "numgen", "random", "mod", "1000", "<", str(per_mille), "counter", "drop")

    def dropped(self):
        total = 0
        for ns in (self.a, self.b):
            data = json.loads(_run("ip", "netns", "exec", ns, "nft", "-j", "list", "chain", "inet",
                                   "gzmq_rel", "pre").stdout)
            for item in data.get("nftables", ()):
                for expr in item.get("rule", {}).get("expr", ()):
                    if "counter" in expr:
                        total += expr["counter"]["packets"]
        return total

    def close(self):
        for ns in (self.a, self.b):
            _run("ip", "netns", "del", ns, check=False)


class Entered:
    """This thread's new sockets live in namespace `ns` until exit (setns(2))."""

    def __init__(self, ns):
        self.ns = ns
        self.saved = None
        self.libc = ctypes.CDLL(None, use_errno=True)

    def _setns(self, fd):
        if self.libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns: {os.strerror(err)}")

    def __enter__(self):
        self.saved = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open(f"/run/netns/{self.ns}", os.O_RDONLY)
        try:
            self._setns(fd)
        finally:
            os.close(fd)
        return self

    def __exit__(self, *exc):
        try:
            self._setns(self.saved)
        finally:
            os.close(self.saved)


def net_loss(mode, seconds):
    row = Row("net.loss", mode, delivery=True)
    missing = missing_tools()
    if missing:
        row.error("cannot build namespaced hosts: missing " + ", ".join(missing))
        return row
    with ErrorWatch() as watch, Measure(row) as r:
        hosts = TwoHosts()
        procs = []
        try:
            with Entered(hosts.a):
                ctx = gzmq.Context()
                a_ip, b_ip = hosts.addr[hosts.a], hosts.addr[hosts.b]
                vent = ctx.socket(gzmq.PUSH)
                vent.linger = 0
                vent.bind(f"tcp://{a_ip}:*")
                sink = ctx.socket(gzmq.PULL)
                sink.linger = 0
                sink.bind(f"tcp://{a_ip}:*")
                rep_port = 5700 + os.getpid() % 1000
                for _ in range(2):
                    procs.append(PeerProcess(["worker", vent.last_endpoint.decode(),
                                              sink.last_endpoint.decode(), "{run}"], netns=hosts.b).start())
                ack = ctx.socket(gzmq.PULL)
                ack.linger = 0
                ack.bind(f"tcp://{a_ip}:*")
                procs.append(PeerProcess(["server", f"tcp://{b_ip}:{rep_port}", "{run}",
                                          ack.last_endpoint.decode()], netns=hosts.b).start())
                req = ctx.socket(gzmq.REQ)
                req.linger = 0
                req.connect(f"tcp://{b_ip}:{rep_port}")
                hosts.rules(LOSS_PER_MILLE)
                stop = gevent.event.Event()
                results = Counter()
                replies = Counter()
                counts = {"tasks": 0, "requests": 0}

                def ventilate():
                    n = 0
                    while not stop.is_set():
                        vent.send_multipart([b"%d" % n, b"x" * (n % 2000)])
                        n += 1
                        counts["tasks"] = n
                        if n % 20 == 0:
                            gevent.sleep(0.02)

                def collect():
                    while True:
                        task, _digest, _run = sink.recv_multipart()
                        results[task] += 1

                def requester():
                    n = 0
                    while not stop.is_set():
                        rid = b"%d" % n
                        req.send_multipart([rid, b"q" * (n % 3000)])
                        counts["requests"] = n + 1
                        reply = req.recv_multipart()      # TCP repairs loss: no retry needed
                        if reply[0] != rid:
                            r.error(f"request {n}: reply for {reply[0]!r}")
                        replies[rid] += 1
                        n += 1

                def partition():
                    stop.wait(seconds / 2)
                    if stop.is_set():
                        return
                    hosts.rules(1000)
                    r.faults += 1
                    gevent.sleep(PARTITION_S)
                    hosts.rules(LOSS_PER_MILLE)

                gs = [gevent.spawn(ventilate), gevent.spawn(collect), gevent.spawn(requester),
                      gevent.spawn(partition)]
                stop.wait(seconds)
                stop.set()
                gs[3].join()
                gs[0].join()
                # Everything sent must arrive (TCP retransmits through loss and the partition).
                deadline = time.monotonic() + 60
                while (len(results) < counts["tasks"] or sum(replies.values()) < counts["requests"]) \
                        and time.monotonic() < deadline:
                    gevent.sleep(0.1)
                dropped = hosts.dropped()
                gevent.killall(gs, timeout=2)
                r.faults += dropped
                r.inputs = counts["tasks"] + counts["requests"]
                r.sent = counts["tasks"] + counts["requests"]
                r.received = len(results) + len(replies)
                r.lost = r.sent - r.received
                r.duplicates = sum(c - 1 for c in results.values() if c > 1) + \
                    sum(c - 1 for c in replies.values() if c > 1)
                r.note(f"A {a_ip} <-veth-> B {b_ip}: {LOSS_PER_MILLE / 10:g}% of TCP segments dropped each way "
                       f"({dropped} dropped in all) and one {PARTITION_S:g} s partition; {counts['tasks']} pipeline "
                       f"tasks via 2 workers in B, {counts['requests']} REQ/REP round trips to B")
                ctx.destroy(linger=0)
        finally:
            for p in procs:
                p.stop()
            hosts.close()
        watch.drain_into(r)
    return row


class FaultyRelay:
    """TCP relay on 127.0.0.1 that delays each chunk (order kept) and cuts live connections."""

    def __init__(self, target, delay=(0.0, 0.03), cut_every=(0.3, 1.0), seed=11):
        self.target = target
        self.delay = delay
        self.cut_every = cut_every
        self.rng = random.Random(seed)
        self.lsock = gsocket.socket()
        self.lsock.setsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.endpoint = "tcp://127.0.0.1:%d" % self.lsock.getsockname()[1]
        self.links = []
        self.cuts = 0
        self.greenlets = [gevent.spawn(self._accept), gevent.spawn(self._cutter)]

    def _accept(self):
        while True:
            client, _ = self.lsock.accept()
            server = gsocket.socket()
            try:
                server.connect(self.target)
            except OSError:
                client.close()
                server.close()
                continue
            link = [client, server]
            self.links.append(link)
            for src, dst in ((client, server), (server, client)):
                q = Queue()
                self.greenlets.append(gevent.spawn(self._read, src, q, link))
                self.greenlets.append(gevent.spawn(self._write, dst, q, link))

    def _read(self, src, q, link):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                q.put((time.monotonic() + self.rng.uniform(*self.delay), data))
        except OSError:
            pass
        q.put((0, None))

    def _write(self, dst, q, link):
        try:
            while True:
                at, data = q.get()
                if data is None:
                    break
                wait = at - time.monotonic()
                if wait > 0:
                    gevent.sleep(wait)
                dst.sendall(data)
        except OSError:
            pass
        self._sever(link)

    def _sever(self, link):
        for s in link:
            try:
                s.shutdown(_stdsocket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        if link in self.links:
            self.links.remove(link)

    def _cutter(self):
        while True:
            gevent.sleep(self.rng.uniform(*self.cut_every))
            if self.links:
                self._sever(self.rng.choice(self.links))
                self.cuts += 1

    def close(self):
        gevent.killall(self.greenlets[:2], timeout=2)   # accept and cut loops first
        self.lsock.close()
        for link in list(self.links):
            self._sever(link)
        gevent.killall(self.greenlets, timeout=2)


def net_relay(mode, seconds):
    row = Row("net.relay", mode, delivery=True)
    with ErrorWatch() as watch, Measure(row) as r:
        ctx = gzmq.Context()
        rep = ctx.socket(gzmq.REP)
        rep.linger = 0
        rep.bind("tcp://127.0.0.1:*")
        port = int(rep.last_endpoint.decode().rsplit(":", 1)[1])
        relay = FaultyRelay(("127.0.0.1", port))
        executed = Counter()

        def serve():
            while True:
                rid, data = rep.recv_multipart()
                executed[rid] += 1
                rep.send_multipart([rid, data.upper()])

        server = gevent.spawn(serve)

        def client_socket():
            s = ctx.socket(gzmq.REQ)
            s.linger = 0
            s.reconnect_ivl = 50
            s.connect(relay.endpoint)
            return s

        client = client_socket()
        replies = Counter()
        retries = 0
        stop_at = time.monotonic() + seconds
        n = 0
        while time.monotonic() < stop_at:
            rid, payload = b"%d" % n, b"req-%d-" % n + b"p" * (n % 5000)
            for _attempt in range(60):
                client.send_multipart([rid, payload])
                r.sent += 1
                if client.poll(500):
                    reply = client.recv_multipart()
                    r.check(reply == [rid, payload.upper()], f"request {n}: wrong reply {reply[:1]!r}")
                    replies[rid] += 1
                    break
                retries += 1             # Lazy Pirate: close, reopen, resend
                client.close()
                client = client_socket()
            else:
                r.error(f"request {n}: no reply after 60 tries")
                break
            n += 1
        client.close()
        server.kill()
        relay.close()
        r.inputs = n
        r.faults = relay.cuts
        r.received = sum(replies.values())
        r.lost = n - len(replies)
        r.duplicates = sum(c - 1 for c in replies.values() if c > 1)
        r.sent = n
        twice = sum(1 for c in executed.values() if c > 1)
        r.note(f"relay delays chunks 0-30 ms and cut {relay.cuts} live connections; {n} requests, {retries} "
               f"Lazy Pirate retries; {twice} executed twice by the server, each answered once")
        ctx.destroy(linger=0)
        watch.drain_into(r)
    return row


def run_group(mode, only=None, **_):
    s = SIZES[mode]
    for name, fn in (("net.relay", lambda: net_relay(mode, s["relay_s"])),
                     ("net.loss", lambda: net_loss(mode, s["loss_s"]))):
        if only and not any(name.startswith(o) or o == "net" for o in only):
            continue
        yield fn()
