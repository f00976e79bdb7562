"""gzmq's pgm:// and epgm:// against libzmq's (OpenPGM), between two namespaced hosts.

Host A (this process, entered with setns) and host B (peers run with `ip netns exec`) share a
veth segment; nftables drops 1% of the PGM datagrams arriving at either host, so NAK/NCF/RDATA
repair runs in both directions. Every message must arrive, exactly as sent, in order, and the
repair counters must show that repairs happened.

PGM has no handshake, so a subscriber cannot be seen joining: the publisher sends warm-up
messages until each subscriber says (stdout, or its first recv) that one arrived; only then
does the data start, and from then on PGM guarantees delivery.
"""
import gevent
import pytest

import gzmq

from .support import WARMUP, Checker, endpoint, make_message

pytestmark = [pytest.mark.multicast, pytest.mark.interop, pytest.mark.slow]

RATE = 40000      # kbit/s, on both sides (libzmq sizes its receive window from it)
LOSS = 10         # per mille
COUNT = 10000


def _pub(gctx, host, ep):
    with host.enter():
        pub = gctx.socket(gzmq.PUB)
        pub.setsockopt(gzmq.RATE, RATE)
        pub.setsockopt(gzmq.SNDHWM, 0)
        pub.bind(ep)
    return pub


def _sub(gctx, host, ep):
    with host.enter():
        sub = gctx.socket(gzmq.SUB)
        sub.setsockopt(gzmq.RATE, RATE)
        sub.setsockopt(gzmq.RCVHWM, 0)
        sub.setsockopt(gzmq.SUBSCRIBE, b"")
        sub.connect(ep)
    return sub


def _warm_up(pub, waits):
    """Send warm-ups every 50 ms until every greenlet in `waits` has finished."""
    waiter = gevent.spawn(gevent.joinall, waits, raise_error=True)
    while not waiter.ready():
        pub.send(WARMUP)
        waiter.join(0.05)
    waiter.get()


def _receive_all(sub, count):
    checker = Checker(count)
    while True:
        frames = sub.recv_multipart()
        if frames[0][:1] != WARMUP and checker.add(frames):
            return checker.report()


def _first_warmup(sub):
    while sub.recv_multipart()[0][:1] != WARMUP:
        pass


@pytest.mark.parametrize("scheme", ["epgm", "pgm"])
def test_gzmq_pub_to_libzmq_sub(scheme, mcnet, libzmq_python, peers, gctx, deadline):
    """10 000 messages from a gzmq PUB reach a libzmq SUB, none lost, through 1% loss."""
    port = 5601 if scheme == "epgm" else 5602
    count = COUNT if scheme == "epgm" else COUNT // 4
    mcnet.loss(LOSS, port)
    ep = endpoint(scheme, mcnet.a, port)
    sub = peers.start(mcnet.b, libzmq_python, "zmq", "sub", endpoint(scheme, mcnet.b, port), count, RATE)
    with deadline(90):
        sub.expect("ready")
        pub = _pub(gctx, mcnet.a, ep)
        _warm_up(pub, [gevent.spawn(sub.expect, "joined")])
        for i in range(count):
            pub.send_multipart(make_message(i))
        report = sub.result()
    stats = pub._bound[ep].source.stats
    dropped = mcnet.dropped()
    assert report == {"received": count, "first": 0, "bad": []}
    # The loss really happened and the source really repaired it.
    assert sum(dropped.values()) > 0, dropped
    assert stats["naks"] > 0 and stats["rdata"] > 0, (stats, dropped)


@pytest.mark.parametrize("scheme", ["epgm", "pgm"])
def test_libzmq_pub_to_gzmq_sub(scheme, mcnet, libzmq_python, peers, gctx, deadline):
    """10 000 messages from a libzmq PUB reach a gzmq SUB, none lost, through 1% loss."""
    port = 5603 if scheme == "epgm" else 5604
    count = COUNT if scheme == "epgm" else COUNT // 4
    mcnet.loss(LOSS, port)
    ep = endpoint(scheme, mcnet.a, port)
    sub = _sub(gctx, mcnet.a, ep)
    pub = peers.start(mcnet.b, libzmq_python, "zmq", "pub", endpoint(scheme, mcnet.b, port), count, RATE)
    with deadline(90):
        pub.expect("ready")
        _first_warmup(sub)
        pub.tell("go")
        report = _receive_all(sub, count)
    stats = sub._connected[ep][0].receiver.stats
    dropped = mcnet.dropped()
    assert report == {"received": count, "first": 0, "bad": []}
    assert sum(dropped.values()) > 0, dropped
    assert stats["naks"] > 0 and stats["repaired"] > 0 and stats["lost"] == 0, (stats, dropped)


def test_one_pub_three_mixed_subscribers(mcnet, libzmq_python, peers, gctx, deadline):
    """One gzmq PUB, one send per message, reaches three subscribers at once: a gzmq SUB on
    its own host (multicast loop), and a libzmq SUB and a gzmq SUB on the other host."""
    import sys
    port = 5605
    count = 5000
    mcnet.loss(LOSS, port)
    ep = endpoint("epgm", mcnet.a, port)
    remote = endpoint("epgm", mcnet.b, port)
    local = _sub(gctx, mcnet.a, ep)
    libzmq_sub = peers.start(mcnet.b, libzmq_python, "zmq", "sub", remote, count, RATE)
    gzmq_sub = peers.start(mcnet.b, sys.executable, "gzmq", "sub", remote, count, RATE)
    with deadline(90):
        libzmq_sub.expect("ready")
        gzmq_sub.expect("ready")
        pub = _pub(gctx, mcnet.a, ep)
        _warm_up(pub, [gevent.spawn(libzmq_sub.expect, "joined"), gevent.spawn(gzmq_sub.expect, "joined"),
                       gevent.spawn(_first_warmup, local)])
        for i in range(count):
            pub.send_multipart(make_message(i))
        local_report = _receive_all(local, count)
        reports = {"libzmq": libzmq_sub.result(), "gzmq": gzmq_sub.result()}
    reports["local gzmq"] = local_report
    stats = pub._bound[ep].source.stats
    expected = {"received": count, "first": 0, "bad": []}
    assert reports == {name: expected for name in reports}
    # One multicast pipe, one PGM source: each message went onto the wire once for all three.
    assert len(pub._pipes) == 1 and stats["odata"] > 0, stats
