"""SocketEngine: a socket's part of the engine, on the socket's I/O hub.

It owns what the socket's tcp/ipc endpoints made: listeners, connecters, and the sessions
they run, with their greenlets and OS sockets. The socket and its engine meet in two places
only (libzmq's socket_base_t / session_base_t split):

    the pipes       one pipe pair per peer; the socket holds one end, a session the other.
                    Messages, flow control and the pipe events (read/write activated,
                    hiccuped, terminated) pass there, each on its owner's thread.
    two interfaces  SocketSide (what the engine asks of its socket) and the calls below
                    (what the socket asks of its engine), each delivered on the other's
                    thread: the socket calls through the engine's HubLink, the engine calls
                    back through the socket's Mailbox.

The engine reads options only from the EngineOptions its socket gave it, so it never
touches the socket's state, and it may run on another OS thread than the socket (the I/O
thread of gzmq's background-I/O mode) as well as on the socket's own hub.
"""
import logging
from typing import Protocol

import gevent

from ..constants import Event as MonitorEvent
from . import process
from .endpoints import Connecter, Listener
from .pipe import pipe_pair
from .raw_session import RawSession
from .session import Session

log = logging.getLogger("gzmq")


class SocketSide(Protocol):
    """What a socket offers its engine. attach_pipe() and the pipe events arrive through the
    socket's mailbox (on the socket's thread); monitor_event() may be called from any thread."""

    def pipe_ready(self, pipe) -> None:
        """A peer finished its handshake: its pipe joins the socket (or is refused, by
        terminating it)."""

    def monitor_event(self, event: int, value: int, endpoint: str) -> None:
        """Report a connection event to the socket's monitor."""


class SessionHost(Protocol):
    """What a Session (or Listener, Connecter) may ask of its socket's engine."""

    options: object     # EngineOptions
    io: object          # the HubLink of the hub the session runs on
    context: object     # for the ZAP handler (its inproc registry)

    def monitor_event(self, event: int, value: int, endpoint: str) -> None: ...
    def session_ready(self, session) -> None: ...
    def session_ended(self, session, reason) -> None: ...


class SocketEngine:
    """See the module docstring. Every method runs on the engine's hub (`io`)."""

    def __init__(self, socket, mailbox, context, io, options):
        self.socket = socket        # SocketSide; also the sink of the socket's pipe ends
        self.mailbox = mailbox      # the socket's Mailbox: our calls to it go there
        self.context = context
        self.io = io                # the HubLink of the hub we run on
        self.options = options      # EngineOptions, replaced by the socket when they change
        self.listeners = {}         # endpoint -> Listener
        self.connecters = {}        # endpoint -> [Connecter]
        self.sessions = set()
        self.closing = False
        self.disconnected = False   # disconnect() was called (RECONNECT_STOP_AFTER_DISCONNECT)
        process.register(self)      # (the exit-time flush, fork)

    # -- the socket's calls ------------------------------------------------------------------
    def listen(self, endpoint, lsock, transport, unlink=None):
        # A transport may bring its own Listener (ws:// upgrades each connection first).
        listener = getattr(transport, "Listener", Listener)
        self.listeners[endpoint] = listener(self, endpoint, lsock, transport, unlink)

    def connect(self, endpoint, transport, target, end):
        """end: our end of the pipe the socket made at connect() (None with IMMEDIATE)."""
        self.connecters.setdefault(endpoint, []).append(Connecter(self, endpoint, transport, target, end))

    def unbind(self, endpoint):
        listener = self.listeners.pop(endpoint, None)
        if listener is None:
            return
        listener.close()
        # libzmq also drops the connections accepted through that endpoint.
        for session in list(self.sessions):
            if not session.connect_side and session.endpoint == endpoint:
                session.kill("unbound")

    def disconnect(self, endpoint):
        # RECONNECT_STOP_AFTER_DISCONNECT: from now on the socket's ipc connecters give up
        # when the peer refuses them (libzmq's socket_base_t::_disconnected).
        self.disconnected = True
        for connecter in self.connecters.pop(endpoint, ()):
            connecter.stop()

    def close(self, linger, monitor=None):
        """The socket closed. With LINGER (ms, -1 forever) the messages it queued are still
        delivered; the context's term() waits for that (the socket registered us with
        _linger_begin). LINGER 0 drops them. Then the socket's monitor stops."""
        if self.closing:
            return
        self.closing = True
        for listener in list(self.listeners.values()):
            listener.close()
        self.listeners.clear()
        lingering = []
        for connecters in self.connecters.values():
            for connecter in connecters:
                if linger != 0 and connecter.has_backlog():
                    lingering.append(connecter)      # keeps (re)connecting until flushed
                    if connecter.session is not None:
                        connecter.session.linger()
                else:
                    connecter.stop()
        self.connecters.clear()
        for session in list(self.sessions):
            if session.connect_side:
                continue                             # (its connecter decided above)
            if linger != 0 and session.end.pending_in():
                session.linger()
                lingering.append(session)
            else:
                session.kill("socket closed")
        if lingering:
            gevent.spawn(self._linger, lingering, linger)
        else:
            self.context._linger_end(self)
        if monitor is not None:
            self.mailbox.call(monitor.stop)     # on the socket's thread: it owns the PAIR

    def _linger(self, items, linger):
        """Stop lingering sessions and connecters when LINGER expires (-1: never)."""
        try:
            deadline = None if linger is None or linger < 0 else linger / 1000.0
            greenlets = [item.greenlet if isinstance(item, Connecter) else item._reader
                         for item in items]
            gevent.joinall([g for g in greenlets if g is not None], timeout=deadline)
        finally:
            for item in items:
                if isinstance(item, Connecter):
                    item.stop()
                else:
                    item.kill("linger expired")
            self.context._linger_end(self)

    # -- SessionHost ------------------------------------------------------------------------
    def monitor_event(self, event, value, endpoint):
        try:
            self.socket.monitor_event(event, value, endpoint)
        except ReferenceError:
            pass            # the socket was collected (it closed itself then)

    def new_pipe(self, endpoint, connect_side):
        """A pipe pair for a new connection: the socket's end (its sink is the socket) and
        ours, which the session takes."""
        o = self.options
        pipe, end = pipe_pair(self.socket, self.mailbox, None, self.io, o.sndhwm, o.rcvhwm,
                              endpoint, conflate_ba=o.conflate)
        pipe.connect_side = connect_side
        return end

    def session_class(self):
        """What runs one connection: a ZMTP Session, or a RawSession for STREAM sockets."""
        return RawSession if self.options.raw else Session

    def accepted(self, sock, endpoint, transport):
        session = self.session_class()(self, sock, self.new_pipe(endpoint, False), endpoint,
                                       transport, False)
        self.sessions.add(session)
        gevent.spawn(session.run)

    def session_ready(self, session):
        if self.closing:
            # The socket closed while this connection was being made: it only delivers what
            # was queued (a lingering connecter), and the socket takes no new peer.
            session.linger()
            return
        try:
            self.mailbox.call(self.socket.pipe_ready, session.pipe)
        except ReferenceError:
            session.linger()    # the socket was collected: it takes no new peer

    def session_ended(self, session, reason):
        self.sessions.discard(session)
        # libzmq reports DISCONNECTED when a connection it had is lost, a failed handshake
        # included (after its HANDSHAKE_FAILED_* event), not when the socket itself closes.
        if not self.closing:
            self.monitor_event(MonitorEvent.DISCONNECTED, session.fd, session.endpoint)
        if not session.connect_side:
            session.end.terminate()   # the peer is gone: its pipe leaves the socket
        # (A connecter decides for its own pipe: reconnect or give up.)
        self.context._resource_done()

    # -- the exit-time flush (gzmq.context) ---------------------------------------------------
    def unflushed(self):
        """(whether a connected peer still has messages to be written, how many): a writer in
        the middle of its last batch counts."""
        pending = False
        queued = 0
        for session in list(self.sessions):
            busy, count = session.unsent()
            if busy:
                pending = True
                queued += count
        return pending, queued
