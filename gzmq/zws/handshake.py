"""The HTTP/1.1 upgrade that opens a ZWS 2.0 connection (RFC 6455 section 4, RFC 45), both ends.

Pure: bytes in, bytes out. Subprotocols as libzmq's ws_engine: a client offers
`ZWS2.0/NULL,ZWS2.0` (NULL), `ZWS2.0/PLAIN` or `ZWS2.0/CURVE` after its mechanism; a server
picks the first offered one its own mechanism allows, where the bare `ZWS2.0` (JSZMQ's) means
no security handshake at all: each side's first message is its routing id, as in ZMTP 2.0.

ServerHandshake.receive_data(bytes) -> None (needs more) or the request, then response()
gives the 101 (or refusal) bytes; ClientHandshake.request() gives the GET, receive_data()
parses the 101. Refusals raise HandshakeError with the HTTP status to answer (server) and a
reason; the header block is bounded (MAX_HEADER_BYTES).
"""
import base64
import hashlib
import os
from dataclasses import dataclass, field

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEADER_BYTES = 8192
BARE = "ZWS2.0"
PROTOCOLS = {b"NULL": ("ZWS2.0/NULL", BARE), b"PLAIN": ("ZWS2.0/PLAIN",), b"CURVE": ("ZWS2.0/CURVE",)}


class HandshakeError(Exception):
    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.status = status


def accept_key(key):
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + GUID).digest()).decode("ascii")


@dataclass
class Request:
    path: str
    headers: dict = field(default_factory=dict)      # lower-case name -> value (last wins)
    protocols: list = field(default_factory=list)    # offered subprotocols, in order


def _split_head(buf):
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > MAX_HEADER_BYTES:
            raise HandshakeError(f"HTTP header block larger than {MAX_HEADER_BYTES} bytes", 431)
        return None, None
    if end > MAX_HEADER_BYTES:
        raise HandshakeError(f"HTTP header block larger than {MAX_HEADER_BYTES} bytes", 431)
    try:
        text = bytes(buf[:end]).decode("latin-1")
    except UnicodeDecodeError:    # pragma: no cover - latin-1 decodes anything
        raise HandshakeError("undecodable HTTP header") from None
    lines = text.split("\r\n")
    headers = {}
    protocols = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HandshakeError(f"malformed HTTP header line {line[:40]!r}")
        name = name.lower()
        value = value.strip()
        headers[name] = value
        if name == "sec-websocket-protocol":
            protocols += [p.strip() for p in value.split(",") if p.strip()]
    return (lines[0], headers, protocols), bytes(buf[end + 4:])


def _has_token(value, token):
    return any(t.strip().lower() == token for t in value.split(","))


class ServerHandshake:
    """The accepting side: parse the GET, choose a subprotocol for `mechanism` (b"NULL", ...)."""

    def __init__(self, mechanism, allowed_origins=()):
        self.mechanism = mechanism
        self.allowed_origins = tuple(allowed_origins)
        self._buf = bytearray()
        self.request = None
        self.protocol = None
        self.rest = b""          # bytes after the header block (the peer's first frames)

    def receive_data(self, data):
        self._buf += data
        parsed, rest = _split_head(self._buf)
        if parsed is None:
            return None
        line, headers, protocols = parsed
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1":
            raise HandshakeError(f"not a WebSocket upgrade request: {line[:60]!r}")
        if not _has_token(headers.get("upgrade", ""), "websocket") or \
                not _has_token(headers.get("connection", ""), "upgrade"):
            raise HandshakeError("request lacks Upgrade: websocket / Connection: Upgrade", 426)
        if headers.get("sec-websocket-version") != "13":
            raise HandshakeError("Sec-WebSocket-Version is not 13", 426)
        key = headers.get("sec-websocket-key", "")
        try:
            if len(base64.b64decode(key, validate=True)) != 16:
                raise ValueError
        except ValueError:
            raise HandshakeError("bad Sec-WebSocket-Key") from None
        origin = headers.get("origin")
        if self.allowed_origins and origin is not None and origin not in self.allowed_origins:
            raise HandshakeError(f"origin {origin[:80]!r} is not allowed", 403)
        acceptable = PROTOCOLS.get(self.mechanism, ())
        chosen = next((p for p in protocols if p in acceptable), None)
        if chosen is None:
            raise HandshakeError(f"no acceptable subprotocol in {protocols!r} "
                                 f"(we speak {', '.join(acceptable)})")
        self.request = Request(parts[1], headers, protocols)
        self.protocol = chosen
        self._key = key
        self.rest = rest
        return self.request

    def response(self):
        return ("HTTP/1.1 101 Switching Protocols\r\n"
                "Upgrade: websocket\r\n"
                "Connection: Upgrade\r\n"
                f"Sec-WebSocket-Accept: {accept_key(self._key)}\r\n"
                f"Sec-WebSocket-Protocol: {self.protocol}\r\n\r\n").encode("ascii")


def refusal(exc):
    """The HTTP response for a HandshakeError (the connection closes after it)."""
    reason = {400: "Bad Request", 403: "Forbidden", 426: "Upgrade Required",
              431: "Request Header Fields Too Large"}.get(exc.status, "Bad Request")
    return (f"HTTP/1.1 {exc.status} {reason}\r\nConnection: close\r\nContent-Length: 0\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n").encode("ascii")


class ClientHandshake:
    def __init__(self, host, path, mechanism, origin=None):
        self.host = host
        self.path = path or "/"
        self.offered = PROTOCOLS.get(mechanism, ())
        self.key = base64.b64encode(os.urandom(16)).decode("ascii")
        self.origin = origin
        self._buf = bytearray()
        self.protocol = None
        self.rest = b""

    def request(self):
        lines = [f"GET {self.path} HTTP/1.1", f"Host: {self.host}", "Upgrade: websocket",
                 "Connection: Upgrade", f"Sec-WebSocket-Key: {self.key}",
                 f"Sec-WebSocket-Protocol: {','.join(self.offered)}", "Sec-WebSocket-Version: 13"]
        if self.origin:
            lines.append(f"Origin: {self.origin}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")

    def receive_data(self, data):
        """None until the whole response is in; then the chosen subprotocol."""
        self._buf += data
        parsed, rest = _split_head(self._buf)
        if parsed is None:
            return None
        line, headers, protocols = parsed
        parts = line.split(" ", 2)
        if len(parts) < 2 or parts[0] != "HTTP/1.1" or parts[1] != "101":
            raise HandshakeError(f"server refused the upgrade: {line[:80]!r}")
        if not _has_token(headers.get("upgrade", ""), "websocket") or \
                not _has_token(headers.get("connection", ""), "upgrade"):
            raise HandshakeError("101 response lacks Upgrade/Connection headers")
        if headers.get("sec-websocket-accept") != accept_key(self.key):
            raise HandshakeError("wrong Sec-WebSocket-Accept")
        if len(protocols) != 1 or protocols[0] not in self.offered:
            raise HandshakeError(f"server chose subprotocol {protocols!r}, we offered {list(self.offered)!r}")
        self.protocol = protocols[0]
        self.rest = rest
        return self.protocol
