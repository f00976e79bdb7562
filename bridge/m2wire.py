"""Mongrel2 handler protocol and tnetstrings: bytes in, bytes out.

The wire format is Mongrel2 1.12's (src/request.c, src/handler_parser.rl; notes in
shared/BRIDGE.md section 1):

    request (server PUSH -> handler PULL):  UUID SP ID SP PATH SP netstring(headers) netstring(body)
    reply   (handler PUB -> server SUB):    UUID SP netstring("ID ID ...") SP BODY

Headers travel as JSON in a netstring (``protocol="json"``, Mongrel2's default) or as a
tnetstring dict (``protocol="tnetstring"``). A reply's BODY is raw bytes for the named
connections; an empty BODY closes them. A target list starting with ``X `` is an extended
reply whose body is a tnetstring list ``[key, args]`` (``ctl`` cancel/keep-alive/credits,
``sendfile``).

Pure: no sockets, no gevent, no clocks. Malformed input raises M2WireError and nothing else.
Used by bridge.backends.mongrel2 (the server side) and bridge.handler (the handler side).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Mapping, Sequence, Tuple, Union

#: bytes, or a str (encoded as UTF-8)
Text = Union[str, bytes, bytearray, memoryview]
#: Request headers to encode: a dict or (name, value) pairs; a value is a str or a list of str.
HeadersIn = Union[Mapping[Any, Any], Iterable[Tuple[Any, Any]]]

__all__ = [
    "M2WireError", "MAX_TARGETS", "valid_sender", "Request", "Reply",
    "dumps", "loads", "parse", "encode_headers", "encode_request", "request_prefix", "join_request",
    "encode_disconnect", "parse_request",
    "encode_reply", "encode_extended_reply", "parse_reply", "split_reply",
]

#: Mongrel2's limits.handler_targets: the most connection ids one reply may name.
MAX_TARGETS = 128

_UUID = re.compile(rb"[A-Za-z0-9-]+\Z")
_DISCONNECT_BODY = b'{"type":"disconnect"}'


def valid_sender(sender: Text) -> bool:
    """True when ``sender`` (str or bytes) is a usable UUID: ``[A-Za-z0-9-]+``."""
    return bool(_UUID.match(_text(sender)))


class M2WireError(ValueError):
    """Bytes that do not follow the Mongrel2 or tnetstring grammar."""


# --------------------------------------------------------------------------- tnetstrings


def dumps(value: Any) -> bytes:
    """Encode a value as a tnetstring (bytes).

    bytes and str become strings (str as UTF-8), int ``#``, float ``^``, bool ``!``,
    None ``~``, dict ``}`` and list/tuple ``]``.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        payload, tag = bytes(value), b","
    elif isinstance(value, str):
        payload, tag = value.encode("utf-8", "surrogateescape"), b","
    elif value is None:
        payload, tag = b"", b"~"
    elif value is True or value is False:
        payload, tag = (b"true" if value else b"false"), b"!"
    elif isinstance(value, int):
        payload, tag = str(value).encode(), b"#"
    elif isinstance(value, float):
        payload, tag = repr(value).encode(), b"^"
    elif isinstance(value, dict):
        payload, tag = b"".join(dumps(k) + dumps(v) for k, v in value.items()), b"}"
    elif isinstance(value, (list, tuple)):
        payload, tag = b"".join(dumps(v) for v in value), b"]"
    else:
        raise TypeError(f"cannot encode {type(value).__name__} as a tnetstring")
    return b"%d:%s%s" % (len(payload), payload, tag)


def _netstring_at(data: bytes, pos: int) -> Tuple[bytes, int]:
    """Split ``LEN:PAYLOAD`` at ``pos``; return (payload, index of the byte after it)."""
    colon = data.find(b":", pos, pos + 11)
    if colon <= pos:
        raise M2WireError(f"expected a length prefix at byte {pos}, saw {bytes(data[pos:pos + 12])!r}")
    digits = data[pos:colon]
    if not digits.isdigit() or (len(digits) > 1 and digits[:1] == b"0"):
        raise M2WireError(f"bad length prefix {bytes(digits)!r} at byte {pos}")
    end = colon + 1 + int(digits)
    if end >= len(data):
        raise M2WireError(f"length {int(digits)} at byte {pos} runs past the end of the data")
    return data[colon + 1:end], end


def parse(data: bytes, pos: int = 0) -> Tuple[Any, int]:
    """Decode one tnetstring at ``pos``; return (value, index after it).

    Strings decode to bytes (tnetstrings are binary-safe); dict keys decode to str.
    """
    payload, end = _netstring_at(data, pos)
    tag = data[end:end + 1]
    value: Any
    if tag == b",":
        value = bytes(payload)
    elif tag == b"#":
        try:
            value = int(payload)
        except ValueError:
            raise M2WireError(f"bad integer {bytes(payload)!r}") from None
    elif tag == b"^":
        try:
            value = float(payload)
        except ValueError:
            raise M2WireError(f"bad float {bytes(payload)!r}") from None
    elif tag == b"!":
        if payload not in (b"true", b"false"):
            raise M2WireError(f"bad boolean {bytes(payload)!r}")
        value = payload == b"true"
    elif tag == b"~":
        if payload:
            raise M2WireError("a null must be empty")
        value = None
    elif tag == b"]":
        value, i = [], 0
        while i < len(payload):
            item, i = parse(payload, i)
            value.append(item)
    elif tag == b"}":
        value, i = {}, 0
        while i < len(payload):
            key, i = parse(payload, i)
            if not isinstance(key, bytes):
                raise M2WireError("a dict key must be a string")
            if i >= len(payload):
                raise M2WireError(f"dict key {key!r} has no value")
            value[key.decode("utf-8", "surrogateescape")], i = parse(payload, i)
    else:
        raise M2WireError(f"unknown tnetstring type {bytes(tag)!r} at byte {end}")
    return value, end + 1


def loads(data: bytes) -> Any:
    """Decode a whole tnetstring; trailing bytes are an error."""
    value, end = parse(data)
    if end != len(data):
        raise M2WireError(f"{len(data) - end} trailing bytes after the tnetstring")
    return value


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class Request:
    """A parsed request message. ``headers`` values are str or a list of str."""

    sender: str
    conn_id: int
    path: str
    headers: Dict[str, Any]
    body: bytes


def _text(value: Text) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


def _str(value: Any) -> Any:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, (bytes, bytearray)) else value


def _header_items(headers: HeadersIn) -> Iterable[Tuple[Any, Any]]:
    return headers.items() if isinstance(headers, dict) else headers


# json.dumps with these arguments builds a new JSONEncoder on every call; one shared encoder
# takes a request's headers from 4.7 us to 2 us. No cycles are possible in a header dict.
_json_headers = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False).encode


def encode_headers(headers: HeadersIn, protocol: str = "json") -> bytes:
    """Encode headers (a dict or (name, value) pairs; value str or list) as Mongrel2 does."""
    if protocol == "json":
        try:                                    # the common case: str keys and values already
            text: str = _json_headers(headers if isinstance(headers, dict) else dict(headers))
        except TypeError:
            doc = {_str(k): ([_str(x) for x in v] if isinstance(v, (list, tuple)) else _str(v))
                   for k, v in _header_items(headers)}
            text = _json_headers(doc)
        blob = text.encode("utf-8", "surrogateescape")
        return b"%d:%s," % (len(blob), blob)
    if protocol == "tnetstring":
        return dumps({_str(k): ([_text(x) for x in v] if isinstance(v, (list, tuple)) else _text(v))
                      for k, v in _header_items(headers)})
    raise ValueError(f"unknown Mongrel2 header protocol {protocol!r} (json or tnetstring)")


def encode_request(sender: Text, conn_id: int, path: Text, headers: HeadersIn, body: Text = b"",
                   protocol: str = "json") -> bytes:
    """Build ``UUID ID PATH netstring(headers) netstring(body)``."""
    return join_request(request_prefix(sender, conn_id, path), encode_headers(headers, protocol), body)


def request_prefix(sender: Text, conn_id: int, path: Text) -> bytes:
    """``UUID ID PATH`` and a space, the part of a request that names its connection."""
    sender_b, path_b = _text(sender), _text(path)
    if not _UUID.match(sender_b):
        raise ValueError(f"sender {sender_b!r} must match [A-Za-z0-9-]+")
    if b" " in path_b:
        raise ValueError(f"path {path_b!r} must not contain a space")
    return b"%s %d %s " % (sender_b, conn_id, path_b)


def join_request(prefix: bytes, encoded_headers: bytes, body: Text = b"") -> bytes:
    """A request from request_prefix() and encode_headers() results, so that a sender of many
    messages with the same headers (a Mongrel2 WebSocket) encodes them once."""
    raw = _text(body) if isinstance(body, str) else bytes(body)
    return b"%s%s%d:%s," % (prefix, encoded_headers, len(raw), raw)


def encode_disconnect(sender: Text, conn_id: int, protocol: str = "json") -> bytes:
    """The message Mongrel2 sends a handler when connection ``conn_id`` goes away."""
    return encode_request(sender, conn_id, "@*", {"METHOD": "JSON"}, _DISCONNECT_BODY, protocol)


def parse_request(msg: Union[bytes, bytearray, memoryview]) -> Request:
    """Parse a request message (JSON or tnetstring headers). Raises M2WireError."""
    msg = bytes(msg)
    parts = msg.split(b" ", 3)
    if len(parts) != 4:
        raise M2WireError(f"expected 'UUID ID PATH HEADERS', saw {msg[:80]!r}")
    sender, conn_id, path, rest = parts
    if not _UUID.match(sender):
        raise M2WireError(f"bad sender {sender[:40]!r}")
    if not conn_id.isdigit():
        raise M2WireError(f"bad connection id {conn_id[:20]!r}")
    blob, end = _netstring_at(rest, 0)
    tag = rest[end:end + 1]
    headers: Dict[str, Any]
    if tag == b",":
        try:
            headers = json.loads(blob.decode("utf-8", "surrogateescape"))
        except ValueError as e:
            raise M2WireError(f"headers are not JSON: {e}") from None
        if not isinstance(headers, dict):
            raise M2WireError("JSON headers must be an object")
    elif tag == b"}":
        headers = {k: ([_str(x) for x in v] if isinstance(v, list) else _str(v))
                   for k, v in parse(rest)[0].items()}
    else:
        raise M2WireError(f"headers end in {tag!r}, expected ',' (JSON) or '}}' (tnetstring)")
    body, body_end = _netstring_at(rest, end + 1)
    if rest[body_end:] != b",":
        raise M2WireError("body netstring must end with ',' and nothing after it")
    return Request(sender.decode(), int(conn_id), path.decode("utf-8", "surrogateescape"),
                   headers, bytes(body))


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True)
class Reply:
    """A parsed reply. ``extended`` replies carry ``key`` and ``args`` instead of raw bytes."""

    sender: str
    ids: Tuple[int, ...]
    body: bytes
    extended: bool = False
    key: str | None = None
    args: Any = field(default=None)


def _idents(ids: Iterable[Union[int, str]]) -> bytes:
    numbers = [int(i) for i in ids]
    if any(i < 0 for i in numbers):
        raise ValueError("connection ids are non-negative")
    return b" ".join(b"%d" % i for i in numbers)


def encode_reply(sender: Text, ids: Sequence[Union[int, str]], body: Text) -> bytes:
    """Build ``UUID netstring(ids) SP BODY``; an empty body closes the connections."""
    sender_b = _text(sender)
    idents = _idents(ids)
    if not _UUID.match(sender_b):
        raise ValueError(f"sender {sender_b!r} must match [A-Za-z0-9-]+")
    if len(ids) > MAX_TARGETS:
        raise ValueError(f"{len(ids)} targets: a reply names at most {MAX_TARGETS}")
    return b"%s %d:%s, %s" % (sender_b, len(idents), idents, _text(body))


def encode_extended_reply(sender: Text, ids: Iterable[Union[int, str]], key: str, args: Any) -> bytes:
    """Build an ``X`` reply, e.g. key ``ctl`` with args ``{"cancel": True}``."""
    sender_b = _text(sender)
    idents = b"X " + _idents(ids)
    return b"%s %d:%s, %s" % (sender_b, len(idents), idents, dumps([key, args]))


def parse_reply(msg: Union[bytes, bytearray, memoryview]) -> Reply:
    """Parse a handler reply by Mongrel2's strict grammar (src/handler_parser.rl).

    ``UUID SP LEN ':' ['X '] (digit+ ' '?)* ',' SP BODY``; LEN must equal the byte length of
    the target list. Raises M2WireError for anything else.
    """
    sender_b, ids, body, extended = split_reply(msg)
    sender = sender_b.decode()
    if not extended:
        return Reply(sender, ids, body)
    value = loads(body)
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[0], bytes)):
        raise M2WireError("an extended reply's body must be a tnetstring list [key, args]")
    return Reply(sender, ids, body, True, value[0].decode("utf-8", "surrogateescape"), value[1])


def split_reply(msg: Union[bytes, bytearray, memoryview]) -> Tuple[bytes, Tuple[int, ...], bytes, bool]:
    """parse_reply's grammar without building a Reply: ``(sender bytes, ids, body, extended)``.

    For the server's receiving loop, which does this for every reply; an extended reply's
    body is returned unparsed. Raises M2WireError.
    """
    msg = bytes(msg)
    space = msg.find(b" ")
    if space <= 0 or not _UUID.match(msg, 0, space):
        raise M2WireError(f"expected 'UUID ' at the start of the reply, saw {msg[:40]!r}")
    idents, end = _netstring_at(msg, space + 1)
    if msg[end:end + 2] != b", ":
        raise M2WireError(f"target list must be followed by ', ', saw {msg[end:end + 2]!r}")
    body = msg[end + 2:]
    if idents.isdigit():                     # one connection: most replies
        return msg[:space], (int(idents),), body, False
    extended = idents.startswith(b"X ")
    if extended:
        idents = idents[2:]
    words = idents.split(b" ")
    if words and words[-1] == b"":           # one trailing space is allowed: digit+ ' '?
        words.pop()
    if not all(w.isdigit() and w.isascii() for w in words):
        raise M2WireError(f"bad target list {idents[:60]!r}")
    return msg[:space], tuple(int(w) for w in words), body, extended
