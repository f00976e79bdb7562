"""Proxies: zmq_proxy(), zmq_proxy_steerable() and the old zmq_device(), for gzmq sockets.

A proxy joins a frontend socket to a backend socket and moves every message both ways, as
libzmq's src/proxy.cpp does: QUEUE is ROUTER <-> DEALER, FORWARDER is XSUB <-> XPUB (or SUB ->
PUB), STREAMER is PULL -> PUSH. A direction whose source cannot receive or whose destination
cannot send (PUB, PUSH...) is simply never used. With a capture socket every message, in both
directions, is also sent there. With a control socket (proxy_steerable) the proxy obeys:

    PAUSE       stop moving messages (they wait in the sockets' queues, bounded by HWM)
    RESUME      move them again
    TERMINATE   return 0
    STATISTICS  reply with 8 frames, each a uint64 in host byte order (as libzmq):
                frontend recv count, recv bytes, send count, send bytes, then the same
                four for the backend; counts are frames, bytes are frame payload bytes.

A REP control socket gets a reply to every command (an empty frame unless STATISTICS), as
libzmq does. PAUSE and RESUME have their documented meaning; libzmq 4.3.5 swaps them
(proxy.cpp, fixed on master by f8b3cc81), gzmq does not copy that bug.

How it moves messages: a round drains each direction in bursts of up to BURST whole messages,
taken from the source's queues and handed to the destination's (frame lists, no copies, no
encoding), and yields to the hub after a round that moved anything. When the destination is
full the message in hand is kept and the direction waits for room; when nothing can move, the
proxy waits (gzmq.engine.wait.wait_until) on its sockets' Signals, fired when they gain
messages or room. It never polls on a timer and never busy-waits.

monitored_queue() (pyzmq's zmq.devices.monitored_queue) is the same loop with a prefix frame
on each capture copy naming the side the message came from.

It ends with ContextTerminated when the context terminates and with ZMQError(ENOTSOCK) when
one of its sockets is closed (the devices in gzmq.devices treat both as a clean stop); any
other error from a socket (EFSM from a REQ/REP used as a proxy end...) propagates. Sockets
must be gzmq sockets of the calling thread; the proxy runs in the calling greenlet and uses
their routing hooks directly, so Socket subclasses' send()/recv() overrides are bypassed (as
libzmq's proxy bypasses pyzmq's).
"""
from __future__ import annotations

from typing import Any

import struct

from .constants import DeviceType, Errno, SocketType
from .engine.wait import wait_until, yield_turn
from .error import ContextTerminated, ZMQError

BURST = 1000          # libzmq's proxy_burst_size: messages per direction per round
_TERMINATE = object()

_STAT = struct.Struct("@Q")   # libzmq memcpy()s a uint64_t: host byte order
# Indexes into the statistics list, in STATISTICS reply order.
FRONT_RECV, FRONT_SEND, BACK_RECV, BACK_SEND = 0, 2, 4, 6


def _payload(msg):
    return sum(map(len, msg))


def _check_socket(sock, role):
    if not getattr(sock, "_gzmq_socket", False):
        raise TypeError(f"proxy {role} must be a gzmq socket, not {type(sock).__name__}")
    if sock.closed:
        raise ZMQError(Errno.ENOTSOCK, f"proxy {role} socket is closed")


class _Direction:
    """One way through the proxy: src -> dst, with a message kept while dst is full."""

    __slots__ = ("src", "dst", "recv_stat", "send_stat", "prefix", "swap_ids", "pending")

    def __init__(self, src, dst, recv_stat, send_stat, prefix=None, swap_ids=False):
        self.src = src
        self.dst = dst
        self.recv_stat = recv_stat
        self.send_stat = send_stat
        self.prefix = prefix
        self.swap_ids = swap_ids
        self.pending = None


class _Proxy:
    """The proxy loop (see the module docstring); run() returns 0 on TERMINATE."""

    def __init__(self, frontend, backend, capture=None, control=None, prefixes=None,
                 swap_ids=False):
        _check_socket(frontend, "frontend")
        _check_socket(backend, "backend")
        if capture is not None:
            _check_socket(capture, "capture")
        if control is not None:
            _check_socket(control, "control")
        self.capture = capture
        self.control = control
        self.stats = [0] * 8
        self.paused = False
        self.rounds = 0       # times the loop ran: wake-ups, not messages (see tests)
        in_prefix, out_prefix = prefixes or (None, None)
        self.directions = []
        if frontend._can_recv and backend._can_send:
            self.directions.append(_Direction(frontend, backend, FRONT_RECV, BACK_SEND,
                                              in_prefix, swap_ids))
        if backend is not frontend and backend._can_recv and frontend._can_send:
            self.directions.append(_Direction(backend, frontend, BACK_RECV, FRONT_SEND,
                                              out_prefix, swap_ids))
        self.sockets = []
        for sock in (frontend, backend, capture, control):
            if sock is not None and sock not in self.sockets:
                self.sockets.append(sock)

    def run(self):
        # Any of the sockets gaining messages or room may let a round move something; while
        # waiting, another thread's Context.term() reaches us through the same Signals.
        signals = [signal for sock in self.sockets for signal in (sock._in_signal, sock._out_signal)]
        while True:
            if wait_until(self._round, None, signals, self._check_alive) is _TERMINATE:
                return 0
            yield_turn()   # let the sessions write and read before the next round

    def _round(self):
        """One round: obey the control socket, then move what can move. Returns _TERMINATE,
        or how many messages moved (0: nothing could, wait for a socket to change)."""
        self.rounds += 1
        for sock in self.sockets:
            if sock._mailbox.commands:
                sock._mailbox.process()
        if self.control is not None and self._steer():
            return _TERMINATE
        moved = 0
        if not self.paused:
            for direction in self.directions:
                moved += self._forward(direction)
        return moved

    def _check_alive(self):
        for sock in self.sockets:
            if sock._closed:
                raise ZMQError(Errno.ENOTSOCK, f"proxy socket {sock!r} was closed")
            if sock.context._terminated:
                raise ContextTerminated()

    def _forward(self, d):
        """Move up to BURST messages src -> dst; returns how many went out."""
        xrecv = d.src._xrecv
        xsend = d.dst._xsend
        capture = self.capture
        msg = d.pending
        d.pending = None
        if msg is not None:
            nframes, nbytes = len(msg), _payload(msg)
        received = received_bytes = sent = sent_bytes = 0
        moved = 0
        try:
            while moved < BURST:
                if msg is None:
                    msg = xrecv()
                    if msg is None:
                        break
                    nframes = len(msg)
                    nbytes = len(msg[0]) if nframes == 1 else _payload(msg)
                    received += nframes
                    received_bytes += nbytes
                    if d.swap_ids and nframes > 1:
                        msg = [msg[1], msg[0]] + msg[2:]
                    if capture is not None:
                        self._capture(msg if d.prefix is None else [d.prefix] + msg)
                if not xsend(msg):
                    d.pending = msg   # dst is full; its queue wakes us when it has room again
                    break
                sent += nframes
                sent_bytes += nbytes
                msg = None
                moved += 1
        finally:
            stats = self.stats
            stats[d.recv_stat] += received
            stats[d.recv_stat + 1] += received_bytes
            stats[d.send_stat] += sent
            stats[d.send_stat + 1] += sent_bytes
        return moved

    def _capture(self, msg):
        # libzmq sends to the capture socket with a blocking send; so do we (a PUB never blocks).
        capture = self.capture
        if not capture._xsend(msg):
            capture._wait_send(msg)

    def _steer(self):
        """Handle every queued control command; True on TERMINATE."""
        control = self.control
        while True:
            msg = control._xrecv()
            if msg is None:
                return False
            command = bytes(msg[0]) if msg else b""
            if command == b"STATISTICS":
                reply = [_STAT.pack(value) for value in self.stats]
                self._reply(reply)
                continue
            if command == b"PAUSE":
                self.paused = True
            elif command == b"RESUME":
                self.paused = False
            if control._type == SocketType.REP:
                self._reply([b""])   # REP must answer every request, whatever it was
            if command == b"TERMINATE":
                return True

    def _reply(self, frames):
        control = self.control
        if not control._xsend(frames):
            control._wait_send(frames)


def proxy(frontend: Any, backend: Any, capture: Any = None) -> int:
    """Run a proxy between `frontend` and `backend` in this greenlet (pyzmq's zmq.proxy).

    Every message is also sent to `capture` if given. Runs until the context terminates
    (ContextTerminated) or a socket is closed (ZMQError ENOTSOCK).
    """
    return _Proxy(frontend, backend, capture).run()


def proxy_steerable(frontend: Any, backend: Any, capture: Any = None, control: Any = None) -> int:
    """proxy() that also obeys PAUSE, RESUME, TERMINATE and STATISTICS on `control`.

    Returns 0 after TERMINATE. See the module docstring for the replies.
    """
    return _Proxy(frontend, backend, capture, control).run()


def device(device_type: int, frontend: Any, backend: Any) -> int:
    """The pre-3.2 zmq_device(): QUEUE, FORWARDER and STREAMER are all a proxy()."""
    try:
        DeviceType(device_type)
    except ValueError:
        raise ZMQError(Errno.EINVAL, f"unknown device type {device_type!r}") from None
    return proxy(frontend, backend)


def monitored_queue(in_socket: Any, out_socket: Any, mon_socket: Any, in_prefix: bytes = b"in",
                    out_prefix: bytes = b"out") -> int:
    """pyzmq's zmq.devices.monitored_queue: a proxy whose capture copies carry a prefix frame.

    Messages from in_socket reach mon_socket as ``[in_prefix, *frames]``, messages from out_socket
    as ``[out_prefix, *frames]``. With ROUTER on both sides the first two frames (the routing ids)
    are swapped on the way through, so replies find their way back.
    """
    swap = in_socket.socket_type == SocketType.ROUTER and out_socket.socket_type == SocketType.ROUTER
    return _Proxy(in_socket, out_socket, mon_socket, prefixes=(bytes(in_prefix), bytes(out_prefix)),
                  swap_ids=swap).run()


__all__ = ["proxy", "proxy_steerable", "device", "monitored_queue"]
