"""Hostile peers against live gzmq sockets, each while an honest peer keeps being served.

Rows (each: the honest DEALER's round trips must all come back, the attackers must be dropped
within their bound, and sessions, descriptors and memory must return to their baseline):

- hostile.slowloris: connections that dribble their greeting one byte at a time; HANDSHAKE_IVL
  must drop every one of them.
- hostile.huge-frame: frames declaring 2**62, 2**40, 8 GiB, MAXMSGSIZE+1 bytes. With
  MAXMSGSIZE set, no body buffer may be allocated before the check (peak RSS stays put);
  without it, a frame that announces gigabytes and sends a little costs only what was sent.
- hostile.endless-multipart: MORE frames forever. Nothing in libzmq bounds an unfinished
  message (RCVHWM counts whole messages, MAXMSGSIZE one frame); gzmq now drops a peer at
  gzmq.zmtp.connection.MAX_MESSAGE_FRAMES (65 536) frames in one message.
- hostile.sub-flood: SUB peers sending tens of thousands of distinct subscriptions (3.1
  commands and 3.0 messages) to a PUB that keeps publishing to an honest SUB; the PUB's trie
  returns to its one honest topic when they leave.
- hostile.identity: peers claiming the honest DEALER's routing id (ROUTER_HANDOVER off): kept
  but ignored, as libzmq does; the honest peer keeps its id and nothing of theirs gets through.
- hostile.storm: 1 000 connections opened and dropped (bare connects, half greetings, full
  handshakes with a message) plus gzmq DEALERs created, used and closed.
"""
import gc
import os
import random
import time

import gevent
import gevent.event
from gevent.pool import Pool

import gzmq
from gzmq.zmtp import commands
from gzmq.zmtp.connection import MAX_MESSAGE_FRAMES

from .peers import Honest, greeting, message, raw_connect, ready, router_echo, tcp_address, wait_closed
from .report import ErrorWatch, Measure, Row, live_greenlets, peak_rss_mb, reset_peak, rss_mb, settle

SIZES = {
    "short": dict(loris=100, loris_ivl=1000, huge=40, endless=8, flood_peers=4, flood_topics=20000,
                  identity=30, storm=1000, storm_sockets=100),
    "long": dict(loris=500, loris_ivl=2000, huge=200, endless=30, flood_peers=10, flood_topics=50000,
                 identity=200, storm=3000, storm_sockets=500),
}


class Target:
    """A ROUTER with an echo loop and an honest DEALER, in a context of its own."""

    def __init__(self, **options):
        self.ctx = gzmq.Context()
        self.router = self.ctx.socket(gzmq.ROUTER)
        self.router.linger = 0
        for name, value in options.items():
            setattr(self.router, name, value)
        self.router.bind("tcp://127.0.0.1:*")
        self.address = tcp_address(self.router)
        self.endpoint = self.router.last_endpoint.decode()
        self.echo = gevent.spawn(router_echo, self.router)
        self.honest = Honest(self.ctx, self.endpoint, identity=b"honest")
        if not self.honest.wait_rounds(3):
            raise RuntimeError("honest peer never got a round trip before the attack")

    def finish(self, row):
        # Proof of service after the attack, too.
        if not self.honest.wait_rounds(5):
            row.error("honest DEALER was not served after the attack")
        row.check(len(self.router._sessions) == 1,
                  f"{len(self.router._sessions)} sessions left on the ROUTER, expected only the honest one")
        self.honest.stop()
        self.honest.fill(row)
        self.echo.kill()
        self.ctx.destroy(linger=0)


def _row(name, mode, delivery=True):
    return Row(name, mode, delivery=delivery)


def slowloris(mode, n):
    row = _row("hostile.slowloris", mode)
    ivl = SIZES[mode]["loris_ivl"]
    with ErrorWatch() as watch, Measure(row):
        t = Target(handshake_ivl=ivl)
        closed_after = []

        def loris(i):
            sock = raw_connect(t.address)
            t0 = time.monotonic()
            data = greeting()[:60]      # never complete: 60 of 64 bytes, one at a time
            reader = gevent.spawn(wait_closed, sock, ivl / 1000.0 + 10)
            try:
                for b in data:
                    if reader.ready():
                        break
                    sock.sendall(bytes((b,)))
                    gevent.sleep(0.1)
            except OSError:
                pass
            ok = reader.get()
            closed_after.append(time.monotonic() - t0 if ok else None)
            sock.close()

        pool = Pool(n)
        for i in range(n):
            pool.spawn(loris, i)
            row.inputs += 1
            row.faults += 1
        pool.join(timeout=ivl / 1000.0 + 30)
        still_open = sum(1 for c in closed_after if c is None) + (n - len(closed_after))
        row.check(still_open == 0, f"{still_open} slow-loris connections outlived HANDSHAKE_IVL + 10 s")
        done = [c for c in closed_after if c is not None]
        if done:
            row.note(f"{len(done)} slow greetings dropped after {min(done):.2f}-{max(done):.2f} s "
                     f"(HANDSHAKE_IVL {ivl} ms)")
        t.finish(row)
        watch.drain_into(row)
    return row


def huge_frames(mode, n):
    row = _row("hostile.huge-frame", mode)
    with ErrorWatch() as watch, Measure(row) as r:
        # 1. MAXMSGSIZE set: refused from the header, nothing allocated.
        t = Target(maxmsgsize=1 << 20)
        head = greeting() + ready("DEALER")
        sizes = [1 << 62, 1 << 40, 8 << 30, (1 << 20) + 1]
        settle()
        base = rss_mb()
        reset_peak()

        def one(size, body=b"z" * 1024):
            sock = raw_connect(t.address)
            try:
                sock.sendall(head + b"\x02" + size.to_bytes(8, "big") + body)
            except OSError:
                pass
            ok = wait_closed(sock, 5)
            sock.close()
            return ok

        jobs = [gevent.spawn(one, sizes[i % len(sizes)]) for i in range(n)]
        gevent.joinall(jobs, timeout=30)
        r.inputs += n
        r.faults += n
        kept = sum(1 for j in jobs if not j.value)
        r.check(kept == 0, f"{kept} connections declaring frames above MAXMSGSIZE were not dropped")
        growth = peak_rss_mb() - base
        r.check(growth < 16, f"peak RSS grew {growth:.1f} MiB for frames refused from their header")
        r.note(f"MAXMSGSIZE 1 MiB: {n} frames declaring up to 2**62 bytes refused, peak RSS +{growth:.1f} MiB")
        t.finish(r)

        # 2. No MAXMSGSIZE: a frame announcing 4 GiB that sends 256 KiB costs about 256 KiB.
        t = Target()
        m = max(4, n // 4)
        settle()
        base = rss_mb()
        reset_peak()
        socks = []
        for i in range(m):
            sock = raw_connect(t.address)
            sock.sendall(head + b"\x02" + (4 << 30).to_bytes(8, "big") + b"z" * (256 * 1024))
            socks.append(sock)
        # Wait until the engine has read what was sent (it answers pings meanwhile).
        t.honest.wait_rounds(20)
        gevent.sleep(0.2)
        growth = rss_mb() - base
        r.check(growth < m * 0.25 * 3 + 16,
                f"{m} stalled 4 GiB frames (256 KiB sent each) grew RSS by {growth:.1f} MiB")
        r.note(f"no MAXMSGSIZE: {m} peers announcing 4 GiB frames and sending 256 KiB: RSS +{growth:.1f} MiB")
        # 2**62 with no MAXMSGSIZE: cannot be mapped -> ZMTPError, dropped.
        bad = raw_connect(t.address)
        bad.sendall(head + b"\x02" + (1 << 62).to_bytes(8, "big") + b"z")
        r.check(wait_closed(bad, 5), "a frame announcing 2**62 bytes (no MAXMSGSIZE) was not dropped")
        bad.close()
        for sock in socks:
            sock.close()
        r.inputs += m + 1
        r.faults += m + 1
        deadline = time.monotonic() + 5
        while len(t.router._sessions) > 1 and time.monotonic() < deadline:
            gevent.sleep(0.05)
        t.finish(r)
        watch.drain_into(r)
    return row


def endless_multipart(mode, n):
    row = _row("hostile.endless-multipart", mode)
    with ErrorWatch() as watch, Measure(row) as r:
        t = Target()
        settle()
        base = rss_mb()
        reset_peak()
        chunk = b"\x01\x01x" * 20000      # 20 000 one-byte frames, all with MORE
        head = greeting() + ready("DEALER")

        def one():
            sock = raw_connect(t.address)
            sent_frames = 0
            try:
                sock.sendall(head)
                while sent_frames < 10 * MAX_MESSAGE_FRAMES:
                    sock.sendall(chunk)
                    sent_frames += 20000
            except OSError:
                pass
            ok = wait_closed(sock, 5)
            sock.close()
            return ok, sent_frames

        jobs = [gevent.spawn(one) for _ in range(n)]
        gevent.joinall(jobs, timeout=60)
        r.inputs += n
        r.faults += n
        kept = [j for j in jobs if not (j.value and j.value[0])]
        r.check(not kept, f"{len(kept)} endless multipart peers were not dropped")
        growth = peak_rss_mb() - base
        bound = n * 4 + 16
        r.check(growth < bound, f"peak RSS +{growth:.1f} MiB for {n} endless messages (bound {bound} MiB)")
        r.note(f"{n} peers sending MORE frames forever: each dropped at {MAX_MESSAGE_FRAMES} frames; "
               f"peak RSS +{growth:.1f} MiB (unbounded before: ~2.5 MiB per 1 MB sent)")
        t.finish(r)
        watch.drain_into(r)
    return row


def sub_flood(mode, peers, topics):
    row = _row("hostile.sub-flood", mode, delivery=True)
    with ErrorWatch() as watch, Measure(row) as r:
        ctx = gzmq.Context()
        pub = ctx.socket(gzmq.PUB)
        pub.linger = 0
        pub.sndhwm = 100000
        pub.bind("tcp://127.0.0.1:*")
        address = tcp_address(pub)
        sub = ctx.socket(gzmq.SUB)
        sub.linger = 0
        sub.rcvhwm = 100000
        sub.subscribe(b"honest")
        sub.connect(pub.last_endpoint.decode())
        # Wait for the subscription to reach the publisher (no fixed sleep: poll the trie).
        deadline = time.monotonic() + 5
        while len(pub._trie) < 1 and time.monotonic() < deadline:
            gevent.sleep(0.01)
        base_topics = len(pub._trie)
        received = [0]
        stop = gevent.event.Event()

        def reader():
            while True:
                try:
                    msg = sub.recv_multipart()
                except gzmq.ZMQError:
                    return
                if msg[0].startswith(b"honest"):
                    received[0] += 1

        def publisher():
            i = 0
            while not stop.is_set():
                pub.send_multipart([b"honest", b"%d" % i])
                pub.send_multipart([b"nobody-" + os.urandom(4), b"x"])
                i += 1
                if i % 50 == 0:
                    gevent.sleep(0.001)
            return i

        def flooder(k):
            sock = raw_connect(address)
            rng = random.Random(k)
            sock.sendall(greeting() + ready("SUB"))
            batch = []
            for j in range(topics):
                topic = b"flood-%d-" % k + rng.randbytes(12)
                if j % 2:
                    batch.append(commands.command(commands.SUBSCRIBE, topic))
                else:
                    batch.append(message([b"\x01" + topic]))   # the ZMTP 3.0 form
                if len(batch) == 500:
                    sock.sendall(b"".join(batch))
                    batch = []
                    gevent.sleep(0)
            sock.sendall(b"".join(batch))
            return sock

        rd = gevent.spawn(reader)
        pb = gevent.spawn(publisher)
        socks = [g.get() for g in gevent.joinall([gevent.spawn(flooder, k) for k in range(peers)], timeout=60)]
        deadline = time.monotonic() + 20
        while len(pub._trie) < base_topics + peers * topics * 0.9 and time.monotonic() < deadline:
            gevent.sleep(0.05)
        peak_topics = len(pub._trie)
        for sock in socks:
            sock.close()
        deadline = time.monotonic() + 10
        while len(pub._trie) > base_topics and time.monotonic() < deadline:
            gevent.sleep(0.05)
        stop.set()
        published = pb.get(timeout=10)
        # Everything published to the honest topic must arrive (HWM is far above the count).
        deadline = time.monotonic() + 10
        while received[0] < published and time.monotonic() < deadline:
            gevent.sleep(0.01)
        r.inputs += peers * topics
        r.faults += peers
        r.sent += published
        r.received += received[0]
        r.lost += published - received[0]
        r.check(len(pub._trie) == base_topics,
                f"PUB trie holds {len(pub._trie)} topics after the flooders left (baseline {base_topics})")
        r.note(f"{peers} SUB peers x {topics} distinct subscriptions: trie {base_topics} -> {peak_topics} -> "
               f"{len(pub._trie)} topics; honest SUB got {received[0]}/{published} while it ran")
        rd.kill()
        ctx.destroy(linger=0)
        watch.drain_into(r)
    return row


def identity_collision(mode, n):
    """libzmq (router.cpp identify_peer) keeps a connection whose routing id is taken but
    ignores it while ROUTER_HANDOVER is off; gzmq does the same. So: the impostors' messages
    must never reach the application (the echo loop would answer them to "honest", and the
    honest DEALER would see a reply it never asked for), and they leave no trace when gone."""
    row = _row("hostile.identity", mode)
    with ErrorWatch() as watch, Measure(row) as r:
        t = Target()
        socks = []
        for i in range(n):
            sock = raw_connect(t.address)
            sock.sendall(greeting() + ready("DEALER", identity=b"honest")
                         + message([b"ping", b"stolen-%d" % i]))
            socks.append(sock)
            r.inputs += 1
            r.faults += 1
        for i, sock in enumerate(socks):        # more messages once every handshake is done
            try:
                sock.sendall(message([b"ping", b"stolen-again-%d" % i]) * 10)
            except OSError:
                pass
        r.check(t.honest.wait_rounds(20), "honest DEALER lost its routing id to an impostor")
        kept = len(t.router._sessions) - 1
        for sock in socks:
            sock.close()
        deadline = time.monotonic() + 10
        while len(t.router._sessions) > 1 and time.monotonic() < deadline:
            gevent.sleep(0.05)
        r.note(f"{n} impostors with the honest routing id (ROUTER_HANDOVER off): {kept} kept connected but "
               "ignored, as libzmq does; none of their 11 messages each reached the application")
        t.finish(r)
        watch.drain_into(r)
    return row


def storm(mode, n, n_sockets):
    row = _row("hostile.storm", mode)
    with ErrorWatch() as watch, Measure(row) as r:
        t = Target(handshake_ivl=2000)
        greenlets_before = live_greenlets()
        rng = random.Random(7)
        full = greeting() + ready("DEALER")

        def one(i):
            kind = i % 3
            try:
                sock = raw_connect(t.address)
            except OSError as exc:
                return f"connect failed: {exc}"
            try:
                if kind == 1:
                    sock.sendall(greeting()[:rng.randint(1, 63)])
                elif kind == 2:
                    sock.sendall(full + message([b"storm", b"%d" % i]))
                    sock.recv(1)     # gzmq's greeting: it took us
            except OSError:
                pass
            sock.close()
            return None

        pool = Pool(50)
        failures = [f for f in pool.imap_unordered(one, range(n)) if f]
        r.inputs += n
        r.faults += n
        r.check(not failures, f"{len(failures)} storm connects failed: {failures[:3]}")

        # The same with real gzmq sockets: create, connect, send, close.
        def churn(i):
            s = t.ctx.socket(gzmq.DEALER)
            s.linger = 0
            s.connect(t.endpoint)
            s.send_multipart([b"churn", b"%d" % i])
            s.close()

        for batch in range(0, n_sockets, 50):
            gevent.joinall([gevent.spawn(churn, i) for i in range(batch, min(n_sockets, batch + 50))], timeout=30)
        r.inputs += n_sockets
        deadline = time.monotonic() + 10
        while len(t.router._sessions) > 1 and time.monotonic() < deadline:
            gevent.sleep(0.05)
        settle()
        greenlets_after = live_greenlets()
        r.check(greenlets_after <= greenlets_before + 2,
                f"live greenlets {greenlets_before} -> {greenlets_after} after the storm")
        r.note(f"{n} raw connects/disconnects (bare, half greeting, full handshake + message) and "
               f"{n_sockets} DEALERs created/closed; greenlets {greenlets_before} -> {greenlets_after}")
        t.finish(r)
        watch.drain_into(r)
    return row


def run_group(mode, only=None, **_):
    s = SIZES[mode]
    cases = [
        ("hostile.slowloris", lambda: slowloris(mode, s["loris"])),
        ("hostile.huge-frame", lambda: huge_frames(mode, s["huge"])),
        ("hostile.endless-multipart", lambda: endless_multipart(mode, s["endless"])),
        ("hostile.sub-flood", lambda: sub_flood(mode, s["flood_peers"], s["flood_topics"])),
        ("hostile.identity", lambda: identity_collision(mode, s["identity"])),
        ("hostile.storm", lambda: storm(mode, s["storm"], s["storm_sockets"])),
    ]
    for name, fn in cases:
        if only and not any(name.startswith(o) for o in only):
            continue
        yield fn()
        gc.collect()
