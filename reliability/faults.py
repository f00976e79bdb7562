"""Peers killed with SIGKILL mid-stream and restarted, for every pattern; a pipeline and a
lazy-pirate REQ/REP service whose workers die and come back, with every message accounted for.

faults.kill.<pattern>: a long-lived gzmq socket in this process and a peer process
(reliability.peer_proc, on libzmq through pyzmq or on gzmq) exchanging a numbered stream. The
peer is SIGKILLed mid-stream and started again, several times. After each restart traffic
must resume within RESUME_S (the gzmq side reconnects, re-subscribes, accepts the returning
routing id...), no message may ever arrive twice, and at the end the gzmq socket has no
session left and the process its baseline descriptors. What was in flight inside a killed
process is gone: that count is shown in brackets (no ZeroMQ pattern promises it).

faults.pipeline: a ventilator (PUSH) feeds N tasks to worker processes (PULL -> PUSH) that
a killer SIGKILLs and restarts at random; a sink (PULL) collects results. The ventilator
re-issues any task without a result after TASK_TIMEOUT_S, and the sink hands each task to
the application once: every task is accounted for (lost must be 0) and none twice.

faults.lazy-pirate: the ZeroMQ guide's Lazy Pirate client (REQ, poll with a timeout, close
and reopen the socket and resend on timeout) against REP server processes that are killed
and restarted. Every request gets exactly one reply, matching its id; servers may execute a
request twice (at-least-once: reported, not an error).
"""
import os
import random
import signal
import socket as _stdsocket
import sys
import time
from collections import Counter

import gevent
import gevent.event
from gevent import subprocess

import gzmq

from .report import ErrorWatch, Measure, Row

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESUME_S = 15.0
TASK_TIMEOUT_S = 2.0

SIZES = {
    "short": dict(cycles=2, pipeline_s=5, rate=400, workers=3, pirate_s=5, servers=2, pirate_timeout=0.5),
    "long": dict(cycles=6, pipeline_s=40, rate=400, workers=4, pirate_s=40, servers=3, pirate_timeout=0.5),
}


def free_port():
    with _stdsocket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PeerProcess:
    """One reliability.peer_proc process; SIGKILL and restart it with a new run id."""

    def __init__(self, args, impl="gzmq", identity=None, netns=None):
        self.args = list(args)
        self.impl = impl
        self.identity = identity
        self.netns = netns
        self.run = 0
        self.proc = None
        self.kills = 0

    def start(self):
        self.run += 1
        cmd = [sys.executable, "-m", "reliability.peer_proc", "--impl", self.impl]
        if self.identity:
            cmd += ["--identity", self.identity]
        cmd += [a.replace("{run}", self.run_id) for a in self.args]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        return self

    @property
    def run_id(self):
        return f"{id(self) % 100000}-{self.run}"

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.kills += 1
        self.proc = None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


# -- one pattern, its peer killed and restarted ---------------------------------------------------
# name: (our kind, our role, our side, peer kind, peer impl)
PATTERNS = {
    "push-pull": ("PUSH", "send", "bind", "PULL", "pyzmq"),
    "pull-push": ("PULL", "recv", "bind", "PUSH", "pyzmq"),
    "pub-sub": ("PUB", "send", "bind", "SUB", "pyzmq"),
    "sub-pub": ("SUB", "recv", "connect", "PUB", "pyzmq"),
    "req-rep": ("REQ", "send", "connect", "REP", "gzmq"),
    "rep-req": ("REP", "recv", "bind", "REQ", "pyzmq"),
    "dealer-router": ("DEALER", "send", "connect", "ROUTER", "gzmq"),
    "router-dealer": ("ROUTER", "recv", "bind", "DEALER", "pyzmq"),
    "pair": ("PAIR", "recv", "bind", "PAIR", "gzmq"),
    "xpub-xsub": ("XPUB", "send", "bind", "XSUB", "pyzmq"),
    "xsub-xpub": ("XSUB", "recv", "connect", "XPUB", "gzmq"),
}


def kill_pattern(mode, name, cycles):
    ours_kind, our_role, our_side, peer_kind, impl = PATTERNS[name]
    row = Row(f"faults.kill.{name}", mode)
    with ErrorWatch() as watch, Measure(row) as r:
        ctx = gzmq.Context()
        sock = ctx.socket(getattr(gzmq, ours_kind))
        sock.linger = 0
        port = free_port()
        endpoint = f"tcp://127.0.0.1:{port}"
        if ours_kind == "SUB":
            sock.subscribe(b"")
        if ours_kind == "XSUB":
            sock.send(b"\x01")
        if ours_kind == "REQ":
            # Lazy-pirate relaxed REQ: a request whose peer died is resent, not stuck.
            sock.req_relaxed = True
            sock.req_correlate = True
        (sock.bind if our_side == "bind" else sock.connect)(endpoint)
        peer_side = "connect" if our_side == "bind" else "bind"
        seen = Counter()                   # (run, seq) -> times received (by us or the peer)
        by_run = Counter()
        ack = None
        if our_role == "send":
            ack = ctx.socket(gzmq.PULL)
            ack.linger = 0
            ack.bind("tcp://127.0.0.1:*")
            peer = PeerProcess(["recv", peer_kind, endpoint, peer_side, "{run}", ack.last_endpoint.decode()], impl)
        else:
            peer = PeerProcess(["send", peer_kind, endpoint, peer_side, "{run}"], impl,
                               identity="worker-1" if peer_kind in ("DEALER", "REQ") else None)
        sent = [0]

        def sender():
            seq = 0
            while True:
                frames = [b"ours", b"%d" % seq]
                if ours_kind in ("PUB", "XPUB"):
                    frames.insert(0, b"t")
                try:
                    sock.send_multipart(frames, gzmq.DONTWAIT)
                except gzmq.Again:
                    gevent.sleep(0.01)
                    continue
                except gzmq.ZMQError:
                    return
                seq += 1
                sent[0] = seq
                if ours_kind == "REQ":
                    if sock.poll(1000):
                        try:
                            sock.recv_multipart()
                        except gzmq.ZMQError:
                            pass
                if seq % 20 == 0:
                    gevent.sleep(0.002)

        def receiver(s, strip):
            while True:
                try:
                    msg = s.recv_multipart()
                except gzmq.ZMQError:
                    return
                if ours_kind == "REP" and s is sock:
                    try:
                        s.send_multipart([b"ok"])
                    except gzmq.ZMQError:
                        pass
                msg = msg[strip:]
                if len(msg) >= 2:
                    key = (msg[-2], msg[-1])
                    seen[key] += 1
                    by_run[msg[-2]] += 1

        greenlets = []
        if our_role == "send":
            greenlets.append(gevent.spawn(sender))
            greenlets.append(gevent.spawn(receiver, ack, 0))
        else:
            strip = 1 if ours_kind in ("ROUTER", "SUB", "XSUB") else 0
            greenlets.append(gevent.spawn(receiver, sock, strip))

        def resumed(run_id):
            deadline = time.monotonic() + RESUME_S
            key = run_id.encode()
            while time.monotonic() < deadline:
                if by_run[key] >= 5:
                    return time.monotonic()
                gevent.sleep(0.02)
            return None

        peer.start()
        waits = []
        try:
            for cycle in range(cycles + 1):
                t0 = time.monotonic()
                got = resumed(peer.run_id)
                if got is None:
                    r.error(f"cycle {cycle}: no traffic with peer run {peer.run} within {RESUME_S:g} s")
                    break
                waits.append(got - t0)
                if cycle == cycles:
                    break
                # Mid-stream: let some more flow, then kill without warning and start again.
                gevent.sleep(random.uniform(0.05, 0.3))
                peer.kill()
                r.faults += 1
                peer.start()
        finally:
            peer.stop()
        gevent.sleep(0.2)
        gevent.killall(greenlets, timeout=2)
        dups = sum(c - 1 for c in seen.values() if c > 1)
        r.duplicates = dups
        r.check(dups == 0, f"{dups} messages received twice")
        received = sum(by_run.values())
        r.inputs = sent[0] if our_role == "send" else received
        r.sent = sent[0] if our_role == "send" else received
        r.received = received
        r.lost = max(0, r.sent - r.received)
        deadline = time.monotonic() + 5
        while sock._sessions and time.monotonic() < deadline:
            gevent.sleep(0.05)
        r.check(not sock._sessions, f"{len(sock._sessions)} sessions left after the peer was stopped")
        if waits:
            r.note(f"peer on {impl} ({peer_kind}, {peer_side}s) killed {peer.kills}x mid-stream; traffic resumed "
                   f"{min(waits) * 1000:.0f}-{max(waits) * 1000:.0f} ms after each start; "
                   f"(lost) = in flight in killed processes")
        ctx.destroy(linger=0)
        watch.drain_into(r)
    return row


# -- reliable pipeline ------------------------------------------------------------------------------
def pipeline(mode, seconds, rate, workers):
    row = Row("faults.pipeline", mode, delivery=True)
    with ErrorWatch() as watch, Measure(row) as r:
        ctx = gzmq.Context()
        vent = ctx.socket(gzmq.PUSH)
        vent.linger = 0
        vent.sndhwm = 10
        vent.bind("tcp://127.0.0.1:*")
        sink = ctx.socket(gzmq.PULL)
        sink.linger = 0
        sink.bind("tcp://127.0.0.1:*")
        procs = [PeerProcess(["worker", vent.last_endpoint.decode(), sink.last_endpoint.decode(), "{run}"])
                 for _ in range(workers)]
        for p in procs:
            p.start()
        tasks = int(seconds * rate)
        outstanding = {}          # task id -> time last sent
        results = {}              # task id -> digest (the application's view: once each)
        dup_results = [0]
        resent = [0]
        done = gevent.event.Event()

        def collect():
            while len(results) < tasks:
                try:
                    task, digest, _run = sink.recv_multipart()
                except gzmq.ZMQError:
                    return
                tid = int(task)
                if tid in results:
                    dup_results[0] += 1      # a re-issued task finished twice: hand it over once
                    continue
                results[tid] = digest
                outstanding.pop(tid, None)
            done.set()

        def ventilate():
            for tid in range(tasks):
                vent.send_multipart([b"%d" % tid, b"payload-%d" % tid])
                outstanding[tid] = time.monotonic()
                r.sent += 1
                if tid % 20 == 19:
                    gevent.sleep(20.0 / rate)      # paced, so that workers die mid-stream
            while not done.is_set():
                now = time.monotonic()
                for tid, t in list(outstanding.items()):
                    if now - t > TASK_TIMEOUT_S and tid not in results:
                        outstanding[tid] = now
                        try:
                            vent.send_multipart([b"%d" % tid, b"payload-%d" % tid], gzmq.DONTWAIT)
                            resent[0] += 1
                        except gzmq.Again:
                            break
                done.wait(0.2)

        def killer():
            rng = random.Random(3)
            while not done.is_set():
                done.wait(rng.uniform(0.2, 0.6))
                if done.is_set():
                    return
                victim = rng.choice(procs)
                victim.kill()
                r.faults += 1
                done.wait(rng.uniform(0.05, 0.3))
                if done.is_set():
                    return
                victim.start()

        gs = [gevent.spawn(collect), gevent.spawn(ventilate), gevent.spawn(killer)]
        finished = done.wait(60 if mode == "short" else 300)
        done.set()
        gevent.killall(gs, timeout=2)      # the killer first: it must not start a worker again
        for p in procs:
            p.stop()
        r.inputs = tasks
        r.received = len(results)
        r.lost = tasks - len(results)
        r.check(finished, f"pipeline did not finish: {len(results)}/{tasks} results")
        import hashlib
        wrong = [t for t, d in results.items() if d != hashlib.sha1(b"payload-%d" % t).hexdigest().encode()]
        r.check(not wrong, f"{len(wrong)} results with a wrong digest")
        r.note(f"{workers} gzmq worker processes, {r.faults} SIGKILLs; {resent[0]} tasks re-issued after "
               f"{TASK_TIMEOUT_S:g} s without a result, {dup_results[0]} late duplicates dropped by the sink "
               "(the application saw each task once)")
        ctx.destroy(linger=0)
        watch.drain_into(r)
    return row


# -- lazy pirate ------------------------------------------------------------------------------------
def lazy_pirate(mode, seconds, servers, timeout_s):
    row = Row("faults.lazy-pirate", mode, delivery=True)
    with ErrorWatch() as watch, Measure(row) as r:
        ctx = gzmq.Context()
        ack = ctx.socket(gzmq.PULL)
        ack.linger = 0
        ack.bind("tcp://127.0.0.1:*")
        endpoints = [f"tcp://127.0.0.1:{free_port()}" for _ in range(servers)]
        procs = [PeerProcess(["server", ep, "{run}", ack.last_endpoint.decode()]) for ep in endpoints]
        for p in procs:
            p.start()
        executed = Counter()
        done = gevent.event.Event()

        def acks():
            while True:
                try:
                    rid, _run = ack.recv_multipart()
                except gzmq.ZMQError:
                    return
                executed[rid] += 1

        def killer():
            rng = random.Random(5)
            while not done.is_set():
                done.wait(rng.uniform(0.3, 0.8))
                if done.is_set():
                    return
                victim = rng.choice(procs)
                victim.kill()
                r.faults += 1
                done.wait(rng.uniform(0.1, 0.5))
                if done.is_set():
                    return
                victim.start()

        def client_socket():
            s = ctx.socket(gzmq.REQ)
            s.linger = 0
            for ep in endpoints:
                s.connect(ep)
            return s

        gs = [gevent.spawn(acks), gevent.spawn(killer)]
        client = client_socket()
        replies = Counter()
        retries = 0
        give_up = time.monotonic() + seconds + 60
        stop_at = time.monotonic() + seconds
        requests = 0
        for n in range(10 ** 9):
            if time.monotonic() > stop_at:
                break
            requests += 1
            rid = b"%d" % n
            payload = b"request-%d" % n
            while True:
                client.send_multipart([rid, payload])
                r.sent += 1
                if client.poll(int(timeout_s * 1000)):
                    reply = client.recv_multipart()
                    if reply != [rid, payload.upper()]:
                        r.error(f"request {n}: wrong reply {reply!r}")
                    replies[rid] += 1
                    break
                # Lazy Pirate: no reply in time -> the socket is confused; close it, open a new
                # one and send the same request again.
                retries += 1
                client.close()
                client = client_socket()
                if time.monotonic() > give_up:
                    break
            if time.monotonic() > give_up:
                r.error(f"gave up at request {n}: no server answered for a minute")
                break
            gevent.sleep(0.003)
        done.set()
        client.close()
        gevent.killall(gs, timeout=2)      # the killer first: it must not start a server again
        for p in procs:
            p.stop()
        r.inputs = requests
        r.received = sum(replies.values())
        r.lost = requests - len(replies)
        r.duplicates = sum(c - 1 for c in replies.values() if c > 1)
        twice = sum(1 for c in executed.values() if c > 1)
        r.note(f"{servers} REP server processes, {r.faults} SIGKILLs; {retries} retries (socket closed and "
               f"reopened); {twice} requests executed twice by servers (at-least-once, allowed), each "
               "answered to the application exactly once")
        ctx.destroy(linger=0)
        watch.drain_into(r)
    return row


def run_group(mode, only=None, **_):
    s = SIZES[mode]
    cases = [(f"faults.kill.{name}", (lambda name=name: kill_pattern(mode, name, s["cycles"])))
             for name in PATTERNS]
    cases += [
        ("faults.pipeline", lambda: pipeline(mode, s["pipeline_s"], s["rate"], s["workers"])),
        ("faults.lazy-pirate", lambda: lazy_pirate(mode, s["pirate_s"], s["servers"], s["pirate_timeout"])),
    ]
    for name, fn in cases:
        if only and not any(name.startswith(o) or o == "faults" for o in only):
            continue
        yield fn()

