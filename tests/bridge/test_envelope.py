"""The req-route JSON envelope, bytes in, bytes out."""
import base64
import json

import pytest

from bridge.adapters import envelope
from bridge.http11 import RequestParser


def parsed(wire):
    p = RequestParser()
    p.receive_data(wire)
    return p.next_event()


def test_request_envelope_fields():
    req = parsed(b"POST /api/x?a=1 HTTP/1.1\r\nHost: h\r\nX-M: 1\r\nX-M: 2\r\nContent-Length: 2\r\n\r\nhi")
    doc = json.loads(envelope.encode_request("id-1", req, "127.0.0.1", "/api/"))
    assert doc == {"id": "id-1", "method": "POST", "path": "/api/x", "query": "a=1",
                   "version": "HTTP/1.1", "headers": {"host": "h", "x-m": ["1", "2"], "content-length": "2"},
                   "remote_addr": "127.0.0.1", "pattern": "/api/", "body": "hi", "body_base64": False}


def test_binary_request_body_is_base64():
    req = parsed(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\n\xff\x00")
    doc = json.loads(envelope.encode_request("i", req, "a", "/"))
    assert doc["body_base64"] is True and base64.b64decode(doc["body"]) == b"\xff\x00"
    assert envelope.decode_request(json.dumps(doc).encode())["body"] == b"\xff\x00"


@pytest.mark.parametrize("reply, expected", [
    ({"body": "héllo"}, (200, [("Content-Type", "text/plain; charset=utf-8")], "héllo".encode())),
    ({"status": 201, "headers": {"X-A": ["1", "2"]}, "body": None}, (201, [("X-A", "1"), ("X-A", "2")], b"")),
    ({"headers": [["Content-Type", "text/html"], ["Connection", "close"]], "body": "<p>"},
     (200, [("Content-Type", "text/html")], b"<p>")),
    ({"body": {"a": 1}}, (200, [("Content-Type", "application/json")], b'{"a":1}')),
    ({"body": base64.b64encode(b"\x00\xff").decode(), "body_base64": True},
     (200, [("Content-Type", "application/octet-stream")], b"\x00\xff")),
    ({"status": 204}, (204, [], b"")),
])
def test_decode_reply(reply, expected):
    assert envelope.decode_reply(json.dumps(reply).encode()) == expected


@pytest.mark.parametrize("data", [
    b"not json", b"[1]", b'{"status": "200"}', b'{"status": 42}', b'{"headers": "x"}',
    b'{"headers": {"X": "a\\r\\nInjected: 1"}}', b'{"headers": [["a"]]}', b'{"body": "***", "body_base64": true}',
    b'{"body": 5, "body_base64": true}', b"\xff",
])
def test_bad_replies(data):
    with pytest.raises(envelope.EnvelopeError):
        envelope.decode_reply(data)


def test_encode_reply_round_trip():
    wire = envelope.encode_reply(404, {"X": "y"}, b"\xffbinary")
    assert envelope.decode_reply(wire) == (404, [("X", "y"), ("Content-Type", "application/octet-stream")],
                                           b"\xffbinary")
