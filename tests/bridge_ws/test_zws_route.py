"""``zws:`` routes: ZeroMQ over WebSocket (ZWS 2.0) on the bridge's own port, joined to a
backend endpoint. The peers: gzmq's own ws:// client, jszmq (bare ZWS2.0, in Node.js),
headless Chromium running zmq.html with bridge.js's GzmqBridge.zmq; the backends are pyzmq
(libzmq) sockets, which see the browser as one more peer: its subscription arrives at the
XPUB, its requests at the REP. Last, the same page straight to gzmq sockets bound on ws://."""
import json
import os
import socket
from types import SimpleNamespace

import pytest

import gzmq
from cdp import Chromium
from conftest import EchoREP
from wskit import REPO, Publisher, fetch, free_port

from tests.tools.jspeer import JsPeer

WWW = os.path.join(REPO, "examples", "bridge", "www")


@pytest.fixture
def backends(pyzmq, zctx, bridge_factory):
    """A bridge with zws: routes to a pyzmq XPUB (/zmq/soccer), the envelope echo REP
    (/zmq/echo) and a plain pyzmq REP the test drives (/zmq/raw)."""
    publisher = Publisher(pyzmq, zctx)
    rep = EchoREP(pyzmq, zctx)
    raw = zctx.socket(pyzmq.REP)
    raw.setsockopt(pyzmq.LINGER, 0)
    raw_port = raw.bind_to_random_port("tcp://127.0.0.1")
    bridge = bridge_factory("--route", f"/zmq/soccer=zws:{publisher.endpoint}",
                            "--route", f"/zmq/echo=zws:{rep.endpoint}",
                            "--route", f"/zmq/raw=zws:tcp://127.0.0.1:{raw_port}", "--static", f"/={WWW}")
    yield SimpleNamespace(bridge=bridge, publisher=publisher, rep=rep, raw=raw)
    publisher.close()
    rep.close()
    raw.close()


def _envelope(body):
    return json.dumps({"method": "POST", "path": "/zmq/echo", "query": "", "headers": {}, "body": body}).encode()


def test_gzmq_ws_clients_through_the_route(backends, deadline):
    bridge, publisher = backends.bridge, backends.publisher
    ctx = gzmq.Context()
    try:
        with deadline(30):
            req = ctx.socket(gzmq.REQ)
            req.connect(f"ws://127.0.0.1:{bridge.port}/zmq/echo")
            req.send(_envelope("over zws"))
            assert req.poll(10000)
            reply = json.loads(req.recv())
            assert reply["status"] == 201 and reply["body"]["body"] == "over zws"
            sub = ctx.socket(gzmq.SUB)
            sub.subscribe(b"spain")
            sub.connect(f"ws://127.0.0.1:{bridge.port}/zmq/soccer")
            assert publisher.subscription() == (True, b"spain")   # the backend's own XPUB sees it
            publisher.send(b"germany goal")
            publisher.send(b"spain corner")
            assert sub.poll(10000) and sub.recv() == b"spain corner"
    finally:
        ctx.destroy(linger=0)


def test_jszmq_through_the_route(backends, deadline):
    # jszmq speaks the bare ZWS2.0 (routing-id messages, no READY): relayed too, the bridge
    # giving the backend a READY in its name.
    raw = backends.raw
    peer = JsPeer("ws_peer.js", "jszmq", "req", f"ws://127.0.0.1:{backends.bridge.port}/zmq/raw",
                  "connect", package="jszmq")
    try:
        with deadline(30):
            for i in range(3):
                assert raw.poll(10000), backends.bridge.log()
                assert raw.recv_multipart() == [b"q%d" % i, b"part"]
                raw.send(b"a%d" % i)
                assert peer.line() == f"reply a{i}"
            peer.finish()
    finally:
        peer.kill()


def _upgrade_request(port, path, protocol="ZWS2.0/NULL", origin=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    headers = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket",
               "Connection: Upgrade", "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==",
               "Sec-WebSocket-Version: 13"]
    if protocol:
        headers.append(f"Sec-WebSocket-Protocol: {protocol}")
    if origin:
        headers.append(f"Origin: {origin}")
    s.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
    data = s.recv(4096)
    s.close()
    return data.split(b"\r\n", 1)[0]


def test_refusals(backends, bridge_factory, deadline):
    bridge = backends.bridge
    with deadline(30):
        assert fetch(bridge.port, "GET", "/zmq/echo").status == 426        # plain HTTP
        assert _upgrade_request(bridge.port, "/zmq/echo", protocol=None).startswith(b"HTTP/1.1 400")
        assert _upgrade_request(bridge.port, "/zmq/echo", protocol="chat").startswith(b"HTTP/1.1 400")
        assert _upgrade_request(bridge.port, "/zmq/echo").startswith(b"HTTP/1.1 101")
        dead = bridge_factory("--route", f"/zmq/dead=zws:tcp://127.0.0.1:{free_port()}",
                              "--ws-origins", "http://good.example")
        assert _upgrade_request(dead.port, "/zmq/dead").startswith(b"HTTP/1.1 503")
        assert _upgrade_request(dead.port, "/zmq/dead", origin="http://evil.example").startswith(b"HTTP/1.1 403")


@pytest.fixture
def page(chromium_bin, tmp_path):
    browser = Chromium(chromium_bin, str(tmp_path))
    page = browser.page()
    yield page
    page.close()
    browser.stop()


@pytest.mark.browser
def test_the_browser_is_a_sub_and_a_req(backends, page, deadline):
    bridge, publisher = backends.bridge, backends.publisher
    with deadline(60):
        page.navigate(f"http://127.0.0.1:{bridge.port}/zmq.html?topic=netherlands")
        page.wait_for("document.documentElement.dataset.ready === '1'")
        # The page's SUB subscribed at the backend's own XPUB: no bridge socket in between.
        assert publisher.subscription() == (True, b"netherlands")
        publisher.send(b"germany goal by Musiala (3')")
        publisher.send(b"netherlands goal by Gakpo (7')")
        page.wait_for("document.querySelectorAll('#events li').length >= 1")
        assert page.evaluate("Array.from(document.querySelectorAll('#events li')).map(li => li.textContent)") \
            == ["netherlands goal by Gakpo (7')"]
        # The page's REQ asks the echo REP (a JSON envelope, as the req: route would send).
        page.wait_for("document.getElementById('req-state').textContent === 'open'")
        reply = page.evaluate("window.zmqDemo.ask().then(() => window.lastReply)")
        assert reply["status"] == 201
        assert reply["body"]["body"] == "hello from a ZeroMQ REQ in the browser"
        assert page.evaluate("document.getElementById('sub-state').textContent") == "open"


@pytest.mark.browser
def test_the_browser_talks_to_gzmq_ws_directly(bridge_factory, page, deadline):
    # No zws: route: the page (served by a static-only bridge) opens its WebSockets straight to
    # gzmq sockets bound on ws://, which take the bare ZWS2.0 browsers speak.
    bridge = bridge_factory("--static", f"/={WWW}")
    ctx = gzmq.Context()
    try:
        xpub = ctx.socket(gzmq.XPUB)
        xpub.bind("ws://127.0.0.1:*/news")
        rep = ctx.socket(gzmq.REP)
        rep.bind("ws://127.0.0.1:*/echo")
        sub_url, req_url = xpub.LAST_ENDPOINT.decode(), rep.LAST_ENDPOINT.decode()
        with deadline(60):
            page.navigate(f"http://127.0.0.1:{bridge.port}/zmq.html?topic=spain&sub={sub_url}&req={req_url}")
            page.wait_for("document.documentElement.dataset.ready === '1'")
            assert xpub.poll(20000) and xpub.recv() == b"\x01spain"
            xpub.send(b"italy corner")
            xpub.send(b"spain goal")
            page.wait_for("document.querySelectorAll('#events li').length >= 1")
            assert page.evaluate("Array.from(document.querySelectorAll('#events li')).map(li => li.textContent)") \
                == ["spain goal"]
            page.wait_for("document.getElementById('req-state').textContent === 'open'")
            page.evaluate("window.zmqDemo.ask(); 0")
            assert rep.poll(20000)
            request = json.loads(rep.recv())
            rep.send(json.dumps({"status": 200, "body": {"body": request["body"].upper()}}).encode())
            page.wait_for("window.lastReply !== undefined")
            assert page.evaluate("window.lastReply.body.body") == "HELLO FROM A ZEROMQ REQ IN THE BROWSER"
    finally:
        ctx.destroy(linger=0)
