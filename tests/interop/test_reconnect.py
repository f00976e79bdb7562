"""Reconnecting as libzmq 4.3.5 does (issue 20): a connect()ed socket whose connection fails
before the handshake completes (HANDSHAKE_IVL expired, the peer closed or reset it) tries
again after RECONNECT_IVL; RECONNECT_STOP (CONN_REFUSED, HANDSHAKE_FAILED) ends that; and the
monitor reports the same events, in the same order, as libzmq's for the same scenario.

Each scenario runs against gzmq and against libzmq (zmq.green) with the same code, and the
event sequences are compared. The "peer" that fails the handshake is a raw listener here.
"""
import errno

import gevent
import pytest
from gevent import socket as gsocket

import gzmq
from gzmq.utils.monitor import recv_monitor_message

from .support import recv_within


class RawListener:
    """A tcp listener that accepts and then does what `behaviour(conn)` says: hold the
    connection silently (never handshake), close it at once, or reset it."""

    def __init__(self, behaviour, port=0):
        self.sock = gsocket.socket()
        self.sock.setsockopt(gsocket.SOL_SOCKET, gsocket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.accepted = 0
        self.held = []
        self.behaviour = behaviour
        self.greenlet = gevent.spawn(self._run)

    def _run(self):
        while True:
            conn, _ = self.sock.accept()
            self.accepted += 1
            self.behaviour(self, conn)

    def close(self):
        self.greenlet.kill()
        self.sock.close()
        for conn in self.held:
            conn.close()


def hold(listener, conn):
    listener.held.append(conn)


def close_after_signature(listener, conn):
    conn.recv(10)          # the peer's signature: it started its handshake
    conn.close()


def events(zmq, mon, until, limit=40):
    """Monitor event names up to and including `until` (a name)."""
    names = []
    with gevent.Timeout(10, AssertionError(f"no {until} event; saw {names}")):
        while len(names) < limit:
            ev = (recv_monitor_message if zmq is gzmq else _lib_recv)(mon)
            names.append(zmq.Event(ev["event"]).name)
            if names[-1] == until:
                return names
    raise AssertionError(f"no {until} within {limit} events: {names}")


def _lib_recv(mon):
    from zmq.utils.monitor import recv_monitor_message as lib_recv
    return lib_recv(mon)


def quiet(mon, ms=500):
    """True if the monitor reports nothing more within `ms` (RECONNECT_IVL is 100 ms here)."""
    return not mon.poll(ms)


def failed_handshake_then_reply(zmq, ctx, green, lctx, behaviour, **options):
    """A REQ connects to a listener that fails its handshake; the listener goes away and a
    real libzmq REP binds on the same port: the REQ's request must reach it, and the reply
    come back. Returns the REQ's monitor events up to the first retry."""
    listener = RawListener(behaviour)
    req = ctx.socket(zmq.REQ)
    req.linger = 0
    for name, value in options.items():
        setattr(req, name, value)
    mon = req.get_monitor_socket()
    rep = None
    try:
        req.connect(listener.endpoint)
        req.send(b"hello")
        seen = events(zmq, mon, "CONNECT_RETRIED")
        port = listener.port
        listener.close()
        rep = lctx.socket(green.REP)
        rep.linger = 0
        rep.bind(f"tcp://127.0.0.1:{port}")
        assert recv_within(rep) == [b"hello"]
        rep.send(b"world")
        assert recv_within(req) == [b"world"]
        return seen
    finally:
        listener.close()
        mon.close()
        req.close()
        if rep is not None:
            rep.close()


@pytest.mark.parametrize("behaviour", [hold, close_after_signature], ids=["silent", "closes"])
def test_retries_after_failed_handshake_like_libzmq(gctx, lctx, green, behaviour, deadline):
    """HANDSHAKE_IVL expiring, or the peer closing mid-handshake, is no protocol error:
    libzmq reports HANDSHAKE_FAILED_NO_DETAIL and DISCONNECTED and reconnects."""
    with deadline(30):
        ours = failed_handshake_then_reply(gzmq, gctx, green, lctx, behaviour, handshake_ivl=200)
        theirs = failed_handshake_then_reply(green, lctx, green, lctx, behaviour, handshake_ivl=200)
    assert ours == theirs == ["CONNECT_DELAYED", "CONNECTED", "HANDSHAKE_FAILED_NO_DETAIL",
                              "DISCONNECTED", "CONNECT_RETRIED"]


def handshake_failed_value(zmq, ctx, behaviour, **options):
    listener = RawListener(behaviour)
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    for name, value in options.items():
        setattr(sock, name, value)
    mon = sock.get_monitor_socket()
    try:
        sock.connect(listener.endpoint)
        with gevent.Timeout(10):
            while True:
                ev = (recv_monitor_message if zmq is gzmq else _lib_recv)(mon)
                if ev["event"] == zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                    return ev["value"]
    finally:
        listener.close()
        mon.close()
        sock.close()


def test_handshake_failed_errno_like_libzmq(gctx, lctx, green, deadline):
    """The event's value is the errno: EAGAIN for HANDSHAKE_IVL, ECONNRESET for a reset."""
    with deadline(20):
        assert handshake_failed_value(gzmq, gctx, hold, handshake_ivl=200) == errno.EAGAIN
        assert handshake_failed_value(green, lctx, hold, handshake_ivl=200) == errno.EAGAIN
        # A close with our unread signature in its buffer is a reset (RST), as with libzmq.
        assert handshake_failed_value(gzmq, gctx, lambda l, c: c.close()) in (errno.ECONNRESET,
                                                                               errno.EPIPE)


def stop_scenario(zmq, ctx, endpoint, reconnect_stop, handshake_ivl=200):
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.reconnect_stop = reconnect_stop
    sock.handshake_ivl = handshake_ivl
    mon = sock.get_monitor_socket()
    try:
        sock.connect(endpoint)
        last = "DISCONNECTED" if reconnect_stop & zmq.RECONNECT_STOP_HANDSHAKE_FAILED else "CLOSED"
        seen = events(zmq, mon, last)
        assert quiet(mon), "reconnected although RECONNECT_STOP said not to"
        return seen
    finally:
        mon.close()
        sock.close()


@pytest.mark.parametrize("behaviour", [hold, close_after_signature], ids=["silent", "closes"])
def test_reconnect_stop_handshake_failed(gctx, lctx, green, behaviour, deadline):
    """RECONNECT_STOP_HANDSHAKE_FAILED: a peer that is no ZMTP process is not retried."""
    listener = RawListener(behaviour)
    try:
        with deadline(20):
            ours = stop_scenario(gzmq, gctx, listener.endpoint, gzmq.RECONNECT_STOP_HANDSHAKE_FAILED)
            theirs = stop_scenario(green, lctx, listener.endpoint, green.RECONNECT_STOP_HANDSHAKE_FAILED)
        assert ours == theirs == ["CONNECT_DELAYED", "CONNECTED", "HANDSHAKE_FAILED_NO_DETAIL",
                                  "DISCONNECTED"]
        assert listener.accepted == 2    # one connection each, never retried
    finally:
        listener.close()


def test_reconnect_stop_conn_refused(gctx, lctx, green, deadline):
    """RECONNECT_STOP_CONN_REFUSED: the first refused connect ends the endpoint."""
    probe = gsocket.socket()
    probe.bind(("127.0.0.1", 0))
    endpoint = f"tcp://127.0.0.1:{probe.getsockname()[1]}"   # bound, not listening: refused
    try:
        with deadline(20):
            ours = stop_scenario(gzmq, gctx, endpoint, gzmq.RECONNECT_STOP_CONN_REFUSED)
            theirs = stop_scenario(green, lctx, endpoint, green.RECONNECT_STOP_CONN_REFUSED)
    finally:
        probe.close()
    assert ours == theirs == ["CONNECT_DELAYED", "CLOSED"]


def test_refused_connect_keeps_retrying_without_stop(gctx, deadline):
    """Without RECONNECT_STOP a refused connect retries (and the request waits for the peer)."""
    probe = gsocket.socket()
    probe.bind(("127.0.0.1", 0))
    endpoint = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    dealer = gctx.socket(gzmq.DEALER)
    dealer.linger = 0
    mon = dealer.get_monitor_socket()
    try:
        with deadline(10):
            dealer.connect(endpoint)
            seen = events(gzmq, mon, "CONNECT_RETRIED")
            seen += events(gzmq, mon, "CONNECT_RETRIED")
        assert seen.count("CLOSED") == 2
    finally:
        probe.close()
        mon.close()
        dealer.close()


def test_protocol_garbage_is_still_not_retried(gctx, deadline, caplog):
    """A peer that answers with something that is not ZMTP 3.x breaks the protocol: the
    endpoint is dropped (logged, HANDSHAKE_FAILED_PROTOCOL), never retried, as libzmq."""
    def wrong_mechanism(listener, conn):
        conn.sendall(b"\xff" + b"\x00" * 8 + b"\x7f\x03\x01" + b"PLAIN".ljust(20, b"\x00") + b"\x00" * 32)
        listener.held.append(conn)

    listener = RawListener(wrong_mechanism)
    dealer = gctx.socket(gzmq.DEALER)
    dealer.linger = 0
    mon = dealer.get_monitor_socket()
    try:
        with deadline(10):
            dealer.connect(listener.endpoint)
            seen = events(gzmq, mon, "DISCONNECTED")
            assert quiet(mon)
        assert seen == ["CONNECT_DELAYED", "CONNECTED", "HANDSHAKE_FAILED_PROTOCOL", "DISCONNECTED"]
        assert listener.accepted == 1
        assert "mechanism mismatch" in caplog.text
    finally:
        listener.close()
        mon.close()
        dealer.close()
