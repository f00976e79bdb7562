"""The codec's receive-into path (sans-IO): the rest of a large frame body is written by the
engine straight into the frame's final buffer (ZMTPConnection.receive_buffer/received_into),
mixed freely with receive_data(); bodies above EAGER_BODY live in lazily backed memory, and a
frame that cannot be allocated is a protocol error, never another exception."""
import pytest

from gzmq.error import ZMTPError
from gzmq.zmtp import Ready, ZMTPConnection
from gzmq.zmtp.connection import EAGER_BODY, LARGE_FRAME
from gzmq.zmtp.frames import encode_message

LIBZMQ_GREETING = (b"\xff" + b"\x00" * 7 + b"\x01\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\x00")
                   + b"\x00" * 32)
ROUTER_READY = (b"\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06ROUTER"
                b"\x08Identity\x00\x00\x00\x00")


def ready_conn():
    conn = ZMTPConnection("DEALER")
    events = conn.receive_data(LIBZMQ_GREETING + ROUTER_READY)
    assert isinstance(events[-1], Ready)
    return conn


def wire(*frames):
    out = []
    encode_message(frames, out)
    return b"".join(out)


def body_of(size, seed=1):
    return bytes((i * 31 + seed) & 0xFF for i in range(256)) * (size // 256)


@pytest.mark.parametrize("size, piece", [
    (LARGE_FRAME, 7), (LARGE_FRAME, 100000), (3 * LARGE_FRAME + 256, 4096),
    (EAGER_BODY + 4096, 65536), (EAGER_BODY + 4096, 1 << 20)])
def test_body_filled_through_receive_buffer(size, piece):
    conn = ready_conn()
    big = body_of(size)
    data = wire(b"head", big) + wire(b"after")
    # The header, the first frame and a little of the body, as one read would bring them.
    first = 9 + 2 + 4 + 1000
    assert conn.receive_data(data[:first]) == []
    pos = first
    events = []
    while True:
        buf = conn.receive_buffer()
        if buf is None:
            break
        n = min(piece, len(buf))
        buf[:n] = data[pos:pos + n]            # what sock.recv_into(buf) would do
        pos += n
        events += conn.received_into(n)
    assert conn.receive_buffer() is None
    events += conn.receive_data(data[pos:])
    assert len(events) == 2
    head, body = events[0]
    assert head == b"head" and len(body) == size and body == big
    assert events[1] == [b"after"]


def test_mixing_receive_data_and_receive_into():
    conn = ready_conn()
    big = body_of(5 * LARGE_FRAME)
    data = wire(big, big) + wire(b"x")
    events = conn.receive_data(data[:70000])
    pos = 70000
    toggle = False
    while pos < len(data):
        buf = conn.receive_buffer()
        if toggle and buf is not None:
            n = min(30000, len(buf))
            buf[:n] = data[pos:pos + n]
            events += conn.received_into(n)
        else:
            n = 30000
            events += conn.receive_data(data[pos:pos + n])
        pos += n
        toggle = not toggle
    assert [[bytes(f) for f in m] for m in events] == [[big, big], [b"x"]]


def test_announcing_an_unallocatable_frame_is_a_protocol_error():
    conn = ready_conn()
    header = b"\x02" + (1 << 62).to_bytes(8, "big")
    with pytest.raises(ZMTPError, match="cannot allocate"):
        conn.receive_data(header + b"x" * (LARGE_FRAME + 10))


def test_announced_huge_frame_costs_no_memory_up_front():
    """1 GiB announced, 100 bytes sent: the lazily backed buffer exists, nothing is touched."""
    import resource
    conn = ready_conn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    conn.receive_data(b"\x02" + (1 << 30).to_bytes(8, "big") + b"y" * 100)
    buf = conn.receive_buffer()
    assert buf is not None and len(buf) == (1 << 30) - 100
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 64 * 1024
