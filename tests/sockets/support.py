"""Helpers for the socket tables."""
import socket as _stdsocket

import gevent

from gzmq.engine import process


def settle():
    """Let every greenlet that has work run until the hub is idle: queued messages get
    written, received bytes read and queued. Not a timed sleep: it returns as soon as the
    event loop has nothing left to do."""
    for _ in range(2):
        for _ in range(3):
            gevent.idle()
        # Sockets whose engines run on I/O threads (the default unpatched): their hubs too.
        for thread in process.io_threads():
            thread.idle()


def recv_within(sock, timeout_ms=5000):
    if not sock.poll(timeout_ms):
        raise AssertionError(f"{sock!r}: no message within {timeout_ms} ms")
    return sock.recv_multipart()


def nothing_within(sock, timeout_ms=50):
    """True if no message arrives within timeout_ms (a bounded check for 'was dropped')."""
    return sock.poll(timeout_ms) == 0



def warm_up(sender, receivers, payload=b"warm-up"):
    """Bind-side round-robin only counts peers whose handshake is done: send warm-ups until
    every receiver has one, then drain them all, so every peer is known to be connected."""
    pending = set(range(len(receivers)))
    while pending:
        sender.send(payload)
        for i in list(pending):
            if receivers[i].poll(10):
                pending.discard(i)
    settle()
    for r in receivers:
        while r.poll(0):
            assert r.recv_multipart() == [payload]


def wait_until(predicate, timeout=5, interval=0.005, what="condition"):
    """Poll a condition that has no event to wait on (e.g. a peer noticing a disconnect)."""
    with gevent.Timeout(timeout, AssertionError(f"{what} not met within {timeout}s")):
        while not predicate():
            gevent.sleep(interval)


def raises_again(z, call, *args):
    """True if call(*args) raises z.Again (for use with wait_until)."""
    try:
        call(*args)
    except z.Again:
        return True
    return False


def fixed(address):
    """A wildcard tcp address made concrete (a port free right now), for connect-before-bind."""
    if not address.endswith(":*"):
        return address
    s = _stdsocket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"tcp://127.0.0.1:{port}"
