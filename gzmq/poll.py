"""Poller and select, as pyzmq's zmq.Poller / zmq.select, cooperative with gevent.

A Poller mixes gzmq sockets with raw file descriptors and objects that have fileno(). Waiting
is gzmq.engine.wait.wait_until on the sockets' Signals (fired when they gain messages or room)
and on one more Signal fired by a libev io watcher per file descriptor: no busy loop, no timer
polling, and other greenlets run meanwhile.
"""
from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple

from .constants import Errno, PollEvent
from .engine.wait import FdWatch, Signal, poll_fds_now, wait_until
from .error import ContextTerminated, ZMQError

POLLIN = int(PollEvent.POLLIN)
POLLOUT = int(PollEvent.POLLOUT)
POLLERR = int(PollEvent.POLLERR)



def _is_zmq_socket(obj: Any) -> bool:
    return getattr(obj, "_gzmq_socket", False)


def _fileno(obj: Any) -> int:
    if isinstance(obj, int):
        return obj
    return obj.fileno()


class Poller:
    """pyzmq-compatible poller: register(), modify(), unregister(), poll(timeout_ms)."""

    def __init__(self) -> None:
        self.sockets: List[Tuple[Any, int]] = []
        self._map: dict[Any, int] = {}

    def __contains__(self, socket: Any) -> bool:
        return socket in self._map

    def register(self, socket: Any, flags: int = POLLIN | POLLOUT) -> None:
        """Watch `socket` (a gzmq socket, an fd, or an object with fileno()) for `flags`.
        Registering again modifies; flags 0 unregisters."""
        if flags:
            if socket in self._map:
                idx = self._map[socket]
                self.sockets[idx] = (socket, flags)
            else:
                self._map[socket] = len(self.sockets)
                self.sockets.append((socket, flags))
        elif socket in self._map:
            self.unregister(socket)

    def modify(self, socket: Any, flags: int = POLLIN | POLLOUT) -> None:
        self.register(socket, flags)

    def unregister(self, socket: Any) -> None:
        idx = self._map.pop(socket)
        self.sockets.pop(idx)
        for other, index in self._map.items():
            if index > idx:
                self._map[other] = index - 1

    def _ready(self, fd_events):
        result = []
        for sock, flags in self.sockets:
            if _is_zmq_socket(sock):
                if sock.closed:
                    # pyzmq: polling a closed socket is ENOTSOCK, a terminated context ETERM.
                    raise ZMQError(Errno.ENOTSOCK, "Poller: a registered socket was closed")
                if sock.context._terminated:
                    raise ContextTerminated()
                events = sock._events() & flags
            else:
                fd = _fileno(sock)
                events = fd_events.get(fd, 0) & (flags | POLLERR)
                sock = fd   # pyzmq (and zmq.green) report objects with fileno() by their fd
            if events:
                result.append((sock, events))
        return result

    def poll(self, timeout: Optional[float] = None) -> List[Tuple[Any, int]]:
        """Wait for events; returns [(socket, events)]. timeout in milliseconds: None or a
        negative value waits forever, 0 returns at once."""
        if timeout is not None and timeout < 0:
            timeout = None
        fd_events = {}
        fds = [(_fileno(s), f) for s, f in self.sockets if not _is_zmq_socket(s)]
        if fds:
            fd_events = poll_fds_now(fds)
        ready = self._ready(fd_events)
        if ready or timeout == 0:
            return ready
        signals = []
        for sock, flags in self.sockets:
            if _is_zmq_socket(sock):
                # (close() and term() fire both, so a closed socket is always noticed.)
                if flags & POLLIN:
                    signals.append(sock._in_signal)
                if flags & POLLOUT:
                    signals.append(sock._out_signal)
        watch = None
        if fds:
            fd_signal = Signal()
            signals.append(fd_signal)
            watch = FdWatch(fds, fd_signal, fd_events)
        try:
            seconds = None if timeout is None else timeout / 1000.0
            ready = wait_until(lambda: self._ready(fd_events), seconds, signals)
            return ready if ready is not None else self._ready(fd_events)
        finally:
            if watch is not None:
                watch.close()


def select(rlist: Sequence[Any], wlist: Sequence[Any], xlist: Sequence[Any],
           timeout: Optional[float] = None) -> Tuple[List[Any], List[Any], List[Any]]:
    """zmq.select: like select.select for gzmq sockets and fds; timeout in seconds."""
    if timeout is None:
        timeout_ms = None
    elif timeout < 0:
        timeout_ms = None
    else:
        timeout_ms = int(timeout * 1000.0)
    poller = Poller()
    for s in set(rlist) | set(wlist) | set(xlist):
        flags = 0
        if s in rlist:
            flags |= POLLIN
        if s in wlist:
            flags |= POLLOUT
        if s in xlist:
            flags |= POLLERR
        poller.register(s, flags)
    events = dict(poller.poll(timeout_ms))
    # As pyzmq: gzmq sockets come back as themselves, anything else as its fd.
    def key(s):
        return s if _is_zmq_socket(s) else _fileno(s)

    return ([key(s) for s in rlist if events.get(key(s), 0) & POLLIN],
            [key(s) for s in wlist if events.get(key(s), 0) & POLLOUT],
            [key(s) for s in xlist if events.get(key(s), 0) & POLLERR])
