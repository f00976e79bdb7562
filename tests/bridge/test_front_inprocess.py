"""In-process tests of the front: the bottle apps under wsgiref.validate (as bottle's own tests
do), the handler library's Request, and the connection loop on a scripted socket (one send
per small response, TCP_NODELAY on: gevent issue 1233)."""
import io
import json
import socket
import wsgiref.util
from wsgiref.validate import validator

import gevent
import pytest
from gevent.event import Event

from bridge.config import Config
from bridge.front.app import internal_app, static_app
from bridge.front.connection import Connection
from bridge.handler import Request, http_response
from bridge.metrics import Metrics
from bridge.routing import Route, StaticTarget
from bridge.server import Bridge


def call(app, path, method="GET", headers=None, script_name=""):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": script_name,
               "QUERY_STRING": "", "wsgi.input": io.BytesIO(b""), **(headers or {})}
    wsgiref.util.setup_testing_defaults(environ)
    out = {}

    def start_response(status, hdrs, exc_info=None):
        out["status"], out["headers"] = status, {k.lower(): v for k, v in hdrs}
        return lambda data: None

    result = validator(app)(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()
    return int(out["status"].split()[0]), out["headers"], body


@pytest.fixture
def www(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "index.html").write_text("home")
    (tmp_path / "root" / "a.txt").write_text("A")
    (tmp_path / "secret").write_text("no")
    return tmp_path / "root"


def test_static_app_under_validate(www):
    app = static_app(str(www))
    assert call(app, "/a.txt")[2] == b"A"
    assert call(app, "/")[2] == b"home"
    status, headers, _ = call(app, "/a.txt")
    assert headers["content-type"].startswith("text/plain")
    assert call(app, "/a.txt", headers={"HTTP_IF_NONE_MATCH": headers["etag"]})[0] == 304
    assert call(app, "/../secret")[0] == 403
    assert call(app, "//etc/passwd")[0] == 404
    assert call(app, "/a.txt", method="POST")[0] == 405


def test_internal_app_under_validate():
    class FakeBridge:
        metrics = Metrics()

        def health(self):
            return {"status": "ok", "listen": "127.0.0.1:1", "uuid": "u", "routes": []}

        def render_metrics(self):
            return self.metrics.render()

    app = internal_app(FakeBridge())
    status, headers, body = call(app, "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    status, headers, body = call(app, "/metrics")
    assert headers["content-type"].startswith("text/plain")
    assert b"bridge_open_connections 0" in body
    # Moved to an admin listener (or off): the main listener's app keeps only the scripts.
    app = internal_app(FakeBridge(), admin=False)
    assert call(app, "/health")[0] == call(app, "/metrics")[0] == 404
    assert call(app, "/bridge.js")[0] == 200


@pytest.mark.parametrize("path, method, expected", [
    ("/missing.html", "GET", b"404 Not Found: File does not exist.\n"),
    ("/../secret", "GET", b"403 Forbidden: Access denied.\n"),
    ("/a.txt", "POST", b"405 Method Not Allowed: Method not allowed.\n"),
])
def test_static_errors_are_the_bridges_not_bottles(www, path, method, expected):
    status, headers, body = call(static_app(str(www)), path, method=method)
    assert (status, body) == (int(expected[:3]), expected)
    assert headers["content-type"] == "text/plain; charset=utf-8"


def test_internal_app_unknown_path_is_the_bridges_404():
    status, headers, body = call(internal_app(None, admin=False), "/nothing", script_name="/_bridge")
    assert status == 404 and body.startswith(b"404 Not Found: ") and b"<" not in body
    assert headers["content-type"] == "text/plain; charset=utf-8"


def test_handler_request():
    msg = (b'uuid 7 /p 78:{"PATH":"/p","connection":"close","METHOD":"GET","VERSION":"HTTP/1.1","x":"y"},0:,')
    req = Request.parse(msg)
    assert (req.sender, req.conn_id, req.path, req.method) == ("uuid", 7, "/p", "GET")
    assert req.should_close() and not req.is_disconnect()
    dc = Request.parse(b'uuid 7 @* 17:{"METHOD":"JSON"},21:{"type":"disconnect"},')
    assert dc.is_disconnect() and dc.data == {"type": "disconnect"}
    assert http_response("é", 201, headers={"A": "b"}) == (
        b"HTTP/1.1 201 Created\r\nA: b\r\nContent-Length: 2\r\n\r\n\xc3\xa9")


class ScriptedSocket:
    """Hands out scripted bytes, then blocks until shutdown; records every send."""

    def __init__(self, incoming):
        self.incoming = list(incoming)
        self.sent, self.options = [], []
        self._released = Event()

    def setsockopt(self, *args):
        self.options.append(args)

    def recv(self, n):
        if self.incoming:
            return self.incoming.pop(0)
        self._released.wait()
        return b""

    def send(self, data, flags=0, timeout=None):
        self.sent.append(bytes(data))
        return len(data)

    def sendall(self, data):
        self.sent.append(bytes(data))

    def shutdown(self, how):
        self._released.set()

    def close(self):
        self._released.set()


def test_small_responses_go_out_in_one_send_with_nodelay(www, deadline):
    config = Config(listen=("127.0.0.1", 0), routes=[Route("/", StaticTarget(str(www)))])
    bridge = Bridge(config)
    try:
        sock = ScriptedSocket([b"GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n"
                               b"GET /_bridge/health HTTP/1.1\r\nHost: h\r\n\r\n"
                               b"GET /nope/../a.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"])
        with deadline(5):
            gevent.spawn(Connection(bridge.site, sock, ("127.0.0.1", 1234)).serve).join()
        assert (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1) in sock.options
        assert len(sock.sent) == 3                 # head and body together, each time
        assert sock.sent[0].startswith(b"HTTP/1.1 200 OK\r\n") and sock.sent[0].endswith(b"\r\n\r\nA")
        assert b'"status": "ok"' in sock.sent[1]
        assert b"Connection: close" in sock.sent[2]
    finally:
        bridge.stop()
