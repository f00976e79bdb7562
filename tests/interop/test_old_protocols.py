"""ZMTP 2.0 (RFC 15) and 1.0 (RFC 13) peers, byte for byte (RFC 23 §Backwards Interoperability).

Scripted raw peers check the exact bytes gzmq sends an older peer (libzmq's, measured in
../shared/ZMTP.md §2: the staged greeting, the socket-type byte, identities as first frames,
1.0 framing) and that it serves them, bound or connecting; libzmq itself (pyzmq) talks to the
same scripted peers in the same tests as a reference. tests/interop/test_jeromq.py runs a
real ZMTP 2.0 implementation.
"""
import pytest

import gzmq
from tests.tools.rawpeer import RawListener, RawPeer, zmtp2_greeting

from .support import bind, recv_within

SIGNATURE_EMPTY_ID = b"\xff" + (1).to_bytes(8, "big") + b"\x7f"


@pytest.fixture
def contexts(gctx, lctx, green):
    return {"gzmq": (gzmq, gctx), "libzmq": (green, lctx)}


@pytest.mark.parametrize("lib", ["gzmq", "libzmq"])
def test_router_serves_zmtp20_dealer(contexts, lib, deadline):
    zmq, ctx = contexts[lib]
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    ep = bind(router, "tcp://127.0.0.1:*")
    with deadline(10), RawPeer.connect(ep) as old:
        old.send(zmtp2_greeting("DEALER", b"old"))
        # signature, major 3 (not rewritten), ROUTER's type byte 6, its (empty) identity frame
        assert old.recv_exactly(14) == SIGNATURE_EMPTY_ID + b"\x03\x06" + b"\x00\x00"
        old.send(b"\x01\x00" + b"\x00\x05hello")
        assert recv_within(router) == [b"old", b"", b"hello"]
        router.send_multipart([b"old", b"", b"x" * 300])
        assert old.recv_exactly(2 + 9 + 300) == b"\x01\x00" + b"\x02" + (300).to_bytes(8, "big") + b"x" * 300


@pytest.mark.parametrize("lib", ["gzmq", "libzmq"])
def test_pull_serves_zmtp10_push(contexts, lib, deadline):
    """An unversioned 1.0 peer sends its identity frame first; our signature doubles as the
    header of our 1.0 identity frame, so only its body (empty here) follows."""
    zmq, ctx = contexts[lib]
    pull = ctx.socket(zmq.PULL)
    pull.linger = 0
    ep = bind(pull, "tcp://127.0.0.1:*")
    with deadline(10), RawPeer.connect(ep) as old:
        old.send(b"\x01\x00" + b"\x02\x01a" + b"\xff" + (301).to_bytes(8, "big") + b"\x00" + b"b" * 300)
        assert old.recv_exactly(10) == SIGNATURE_EMPTY_ID
        assert recv_within(pull) == [b"a", b"b" * 300]


@pytest.mark.parametrize("lib", ["gzmq", "libzmq"])
def test_pub_sends_to_zmtp10_subscriber_without_subscription(contexts, lib, deadline):
    """1.0 subscribers never subscribe: the publisher sends them everything."""
    zmq, ctx = contexts[lib]
    pub = ctx.socket(zmq.PUB)
    pub.linger = 0
    ep = bind(pub, "tcp://127.0.0.1:*")
    with deadline(10), RawPeer.connect(ep) as old:
        old.send(b"\x01\x00")
        assert old.recv_exactly(10) == SIGNATURE_EMPTY_ID
        while True:           # until the publisher has attached the peer
            pub.send(b"news")
            if not old.is_closed(timeout=0.05) and old.buf:
                break
        assert old.recv_exactly(6) == b"\x05\x00news"


@pytest.mark.parametrize("lib", ["gzmq", "libzmq"])
def test_sub_connects_to_zmtp20_publisher(contexts, lib, deadline):
    """Connecting to a 2.0 publisher: its subscriptions go out as 0x01-prefixed messages."""
    zmq, ctx = contexts[lib]
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    sub.subscribe(b"a")
    with deadline(10), RawListener() as listener:
        sub.connect(listener.endpoint)
        old = listener.accept()
        old.send(SIGNATURE_EMPTY_ID)
        assert old.recv_exactly(11) == SIGNATURE_EMPTY_ID + b"\x03"
        old.send(b"\x01\x01" + b"\x00\x00")          # revision 1, PUB; empty identity
        assert old.recv_exactly(3) == b"\x02\x00\x00"   # SUB's type byte, its identity frame
        assert old.recv_exactly(4) == b"\x00\x02\x01a"  # the subscription, as a message
        old.send(b"\x00\x03a-1")
        assert recv_within(sub) == [b"a-1"]
        old.close()


def test_old_peer_refused_when_zap_is_enabled(gctx, deadline):
    """libzmq refuses a 1.0/2.0 downgrade when ZAP is enabled: they cannot authenticate."""
    rep = gctx.socket(gzmq.REP)
    rep.linger = 0
    rep.zap_domain = b"global"
    ep = bind(rep, "tcp://127.0.0.1:*")
    with deadline(10), RawPeer.connect(ep) as old:
        old.send(zmtp2_greeting("REQ", b""))
        assert old.is_closed(timeout=5)
