"""Helpers shared by the interop tests (gzmq and libzmq sockets have the same API)."""
import socket as _stdsocket

import gevent

# 1 MiB with varied content (a run of one byte value would hide offset bugs).
BIG = bytes(range(256)) * 4096
assert len(BIG) == 1 << 20


def bind(sock, address):
    """Bind and return the resolved endpoint (wildcard port filled in) as str."""
    sock.bind(address)
    return sock.getsockopt(32).decode()  # LAST_ENDPOINT (same number in gzmq and pyzmq)


def free_tcp_endpoint():
    """A tcp endpoint on a port that is free right now (for connect-before-bind tests)."""
    s = _stdsocket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"tcp://127.0.0.1:{port}"


def recv_within(sock, timeout_ms=5000):
    """recv_multipart, or AssertionError if nothing arrives within timeout_ms."""
    if not sock.poll(timeout_ms):
        raise AssertionError(f"{sock!r}: no message within {timeout_ms} ms")
    return sock.recv_multipart()


def publish_until_received(pub, sub, warm=(b"t-warm",), interval_ms=20):
    """Slow-joiner sync: publish `warm` until `sub` gets one, then drain warm-ups.

    Returns once the subscription is known to be active at the publisher: a message the
    publisher sends from now on reaches the subscriber if it matches.
    """
    warm = list(warm)
    while True:
        pub.send_multipart(warm)
        if sub.poll(interval_ms):
            break
    while sub.poll(0):
        msg = sub.recv_multipart()
        assert msg == warm, f"expected only warm-up messages, got {msg!r}"


def recv_skipping(sock, skip, timeout_ms=5000):
    """The next message that is not `skip` (warm-ups still in flight)."""
    while True:
        msg = recv_within(sock, timeout_ms)
        if msg != skip:
            return msg


def wait_until(predicate, timeout=5, interval=0.005, what="condition"):
    """Poll a condition that has no event to wait on (e.g. a file appearing)."""
    with gevent.Timeout(timeout, AssertionError(f"{what} not met within {timeout}s")):
        while not predicate():
            gevent.sleep(interval)
