"""The ``request`` op: a browser's request over its WebSocket, routed like an HTTP request.

``build(op, host)`` makes the HTTP request from the op (method ``op.method``, else POST with
a body and GET without; the WebSocket's Host; the op's headers; Content-Type application/json
for a JSON body). bridge.front.site matches it against the same route table as HTTP requests
on that host and asks the route's service (``answer_request``, bridge.services), which blocks
until ``(status, body)``: req routes wait for the envelope's reply, mongrel2 routes collect the
handler's raw response here (``ResponseCapture``, ``parse_response``), static routes and
/_bridge/ run the same bottle apps as HTTP (``collect_wsgi``); pubsub and page routes answer
501. Runs in a greenlet owned by the WebSocket session (bridge.ws.topics), which kills it when
the browser leaves: the pending request is then forgotten.
"""
from gevent.event import Event

from bridge.front import wsgi
from bridge.http11 import ChunkedDecoder, HTTPError, Request, ResponseTracker

__all__ = ["build", "collect_wsgi", "ResponseCapture", "parse_response", "MAX_RESPONSE_BYTES"]

MAX_RESPONSE_BYTES = 16 << 20
_HOP = {"host", "content-length", "transfer-encoding", "connection", "upgrade", "keep-alive", "te",
        "trailer", "expect"}


def build(op, host):
    """The bridge.http11.Request a request op stands for."""
    headers = [("host", host or "localhost")]
    headers += [(k, v) for k, v in op.headers if k not in _HOP]
    if op.content_type and not any(k == "content-type" for k, _ in headers):
        headers.append(("content-type", op.content_type))
    if op.body:
        headers.append(("content-length", str(len(op.body))))
    method = op.method or ("POST" if op.body else "GET")
    return Request(method, op.path, "HTTP/1.1", headers, op.body)


collect_wsgi = wsgi.collect


class ResponseCapture:
    """A HandlerOutput that collects a Mongrel2 handler's response to a request op."""

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


_RESPONSE_HOP = _HOP | {"proxy-connection"}


def parse_response(raw, with_headers=False):
    """(status, body) of a raw HTTP/1.x response (Content-Length, chunked or to the end);
    ``with_headers``: (status, [(name, value)] without hop-by-hop ones, body)."""
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
        decoder = ChunkedDecoder()
        try:
            body = decoder.feed(body)
        except HTTPError as e:
            raise ValueError(f"bad chunked body: {e.reason}") from None
    elif headers.get(b"content-length", b"").isdigit():
        body = body[:int(headers[b"content-length"])]
    if with_headers:
        pairs = []
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip() and name.strip().lower() not in _RESPONSE_HOP:
                pairs.append((name.strip(), value.strip()))
        return int(parts[1]), pairs, body
    return int(parts[1]), body
