"""Write backends for the bridge (or for a real Mongrel2) on gzmq, with m2py's names.

Mongrel2 handler protocol::

    from bridge.handler import Connection
    conn = Connection("54c6755b-9628-40a4-9a2d-cc82a816345e",   # sender id (informational)
                      "tcp://127.0.0.1:9997",                  # the server's send_spec: PULL
                      "tcp://127.0.0.1:9996")                  # the server's recv_spec: PUB
    while True:
        req = conn.recv()
        if req.is_disconnect():
            continue
        conn.reply_http(req, b"hello")
        if req.should_close():
            conn.close(req)

Differences from m2py (Mongrel2's examples/python/mongrel2), all deliberate: bodies are bytes
and str is sent as UTF-8 (m2py 1.13 breaks binary bodies), Content-Length counts bytes, a
``deliver`` to more than 128 ids is split into several replies instead of being refused by the
server, ``recv`` takes an optional timeout, and ``cancel``/``keep_alive`` send Mongrel2's ``X
ctl`` replies.

JSON envelope (``req:`` routes, bridge.adapters.envelope)::

    from bridge.handler import serve_envelope
    serve_envelope("tcp://127.0.0.1:5555", lambda req: {"status": 200, "body": "hi " + req["path"]})

Both use ZeroMQ only through bridge.zmqlib, so they run on gzmq (and under gevent).
"""
from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from bridge import m2wire
from bridge.adapters import envelope
from bridge.zmqlib import zmq

__all__ = ["Request", "Connection", "serve_envelope", "http_response"]

log = logging.getLogger("bridge.handler")

#: A body to send: bytes-like, or str (sent as UTF-8).
Body = Union[bytes, bytearray, memoryview, str]
#: Response headers: a mapping, or (name, value) pairs.
Headers = Union[Mapping[str, Any], Iterable[Tuple[str, Any]], None]
#: A request's headers as Mongrel2 sends them: str values, a list of str for a repeated header.
RequestHeaders = Dict[str, Any]


def _bytes(data: Body) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def http_response(body: Body, code: int = 200, status: Optional[str] = None, headers: Headers = None) -> bytes:
    """A whole HTTP/1.1 response as bytes, with Content-Length (in bytes) set."""
    body = _bytes(body)
    if status is None:
        try:
            status = HTTPStatus(code).phrase
        except ValueError:
            status = "Unknown"
    lines = [f"HTTP/1.1 {code} {status}"]
    items: Iterable[Tuple[str, Any]] = headers.items() if isinstance(headers, Mapping) else (headers or [])
    lines += [f"{k}: {v}" for k, v in items if k.lower() != "content-length"]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Request:
    """One message from the server. ``headers`` values are str, or a list for repeated headers."""

    def __init__(self, sender: str, conn_id: int, path: str, headers: RequestHeaders, body: bytes) -> None:
        self.sender = sender
        self.conn_id = conn_id
        self.path = path
        self.headers = headers
        self.body = body
        self.data: Any = {}
        if headers.get("METHOD") == "JSON":
            try:
                self.data = json.loads(body)
            except ValueError:
                self.data = {}

    @classmethod
    def parse(cls, msg: bytes) -> Request:
        r = m2wire.parse_request(msg)
        return cls(r.sender, r.conn_id, r.path, r.headers, r.body)

    @property
    def method(self) -> Optional[str]:
        return self.headers.get("METHOD")

    def is_disconnect(self) -> bool:
        """True for the server's ``@*`` {"type":"disconnect"} message."""
        return self.headers.get("METHOD") == "JSON" and isinstance(self.data, dict) \
            and self.data.get("type") == "disconnect"

    def should_close(self) -> bool:
        """True when the client asked to close after this request (or speaks HTTP/1.0)."""
        connection = self.headers.get("connection", "")
        if isinstance(connection, list):
            connection = ",".join(connection)
        tokens = {t.strip().lower() for t in connection.split(",")}
        if "close" in tokens:
            return True
        return self.headers.get("VERSION") == "HTTP/1.0" and "keep-alive" not in tokens

    def __repr__(self) -> str:
        return f"<Request {self.sender} {self.conn_id} {self.method} {self.path}>"


def _endpoints(spec: Union[str, Sequence[str]]) -> List[str]:
    return [e.strip() for e in spec.split(",") if e.strip()] if isinstance(spec, str) else list(spec)


class Connection:
    """A handler's two sockets: PULL from the server's send_spec, PUB to its recv_spec.
    Either may be several comma-separated endpoints (a bridge with several workers, or several
    Mongrel2 servers): the sockets connect to each."""

    def __init__(self, sender_id: str, sub_addr: str, pub_addr: str, context: Optional[zmq.Context] = None) -> None:
        self.sender_id = sender_id
        self.sub_addr = sub_addr
        self.pub_addr = pub_addr
        self._own_context = context is None
        self.context = context or zmq.Context()
        # PUB first: the server's subscription should reach it before the first request does.
        self.resp = self.context.socket(zmq.PUB)
        self.resp.setsockopt(zmq.LINGER, 1000)
        for addr in _endpoints(pub_addr):
            self.resp.connect(addr)
        self.reqs = self.context.socket(zmq.PULL)
        self.reqs.setsockopt(zmq.LINGER, 0)
        for addr in _endpoints(sub_addr):
            self.reqs.connect(addr)

    # -- receiving

    def recv(self, timeout: Optional[float] = None) -> Optional[Request]:
        """The next Request; with ``timeout`` (seconds), None if nothing came in time."""
        if timeout is not None and not self.reqs.poll(int(timeout * 1000)):
            return None
        return Request.parse(self.reqs.recv())

    def recv_json(self, timeout: Optional[float] = None) -> Optional[Request]:
        req = self.recv(timeout)
        if req is not None and not req.data:
            req.data = json.loads(req.body)
        return req

    # -- replying to one request's connection

    def send(self, uuid: str, conn_id: Union[int, str], msg: Body) -> None:
        """Raw reply ``msg`` to one connection of server ``uuid``."""
        self.resp.send(m2wire.encode_reply(uuid, [int(conn_id)], _bytes(msg)))

    def reply(self, req: Request, msg: Body) -> None:
        self.send(req.sender, req.conn_id, msg)

    def reply_json(self, req: Request, data: Any) -> None:
        self.reply(req, json.dumps(data))

    def reply_http(self, req: Request, body: Body, code: int = 200, status: Optional[str] = None,
                   headers: Headers = None) -> None:
        self.reply(req, http_response(body, code, status, headers))

    def close(self, req: Request) -> None:
        """Close the client connection behind ``req`` (an empty reply)."""
        self.reply(req, b"")

    def cancel(self, req: Request) -> None:
        """Drop the client connection without a disconnect message back (``X ctl cancel``)."""
        self.resp.send(m2wire.encode_extended_reply(req.sender, [req.conn_id], "ctl", {"cancel": True}))

    def keep_alive(self, req: Request) -> None:
        """Reset the server's idle timer for the connection (``X ctl keep-alive``)."""
        self.resp.send(m2wire.encode_extended_reply(req.sender, [req.conn_id], "ctl",
                                                    {"keep-alive": True}))

    # -- replying to many connections

    def deliver(self, uuid: str, idents: Iterable[Union[int, str]], data: Body) -> None:
        """Send ``data`` raw to every connection in ``idents`` (batches of 128)."""
        ids = [int(i) for i in idents]
        raw = _bytes(data)
        for start in range(0, len(ids), m2wire.MAX_TARGETS):
            self.resp.send(m2wire.encode_reply(uuid, ids[start:start + m2wire.MAX_TARGETS], raw))

    def deliver_json(self, uuid: str, idents: Iterable[Union[int, str]], data: Any) -> None:
        self.deliver(uuid, idents, json.dumps(data))

    def deliver_http(self, uuid: str, idents: Iterable[Union[int, str]], body: Body, code: int = 200,
                     status: Optional[str] = None, headers: Headers = None) -> None:
        self.deliver(uuid, idents, http_response(body, code, status, headers))

    def deliver_close(self, uuid: str, idents: Iterable[Union[int, str]]) -> None:
        self.deliver(uuid, idents, b"")

    # -- lifetime

    def shutdown(self) -> None:
        """Close both sockets (and the context, if this Connection made it)."""
        self.reqs.close()
        self.resp.close()
        if self._own_context:
            self.context.term()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


#: What a ``serve_envelope`` app returns: ``{"status", "headers", "body"}``, a tuple
#: ``(status, headers, body)``, or just a body (str, bytes or any JSON value).
Reply = Union[Dict[str, Any], Tuple[int, Optional[Dict[str, Any]], Any], str, bytes, List[Any], int, float, None]


def _as_reply(result: Reply) -> bytes:
    if isinstance(result, dict):
        return envelope.encode_reply(result.get("status", 200), result.get("headers"), result.get("body"))
    if isinstance(result, tuple):
        return envelope.encode_reply(*result)
    return envelope.encode_reply(200, None, result)


def serve_envelope(endpoint: str, app: Callable[[Dict[str, Any]], Reply], bind: bool = True,
                   context: Optional[zmq.Context] = None, count: Optional[int] = None) -> None:
    """Answer ``req:`` route requests with ``app(request) -> reply`` on a REP socket.

    ``request`` is the decoded envelope dict (``body`` as bytes). ``app`` returns a dict
    ``{"status", "headers", "body"}``, a tuple ``(status, headers, body)``, or just a body
    (str, bytes, or any JSON value). An exception in ``app`` answers 500. ``bind=False``
    connects instead (to a broker); ``count`` stops after that many requests (for tests).
    """
    own = context is None
    context = context or zmq.Context()
    sock = context.socket(zmq.REP)
    sock.setsockopt(zmq.LINGER, 1000)
    (sock.bind if bind else sock.connect)(endpoint)
    served = 0
    try:
        while count is None or served < count:
            data = sock.recv()
            try:
                reply = _as_reply(app(envelope.decode_request(data)))
            except Exception:
                log.exception("envelope app failed")
                reply = envelope.encode_reply(500, None, "Internal Server Error\n")
            sock.send(reply)
            served += 1
    finally:
        sock.close()
        if own:
            context.term()
