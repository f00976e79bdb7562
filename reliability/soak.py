"""Soak: mixed traffic with peer churn for a long stretch; memory and descriptors must stay flat.

In this process, for SOAK_S seconds (10 minutes long, 30 s short):
  - REQ/REP over tcp: two clients doing round trips with a REP server (all answered);
  - PUSH/PULL over ipc: a steady stream (all delivered);
  - PUB/SUB over tcp and inproc: a publisher to two subscribers (counted; PUB may drop);
  - socket churn: a DEALER created, used for a few round trips through a ROUTER, and closed,
    several times a second;
  - process churn: a libzmq (pyzmq) DEALER process doing round trips with the same ROUTER,
    SIGKILLed and restarted every few seconds.
RSS and open descriptors are sampled every second and written as CSV and a PNG plot.
Flat means: after a warm-up fifth, the mean RSS of the last quarter is within RSS_DRIFT_MB
(or 10 %) of the second quarter's, and once everything stops the descriptors are back at
their baseline; no promised message is lost.
"""
import os
import statistics
import tempfile
import time

import gevent
import gevent.event

import gzmq

from .faults import PeerProcess
from .peers import router_echo
from .report import ErrorWatch, Measure, Row, open_fds, rss_mb

SOAK_S = {"short": 30, "long": 600}
RSS_DRIFT_MB = 8.0


def soak(mode, out_dir):
    seconds = SOAK_S[mode]
    row = Row("soak", mode, delivery=True)
    samples = []
    with ErrorWatch() as watch, Measure(row) as r:
        ctx = gzmq.Context()
        stop = gevent.event.Event()
        counts = {"req": 0, "rep_ok": 0, "push": 0, "pull": 0, "pub": 0, "sub": 0, "churn": 0,
                  "churn_ok": 0, "kills": 0}
        tmp = tempfile.mkdtemp(prefix="gzmq-soak-")

        rep = ctx.socket(gzmq.REP)
        rep.bind("tcp://127.0.0.1:*")
        router = ctx.socket(gzmq.ROUTER)
        router.bind("tcp://127.0.0.1:*")
        pull = ctx.socket(gzmq.PULL)
        pull.bind(f"ipc://{tmp}/pipe")
        push = ctx.socket(gzmq.PUSH)
        push.connect(f"ipc://{tmp}/pipe")
        pub = ctx.socket(gzmq.PUB)
        pub.bind("tcp://127.0.0.1:*")
        pub.bind("inproc://soak-pub")
        subs = []
        for ep in (pub.last_endpoint.decode(), "inproc://soak-pub"):
            s = ctx.socket(gzmq.SUB)
            s.subscribe(b"")
            s.connect(ep)
            subs.append(s)
        for s in (rep, router, pull, push, pub, *subs):
            s.linger = 0

        def serve():
            while True:
                rep.send(rep.recv())

        def client(i):
            s = ctx.socket(gzmq.REQ)
            s.linger = 0
            s.connect(rep.last_endpoint.decode())
            n = 0
            while not stop.is_set():
                msg = b"c%d-%d" % (i, n)
                s.send(msg)
                counts["req"] += 1
                if s.recv() == msg:
                    counts["rep_ok"] += 1
                n += 1
                if n % 10 == 0:
                    gevent.sleep(0.005)
            s.close()

        def stream(sock, template, key):
            """Send numbered messages until stop, pausing briefly every 50."""
            n = 0
            while not stop.is_set():
                sock.send(template % n)
                counts[key] += 1
                n += 1
                if n % 50 == 0:
                    gevent.sleep(0.005)

        def puller():
            while True:
                pull.recv()
                counts["pull"] += 1

        def subscriber(s):
            while True:
                s.recv()
                counts["sub"] += 1

        def churn():
            while not stop.is_set():
                d = ctx.socket(gzmq.DEALER)
                d.linger = 0
                d.connect(router.last_endpoint.decode())
                for k in range(3):
                    d.send_multipart([b"ping", b"%d" % k])
                    if d.poll(5000) and d.recv_multipart() == [b"pong", b"%d" % k]:
                        counts["churn_ok"] += 1
                    else:
                        r.error("churned DEALER got no reply within 5 s")
                d.close()
                counts["churn"] += 1
                stop.wait(0.1)

        peer = PeerProcess(["send", "DEALER", router.last_endpoint.decode(), "connect", "{run}"], impl="pyzmq")

        def killer():
            peer.start()
            while not stop.wait(3.0):
                peer.kill()
                counts["kills"] += 1
                peer.start()
            peer.stop()

        gs = [gevent.spawn(serve), gevent.spawn(router_echo, router), gevent.spawn(puller),
              gevent.spawn(stream, push, b"p%d", "push"),
              gevent.spawn(stream, pub, b"topic %d", "pub"), gevent.spawn(churn), gevent.spawn(killer)]
        gs += [gevent.spawn(client, i) for i in range(2)]
        gs += [gevent.spawn(subscriber, s) for s in subs]
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            samples.append((time.monotonic() - t0, rss_mb(), open_fds()))
            r.rss_peak = max(r.rss_peak, samples[-1][1])
            stop.wait(1.0)
        stop.set()
        gevent.joinall(gs[3:9], timeout=15)   # the loops that watch `stop`
        # Let the stream drain: everything pushed must be pulled.
        deadline = time.monotonic() + 10
        while counts["pull"] < counts["push"] and time.monotonic() < deadline:
            gevent.sleep(0.05)
        gevent.killall(gs, timeout=3)
        ctx.destroy(linger=0)
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
        r.inputs = counts["req"] + counts["push"] + counts["churn"] * 3
        r.faults = counts["kills"] + counts["churn"]
        r.sent = counts["req"] + counts["push"] + counts["churn"] * 3
        r.received = counts["rep_ok"] + counts["pull"] + counts["churn_ok"]
        r.lost = r.sent - r.received
        watch.drain_into(r)

    # Flatness.
    warm = [s for s in samples if s[0] >= seconds * 0.2]
    if len(warm) >= 8:
        q = len(warm) // 4
        early = statistics.mean(s[1] for s in warm[:q])
        late = statistics.mean(s[1] for s in warm[-q:])
        drift = late - early
        allowed = max(RSS_DRIFT_MB, 0.10 * early)
        row.check(drift < allowed, f"RSS drifted {drift:+.1f} MiB after warm-up (allowed {allowed:.1f})")
        fds = [s[2] for s in warm]
        row.note(f"{seconds} s: {counts['req']:,} REQ/REP, {counts['push']:,} PUSH/PULL (ipc), "
                 f"{counts['pub']:,} published / {counts['sub']:,} received (tcp+inproc), {counts['churn']} "
                 f"DEALERs created and closed, {counts['kills']} SIGKILLs of a pyzmq peer")
        row.note(f"RSS after warm-up {early:.1f} -> {late:.1f} MiB ({drift:+.1f}); fds {min(fds)}-{max(fds)} "
                 f"while running, {row.fds_base} -> {row.fds_end} after")
    else:
        row.error(f"too few samples ({len(samples)})")
    _plot(samples, row, mode, out_dir)
    return row


def _plot(samples, row, mode, out_dir):
    directory = out_dir or tempfile.gettempdir()
    os.makedirs(directory, exist_ok=True)
    csv = os.path.join(directory, f"soak-{mode}.csv")
    with open(csv, "w") as f:
        f.write("seconds,rss_mib,open_fds\n")
        for t, rss, fds in samples:
            f.write(f"{t:.1f},{rss:.2f},{fds}\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        row.note(f"matplotlib missing: curve only as CSV in {csv}")
        return
    ts = [s[0] for s in samples]
    fig, (ax1, ax2) = plt.subplots(2, 1, sharex=True, figsize=(9, 5.5))
    ax1.plot(ts, [s[1] for s in samples], color="tab:blue")
    ax1.set_ylabel("RSS (MiB)")
    ax1.set_ylim(bottom=0, top=max(s[1] for s in samples) * 1.3)
    ax1.grid(alpha=0.3)
    ax1.set_title(f"gzmq soak ({mode}): mixed traffic, DEALER churn, SIGKILLed peer process")
    ax2.plot(ts, [s[2] for s in samples], color="tab:orange")
    ax2.set_ylabel("open fds")
    ax2.set_xlabel("seconds")
    ax2.set_ylim(bottom=0, top=max(s[2] for s in samples) * 1.3 + 1)
    ax2.grid(alpha=0.3)
    png = os.path.join(directory, f"soak-{mode}.png")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
    row.note(f"curve: {png} (and {os.path.basename(csv)})")


def run_group(mode, only=None, out_dir=None, **_):
    if only and not any("soak".startswith(o) or o.startswith("soak") for o in only):
        return
    yield soak(mode, out_dir)
