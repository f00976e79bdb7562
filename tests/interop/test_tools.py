"""The test tools themselves, checked against libzmq: if rawpeer and relay agree with the
reference implementation, a failure they report against gzmq is gzmq's."""
import pytest

import gzmq

from tools import rawpeer
from tools.relay import Relay

from .support import bind, recv_within

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_rawpeer_handshakes_with_libzmq_router(lctx, green, endpoint, deadline, transport):
    router = lctx.socket(green.ROUTER)
    router.linger = 0
    ep = bind(router, endpoint(transport))
    with deadline(10), rawpeer.RawPeer.connect(ep) as peer:
        meta = peer.handshake("DEALER", identity=b"raw-1")
        assert peer.greeting.major == 3 and peer.greeting.mechanism == b"NULL"
        assert meta["socket-type"] == b"ROUTER"
        peer.send_message([b"hello", b"x" * 300])  # one short and one long frame
        assert recv_within(router) == [b"raw-1", b"hello", b"x" * 300]
        router.send_multipart([b"raw-1", b"back", b""])
        assert peer.recv_message() == [b"back", b""]


def test_rawlistener_accepts_libzmq_dealer(lctx, green, deadline):
    with deadline(10), rawpeer.RawListener() as lst:
        dealer = lctx.socket(green.DEALER)
        dealer.linger = 0
        dealer.setsockopt(green.ROUTING_ID, b"ABC")
        dealer.connect(lst.endpoint)
        with lst.accept() as peer:
            meta = peer.handshake("ROUTER")
            assert meta == {"socket-type": b"DEALER", "identity": b"ABC"}
            # libzmq's ZMTP 1.0 compatibility trick: padding = identity length + 1.
            assert peer.greeting.raw[1:9] == (4).to_bytes(8, "big")
            dealer.send_multipart([b"a", b"b"])
            assert peer.recv_message() == [b"a", b"b"]


def test_rawpeer_sees_libzmq_close_a_wrong_socket_type(lctx, green, deadline):
    router = lctx.socket(green.ROUTER)
    router.linger = 0
    ep = bind(router, "tcp://127.0.0.1:*")
    with deadline(10), rawpeer.RawPeer.connect(ep) as peer:
        peer.send(rawpeer.greeting() + rawpeer.ready("PUB"))
        assert peer.is_closed(timeout=5)


def test_relay_records_both_directions(gctx, lctx, green, deadline):
    server = lctx.socket(green.ROUTER)
    server.linger = 0
    ep = bind(server, "tcp://127.0.0.1:*")
    with deadline(10), Relay(ep) as relay:
        client = gctx.socket(gzmq.DEALER)
        client.linger = 0
        client.connect(relay.endpoint)
        client.send(b"through the relay")
        rid, body = recv_within(server)
        assert body == b"through the relay"
        server.send_multipart([rid, b"and back"])
        assert recv_within(client) == [b"and back"]
        up, down = relay.data("up"), relay.data("down")
        # gzmq's greeting announces ZMTP 3.1 with NULL; libzmq 4.3.5 answers 3.1 too.
        assert up[0] == 0xFF and up[9] == 0x7F and up[10:12] == b"\x03\x01"
        assert up[12:32] == b"NULL".ljust(20, b"\x00")
        assert down[10:12] == b"\x03\x01"
        assert rawpeer.frame(b"through the relay") in up
        assert rawpeer.frame(b"and back") in down


def test_relay_sever_makes_peers_reconnect(gctx, lctx, green, deadline):
    server = lctx.socket(green.PULL)
    server.linger = 0
    ep = bind(server, "tcp://127.0.0.1:*")
    with deadline(10), Relay(ep) as relay:
        client = gctx.socket(gzmq.PUSH)
        client.linger = 0
        client.connect(relay.endpoint)
        client.send(b"one")
        assert recv_within(server) == [b"one"]
        relay.sever()
        relay.wait_links(2)  # the gzmq PUSH reconnected through the relay
        # A message sent in the gap may have gone to the dead connection: resend until through.
        while True:
            client.send(b"two")
            if server.poll(100):
                break
        assert recv_within(server) == [b"two"]
