"""What a CURVE session looks like to someone on the wire: captured through a logging TCP relay
(tests/tools/relay.py) between gzmq and libzmq, both ways round.

Nothing of the application's data may show: not the payloads, not the PUB/SUB topics, not
the metadata (Socket-Type, Identity travel inside INITIATE/READY boxes). The handshake has
libzmq's sizes, and gzmq's traffic frames have libzmq's outer flags (ZMTP.md §9).
"""
import gevent
import pytest

import gzmq

from tools.relay import Relay

from .conftest import bind_tcp, curve_client, curve_server, publish_until_received, request

SECRET = b"attack-at-dawn:"
PAIRS = [("gzmq", "libzmq"), ("libzmq", "gzmq")]
PAIR_IDS = ["gzmq-server", "libzmq-server"]


def frames(data):
    out = []
    pos = 0
    while pos < len(data):
        flags = data[pos]
        if flags & 2:
            size = int.from_bytes(data[pos + 1:pos + 9], "big")
            start = pos + 9
        else:
            size = data[pos + 1]
            start = pos + 2
        out.append((flags, data[start:start + size]))
        pos = start + size
    return out


def assert_opaque(captured, *plaintexts):
    assert captured, "nothing was captured"
    for text in plaintexts:
        assert text not in captured, f"{text!r} visible on the wire"


@pytest.fixture
def relay_to():
    relays = []

    def make(endpoint):
        r = Relay(endpoint)
        relays.append(r)
        return r

    yield make
    for r in relays:
        r.close()


@pytest.mark.parametrize("server_lib,client_lib", PAIRS, ids=PAIR_IDS)
def test_curve_req_rep_wire_has_no_plaintext(libs, relay_to, server_lib, client_lib,
                                            server_keys, client_keys):
    smod, sctx = libs[server_lib]
    cmod, cctx = libs[client_lib]
    server = curve_server(sctx.socket(smod.REP), server_keys)
    relay = relay_to(bind_tcp(server))
    client = curve_client(cctx.socket(cmod.REQ), client_keys, server_keys[0])
    client.setsockopt(cmod.ROUTING_ID, b"client-identity")
    client.connect(relay.endpoint)
    payloads = [SECRET + b"%d" % i * (1 + i * 40) for i in range(20)]
    for p in payloads:
        request(client, server, p)
    with gevent.Timeout(10):
        big = SECRET * 20000
        client.send_multipart([SECRET + b"part1", big])
        assert server.recv_multipart() == [SECRET + b"part1", big]
        server.send(b"ok")
        client.recv()
    up, down = relay.data("up"), relay.data("down")
    assert_opaque(up + down, SECRET, b"re:" + SECRET, b"Socket-Type", b"client-identity", b"REQ\x08")

    # Handshake as libzmq frames it (ZMTP.md §9.1): greetings name CURVE, then
    # HELLO 200 / INITIATE (long command) up, WELCOME 168 / READY down.
    assert up[12:17] == b"CURVE" and down[12:17] == b"CURVE"
    up_frames, down_frames = frames(up[64:]), frames(down[64:])
    assert up_frames[0][0] == 0x04 and len(up_frames[0][1]) == 200 and up_frames[0][1][:6] == b"\x05HELLO"
    assert up_frames[1][0] == 0x06 and up_frames[1][1][:9] == b"\x08INITIATE"
    assert down_frames[0][0] == 0x04 and len(down_frames[0][1]) == 168
    assert down_frames[1][1][:6] == b"\x05READY"
    # Traffic: MESSAGE boxes in message frames, outer flags 00/02 only, nonces rising.
    for direction, fs in (("up", up_frames[2:]), ("down", down_frames[2:])):
        assert fs, f"no traffic {direction}"
        assert {f for f, _ in fs} <= {0x00, 0x02}, direction
        assert all(body[:8] == b"\x07MESSAGE" for _, body in fs), direction
        nonces = [int.from_bytes(body[8:16], "big") for _, body in fs]
        assert nonces == sorted(set(nonces)), direction
    assert [int.from_bytes(b[8:16], "big") for _, b in up_frames[2:4]] == [3, 4]      # after HELLO, INITIATE
    assert [int.from_bytes(b[8:16], "big") for _, b in down_frames[2:4]] == [2, 3]    # after READY


@pytest.mark.parametrize("server_lib,client_lib", PAIRS, ids=PAIR_IDS)
def test_curve_pub_sub_wire_hides_topics(libs, relay_to, server_lib, client_lib, server_keys, client_keys):
    smod, sctx = libs[server_lib]
    cmod, cctx = libs[client_lib]
    pub = curve_server(sctx.socket(smod.PUB), server_keys)
    relay = relay_to(bind_tcp(pub))
    sub = curve_client(cctx.socket(cmod.SUB), client_keys, server_keys[0])
    topic = b"classified-topic"
    sub.setsockopt(cmod.SUBSCRIBE, topic)
    sub.connect(relay.endpoint)
    assert publish_until_received(pub, sub, [topic, SECRET]) == [topic, SECRET]
    sub.setsockopt(cmod.UNSUBSCRIBE, topic)
    sub.setsockopt(cmod.SUBSCRIBE, b"other-" + topic)
    with gevent.Timeout(10):
        while True:   # wait for the new subscription to go through the relay, observably
            pub.send_multipart([b"other-" + topic, SECRET])
            if sub.poll(20):
                msg = sub.recv_multipart()
                if msg[0] == b"other-" + topic:
                    break
    assert_opaque(relay.data("up") + relay.data("down"), topic, SECRET, b"SUBSCRIBE", b"CANCEL")


def test_curve_heartbeats_are_boxed(libs, relay_to, green, server_keys, client_keys):
    """PING/PONG from libzmq travel as boxed commands (plaintext flag bit 1) and gzmq answers."""
    server = curve_server(libs["gzmq"][1].socket(gzmq.REP), server_keys)
    relay = relay_to(bind_tcp(server))
    client = curve_client(libs["libzmq"][1].socket(green.REQ), client_keys, server_keys[0])
    client.setsockopt(green.HEARTBEAT_IVL, 50)
    client.setsockopt(green.HEARTBEAT_TIMEOUT, 5000)
    client.connect(relay.endpoint)
    request(client, server)
    base_up, base_down = relay.count("up"), relay.count("down")
    # Each PING (40-byte body) is answered by a PONG (38-byte body) inside MESSAGE boxes.
    relay.wait(lambda: len(relay.data("down")) >= base_down + 3 * 40, timeout=10, what="3 PONGs")
    assert b"PING" not in relay.data("up") and b"PONG" not in relay.data("down")
    pongs = [b for _, b in frames(relay.data("down")[base_down:])]
    assert all(len(b) == 38 and b[:8] == b"\x07MESSAGE" for b in pongs)
    assert relay.count("up") > base_up
    request(client, server)   # the session is still healthy


def open_raw_curve_client(endpoint, client_keys, server_public):
    """A CURVE DEALER built from gzmq's sans-IO codec on a bare socket, so a test can put any
    bytes it likes on the wire after the handshake."""
    from gevent import socket as gsocket
    from gzmq.utils import z85
    from gzmq.zmtp import Ready, ZMTPConnection
    from gzmq.zmtp.mechanisms.curve import CurveClient
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    sock = gsocket.create_connection((host, int(port)))
    conn = ZMTPConnection("DEALER", mechanism=CurveClient(
        z85.decode(client_keys[0]), z85.decode(client_keys[1]), z85.decode(server_public)))
    sock.sendall(conn.data_to_send())
    with gevent.Timeout(10):
        while True:
            data = sock.recv(65536)
            assert data, "server closed during the handshake"
            events = conn.receive_data(data)
            if conn.has_data_to_send():
                sock.sendall(conn.data_to_send())
            if any(isinstance(e, Ready) for e in events):
                return sock, conn


def wait_closed(sock):
    with gevent.Timeout(10, AssertionError("the server kept the connection")):
        while sock.recv(65536):
            pass


@pytest.mark.parametrize("server_lib", ["gzmq", "libzmq"])
@pytest.mark.parametrize("attack", ["replay", "reorder"])
def test_replayed_or_reordered_box_drops_the_connection(libs, events, server_lib, attack,
                                                        server_keys, client_keys):
    mod, ctx = libs[server_lib]
    server = curve_server(ctx.socket(mod.ROUTER), server_keys)
    server_events = events(server)
    sock, conn = open_raw_curve_client(bind_tcp(server), client_keys, server_keys[0])
    try:
        first, second = [], []
        conn.encode_message([b"first"], first)
        conn.encode_message([b"second"], second)
        first, second = b"".join(first), b"".join(second)
        if attack == "replay":
            sock.sendall(first)
            with gevent.Timeout(10):
                assert server.recv_multipart()[1:] == [b"first"]
            sock.sendall(first)               # the same box again
        else:
            sock.sendall(second)              # a later nonce first...
            with gevent.Timeout(10):
                assert server.recv_multipart()[1:] == [b"second"]
            sock.sendall(first)               # ...then an earlier one
        if server_lib == "gzmq":
            wait_closed(sock)
            server_events.wait(gzmq.Event.DISCONNECTED)
        else:
            # libzmq 4.3.5 (measured): reports INVALID_SEQUENCE and stops reading that
            # connection (nothing after it is delivered), but leaves the TCP stream open.
            value = server_events.wait(gzmq.Event.HANDSHAKE_FAILED_PROTOCOL)
            assert value == gzmq.PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE
        assert not server.poll(0), "the replayed/reordered box was delivered"
    finally:
        sock.close()
