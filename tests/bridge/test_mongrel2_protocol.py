"""The Mongrel2 handler protocol end to end, the same tests three ways (see conftest ``front``):
behind a real Mongrel2 with our handler library, and behind our bridge with an independent
pyzmq handler and with our handler library.
"""
import socket

import pytest

from httpkit import Client, fetch

pytestmark = pytest.mark.mongrel2


def test_get_carries_mongrel2_headers(front):
    with Client(front.port) as c:
        c.request("GET", "/m2/echo?x=1", headers=[("X-A", "1"), ("X-A", "2"),
                                                  ("X-Forwarded-For", "6.6.6.6")])
        r = c.response()
    assert r.status == 200
    doc = r.json()
    h = doc["headers"]
    assert doc["path"] == "/m2/echo"
    assert h["PATH"] == "/m2/echo"
    assert h["METHOD"] == "GET"
    assert h["VERSION"] == "HTTP/1.1"
    assert h["URI"] == "/m2/echo?x=1"
    assert h["QUERY"] == "x=1"
    assert h["PATTERN"] == "/m2/"
    assert h["URL_SCHEME"] == "http"
    assert h["REMOTE_ADDR"] == "127.0.0.1"
    assert h["x-forwarded-for"] == "127.0.0.1"      # the client's value is clobbered
    assert h["x-a"] == ["1", "2"]                   # a repeated header is a list
    assert h["host"] == "localhost"
    assert "QUERY" not in fetch(front.port, "GET", "/m2/echo").json()["headers"]


def test_post_body_reaches_handler(front):
    r = fetch(front.port, "POST", "/m2/echo", body=b"hello world",
              headers=[("Content-Type", "text/plain")])
    assert r.status == 200
    doc = r.json()
    assert doc["body"] == "hello world"
    assert doc["headers"]["METHOD"] == "POST"
    assert doc["headers"]["content-length"] == "11"
    assert doc["headers"]["content-type"] == "text/plain"


def test_keep_alive_after_content_length_reply(front):
    with Client(front.port) as c:
        c.request("GET", "/m2/echo")
        first = c.response().json()
        c.request("GET", "/m2/echo")
        second = c.response().json()
    assert first["conn_id"] == second["conn_id"]


def test_chunked_stream_in_several_replies(front):
    with Client(front.port) as c:
        c.request("GET", "/m2/stream?n=5")
        status, headers = c.read_head()
        assert status == 200
        assert ("transfer-encoding", "chunked") in headers
        assert [c.read_chunk() for _ in range(5)] == [b"part %d\n" % i for i in range(5)]
        assert c.read_chunk() == b""
        c.request("GET", "/m2/echo")               # the connection is still usable
        assert c.response().status == 200


def test_one_reply_broadcast_to_several_connections(front):
    clients = [Client(front.port) for _ in range(3)]
    try:
        ids = []
        for c in clients:
            c.request("GET", "/m2/hold")
            status, _ = c.read_head()
            assert status == 200
            ids.append(int(c.read_chunk()))
        assert len(set(ids)) == 3
        r = fetch(front.port, "POST", "/m2/broadcast", body=b"news")
        assert r.body == b"sent to 3"
        for c in clients:
            assert c.read_chunk() == b"news"
            assert c.read_chunk() == b""
    finally:
        for c in clients:
            c.close()


def test_handler_sees_disconnect(front):
    c = Client(front.port)
    c.request("GET", "/m2/hold")
    assert c.read_head()[0] == 200
    conn_id = int(c.read_chunk())
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    # The handler answers this long poll only once the @* disconnect for conn_id reached it;
    # the bridge must send that within a second of the browser leaving.
    r = fetch(front.port, "GET", f"/m2/disconnects/{conn_id}", timeout=2.0)
    assert r.status == 200
    assert r.body == str(conn_id).encode()


def test_empty_reply_closes_after_unframed_response(front):
    with Client(front.port) as c:
        c.request("GET", "/m2/close")
        r = c.response()
    assert r.status == 200
    assert r.body == b"until close"


def test_connection_close_request(front):
    with Client(front.port) as c:
        c.request("GET", "/m2/echo", headers=[("Connection", "close")])
        assert c.response().status == 200
        assert c.closed_by_server()
