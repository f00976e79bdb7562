"""The WebSocket opening handshake (RFC 6455 section 4.2), server side: checks and responses.

Pure: a parsed bridge.http11.Request in, bytes out. ``is_upgrade`` says whether a request asks
for a WebSocket at all (Mongrel2's test, src/connection.c ``Request_is_websocket``);
``check`` validates it fully and returns the Sec-WebSocket-Accept value or raises
``HandshakeError`` (status, reason, extra headers) that ``refusal`` turns into a complete
HTTP response. ``accepted`` is the 101.

Why not gevent-websocket's ``WebSocketHandler.upgrade_websocket``: it answers refusals with
``str`` bodies (a TypeError under Python 3, gevent issues 1664 and 2009), sends status "402 Bad
Request" to HTTP/1.0 clients, lets a bad base64 key escape as binascii.Error (a 500), and
sends the 101 before the application can refuse (BRIDGE.md section 5.2, bugs 3, 4 and 11).
Here every check runs first and every answer is bytes. Used by bridge.front.realtime.
"""
import base64
import binascii
import hashlib

from bridge.http11 import error_body, response_head
from bridge.ws import deflate

__all__ = ["HandshakeError", "is_upgrade", "check", "accept_key", "accepted", "refusal",
           "origin_allowed", "negotiate_compression"]

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeError(Exception):
    def __init__(self, status, reason, headers=()):
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason
        self.headers = list(headers)


def _tokens(value):
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def is_upgrade(req):
    """Does ``req`` ask to switch to WebSocket? (Upgrade: websocket, Connection: upgrade.)"""
    upgrade = req.header("upgrade")             # None for nearly every request: say so at once
    return upgrade is not None and "websocket" in _tokens(upgrade) and "upgrade" in _tokens(req.header("connection"))


def accept_key(key):
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(sha1(key + GUID))."""
    key = key.encode("latin-1") if isinstance(key, str) else key
    return base64.b64encode(hashlib.sha1(key.strip() + GUID).digest()).decode("ascii")


def origin_allowed(origin, allowed):
    """``allowed`` is a collection of origins (``https://example.com``) or empty for any.

    Browsers always send Origin with a WebSocket handshake; a request without one comes from a
    non-browser client, which an origin list does not concern (it is not a CSRF vector).
    """
    if not allowed or origin is None:
        return True
    return origin.strip().lower().rstrip("/") in {o.lower().rstrip("/") for o in allowed}


def check(req, allowed_origins=()):
    """Validate an upgrade request; return the accept value or raise HandshakeError."""
    if req.method != "GET":
        raise HandshakeError(405, "a WebSocket handshake must be a GET", [("Allow", "GET")])
    if req.version != "HTTP/1.1":
        raise HandshakeError(400, "a WebSocket handshake needs HTTP/1.1")
    if not req.header("host"):
        raise HandshakeError(400, "missing Host header")
    if not is_upgrade(req):
        raise HandshakeError(426, "this URL speaks WebSocket only",
                             [("Upgrade", "websocket"), ("Connection", "Upgrade")])
    version = (req.header("sec-websocket-version") or "").strip()
    if version != "13":
        raise HandshakeError(426, f"unsupported Sec-WebSocket-Version {version!r} (13 only)",
                             [("Sec-WebSocket-Version", "13")])
    key = (req.header("sec-websocket-key") or "").strip()
    try:
        raw = base64.b64decode(key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) != 16:
        raise HandshakeError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    if not origin_allowed(req.header("origin"), allowed_origins):
        raise HandshakeError(403, f"origin {req.header('origin')!r} is not allowed")
    return accept_key(key)


def negotiate_compression(req, enabled=True):
    """``(PerMessageDeflate, Sec-WebSocket-Extensions value)`` for the client's first acceptable
    permessage-deflate offer (bridge.ws.deflate), or ``(None, None)``."""
    if not enabled:
        return None, None
    offers = [value for name, value in req.headers if name == "sec-websocket-extensions"]
    return deflate.negotiate(offers) if offers else (None, None)


def accepted(accept, protocol=None, extensions=None):
    """The 101 Switching Protocols response."""
    headers = [("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)]
    if protocol:
        headers.append(("Sec-WebSocket-Protocol", protocol))
    if extensions:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    return response_head(101, headers)


def refusal(status, reason, headers=()):
    """A complete plain-text HTTP error response that closes the connection."""
    body = error_body(status, reason)
    head = [*headers, ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
            ("Connection", "close")]
    return response_head(status, head) + body
