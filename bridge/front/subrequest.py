"""The ``request`` op: a browser's request over its WebSocket, routed like an HTTP request.

``SubRequests(bridge).run(op, host, remote_addr)`` builds an HTTP request from the op (method
``op.method``, else POST with a body and GET without; the WebSocket's Host; the op's headers;
Content-Type application/json for a JSON body), matches it against the same route table as
HTTP requests on that host, and blocks until the answer: ``(status, body bytes)``.

  - ``req:`` routes: the JSON envelope on the route's DEALER; 504 after the route's timeout.
  - ``mongrel2:`` routes: the Mongrel2 request message under a connection id of its own; the
    handler's raw HTTP response is collected until complete (Content-Length, chunked, or the
    handler closing), then the handler gets the usual disconnect message. 504 after the
    route's ``timeout=`` (30 s when it has none).
  - static routes and ``/_bridge/*``: the same bottle apps as HTTP.
  - no route: 404; no backend connected: 503; other route kinds (pubsub, page): 501.
Runs in a greenlet owned by the WebSocket session (bridge.ws.topics), which kills it when the
browser leaves: the pending request is then forgotten.
"""
import logging
from urllib.parse import unquote_to_bytes

from gevent.event import AsyncResult, Event

from bridge.adapters import envelope
from bridge.adapters.mongrel2 import request_message
from bridge.front import wsgi
from bridge.http11 import Request, ResponseTracker

__all__ = ["SubRequests", "parse_response"]

log = logging.getLogger("bridge.subrequest")

DEFAULT_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 16 << 20
_HOP = {"host", "content-length", "transfer-encoding", "connection", "upgrade", "keep-alive", "te",
        "trailer", "expect"}


class _ReplyWaiter:
    """Stands in for a browser connection where ReqBackend delivers replies."""

    def __init__(self):
        self.result = AsyncResult()

    def deliver_reply(self, request_id, payload):
        self.result.set(payload)


class _ResponseCapture:
    """Stands in for a browser connection where a Mongrel2 handler writes its response."""

    def __init__(self, head_request):
        self.tracker = ResponseTracker(head_request=head_request)
        self.data = bytearray()
        self.done = Event()

    def deliver(self, data):
        if self.done.is_set():
            return
        if not data:                                # the handler closed: whatever came is it
            self.done.set()
            return
        self.data += data
        if self.tracker.feed(data) or self.tracker.upgraded or len(self.data) > MAX_RESPONSE_BYTES:
            self.done.set()

    def deliver_cancel(self):
        self.done.set()


def parse_response(raw):
    """(status, body) of a raw HTTP/1.x response (Content-Length, chunked or to the end)."""
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        raise ValueError("no complete response head")
    lines = bytes(raw[:end]).split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"bad status line {lines[0][:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    body = bytes(raw[end + 4:])
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        out, pos = bytearray(), 0
        while True:
            eol = body.find(b"\r\n", pos)
            if eol < 0:
                break
            size = int(body[pos:eol].split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                break
            out += body[eol + 2:eol + 2 + size]
            pos = eol + 2 + size + 2
        body = bytes(out)
    elif headers.get(b"content-length", b"").isdigit():
        body = body[:int(headers[b"content-length"])]
    return int(parts[1]), body


class SubRequests:
    def __init__(self, bridge):
        self.bridge = bridge

    def build(self, op, host):
        headers = [("host", host or "localhost")]
        headers += [(k, v) for k, v in op.headers if k not in _HOP]
        if op.content_type and not any(k == "content-type" for k, _ in headers):
            headers.append(("content-type", op.content_type))
        if op.body:
            headers.append(("content-length", str(len(op.body))))
        method = op.method or ("POST" if op.body else "GET")
        return Request(method, op.path, "HTTP/1.1", headers, op.body)

    def run(self, op, host, remote_addr):
        """Route ``op`` (bridge.adapters.ops.Request); block until ``(status, body)``."""
        bridge = self.bridge
        req = self.build(op, host)
        if req.path.startswith("/_bridge/"):
            return self._wsgi(bridge.internal_app, req, "/_bridge", remote_addr)
        route = bridge.routes.match(host, req.path)
        if route is None:
            return 404, b"Not Found\n"
        kind = route.kind
        if kind == "static":
            return self._wsgi(bridge.static_apps[route.target.directory], req,
                              route.prefix.rstrip("/"), remote_addr)
        if kind == "req":
            return self._req(route, req, remote_addr)
        if kind == "mongrel2":
            return self._mongrel2(route, req, remote_addr)
        return 501, f"route kind {kind!r} cannot answer a request op\n".encode()

    def _wsgi(self, app, req, script_name, remote_addr):
        path_info = unquote_to_bytes(req.path[len(script_name):]).decode("latin-1")
        environ = wsgi.make_environ(req, script_name, path_info, self.bridge.address, (remote_addr, 0))
        status, _headers, chunks, close = wsgi.call(app, environ)
        try:
            body = b"".join(chunks)
        finally:
            close()
        return status, body

    def _req(self, route, req, remote_addr):
        backend = self.bridge.backend_for(route)
        request_id = backend.new_id()
        waiter = _ReplyWaiter()
        if not backend.submit(request_id, envelope.encode_request(request_id, req, remote_addr, route.prefix),
                              waiter):
            return 503, b"Service Unavailable: no backend connected\n"
        try:
            payload = waiter.result.wait(route.target.timeout)
        finally:
            backend.forget(request_id)
        if not waiter.result.ready():
            return 504, b"Gateway Timeout: no reply from the backend in time\n"
        try:
            status, _headers, body = envelope.decode_reply(payload)
        except envelope.EnvelopeError as e:
            log.warning("route %s: bad reply from backend: %s", route.prefix, e)
            return 502, b"Bad Gateway: invalid reply from the backend\n"
        return status, body

    def _mongrel2(self, route, req, remote_addr):
        bridge = self.bridge
        backend = bridge.backend_for(route)
        conn_id = bridge.next_connection_id()
        capture = _ResponseCapture(req.method == "HEAD")
        bridge.connections[conn_id] = capture
        try:
            message = request_message(backend.uuid, conn_id, req, route.prefix, remote_addr, backend.protocol)
            if not backend.send(message):
                return 503, b"Service Unavailable: no backend connected\n"
            finished = capture.done.wait(route.target.timeout or DEFAULT_TIMEOUT)
        finally:
            if bridge.connections.get(conn_id) is capture:
                del bridge.connections[conn_id]
            backend.notify_disconnect(conn_id)
        if not finished:
            return 504, b"Gateway Timeout: no reply from the handler in time\n"
        try:
            return parse_response(capture.data)
        except ValueError as e:
            log.warning("route %s: bad response from handler: %s", route.prefix, e)
            return 502, b"Bad Gateway: invalid response from the handler\n"
