"""Legitimate but unusual peer behaviour a gzmq socket must accept, as libzmq does (measured
against libzmq 4.3.5, ../shared/ZMTP.md section 14): odd greeting fields, ZMTP 3.0 peers and
their old-style subscriptions, lenient framing, unknown commands, PING/PONG."""
import pytest

import gzmq

from tools import rawpeer
from tools.rawpeer import RawListener, RawPeer, frame, greeting, ready

from .support import bind, recv_within

pytestmark = pytest.mark.interop


@pytest.fixture(params=["gzmq", "libzmq"])
def router(request, gctx, lctx):
    """The ROUTER under test; the libzmq run shows the script matches the reference."""
    ctx = gctx if request.param == "gzmq" else lctx
    s = ctx.socket(gzmq.ROUTER)
    s.linger = 0
    return s


@pytest.mark.parametrize("greet", [
    pytest.param(dict(minor=0), id="zmtp3.0"),
    pytest.param(dict(minor=7), id="future-minor"),
    pytest.param(dict(major=4), id="future-major"),
    pytest.param(dict(as_server=True), id="as-server-1"),
    pytest.param(dict(padding=b"\x00\x00\x00\x00\x00\x00\x00\x04"), id="libzmq-id-padding"),
    pytest.param(dict(padding=b"garbage!"), id="nonzero-padding"),
])
def test_greeting_variants_accepted(router, deadline, greet):
    ep = bind(router, "tcp://127.0.0.1:*")
    with deadline(10), RawPeer.connect(ep) as peer:
        peer.send(greeting(**greet) + ready("DEALER", b"odd"))
        g = peer.read_greeting()
        assert (g.major, g.minor, g.mechanism) == (3, 1, b"NULL")
        assert peer.read_ready()["socket-type"] == b"ROUTER"
        peer.send_message([b"hello"])
        assert recv_within(router) == [b"odd", b"hello"]
        router.send_multipart([b"odd", b"back"])
        assert peer.recv_message() == [b"back"]


def test_greeting_sent_in_libzmq_stages(router, deadline):
    # libzmq sends 10 bytes, waits, then 1, then 53: gzmq must answer each stage.
    ep = bind(router, "tcp://127.0.0.1:*")
    with deadline(10), RawPeer.connect(ep) as peer:
        g = greeting()
        peer.send(g[:10])
        assert peer.recv_exactly(10)[0] == 0xFF  # gzmq did not wait for our whole greeting
        peer.send(g[10:11])
        peer.send(g[11:] + ready("DEALER", b"staged"))
        rest = peer.recv_exactly(54)  # the rest of gzmq's greeting
        assert rest[2:22] == b"NULL".ljust(20, b"\x00")
        peer.read_ready()
        peer.send_message([b"ok"])
        assert recv_within(router) == [b"staged", b"ok"]


def test_lowercase_socket_type_and_missing_socket_type_accepted(router, deadline):
    # (libzmq matches "Identity" exactly, though RFC 23 calls names case-insensitive, so only
    # Socket-Type's case varies here.)
    ep = bind(router, "tcp://127.0.0.1:*")
    with deadline(10), RawPeer.connect(ep) as a, RawPeer.connect(ep) as b:
        a.send(greeting() + rawpeer.command(b"READY", rawpeer.metadata(
            [("socket-type", b"DEALER"), ("Identity", b"lower"), ("X-Custom", b"1")])))
        b.send(greeting() + rawpeer.command(b"READY", rawpeer.metadata([("Identity", b"untyped")])))
        for peer, name in ((a, b"lower"), (b, b"untyped")):
            peer.read_greeting()
            peer.read_ready()
            peer.send_message([name])
        got = sorted(recv_within(router) for _ in range(2))
        assert got == [[b"lower", b"lower"], [b"untyped", b"untyped"]]


def test_lenient_framing_and_unknown_commands(router, deadline):
    # Reserved flag bits are ignored, a short body in the long encoding is accepted, and an
    # unknown command after the handshake is ignored (libzmq).
    ep = bind(router, "tcp://127.0.0.1:*")
    with deadline(10), RawPeer.connect(ep) as peer:
        peer.handshake("DEALER", b"lenient")
        peer.send(rawpeer.command(b"FUTURE", b"whatever"))
        peer.send(frame(b"long-encoded", more=True, long=True))
        peer.send(bytes((0xF0, 5)) + b"flags")  # reserved bits 4..7 set, no MORE
        assert recv_within(router) == [b"lenient", b"long-encoded", b"flags"]


def test_ping_answered_with_pong_echoing_context(router, deadline):
    ep = bind(router, "tcp://127.0.0.1:*")
    with deadline(10), RawPeer.connect(ep) as peer:
        peer.handshake("DEALER", b"pinger")
        peer.send(rawpeer.ping(30, b"ctx-123"))
        name, data = peer.read_command()
        assert (name, data) == (b"PONG", b"ctx-123")
        # A context longer than 16 bytes is cut to 16 in the PONG (RFC 37, libzmq).
        peer.send(rawpeer.ping(0, b"0123456789abcdefXYZ"))
        assert peer.read_command() == (b"PONG", b"0123456789abcdef")


def test_zmtp30_subscriber_subscribes_with_messages(gctx, deadline):
    # A ZMTP 3.0 SUB (JeroMQ, older libzmq) subscribes with a 0x01-prefixed message.
    pub = gctx.socket(gzmq.XPUB)
    pub.linger = 0
    ep = bind(pub, "tcp://127.0.0.1:*")
    with deadline(10), RawPeer.connect(ep) as sub:
        sub.handshake("SUB", minor=0)
        sub.send_message([b"\x01news"])
        assert recv_within(pub) == [b"\x01news"]
        pub.send_multipart([b"sport", b"no"])
        pub.send_multipart([b"news", b"yes"])
        assert sub.recv_message() == [b"news", b"yes"]
        sub.send_message([b"\x00news"])
        assert recv_within(pub) == [b"\x00news"]


def test_subscriptions_to_zmtp30_and_31_publishers(gctx, deadline):
    # gzmq's SUB speaks to each publisher in its version: a 3.0 publisher gets 0x01 messages,
    # a 3.1 publisher SUBSCRIBE commands.
    sub = gctx.socket(gzmq.SUB)
    sub.linger = 0
    sub.setsockopt(gzmq.SUBSCRIBE, b"t")
    with deadline(10), RawListener() as old, RawListener() as new:
        sub.connect(old.endpoint)
        sub.connect(new.endpoint)
        with old.accept() as p30, new.accept() as p31:
            p30.handshake("PUB", minor=0)
            p31.handshake("PUB", minor=1)
            flags, body = p30.read_frame()
            assert (flags, body) == (0, b"\x01t")
            assert p31.read_command() == (b"SUBSCRIBE", b"t")
            p30.send_message([b"t", b"from 3.0"])
            p31.send_message([b"t", b"from 3.1"])
            got = sorted(recv_within(sub) for _ in range(2))
            assert got == [[b"t", b"from 3.0"], [b"t", b"from 3.1"]]
