# mypy: disallow-untyped-defs, check-untyped-defs, warn-return-any, no-implicit-reexport
"""A program written against gzmq's types as it would be against pyzmq's: mypy (make test) checks
it with the package's own annotations (py.typed). Not run by pytest; each assert_type says what
a type checker must infer."""
from typing import List, Optional

from typing_extensions import assert_type

import gzmq as zmq
from bridge.handler import Connection, Request, http_response


def pyzmq_style(ctx: zmq.Context) -> None:
    sock = ctx.socket(zmq.REQ)
    assert_type(sock, zmq.Socket)
    sock.rcvtimeo = 1000                       # attribute-style options, as pyzmq
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect("tcp://127.0.0.1:5555")
    sock.send(b"hello")
    sock.send_string("hello", zmq.SNDMORE)
    sock.send_multipart([b"a", b"b"])
    assert_type(sock.recv(), bytes)
    assert_type(sock.recv(zmq.DONTWAIT), bytes)
    assert_type(sock.recv(copy=False), zmq.Frame)
    assert_type(sock.recv(0, False), zmq.Frame)
    assert_type(sock.recv_multipart(), List[bytes])
    assert_type(sock.recv_multipart(copy=False), List[zmq.Frame])
    assert_type(sock.recv_string(), str)
    frame = sock.recv(copy=False)
    assert_type(frame.bytes, bytes)
    assert_type(frame.buffer, memoryview)
    poller = zmq.Poller()
    poller.register(sock, zmq.POLLIN)
    for s, events in poller.poll(100):
        assert_type(events, int)
    try:
        sock.recv(zmq.DONTWAIT)
    except zmq.Again as e:
        assert_type(e.errno, Optional[int])
    port: int = sock.bind_to_random_port("tcp://127.0.0.1")
    public, secret = zmq.curve_keypair()
    assert_type(public, bytes)
    sock.close(linger=0)
    ctx.term()


def handler(conn: Connection) -> None:
    req = conn.recv(timeout=1.0)
    if req is not None and not req.is_disconnect():
        assert_type(req, Request)
        conn.reply_http(req, "hi", headers={"Content-Type": "text/plain"})
    assert_type(http_response(b"x"), bytes)
