"""bridge.front.outbox in process, over a socketpair: the single writer, batching, the two
slow-browser policies, the tick, and a blocked writer being cut loose. gevent only: no bridge."""
import socket

import gevent
import pytest
from gevent import socket as gsocket
from gevent.event import Event

from bridge.front.outbox import Outbox, StreamStats


@pytest.fixture
def pair():
    a, b = gsocket.socketpair()
    yield a, b
    a.close()
    b.close()


def read_all(sock):
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def test_messages_leave_in_order_with_control_frames_first(pair, deadline):
    a, b = pair
    box = Outbox(a, StreamStats(), "/r")
    for i in range(5):
        box.put(b"m%d;" % i)
    box.put_control(b"PING;")
    box.finish(b"END", shutdown=True)
    with deadline(5):
        box.start()
        assert read_all(b) == b"PING;m0;m1;m2;m3;m4;END"
        box.done.wait()
    box.stop()


def test_close_policy_with_a_free_writer_sends_only_the_final_frame(pair, deadline):
    a, b = pair
    stats = StreamStats()
    box = Outbox(a, stats, "/r", max_messages=10, on_overflow=lambda: b"CLOSE")
    for i in range(10):
        assert box.put(b"x")
    assert not box.put(b"one too many")             # the queue is discarded, the close goes out
    assert not box.put(b"after")
    with deadline(5):
        box.start()
        box.done.wait()
        a.shutdown(socket.SHUT_WR)
        assert read_all(b) == b"CLOSE"
    assert stats.overflows[("/r", "close")] == 1 and stats.queued_bytes == 0
    box.stop()


def test_close_policy_without_a_close_frame_shuts_the_stream(pair, deadline):
    a, b = pair
    box = Outbox(a, StreamStats(), "/sse", max_messages=2)
    box.put(b"1")
    box.put(b"2")
    box.put(b"3")
    with deadline(5):
        box.start()
        assert read_all(b) == b""                   # nothing, then the end of the stream


def test_close_policy_cuts_a_writer_stuck_on_the_browser(pair, deadline):
    a, b = pair
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stats = StreamStats()
    box = Outbox(a, stats, "/r", max_messages=100, on_overflow=lambda: b"CLOSE")
    box.start()
    with deadline(10):
        n = 0
        while not box.overflowed:                  # b never reads: the writer blocks, the queue fills
            box.put(b"y" * 1000)
            n += 1
            gevent.sleep(0)
        box.done.wait()                            # the shutdown made the blocked send fail
    assert stats.overflows[("/r", "close")] == 1 and stats.queued_bytes == 0
    assert n > 100


def test_drop_oldest_keeps_the_newest(pair, deadline):
    a, b = pair
    stats = StreamStats()
    box = Outbox(a, stats, "/r", max_messages=1000, policy="drop-oldest")
    for i in range(1500):
        assert box.put(b"%04d;" % i)
    assert stats.dropped["/r"] == 500 and stats.queued_bytes == 5000
    box.finish(shutdown=True)
    with deadline(5):
        box.start()
        assert read_all(b) == b"".join(b"%04d;" % i for i in range(500, 1500))


def test_byte_bound(pair):
    a, b = pair
    box = Outbox(a, StreamStats(), "/r", max_messages=1000, max_bytes=100, policy="drop-oldest")
    box.put(b"a" * 60)
    box.put(b"b" * 60)                               # drops the first to stay within 100 bytes
    assert box.queued == 1
    box.put(b"c" * 500)                              # alone, a large message still goes through
    assert box.queued == 1
    box.stop()


def test_tick_runs_while_idle(pair, deadline):
    a, b = pair
    ticks, three = [], Event()

    def tick(now):
        ticks.append(now)
        if len(ticks) == 3:
            three.set()

    box = Outbox(a, StreamStats(), "/r", tick_interval=0.05, on_tick=tick)
    with deadline(5):
        box.start()
        three.wait()                                 # nothing to send: the writer wakes up to tick
    box.stop()
