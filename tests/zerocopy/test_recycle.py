"""Large frame bodies are recycled (gzmq.zmtp.recycle) only once nothing can see them any more:
a frame, a view of it, a slice of that view or a pending send keeps its bytes intact."""
import gc

import gevent
import pytest

import gzmq
from gzmq.zmtp import Ready, ZMTPConnection
from gzmq.zmtp.connection import LARGE_FRAME
from gzmq.zmtp.frames import encode_message
from gzmq.zmtp.recycle import BodyRecycler

from .test_receive_into import LIBZMQ_GREETING, ROUTER_READY

SIZE = 4 * LARGE_FRAME


def frame_wire(body):
    out = []
    encode_message([body], out)
    return b"".join(out)


def receive_one(conn, body):
    """Feed one large frame in two pieces (so it takes the large-frame path); its bytes back."""
    data = frame_wire(body)
    assert conn.receive_data(data[:1000]) == []
    (msg,) = conn.receive_data(data[1000:])
    return msg[0]


@pytest.fixture
def conn_and_recycler():
    recycler = BodyRecycler()
    conn = ZMTPConnection("DEALER", recycler=recycler)
    assert isinstance(conn.receive_data(LIBZMQ_GREETING + ROUTER_READY)[-1], Ready)
    return conn, recycler


def test_dropped_body_is_reused(conn_and_recycler):
    conn, recycler = conn_and_recycler
    first = receive_one(conn, b"a" * SIZE)
    first_buffer = id(first.obj)
    del first
    second = receive_one(conn, b"b" * SIZE)
    assert (recycler.allocated, recycler.reused) == (1, 1)
    assert id(second.obj) == first_buffer and bytes(second) == b"b" * SIZE


@pytest.mark.parametrize("keep", ["view", "slice", "bytearray", "nested"])
def test_any_live_reference_keeps_the_bytes(conn_and_recycler, keep):
    conn, recycler = conn_and_recycler
    body = receive_one(conn, b"a" * SIZE)
    held = {"view": lambda v: v, "slice": lambda v: v[10:20], "bytearray": lambda v: v.obj,
            "nested": lambda v: memoryview(v[5:])[1:]}[keep](body)
    before = bytes(held)
    del body
    gc.collect()
    for fill in b"bcd":
        assert bytes(receive_one(conn, bytes([fill]) * SIZE)) == bytes([fill]) * SIZE
        assert bytes(held) == before
    assert recycler.reused == 2   # the second and third reuse the one that was dropped at once


def test_limits_bound_what_is_remembered():
    recycler = BodyRecycler(limit=3 * SIZE, max_buffers=2)
    kept = [recycler.take(SIZE) for _ in range(5)]
    assert recycler.held_bytes == 2 * SIZE and recycler.allocated == 5
    del kept
    # All free now: the oldest free ones make room for a new size.
    recycler.take(3 * SIZE)
    assert recycler.held_bytes == 3 * SIZE
    assert BodyRecycler(limit=SIZE).take(2 * SIZE) is not None   # too big to remember, still served


def test_stream_of_held_frames_stays_intact():
    """Through real sockets: frames kept by the application are never overwritten while the
    reader recycles the buffers of those it dropped."""
    ctx = gzmq.Context()
    try:
        pull = ctx.socket(gzmq.PULL)
        push = ctx.socket(gzmq.PUSH)
        pull.rcvtimeo = push.sndtimeo = 10000
        push.connect(f"tcp://127.0.0.1:{pull.bind_to_random_port('tcp://127.0.0.1')}")
        count = 60
        sender = gevent.spawn(lambda: [push.send(bytes([i]) * SIZE, copy=False) for i in range(count)])
        kept = []
        for i in range(count):
            frame = pull.recv(copy=False)
            if i % 3 == 0:
                kept.append((i, frame))       # every third frame is held to the end
            else:
                assert frame.bytes == bytes([i]) * SIZE
            del frame
        sender.get(timeout=10)
        for i, frame in kept:
            assert frame.bytes == bytes([i]) * SIZE
    finally:
        ctx.destroy(linger=0)
