"""Helpers shared by the device, proxy and example tests (gzmq and libzmq sockets alike)."""
import gzmq

IMPLS = ["gzmq", "libzmq"]


def bind(sock, addr="tcp://127.0.0.1:*"):
    """Bind and return the resolved endpoint (LAST_ENDPOINT is 32 in both implementations)."""
    sock.bind(addr)
    return sock.getsockopt(32).decode()


def recv_within(sock, timeout_ms=5000):
    """recv_multipart, or AssertionError if nothing arrives in time (zmq.green ignores RCVTIMEO)."""
    if not sock.poll(timeout_ms):
        raise AssertionError(f"{sock!r}: no message within {timeout_ms} ms")
    return sock.recv_multipart()


def run_proxy(fn, *sockets):
    """Run a proxy function until a socket of it is closed; returns what it returned, or the
    ZMQError errno that ended it (ENOTSOCK when the test closes a socket)."""
    try:
        return fn(*sockets)
    except gzmq.ZMQError as exc:
        return exc.errno
