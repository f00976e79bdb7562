"""ws:// (ZWS 2.0, RFC 45) against real peers in Node.js (tests/js/ws_peer.js), both ways:
zeromq.js, whose libzmq 4.3.5 speaks ZWS2.0/NULL, and jszmq, a JavaScript implementation that
speaks the bare ZWS2.0 subprotocol (routing-id messages instead of a security handshake).
Neither installed pyzmq (libzmq 4.3.4 from Debian, 4.3.5 from PyPI) is built with ws://, so
these two are the libzmq-side peers."""
import pytest

import gzmq

from tests.tools.jspeer import JsPeer

from .support import recv_within

pytestmark = pytest.mark.interop
LIBS = [pytest.param("zeromq", id="zeromqjs"), pytest.param("jszmq", id="jszmq")]


@pytest.fixture
def js():
    started = []

    def start(lib, *args):
        p = JsPeer("ws_peer.js", lib, *args, package=lib)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def _bind_endpoint(lib):
    # jszmq's bind needs a concrete port (zeromq.js gets the same, for one code path).
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"ws://127.0.0.1:{port}/zmq"


@pytest.mark.parametrize("lib", LIBS)
def test_gzmq_req_to_js_rep(gctx, js, deadline, lib):
    with deadline(20):
        rep = js(lib, "rep", _bind_endpoint(lib), "bind")
        req = gctx.socket(gzmq.REQ)
        req.connect(rep.endpoint)
        for i in range(3):
            req.send_multipart([b"r%d" % i, b"x" * (300 * i)])   # short and long frames
            assert rep.line() == f"got r{i}|" + "x" * (300 * i)
            assert recv_within(req, 10000) == [b"echo", b"r%d" % i, b"x" * (300 * i)]
        rep.stop()


@pytest.mark.parametrize("lib", LIBS)
def test_js_req_to_gzmq_rep(gctx, js, deadline, lib):
    with deadline(20):
        rep = gctx.socket(gzmq.REP)
        rep.bind("ws://127.0.0.1:*/zmq")
        req = js(lib, "req", rep.LAST_ENDPOINT.decode(), "connect")
        for i in range(3):
            assert recv_within(rep, 10000) == [b"q%d" % i, b"part"]
            rep.send_multipart([b"a%d" % i])
            assert req.line() == f"reply a{i}"
        req.finish()


@pytest.mark.parametrize("lib", LIBS)
def test_js_sub_to_gzmq_xpub(gctx, js, deadline, lib):
    with deadline(20):
        pub = gctx.socket(gzmq.XPUB)
        pub.bind("ws://127.0.0.1:*")
        sub = js(lib, "sub", pub.LAST_ENDPOINT.decode(), "connect")
        # The subscription arrives over ws (a 0x01 message, or a SUBSCRIBE command): publish then.
        assert recv_within(pub, 10000) == [b"\x01a"]
        for i in range(3):
            pub.send_multipart([b"b", b"%d" % i])      # filtered out at the publisher
            pub.send_multipart([b"a", b"%d" % i])
        assert sub.lines(3) == ["msg a|0", "msg a|1", "msg a|2"]
        sub.finish()


@pytest.mark.parametrize("lib", LIBS)
def test_gzmq_sub_to_js_pub(gctx, js, deadline, lib):
    with deadline(20):
        pub = js(lib, "pub", _bind_endpoint(lib), "bind")
        sub = gctx.socket(gzmq.SUB)
        sub.subscribe(b"a")
        sub.connect(pub.endpoint)
        for _ in range(3):
            topic, _n = recv_within(sub, 10000)
            assert topic == b"a"          # the publisher filtered on our subscription
        pub.stop()
        assert pub.line() == "done"


@pytest.mark.parametrize("lib", LIBS)
def test_js_dealer_to_gzmq_router(gctx, js, deadline, lib):
    with deadline(20):
        router = gctx.socket(gzmq.ROUTER)
        router.bind("ws://127.0.0.1:*")
        dealer = js(lib, "dealer", router.LAST_ENDPOINT.decode(), "connect")
        rid, body = recv_within(router, 10000)
        assert body == b"hello" and rid
        router.send_multipart([rid, b"hi"])
        assert dealer.line() == "reply hi"
        dealer.finish()


def test_gzmq_dealer_to_zeromqjs_router(gctx, js, deadline):
    with deadline(20):
        router = js("zeromq", "router", "ws://127.0.0.1:*", "bind")
        dealer = gctx.socket(gzmq.DEALER)
        dealer.setsockopt(gzmq.IDENTITY, b"me")
        dealer.connect(router.endpoint)
        dealer.send(b"hey")
        assert router.line() == "got hey"
        assert recv_within(dealer, 10000) == [b"welcome"]
        router.stop()


def test_gzmq_plain_client_to_zeromqjs_plain_server(gctx, js, deadline):
    # The subprotocol carries the mechanism: ZWS2.0/PLAIN, then PLAIN's HELLO/WELCOME/INITIATE/
    # READY as ZWS command messages.
    with deadline(20):
        rep = js("zeromq", "rep_plain", "ws://127.0.0.1:*", "bind")
        req = gctx.socket(gzmq.REQ)
        req.setsockopt(gzmq.PLAIN_USERNAME, b"admin")
        req.setsockopt(gzmq.PLAIN_PASSWORD, b"secret")
        req.connect(rep.endpoint)
        req.send(b"let me in")
        assert rep.line() == "got let me in"
        assert recv_within(req, 10000) == [b"welcome"]
        rep.stop()
