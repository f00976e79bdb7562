"""The bridge embedded in a bottle app (bridge.embed) on the real stack: examples/embed/app.py on
gevent's pywsgi with gevent-websocket, websocket-client and raw-socket browsers, pyzmq peers
(a publisher, a Mongrel2 handler), and headless Chromium running bridge.js and BigPipe."""
import json
import os
import time

import pytest

from wskit import Client, fetch, recv_json, recv_until, send_json

PEERS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bridge", "peers")


def op(ws, doc):
    send_json(ws, doc)
    reply, _ = recv_until(ws, lambda m: m.get("id") == doc["id"])
    return reply


def test_websocket_ops_publish_request_and_errors(embed_app):
    ws, other = embed_app.ws(), embed_app.ws()
    assert op(ws, {"op": "subscribe", "topic": "chat", "id": 1}) == {"op": "reply", "id": 1, "status": 200, "body": ""}
    assert op(other, {"op": "subscribe", "topic": "chat", "id": 1})["status"] == 200
    # A publish goes out through the forwarder and back to every subscribed browser.
    deadline = time.monotonic() + 10
    while True:                              # the first publishes may precede the subscription's arrival
        assert op(other, {"op": "publish", "topic": "chat", "data": "hi", "id": "p"})["status"] == 200
        ws.settimeout(0.5)
        try:
            msg, _ = recv_until(ws, lambda m: m.get("op") == "message")
            break
        except Exception:
            assert time.monotonic() < deadline, "publishes never came back"
        finally:
            ws.settimeout(10)
    assert (msg["topic"], msg["data"]) == ("chat", "hi")
    reply = op(ws, {"op": "request", "id": 2, "path": "/api/thing?x=1"})
    assert reply["status"] == 200 and reply["body"].endswith("for /api/thing")
    assert op(ws, {"op": "request", "id": 3, "path": "/hello"})["body"] == "hello from a bottle view"
    assert op(ws, {"op": "request", "id": 4, "path": "/nowhere"})["status"] == 404
    send_json(ws, {"op": "nonsense", "id": 5})
    error, _ = recv_until(ws, lambda m: m.get("op") == "error")
    assert "unknown op" in error["error"] or "op" in error["error"]
    ws.send_binary(b"\x00\x01")
    error, _ = recv_until(ws, lambda m: m.get("op") == "error")
    assert "binary frames are not ops" in error["error"]
    assert op(ws, {"op": "unsubscribe", "topic": "chat", "id": 6})["status"] == 200   # still open
    ws.close()
    other.close()


def test_a_zeromq_publisher_reaches_browsers_and_sse(embed_app, pyzmq, zctx):
    pub = zctx.socket(pyzmq.PUB)
    pub.connect(embed_app.route("/live/")["pub"])      # the forwarder's XSUB side
    ws = embed_app.ws()
    op(ws, {"op": "subscribe", "topic": "news", "id": 1})
    sse = Client(embed_app.port, timeout=10)
    sse.request("GET", "/live/events?topic=news")
    status, headers = sse.read_head()
    assert status == 200 and dict(headers)["content-type"].startswith("text/event-stream")
    assert sse.read_chunk().startswith(b"retry: 2000")
    ws.settimeout(0.2)
    for n in range(200):                     # until the subscriptions have travelled
        pub.send_multipart([b"news", b"probe"])
        try:
            recv_until(ws, lambda m: m.get("op") == "message")
            break
        except Exception:
            pass
    ws.settimeout(10)
    pub.send_multipart([b"news/today", b"hello"])
    msg, _ = recv_until(ws, lambda m: m.get("data") == "hello")
    assert msg == {"op": "message", "topic": "news", "data": "hello", "full_topic": "news/today"}
    for _ in range(400):
        chunk = sse.read_chunk()
        if b'"hello"' in chunk:
            break
    event = dict(line.split(": ", 1) for line in chunk.decode().strip().split("\n"))
    assert json.loads(event["data"])["full_topic"] == "news/today"
    sse.close()
    ws.close()
    pub.close()


def test_http_forwarded_to_a_req_backend_keeps_status_and_headers(embed_app):
    resp = fetch(embed_app.port, "POST", "/api/items", body=b"{}", headers=[("Content-Type", "application/json")])
    assert resp.status == 200 and resp.header("x-backend") == "demo-rep"
    assert resp.body.startswith(b"time ") and resp.body.endswith(b"for /api/items")
    assert fetch(embed_app.port, "GET", "/live/").status == 426      # not an upgrade: says so
    assert fetch(embed_app.port, "GET", "/live/events").status == 400   # no topic
    js = fetch(embed_app.port, "GET", "/_bridge/bridge.js")
    assert js.status == 200 and b"GzmqBridge" in js.body


def test_bigpipe_page_from_a_bottle_view(embed_app):
    with Client(embed_app.port) as c:
        c.request("GET", "/?user=ann")
        status, headers = c.read_head()
        assert status == 200 and dict(headers)["transfer-encoding"] == "chunked"
        skeleton = c.read_chunk()
        assert b"Hello from bottle, ann" in skeleton and b'<div data-pagelet="clock"></div>' in skeleton
        rest = b""
        while True:
            part = c.read_chunk()
            if not part:
                break
            rest += part
        assert b'BigPipe.arrive({"id":"clock","status":"ok"' in rest and rest.rstrip().endswith(b"</body></html>")
    nojs = fetch(embed_app.port, "GET", "/?nojs=1")
    assert nojs.status == 200 and b'<p class="clock">It is' in nojs.body and b"BigPipe.arrive" not in nojs.body


def test_http_forwarded_to_a_mongrel2_handler(start_app):
    from httpkit import Process, peer
    app = start_app("--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*")
    route = app.route("/m2/")
    handler = Process(peer("m2_pyzmq_handler.py", route["send"], route["recv"]))
    try:
        end = time.monotonic() + 15
        while True:
            # (A request waits for the handler while it starts: give it the loop's budget.)
            resp = fetch(app.port, "GET", "/m2/echo?q=1", headers=[("X-Test", "yes")], timeout=15)
            if resp.status != 503 or time.monotonic() > end:
                break
        assert resp.status == 200, resp
        doc = resp.json()
        assert doc["path"] == "/m2/echo" and doc["headers"]["x-test"] == "yes"
        assert doc["headers"]["QUERY"] == "q=1" and doc["headers"]["PATTERN"] == "/m2/"
    finally:
        handler.stop()


def test_bad_embedding_input_is_refused_clearly(tmp_path):
    from bridge.bigpipe.page import PageError
    from bridge.embed import BridgePlugin, ConfigError
    with pytest.raises(ConfigError, match="static routes are not embedded"):
        BridgePlugin([f"/s/=static:{tmp_path}"])
    with pytest.raises(ConfigError, match="must look like /PREFIX=TARGET"):
        BridgePlugin(["live=pubsub:tcp://127.0.0.1:1"])
    plugin = BridgePlugin(["/live/=pubsub:tcp://127.0.0.1:1"])
    try:
        with pytest.raises(PageError):
            plugin.page([{"id": "x"}])                  # no endpoints
    finally:
        plugin.close()


@pytest.mark.browser
def test_chromium_runs_bridge_js_and_bigpipe_in_the_embedding_app(embed_app, chromium_bin, tmp_path, deadline):
    from cdp import Chromium
    browser = Chromium(chromium_bin, str(tmp_path))
    try:
        page = browser.page()
        with deadline(60):
            page.navigate(f"http://127.0.0.1:{embed_app.port}/?user=bob")
            page.wait_for("document.querySelector('[data-pagelet=clock] .clock') !== null")
            page.wait_for("document.documentElement.dataset.ready === '1'")
            page.wait_for("document.getElementById('api').textContent.indexOf('time ') === 0")
            page.wait_for("document.getElementById('hello').textContent === 'hello from a bottle view'")
            # Another browser's publish reaches the page through the forwarder, and the page's own too.
            other = embed_app.ws()
            send_json(other, {"op": "publish", "topic": "chat", "data": "from websocket-client", "id": 1})
            recv_json(other)
            page.evaluate("bridge.publish('chat', 'from chromium')")
            page.wait_for("Array.from(document.querySelectorAll('#chat li')).map(li => li.textContent)"
                          ".indexOf('from websocket-client') >= 0")
            page.wait_for("Array.from(document.querySelectorAll('#chat li')).map(li => li.textContent)"
                          ".indexOf('from chromium') >= 0")
            other.close()
        page.close()
    finally:
        browser.stop()


def test_wsgi_middleware_around_a_plain_wsgi_app(pyzmq, zctx):
    """BridgePlugin.middleware(app): the plugin's paths to the bridge, the rest to the app."""
    import threading

    import websocket
    from httpkit import Process, python
    from wskit import Publisher
    publisher = Publisher(pyzmq, zctx)
    rep = zctx.socket(pyzmq.REP)
    rep.setsockopt(pyzmq.LINGER, 0)
    rep_port = rep.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            if rep.poll(50):
                req = json.loads(rep.recv())
                rep.send_json({"status": 201, "headers": {"X-Seen": req["method"]}, "body": req["path"]})

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    app = Process(python(os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers", "middleware_app.py"),
                         publisher.endpoint, "tcp://127.0.0.1:1", f"tcp://127.0.0.1:{rep_port}"))
    try:
        port = int(app.readline().split()[-1])
        assert fetch(port, "GET", "/somewhere").body == b"plain app: /somewhere"
        resp = fetch(port, "PUT", "/api/x", body=b"1")
        assert (resp.status, resp.header("x-seen"), resp.body) == (201, "PUT", b"/api/x")
        ws = websocket.create_connection(f"ws://127.0.0.1:{port}/live/", timeout=10)
        assert op(ws, {"op": "subscribe", "topic": "t", "id": 1})["status"] == 200
        assert publisher.subscription() == (True, b"t")
        publisher.send(b"t", b"hello")
        msg, _ = recv_until(ws, lambda m: m.get("op") == "message")
        assert msg["data"] == "hello"
        assert op(ws, {"op": "request", "id": 2, "path": "/elsewhere"})["body"] == "plain app: /elsewhere"
        ws.close()
        assert publisher.subscription() == (False, b"t")      # the last browser left: unsubscribed
    finally:
        app.stop()
        stop.set()
        thread.join(5)
        rep.close()
        publisher.close()
