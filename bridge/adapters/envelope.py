"""The JSON envelope of ``req:`` routes: one HTTP request in, one HTTP response out.

The bridge sends each request as ONE frame of UTF-8 JSON to a REP (or ROUTER) backend:

    {"id": "7f3c...-42",           unique per request (also the routing frame, see below)
     "method": "POST",
     "path": "/api/items",         the full request path, percent-encoding untouched
     "query": "a=1&b=2",           the raw query string, "" when absent (Mongrel2's QUERY)
     "version": "HTTP/1.1",
     "headers": {"host": "...", "accept": ["a", "b"]},   names lower-cased; repeats as a list
     "remote_addr": "127.0.0.1",
     "pattern": "/api/",           the route prefix that matched
     "body": "...",                the body as text when it is valid UTF-8, else base64
     "body_base64": false}         true when "body" is base64 (binary bodies)

The backend answers with one frame of JSON:

    {"status": 200,                default 200
     "headers": {"Content-Type": "text/html"} or [["Set-Cookie", "a=1"], ...],
     "body": "text" | null | any other JSON value,
     "body_base64": false}         true: "body" is base64 of the raw bytes

A string body is sent as UTF-8 (Content-Type defaults to ``text/plain; charset=utf-8``);
with ``body_base64`` it is decoded first (default ``application/octet-stream``); any other
JSON value (object, list, number, bool) is sent JSON-encoded as ``application/json``; null or
a missing body is empty. The bridge sets Content-Length itself and drops hop-by-hop headers
(Connection, Transfer-Encoding, Content-Length, Keep-Alive) from the reply.

Framing on the wire: the bridge's DEALER sends ``[id, "", json]``. A REP backend sees only
``json`` and its reply returns along the same envelope; a ROUTER backend receives
``[peer, id, "", json]`` and must send back ``[peer, id, "", reply]``.

Pure. Raises EnvelopeError for a reply that breaks these rules (the bridge answers 502).
Used by bridge.backends.req and bridge.handler.
"""
from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

if TYPE_CHECKING:
    from bridge import http11

Buffer = Union[bytes, bytearray, memoryview]

__all__ = ["EnvelopeError", "encode_request", "decode_request", "encode_reply", "decode_reply"]

_HOP_BY_HOP = {"connection", "transfer-encoding", "content-length", "keep-alive", "upgrade",
               "proxy-connection", "te", "trailer"}


class EnvelopeError(ValueError):
    """A message that is not a valid envelope."""


def _body_fields(body: Buffer) -> Tuple[str, bool]:
    raw = bytes(body)
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii"), True


def encode_request(request_id: Any, req: http11.Request, remote_addr: str, pattern: str) -> bytes:
    """The JSON bytes for ``req`` (a bridge.http11.Request)."""
    headers: Dict[str, Any] = {}
    for name, value in req.headers:
        old = headers.get(name)
        if old is None:
            headers[name] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            headers[name] = [old, value]
    body, is_b64 = _body_fields(req.body)
    doc = {"id": request_id, "method": req.method, "path": req.path, "query": req.query,
           "version": req.version, "headers": headers, "remote_addr": remote_addr,
           "pattern": pattern, "body": body, "body_base64": is_b64}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_request(data: Buffer) -> Dict[str, Any]:
    """Parse a request envelope; ``body`` in the result is bytes. Raises EnvelopeError."""
    doc = _load(data, "request")
    for key in ("method", "path"):
        if not isinstance(doc.get(key), str):
            raise EnvelopeError(f"request field {key!r} must be a string")
    doc.setdefault("query", "")
    doc.setdefault("headers", {})
    doc["body"] = _body_bytes(doc.get("body"), doc.get("body_base64"), "request")[0]
    return doc


def encode_reply(status: int = 200, headers: Optional[Dict[str, Any]] = None, body: Any = b"") -> bytes:
    """Build reply JSON; bytes bodies that are not UTF-8 travel as base64."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        body, is_b64 = _body_fields(body)
    else:
        is_b64 = False
    doc = {"status": status, "headers": headers or {}, "body": body, "body_base64": is_b64}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode_reply(data: Buffer) -> Tuple[int, List[Tuple[str, str]], bytes]:
    """Parse a backend's reply into (status, [(name, value)], body bytes).

    Raises EnvelopeError when the reply is not JSON or breaks the envelope rules.
    """
    doc = _load(data, "reply")
    status = doc.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 999:
        raise EnvelopeError(f"reply status {status!r} is not an HTTP status code")
    raw = doc.get("headers") or {}
    pairs: List[Tuple[Any, Any]]
    if isinstance(raw, dict):
        pairs = [(k, x) for k, v in raw.items() for x in (v if isinstance(v, list) else [v])]
    elif isinstance(raw, list) and all(isinstance(p, list) and len(p) == 2 for p in raw):
        pairs = [(p[0], p[1]) for p in raw]
    else:
        raise EnvelopeError("reply headers must be an object or a list of [name, value] pairs")
    headers: List[Tuple[str, str]] = []
    for name, raw_value in pairs:
        if not isinstance(name, str) or not isinstance(raw_value, (str, int)):
            raise EnvelopeError(f"bad reply header {name!r}: {raw_value!r}")
        value = str(raw_value)
        if any(c in name + value for c in "\r\n\0") or not name or ":" in name:
            raise EnvelopeError(f"reply header {name!r} contains a forbidden character")
        if name.lower() not in _HOP_BY_HOP:
            headers.append((name, value))
    body, default_type = _body_bytes(doc.get("body"), doc.get("body_base64"), "reply")
    if default_type and body and not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", default_type))
    return status, headers, body


def _load(data: Buffer, what: str) -> Dict[str, Any]:
    try:
        doc = json.loads(bytes(data).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise EnvelopeError(f"{what} is not UTF-8 JSON: {e}") from None
    if not isinstance(doc, dict):
        raise EnvelopeError(f"{what} must be a JSON object")
    return doc


def _body_bytes(body: Any, is_b64: Any, what: str) -> Tuple[bytes, Optional[str]]:
    """Return (bytes, default Content-Type) for an envelope body."""
    if body is None:
        return b"", None
    if is_b64:
        if not isinstance(body, str):
            raise EnvelopeError(f"{what} body_base64 needs a string body")
        try:
            return base64.b64decode(body, validate=True), "application/octet-stream"
        except (binascii.Error, ValueError):
            raise EnvelopeError(f"{what} body is not valid base64") from None
    if isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(body, separators=(",", ":")).encode("utf-8"), "application/json"
