"""Listeners and connecters for the stream transports (tcp, ipc).

A Listener owns a listening OS socket and an accept greenlet; each accepted connection gets
a new Pipe and a Session running in its own greenlet. A Connecter owns one connect()ed
endpoint: it keeps (re)connecting with RECONNECT_IVL, doubling up to RECONNECT_IVL_MAX, and
runs one Session at a time on the same Pipe, so messages queued before the peer existed, or
while it was away, wait in that pipe (libzmq's connect semantics, unless IMMEDIATE).
"""
import errno as _errno
import logging
import random

import gevent

from ..constants import Event as MonitorEvent
from .session import Session

log = logging.getLogger("gzmq")


class Listener:
    def __init__(self, owner, endpoint, lsock, transport, unlink=None):
        self.owner = owner
        self.endpoint = endpoint
        self.lsock = lsock
        self.transport = transport
        self.unlink = unlink
        self.closed = False
        self.fd = lsock.fileno()
        self.greenlet = gevent.spawn(self._accept_loop)

    def _accept_loop(self):
        owner = self.owner
        backoff = 0.01
        while not self.closed:
            try:
                sock, _addr = self.lsock.accept()
            except OSError as exc:
                if self.closed:
                    return
                # EMFILE and friends: report, back off, keep listening (never spin).
                owner._event(MonitorEvent.ACCEPT_FAILED, exc.errno or 0, self.endpoint)
                log.warning("%s: accept failed: %s", self.endpoint, exc)
                gevent.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            backoff = 0.01
            try:
                self.transport.configure(sock, owner._transport_options())
            except OSError:
                sock.close()
                continue
            owner._event(MonitorEvent.ACCEPTED, sock.fileno(), self.endpoint)
            owner._spawn_session(sock, self.endpoint, self.transport)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.greenlet.kill(block=False)
        try:
            self.lsock.close()
        except OSError:
            pass
        if self.unlink:
            from ..transports import ipc
            ipc.remove(self.unlink)
        self.owner._event(MonitorEvent.CLOSED, self.fd, self.endpoint)


class Connecter:
    def __init__(self, owner, endpoint, transport, target, pipe):
        self.owner = owner
        self.endpoint = endpoint
        self.transport = transport
        self.target = target
        self.pipe = pipe  # None with IMMEDIATE: the pipe exists only while connected
        self.session = None
        self.stopped = False
        self.greenlet = gevent.spawn(self._run)

    def _next_interval(self, current):
        ivl = self.owner._opt_reconnect_ivl()
        ivl_max = self.owner._opt_reconnect_ivl_max()
        if current is None:
            current = ivl
        elif ivl_max > ivl:
            current = min(current * 2, ivl_max)
        # libzmq adds up to one base interval of jitter so reconnect storms spread out.
        jitter = random.uniform(0, ivl) if ivl > 0 else 0
        return current, current + jitter

    def _run(self):
        # Events mirror libzmq's sequence per attempt (measured with pyzmq):
        # CONNECT_DELAYED(EINPROGRESS) then CONNECTED(fd), or CLOSED(fd) + CONNECT_RETRIED(ms).
        owner = self.owner
        transport = self.transport
        endpoint = self.endpoint
        current = None
        while not self.stopped:
            if getattr(transport, "ASYNC_CONNECT", False):
                owner._event(MonitorEvent.CONNECT_DELAYED, _errno.EINPROGRESS, endpoint)
            try:
                sock = transport.connect(self.target, endpoint, owner._transport_options(),
                                         timeout=owner._opt_connect_timeout())
            except OSError as exc:
                if self.stopped:
                    return
                owner._event(MonitorEvent.CLOSED, getattr(exc, "gzmq_fd", -1), endpoint)
                if owner._opt_reconnect_ivl() < 0 or (owner._closed and not self._has_backlog()):
                    return
                current, wait = self._next_interval(current)
                owner._event(MonitorEvent.CONNECT_RETRIED, int(wait * 1000), endpoint)
                gevent.sleep(wait)
                continue
            current = None
            try:
                transport.configure(sock, owner._transport_options())
            except OSError:
                pass
            owner._event(MonitorEvent.CONNECTED, sock.fileno(), endpoint)
            pipe = self.pipe if self.pipe is not None else owner._new_pipe(endpoint, connect_side=True,
                                                                          attach=False)
            session = self.session = Session(owner, sock, pipe, endpoint, transport, True)
            session.run()
            self.session = None
            if session.protocol_error:
                # libzmq terminates a session whose peer broke the protocol (or refused us) and
                # never reconnects to it: its pipe leaves the socket, so round-robin stops
                # sending there and what was queued for it is dropped.
                self.stopped = True
                owner._abandon_connecter(self, pipe)
                return
            if self.stopped or owner._closed or owner._opt_reconnect_ivl() < 0:
                return
            current, wait = self._next_interval(None)
            owner._event(MonitorEvent.CONNECT_RETRIED, int(wait * 1000), endpoint)
            gevent.sleep(wait)

    def _has_backlog(self):
        return self.pipe is not None and bool(self.pipe.pending_out())

    def stop(self, kill_session=True):
        self.stopped = True
        if kill_session and self.session is not None:
            self.session.kill("disconnect")
        if self.session is None and self.greenlet is not gevent.getcurrent():
            self.greenlet.kill(block=False)
