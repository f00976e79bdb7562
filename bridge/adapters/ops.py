"""The JSON ops a browser and a ``pubsub:`` route exchange (WebSocket text messages; the same
JSON is the SSE ``data:`` and the long-poll ``messages``).

Browser to bridge, one JSON object per WebSocket text message::

    {"op": "subscribe",   "topic": T}                      (optional "id": N -> an ack)
    {"op": "unsubscribe", "topic": T}                      (optional "id": N -> an ack)
    {"op": "publish",     "topic": T, "data": D}           (optional "id", "data_base64")
    {"op": "request", "id": N, "path": P, "body": B}       (optional "method", "headers")

Bridge to browser::

    {"op": "message", "topic": T, "data": D}               (two-frame messages add "full_topic")
    {"op": "reply", "id": N, "status": S, "body": B}
    {"op": "error", "error": "why", ...}                   ("id" and "op" when known)
    {"op": "dropped", "topic": T, "bytes": N, "limit": L}  (a message too big to send; WebSocket)

Data rules (both directions):
  - To the backend, ``data`` (publish) and ``body`` (request) that are strings leave as their
    UTF-8 bytes, not JSON-quoted; null or absent is empty; any other JSON value leaves as its
    JSON text (a request then gets ``Content-Type: application/json``). Binary: send the bytes
    base64-encoded as a string with ``"data_base64": true`` (``"body_base64": true`` for a
    request) and they leave decoded.
  - To the browser, backend bytes that are valid UTF-8 arrive as a string; other bytes arrive
    base64-encoded with ``"data_base64": true`` (``"body_base64": true`` in a reply).
  - Binary WebSocket frames are not ops: they get an error and the connection stays open.
  - A subscribe or unsubscribe that carries an ``id`` is acknowledged with
    ``{"op":"reply","id":N,"status":200,"body":""}``, so a client knows when it took effect;
    a publish with an ``id`` is acknowledged the same way (status 503 if it could not leave).
  - Topics are strings (empty: everything), at most 1024 UTF-8 bytes, matched as byte prefixes.

Pure: no sockets, no gevent. ``parse`` raises ``OpError`` (with the op's id and name when
they could be read) and nothing else. Used by bridge.ws.topics and bridge.front.realtime.
"""
import base64
import binascii
import json
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Optional

__all__ = ["OpError", "Subscribe", "Unsubscribe", "Publish", "Request", "parse", "encode",
           "encode_message", "message_fields", "encode_reply", "encode_error", "encode_ack",
           "MAX_TOPIC_BYTES", "encode_dropped"]

MAX_TOPIC_BYTES = 1024


class OpError(ValueError):
    def __init__(self, error, id=None, op=None):
        super().__init__(error)
        self.error = error
        self.id = id
        self.op = op


@dataclass(frozen=True)
class Subscribe:
    topic: str
    id: object = None


@dataclass(frozen=True)
class Unsubscribe:
    topic: str
    id: object = None


@dataclass(frozen=True)
class Publish:
    topic: str
    data: bytes
    id: object = None


@dataclass(frozen=True)
class Request:
    id: object
    path: str
    body: bytes = b""
    method: Optional[str] = None
    headers: tuple = ()             # ((lower-case name, value), ...)
    content_type: Optional[str] = None        # implied by a JSON body


def _loads(text):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise OpError(f"not JSON: {e}") from None


def _topic(doc, id, op):
    topic = doc.get("topic")
    if not isinstance(topic, str):
        raise OpError('"topic" must be a string', id, op)
    if len(topic.encode("utf-8", "surrogatepass")) > MAX_TOPIC_BYTES:
        raise OpError(f'"topic" is longer than {MAX_TOPIC_BYTES} bytes', id, op)
    try:
        topic.encode("utf-8")
    except UnicodeEncodeError:
        raise OpError('"topic" is not valid Unicode', id, op) from None
    return topic


def _payload(doc, key, flag, id, op):
    """(bytes, implied content type) for ``doc[key]`` by the data rules above."""
    value = doc.get(key)
    if doc.get(flag) is True:
        if not isinstance(value, str):
            raise OpError(f'"{flag}" needs "{key}" to be a base64 string', id, op)
        try:
            return base64.b64decode(value.encode("ascii"), validate=True), None
        except (binascii.Error, UnicodeEncodeError, ValueError):
            raise OpError(f'"{key}" is not valid base64', id, op) from None
    if value is None:
        return b"", None
    if isinstance(value, str):
        try:
            return value.encode("utf-8"), None
        except UnicodeEncodeError:
            raise OpError(f'"{key}" is not valid Unicode', id, op) from None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), "application/json"


def _id(doc):
    value = doc.get("id")
    if value is None or isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value
    return None


def parse(text):
    """One browser op (a WebSocket text message) -> Subscribe | Unsubscribe | Publish | Request."""
    doc = _loads(text)
    if not isinstance(doc, dict):
        raise OpError("an op must be a JSON object")
    id, op = _id(doc), doc.get("op")
    if "id" in doc and doc["id"] is not None and id is None:
        raise OpError('"id" must be a number or a string', None, op if isinstance(op, str) else None)
    if op == "subscribe":
        return Subscribe(_topic(doc, id, op), id)
    if op == "unsubscribe":
        return Unsubscribe(_topic(doc, id, op), id)
    if op == "publish":
        topic = _topic(doc, id, op)
        data, _ = _payload(doc, "data", "data_base64", id, op)
        return Publish(topic, data, id)
    if op == "request":
        if id is None:
            raise OpError('a request needs an "id"', None, op)
        path = doc.get("path")
        if not isinstance(path, str) or not path.startswith("/"):
            raise OpError('"path" must be a string starting with "/"', id, op)
        if any(c in path for c in " \r\n\0"):
            raise OpError('"path" must not contain spaces or control characters', id, op)
        body, content_type = _payload(doc, "body", "body_base64", id, op)
        method = doc.get("method")
        if method is not None and (not isinstance(method, str) or not method.isalpha()
                                   or not method.isupper()):
            raise OpError('"method" must be an upper-case HTTP method', id, op)
        headers = doc.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in headers.items()):
            raise OpError('"headers" must be an object of strings', id, op)
        for k, v in headers.items():
            if any(c in k + v for c in "\r\n\0") or not k or ":" in k:
                raise OpError(f'header {k!r} is not a valid header', id, op)
        return Request(id, path, body, method, tuple((k.lower(), v) for k, v in headers.items()),
                       content_type)
    if not isinstance(op, str):
        raise OpError('an op needs "op": subscribe, unsubscribe, publish or request', id)
    raise OpError(f"unknown op {op!r} (subscribe, unsubscribe, publish, request)", id, op)


def encode(doc):
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


def message_fields(data):
    """The ``"data"`` part of a message op: ``"data":"text"`` or base64 with the flag."""
    try:
        return '"data":' + encode_basestring(data.decode("utf-8"))
    except UnicodeDecodeError:
        return '"data":"' + base64.b64encode(data).decode("ascii") + '","data_base64":true'


def encode_message(topic, data, full_topic=None):
    """``{"op":"message","topic":T,"data":D}`` (str); ``data`` is the backend's bytes.

    Built by hand around the C string encoder: the hub encodes each message once per
    subscribed topic and shares the text among all the browsers receiving it.
    """
    head = '{"op":"message","topic":' + encode_basestring(topic) + ","
    if full_topic is not None:
        try:
            head += '"full_topic":' + encode_basestring(full_topic.decode("utf-8")) + ","
        except UnicodeDecodeError:
            head += '"full_topic":' + encode_basestring(full_topic.decode("latin-1")) + ","
    return head + message_fields(data) + "}"


def encode_reply(id, status, body=b""):
    doc = {"op": "reply", "id": id, "status": status}
    if isinstance(body, str):
        doc["body"] = body
    else:
        try:
            doc["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            doc["body"] = base64.b64encode(body).decode("ascii")
            doc["body_base64"] = True
    return encode(doc)


def encode_ack(id, status=200):
    return encode_reply(id, status, "")


def encode_dropped(topic, size, limit):
    """What a WebSocket browser gets instead of a message op of ``size`` bytes over ``limit``."""
    return encode({"op": "dropped", "topic": topic, "bytes": size, "limit": limit})


def encode_error(error, id=None, op=None):
    doc = {"op": "error", "error": error}
    if id is not None:
        doc["id"] = id
    if op is not None:
        doc["request_op"] = op
    return encode(doc)
