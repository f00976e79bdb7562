"""Listeners and connecters for the stream transports (tcp, ipc).

A Listener owns a listening OS socket and an accept greenlet; each accepted connection gets
a new pipe pair and a Session (SocketEngine.accepted). A Connecter owns one connect()ed
endpoint: it keeps (re)connecting with RECONNECT_IVL, doubling up to RECONNECT_IVL_MAX, and
runs one Session at a time on the same pipe, so messages queued before the peer existed, or
while it was away, wait in that pipe (libzmq's connect semantics, unless IMMEDIATE). Both
belong to a socket's engine (gzmq.engine.socket_engine) and run on its hub.
"""
import errno as _errno
import logging
import random
import socket as _stdsocket

import gevent
from gevent import socket as gsocket

from ..constants import Event as MonitorEvent, ReconnectStop

log = logging.getLogger("gzmq")

RECONNECT_STOP_CONN_REFUSED = int(ReconnectStop.CONN_REFUSED)
RECONNECT_STOP_AFTER_DISCONNECT = int(ReconnectStop.AFTER_DISCONNECT)


class Listener:
    def __init__(self, engine, endpoint, lsock, transport, unlink=None):
        self.engine = engine
        self.endpoint = endpoint
        # The transport opened a plain OS socket on the socket's thread; accept on it here,
        # on the engine's hub.
        self.lsock = gsocket.socket(fileno=lsock.detach())
        self.transport = transport
        self.unlink = unlink
        self.closed = False
        self.fd = self.lsock.fileno()
        self.greenlet = gevent.spawn(self._accept_loop)

    def _accept_loop(self):
        engine = self.engine
        backoff = 0.01
        while not self.closed:
            try:
                sock, _addr = self.lsock.accept()
            except OSError as exc:
                if self.closed:
                    return
                # EMFILE and friends: report, back off, keep listening (never spin).
                engine.monitor_event(MonitorEvent.ACCEPT_FAILED, exc.errno or 0, self.endpoint)
                log.warning("%s: accept failed: %s", self.endpoint, exc)
                gevent.sleep(backoff)
                backoff = min(backoff * 2, 1.0)
                continue
            backoff = 0.01
            admit = getattr(self.transport, "admit", None)
            if admit is not None and not admit(sock, engine.options.transport):
                # TCP_ACCEPT_FILTER / IPC_FILTER_*: libzmq closes it at once and reports
                # ACCEPT_FAILED, with EAGAIN as its value (measured with pyzmq).
                log.info("%s: refused a connection from %s (accept filter)", self.endpoint,
                         self.transport.peer_address(sock))
                engine.monitor_event(MonitorEvent.ACCEPT_FAILED, _errno.EAGAIN, self.endpoint)
                sock.close()
                continue
            try:
                self.transport.configure(sock, engine.options.transport)
            except OSError:
                sock.close()
                continue
            engine.monitor_event(MonitorEvent.ACCEPTED, sock.fileno(), self.endpoint)
            self.accepted(sock)

    def accepted(self, sock):
        """A connection came in (a transport's own Listener may first do more, as ws:// its
        HTTP upgrade)."""
        self.engine.accepted(sock, self.endpoint, self.transport)

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.greenlet.kill(block=False)
        try:
            # gevent closes a socket a greenlet waits on only on the loop's next turn; stop
            # listening now, so that the port is free when unbind() returns.
            self.lsock.shutdown(_stdsocket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.lsock.close()
        except OSError:
            pass
        if self.unlink:
            self.transport.remove(self.unlink)
        self.engine.monitor_event(MonitorEvent.CLOSED, self.fd, self.endpoint)


class Connecter:
    """end: our end of the socket's pipe for this endpoint, or None with IMMEDIATE (then each
    connection gets a pipe of its own, which leaves the socket when the connection ends)."""

    def __init__(self, engine, endpoint, transport, target, end):
        self.engine = engine
        self.endpoint = endpoint
        self.transport = transport
        self.target = target
        self.end = end
        self.session = None
        self.stopped = False
        self.greenlet = gevent.spawn(self._run)

    def _next_interval(self, current):
        options = self.engine.options
        ivl = options.reconnect_ivl
        ivl_max = options.reconnect_ivl_max
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
        engine = self.engine
        transport = self.transport
        endpoint = self.endpoint
        current = None
        while not self.stopped:
            options = engine.options
            if getattr(transport, "ASYNC_CONNECT", False):
                engine.monitor_event(MonitorEvent.CONNECT_DELAYED, _errno.EINPROGRESS, endpoint)
            try:
                sock = transport.connect(self.target, endpoint, options.transport,
                                         timeout=options.connect_timeout)
            except OSError as exc:
                if self.stopped:
                    return
                engine.monitor_event(MonitorEvent.CLOSED, getattr(exc, "gzmq_fd", -1), endpoint)
                if options.reconnect_ivl < 0 or (engine.closing and not self.has_backlog()):
                    return
                if exc.errno == _errno.ECONNREFUSED and self._stop_when_refused(options):
                    return
                current, wait = self._next_interval(current)
                engine.monitor_event(MonitorEvent.CONNECT_RETRIED, int(wait * 1000), endpoint)
                gevent.sleep(wait)
                continue
            current = None
            try:
                transport.configure(sock, options.transport)
            except OSError:
                pass
            engine.monitor_event(MonitorEvent.CONNECTED, sock.fileno(), endpoint)
            end = self.end if self.end is not None else engine.new_pipe(endpoint, connect_side=True)
            session = self.session = engine.session_class()(engine, sock, end, endpoint, transport, True)
            engine.sessions.add(session)
            session.run()
            self.session = None
            if session.protocol_error or session.refused:
                # libzmq terminates a session whose peer broke the protocol (or refused us) and
                # never reconnects to it: its pipe leaves the socket, so round-robin stops
                # sending there and what was queued for it is dropped.
                self.stopped = True
                end.drop_inbound()
                end.terminate()
                return
            if self.end is None:
                end.terminate()        # IMMEDIATE: the pipe lived as long as the connection
            elif not self.stopped:
                end.hiccup()           # the pipe stays; what the socket queues waits for us
            if self.stopped or engine.closing or engine.options.reconnect_ivl < 0:
                return
            current, wait = self._next_interval(None)
            engine.monitor_event(MonitorEvent.CONNECT_RETRIED, int(wait * 1000), endpoint)
            gevent.sleep(wait)

    def _stop_when_refused(self, options):
        """RECONNECT_STOP: CONN_REFUSED gives up on the first refused connect; AFTER_DISCONNECT
        gives up once the socket has disconnect()ed any endpoint (libzmq: ipc connecters only).
        The endpoint's pipe leaves the socket, as libzmq's term_endpoint."""
        stop = options.reconnect_stop
        if not (stop & RECONNECT_STOP_CONN_REFUSED
                or (stop & RECONNECT_STOP_AFTER_DISCONNECT and self.engine.disconnected
                    and getattr(self.transport, "STOP_AFTER_DISCONNECT", False))):
            return False
        log.info("%s: connection refused; not reconnecting (RECONNECT_STOP)", self.endpoint)
        self.stopped = True
        if self.end is not None:
            self.end.drop_inbound()
            self.end.terminate()
        return True

    def has_backlog(self):
        """Messages the socket queued for this endpoint that are not sent yet."""
        return self.end is not None and bool(self.end.pending_in())

    def stop(self, kill_session=True):
        self.stopped = True
        if kill_session and self.session is not None:
            self.session.kill("disconnect")
        if self.session is None and self.greenlet is not gevent.getcurrent():
            self.greenlet.kill(block=False)
