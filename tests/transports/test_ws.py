"""ws:// specifics with scripted raw peers (a plain TCP socket driving gzmq.zws by hand):
refused upgrades, an idle upgrade bounded by HANDSHAKE_IVL, the Origin allow-list, MAXMSGSIZE,
broken frames after the upgrade. Each drops that one peer with a logged reason; the socket
goes on serving the next one. Interop with zeromq.js and jszmq: tests/interop/test_ws_peers.py."""
import logging
from gevent import socket  # cooperative: in in-hub mode the engine runs on this hub

import pytest

import gzmq
import gzmq.auth
from gzmq.zmtp import commands
from gzmq.zws import frames, handshake


def _host_port(endpoint):
    hostport = endpoint.split("://", 1)[1].split("/", 1)[0]
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


def _raw(endpoint):
    s = socket.create_connection(_host_port(endpoint), timeout=10)
    return s


def _read_all(s):
    chunks = []
    while True:
        try:
            data = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def _upgrade(s, endpoint, origin=None):
    hs = handshake.ClientHandshake("%s:%d" % _host_port(endpoint), "/", b"NULL", origin=origin)
    s.sendall(hs.request())
    while hs.receive_data(s.recv(4096)) is None:
        pass
    return hs


def _works(rep, endpoint):
    """A well-behaved gzmq peer still gets through after whatever the raw peer did."""
    req = rep.context.socket(gzmq.REQ)
    req.connect(endpoint)
    req.send(b"ping")
    assert rep.poll(10000) and rep.recv() == b"ping"
    rep.send(b"pong")
    assert req.poll(10000) and req.recv() == b"pong"
    req.close(linger=0)


@pytest.fixture
def rep(gctx):
    s = gctx.socket(gzmq.REP)
    yield s
    s.close(linger=0)


@pytest.mark.parametrize("garbage, status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"426"),
    (b"\x16\x03\x01 not http at all\r\n\r\n", b"400"),
    (b"GET / HTTP/1.1\r\nX: " + b"y" * 10000, b"431"),
])
def test_bad_upgrades_are_refused(rep, deadline, caplog, garbage, status):
    rep.bind("ws://127.0.0.1:*")
    ep = rep.LAST_ENDPOINT.decode()
    with caplog.at_level(logging.WARNING, logger="gzmq"), deadline(20):
        s = _raw(ep)
        s.sendall(garbage)
        assert _read_all(s).split(b" ")[1] == status
        s.close()
        _works(rep, ep)
    assert "WebSocket upgrade failed" in caplog.text


def test_idle_upgrade_is_bounded_by_handshake_ivl(rep, deadline, caplog):
    rep.setsockopt(gzmq.HANDSHAKE_IVL, 200)
    rep.bind("ws://127.0.0.1:*")
    ep = rep.LAST_ENDPOINT.decode()
    with caplog.at_level(logging.WARNING, logger="gzmq"), deadline(20):
        s = _raw(ep)
        s.sendall(b"GET / HTTP/1.1\r\n")       # ... and nothing more
        assert _read_all(s).startswith(b"HTTP/1.1 400")
        s.close()
        _works(rep, ep)
    assert "HANDSHAKE_IVL" in caplog.text


def test_origin_allow_list(rep, deadline):
    rep.setsockopt(gzmq.WS_ALLOWED_ORIGINS, b"http://good.example, http://also.example")
    rep.bind("ws://127.0.0.1:*")
    ep = rep.LAST_ENDPOINT.decode()
    with deadline(20):
        s = _raw(ep)
        hs = handshake.ClientHandshake("x", "/", b"NULL", origin="http://evil.example")
        s.sendall(hs.request())
        assert _read_all(s).startswith(b"HTTP/1.1 403")
        s.close()
        s = _raw(ep)
        _upgrade(s, ep, origin="http://also.example")    # listed: upgraded
        s.close()
        _works(rep, ep)                                  # no Origin (not a browser): upgraded


def test_broken_frames_after_the_upgrade_drop_the_peer(rep, deadline, caplog):
    rep.setsockopt(gzmq.MAXMSGSIZE, 1000)
    rep.bind("ws://127.0.0.1:*")
    ep = rep.LAST_ENDPOINT.decode()
    cases = [frames.encode_frame(frames.TEXT, b"hello", b"abcd"),                 # text
             frames.encode_zmtp_frame(0, b"x", None),                              # unmasked
             b"\x82\xff" + (1 << 40).to_bytes(8, "big") + b"abcd"]                 # 1 TiB
    with caplog.at_level(logging.WARNING, logger="gzmq"), deadline(20):
        for bad in cases:
            s = _raw(ep)
            _upgrade(s, ep)
            s.sendall(bad)
            reply = _read_all(s)
            assert b"\x88" in reply            # a close frame, then the connection ends
            s.close()
        _works(rep, ep)
    assert caplog.text.count("dropping peer") >= 3


def test_a_zws_null_peer_by_hand(rep, deadline):
    # RFC 45 with ZWS2.0/NULL: READY commands as binary messages with the command flag, then
    # one message per frame; masked from the client.
    rep.bind("ws://127.0.0.1:*/any/path")
    ep = rep.LAST_ENDPOINT.decode()
    assert ep.endswith("/any/path")
    with deadline(20):
        s = _raw(ep)
        hs = _upgrade(s, ep)
        assert hs.protocol == "ZWS2.0/NULL"
        ready = commands.command_body(commands.READY, commands.encode_metadata([("Socket-Type", "REQ")]))
        mask = b"\x11\x22\x33\x44"
        s.sendall(frames.encode_zmtp_frame(frames.COMMAND_FLAG, ready, mask)
                  + frames.encode_zmtp_frame(frames.MORE_FLAG, b"", mask)
                  + frames.encode_zmtp_frame(0, b"question", mask))
        assert rep.poll(10000) and rep.recv() == b"question"
        rep.send(b"answer")
        decoder = frames.FrameDecoder(require_mask=False)
        got = list(decoder.receive_data(hs.rest))
        while len(got) < 3:
            got += decoder.receive_data(s.recv(4096))
        assert got[0].flags == frames.COMMAND_FLAG and got[0].body.startswith(b"\x05READY")
        assert got[1:3] == [frames.Frame(frames.MORE_FLAG, b""), frames.Frame(0, b"answer")]
        s.close()


def test_every_socket_type_over_ws(gctx, deadline):
    # The transport is the same for every type; one pattern each way is enough here.
    with deadline(20):
        pull = gctx.socket(gzmq.PULL)
        pull.bind("ws://127.0.0.1:*")
        push = gctx.socket(gzmq.PUSH)
        push.connect(pull.LAST_ENDPOINT)
        push.send(b"x" * 100000)
        assert pull.poll(10000) and len(pull.recv()) == 100000
        server = gctx.socket(gzmq.SERVER)
        server.bind("ws://127.0.0.1:*")
        client = gctx.socket(gzmq.CLIENT)
        client.connect(server.LAST_ENDPOINT)
        client.send(b"c")
        assert server.poll(10000)
        frame = server.recv(copy=False)
        server.send(b"s", routing_id=frame.routing_id)
        assert client.poll(10000) and client.recv() == b"s"
        for s in (pull, push, server, client):
            s.close(linger=0)


@pytest.mark.parametrize("mechanism", ["PLAIN", "CURVE"])
def test_security_mechanisms_over_ws(gctx, deadline, mechanism):
    # The subprotocol names the mechanism (ZWS2.0/PLAIN, ZWS2.0/CURVE); its handshake and,
    # for CURVE, the encrypted frames travel as ZWS messages.
    server = gctx.socket(gzmq.REP)
    client = gctx.socket(gzmq.REQ)
    auth = None
    if mechanism == "PLAIN":
        auth = gzmq.auth.GreenletAuthenticator(gctx)      # gzmq's PLAIN needs a ZAP handler
        auth.start()
        auth.configure_plain(passwords={"admin": "secret"})
        server.setsockopt(gzmq.PLAIN_SERVER, 1)
        client.setsockopt(gzmq.PLAIN_USERNAME, b"admin")
        client.setsockopt(gzmq.PLAIN_PASSWORD, b"secret")
    else:
        server_public, server_secret = gzmq.curve_keypair()
        client_public, client_secret = gzmq.curve_keypair()
        server.setsockopt(gzmq.CURVE_SERVER, 1)
        server.setsockopt(gzmq.CURVE_SECRETKEY, server_secret)
        client.setsockopt(gzmq.CURVE_SERVERKEY, server_public)
        client.setsockopt(gzmq.CURVE_PUBLICKEY, client_public)
        client.setsockopt(gzmq.CURVE_SECRETKEY, client_secret)
    with deadline(20):
        server.bind("ws://127.0.0.1:*")
        client.connect(server.LAST_ENDPOINT)
        client.send(b"secret question")
        assert server.poll(10000)
        frame = server.recv(copy=False)
        assert frame.bytes == b"secret question"
        if mechanism == "PLAIN":
            assert frame.get("User-Id") == "admin"
        server.send(b"answer")
        assert client.poll(10000) and client.recv() == b"answer"
    for s in (server, client):
        s.close(linger=0)
    if auth is not None:
        auth.stop()
