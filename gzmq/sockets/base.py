"""SocketBase: the socket core every socket type shares (libzmq's socket_base_t).

The core holds the socket's pipes (one per peer, gzmq.engine.pipe), moves whole messages
through them (send, recv and their waits), takes the pipes' events and closes. Options
(gzmq.sockets.options), endpoints (.endpoints) and pyzmq's conveniences (.sugar) are mixed
in from their own modules; the socket's engine (gzmq.engine.socket_engine) runs its
connections. Socket types (one small module each) plug routing into the hooks of
gzmq.sockets.hooks.

Blocking calls wait with gzmq.engine.wait.wait_until on the socket's two Signals (messages
in, room out), which the pipes' events fire only when someone waits, and only once per
batch. A wait ends with a message, Again (DONTWAIT or RCVTIMEO/SNDTIMEO expired), ENOTSOCK
(socket closed) or ContextTerminated. An interrupted wait (gevent.Timeout, kill)
takes nothing out of a queue, so nothing is lost and the socket stays usable.
"""
from __future__ import annotations

import logging
import warnings
import weakref
from types import GenericAlias
from typing import Any, Callable, List, Literal, Optional, Sequence, Union, overload

from ..constants import Errno, Flag, PollEvent, SocketOption, SocketType
from ..engine.pipe import Pipe, pipe_pair
from ..engine.deferred import relieve
from ..engine.socket_engine import SocketEngine
from ..engine.wait import EventFD, Mailbox, Signal, thread_ident, wait_until, yield_turn
from ..error import Again, ContextTerminated, ZMQError
from ..message import COPY_THRESHOLD, Frame, MessageTracker, frame_data, tracked_frame
from ..shadow import make_shadow, register as register_address
from .endpoints import EndpointsMixin
from .options import DEFAULTS, OptionsMixin
from .hooks import RoutingHooks
from .sugar import SugarMixin, install_option_properties

log = logging.getLogger("gzmq")

DONTWAIT = int(Flag.DONTWAIT)
SNDMORE = int(Flag.SNDMORE)

TYPE_NAMES: dict[Any, str] = {
    SocketType.PAIR: "PAIR", SocketType.PUB: "PUB", SocketType.SUB: "SUB", SocketType.REQ: "REQ",
    SocketType.REP: "REP", SocketType.DEALER: "DEALER", SocketType.ROUTER: "ROUTER",
    SocketType.PULL: "PULL", SocketType.PUSH: "PUSH", SocketType.XPUB: "XPUB",
    SocketType.XSUB: "XSUB", SocketType.STREAM: "STREAM", SocketType.SERVER: "SERVER",
    SocketType.CLIENT: "CLIENT", SocketType.RADIO: "RADIO", SocketType.DISH: "DISH",
    SocketType.GATHER: "GATHER", SocketType.SCATTER: "SCATTER", SocketType.DGRAM: "DGRAM",
    SocketType.PEER: "PEER", SocketType.CHANNEL: "CHANNEL",
}

O = SocketOption

_default_context: Any = None


def set_default_context(factory: Callable[[], Any]) -> None:
    """What Socket(None, type) uses (gzmq.context registers Context.instance)."""
    global _default_context
    _default_context = factory


class SocketBase(RoutingHooks, OptionsMixin, EndpointsMixin, SugarMixin):
    """The socket core; see the module docstring. Public API is pyzmq's."""

    _gzmq_socket = True        # (how gzmq.poll tells a gzmq socket from a file descriptor)
    _type: Optional[SocketType] = None
    _shadow = False
    _internal = False          # a socket gzmq made for itself: Context.term() does not wait for it
    # pyzmq's Socket is Generic (zmq.Socket[bytes] in annotations evaluated at run time).
    __class_getitem__: Any = classmethod(GenericAlias)
    _monitor_socket: Any = None  # the PAIR get_monitor_socket() made (returned again while open)
    _peer_types: frozenset[str] = frozenset()
    _can_send = True
    _can_recv = True

    def __init__(self, context: Any = None, socket_type: Optional[int] = None, **kwargs: Any) -> None:
        if context is None:
            context = _default_context()
        self.context = context
        self._options = dict(DEFAULTS)
        self._app_metadata: dict[str, Any] = {}   # METADATA: X- properties sent in our handshake
        self._pipes: list[Any] = []
        self._bound = {}          # endpoint -> Binding (gzmq.transports)
        self._connected = {}      # endpoint -> [Link]
        self._closed = False
        self._in_signal = Signal()    # fired when messages may have arrived
        self._out_signal = Signal()   # fired when room may have appeared
        self._rcv_parts = None
        self._rcv_idx = 0
        self._rcv_pipe = None
        self._snd_parts: list[Any] = []
        self._sndtimeo = None
        self._rcvtimeo = None
        self._monitor = None
        # Calls from other threads (pipe events, destroy()) run on the socket's thread: its mailbox.
        self._mailbox = Mailbox((self._in_signal, self._out_signal))
        self._type_name = TYPE_NAMES.get(self._type, str(self._type))
        self._init_routing()
        # Pipes and the engine know the socket weakly, so that a socket the program forgot
        # is collected (and closed, see __del__) although its connections still run.
        self._proxy = weakref.proxy(self)
        # The engine (listeners, connecters, sessions) runs on the I/O hub the context
        # chooses: this thread's (in-hub mode) or an I/O thread's.
        self._io = context._io_link()
        self._engine = SocketEngine(self._proxy, self._mailbox, context, self._io,
                                    self._engine_options())
        context._register_socket(self)
        register_address(self)

    @classmethod
    def shadow(cls, address: Any) -> Any:
        """Another handle on the socket `address` (a Socket or its `underlying`); gzmq.shadow."""
        return make_shadow(address, SocketBase)

    def __copy__(self, memo: Any = None) -> Any:
        return make_shadow(self, SocketBase)

    __deepcopy__ = __copy__

    # -- identity ---------------------------------------------------------------------------
    @property
    def type(self) -> int:
        return self._type  # type: ignore[return-value]  # set by every socket type

    @property
    def socket_type(self) -> int:
        return self._type  # type: ignore[return-value]

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def underlying(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        state = " (closed)" if self._closed else ""
        return f"<gzmq.Socket(zmq.{self._type_name}) at {hex(id(self))}{state}>"

    def _event_fd(self):
        """zmq.FD, made on first use: readable whenever EVENTS may have changed (a pipe's
        event, a command from another thread); getsockopt(EVENTS) resets it before looking.
        As libzmq's: edge-triggered, so after it fires, re-check EVENTS until the condition
        you wait for is gone."""
        fd = self._mailbox.fd
        if fd is None:
            fd = self._mailbox.fd = EventFD()
            fd.set()        # whatever the state now, the first look is due
        return fd

    def __del__(self):
        # pyzmq: a socket the program forgot is closed when it is collected, with a
        # ResourceWarning; so Context.term() does not wait for it forever.
        if self.__dict__.get("_closed", True) or self._shadow:
            return
        try:
            warnings.warn(f"Unclosed socket {self!r}", ResourceWarning, stacklevel=2, source=self)
        except Exception:   # pragma: no cover - interpreter shutdown
            pass
        try:
            self._close(None, wait=False)   # (a finalizer must not block)
        except Exception:   # pragma: no cover - never raise from a finalizer
            pass

    # -- TransportHost (gzmq.transports) and SocketSide (gzmq.engine.socket_engine) -----------
    @property
    def engine(self) -> SocketEngine:
        """This socket's engine: its connections, on its I/O hub."""
        return self._engine

    @property
    def engine_options(self) -> Any:
        return self._engine.options

    @property
    def mailbox(self) -> Mailbox:
        return self._mailbox

    def make_pipe(self, endpoint: str, connect_side: bool, peer_mailbox: Optional[Mailbox]) -> tuple[Pipe, Pipe]:
        """A pipe pair for a new peer: (our end, not attached yet; the other end, whose owner
        is told through peer_mailbox, None until it has an owner)."""
        o = self._options
        pipe, end = pipe_pair(self._proxy, self._mailbox, None, peer_mailbox, o[O.SNDHWM],
                              o[O.RCVHWM], endpoint, conflate_ba=self._conflate_inbound())
        pipe.connect_side = connect_side
        return pipe, end

    def attach_pipe(self, pipe: Pipe, subscribe_to_all: bool = False) -> None:
        """The pipe joins the socket's routing (for connect(), before its peer is known)."""
        if pipe in self._pipes:
            return
        self._pipes.append(pipe)
        self._xattach(pipe)
        if subscribe_to_all:
            self._xsubscribe_all(pipe)
        self._notify_out()

    def _conflate_inbound(self):
        """CONFLATE: keep only the newest received message (socket types that support it)."""
        return False

    def pipe_ready(self, pipe: Pipe) -> None:
        """(through the mailbox) The peer behind a pipe is known (its handshake finished): it
        joins the socket, or is refused (PAIR already paired); then the pipe is terminated,
        which ends the connection for good."""
        if self._closed or pipe.terminated or not pipe.alive:
            return     # closed meanwhile (its engine only flushes), or dropped already
        self.attach_pipe(pipe)
        pipe.ready = True
        if not self._xready(pipe):
            pipe.ready = False
            self._drop_pipe(pipe)
        elif pipe.pending_in():     # (they activated no one: a blocked recv must look now)
            self._notify_in()

    def hiccuped(self, pipe: Pipe) -> None:
        """(pipe) A connect()ed peer's connection was lost; the pipe stays and messages keep
        queueing for the reconnect. Half-delivered state (subscriptions) resets."""
        pipe.ready = False
        if pipe.alive and not self._closed:
            self._xhiccup(pipe)

    def pipe_terminated(self, pipe: Pipe) -> None:
        """(pipe) The other end is gone for good: the connection ended (or a connecter gave
        up). What the peer delivered stays readable; what we queued for it is dropped."""
        pipe.drop_outbound()
        self._detach_pipe(pipe)
        if pipe.connect_side:
            self._forget_connection(pipe)

    def _detach_pipe(self, pipe):
        if not pipe.alive:
            return
        pipe.alive = False
        try:
            self._pipes.remove(pipe)
        except ValueError:
            pass
        self._xdetach(pipe)     # (what the peer delivered stays readable, as in libzmq)

    def _drop_pipe(self, pipe):
        """Drop a peer (disconnect, ROUTER handover, refused): its connection ends."""
        self._detach_pipe(pipe)
        pipe.terminate()

    @property
    def _sessions(self):
        """The live connections of this socket's engine (for tests and diagnostics)."""
        return self._engine.sessions

    # -- the pipes' events (gzmq.engine.pipe), on this socket's thread ----------------------
    def read_activated(self, pipe: Pipe) -> None:
        """A pipe that had no message has one now (once per batch, not per message)."""
        if not pipe.alive and not pipe.pending_in():
            return
        self._xreadable(pipe)
        self._notify_in()

    def write_activated(self, pipe: Pipe) -> None:
        """A pipe that was full has drained to half its HWM."""
        if not pipe.alive:
            return
        self._xwritable(pipe)
        self._notify_out()

    def _notify_in(self):
        if self._in_signal.waiters:
            self._in_signal.fire()
        if self._mailbox.fd is not None:
            self._mailbox.fd.set()

    def _notify_out(self):
        if self._out_signal.waiters:
            self._out_signal.fire()
        if self._mailbox.fd is not None:
            self._mailbox.fd.set()

    # -- giving the engine a turn (PUB/XPUB) ------------------------------------------------
    _unwanted = 0      # messages nobody wanted (PUB/XPUB): every 256th gives the hub a turn

    def _dropped(self):
        """A message nobody subscribed to was dropped, as in libzmq. A program that publishes
        in a loop and never blocks (the zguide's wuserver.py) would then never let this
        thread's hub run, so no subscriber would ever be accepted, handshaken or heard, whereas
        libzmq's I/O thread does all that meanwhile. So every 256th such message gives the hub
        a turn (a yield, not a block); a message that goes somewhere costs nothing more."""
        n = self._unwanted = self._unwanted + 1
        if not n & 255 and self._io.thread == thread_ident():
            yield_turn()      # (an I/O thread needs no turn from us)

    def _retry_full(self, full, msg):
        """Pipes that missed msg at SNDHWM: the engine may drain them at once (in-hub, their
        writers may simply not have run yet; gzmq.engine.deferred.relieve), then they get a
        second try; a subscriber that is really behind misses the message, as in libzmq."""
        relieve(full)
        for pipe in full:
            if pipe.alive:
                pipe.write(msg)

    def _notify_term(self):
        """Context terminating: blocked calls (any thread) and zmq.FD's readers find ETERM."""
        self._in_signal.fire()
        self._out_signal.fire()
        if self._mailbox.fd is not None:
            self._mailbox.fd.set()

    def _check_usable(self):
        """A blocked call ends: ENOTSOCK once the socket is closed, ETERM once its context
        terminates."""
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket was closed")
        if self.context._terminated:
            raise ContextTerminated()

    def monitor_event(self, event: int, value: int, endpoint: str) -> None:
        """Report a connection event to this socket's monitor (see monitor())."""
        monitor = self._monitor
        if monitor is not None:
            monitor.emit(int(event), value, endpoint)

    # -- sending ---------------------------------------------------------------------------
    def send(self, data: Any, flags: int = 0, copy: bool = True, track: bool = False,
             routing_id: Optional[int] = None, group: Optional[str] = None) -> Optional[MessageTracker]:
        """Send one frame; with SNDMORE more frames of the same message follow.

        data: bytes or any buffer (bytearray, memoryview, numpy array, Frame). str raises
        TypeError (use send_string). copy=False keeps a reference instead of copying.
        Blocks (cooperatively) at SNDHWM unless DONTWAIT; raises Again on DONTWAIT or when
        SNDTIMEO expires. Returns a MessageTracker if track=True, else None.
        """
        if type(flags) is not int:
            flags = int(flags)   # zmq.DONTWAIT is an IntFlag: `flags & X` on it costs ~1 us
        if self._mailbox.commands or self._mailbox.thread != thread_ident():
            self._mailbox.process()   # what other threads told us first (libzmq too); ours now
        tracker = None
        if track:
            data, tracker = self._tracked_frame(data, copy, None)
        elif type(data) is not bytes:
            if isinstance(data, Frame) and data.tracker is not None:
                # pyzmq returns a tracked Frame's tracker even without track=True.
                data, tracker = self._tracked_frame(data, copy, None)
            else:
                data = self._frame_data(data, copy)
        if flags & SNDMORE:
            parts = self._snd_parts
            if not parts:
                self._check_open()
                if not self._can_send:
                    raise ZMQError(Errno.ENOTSUP, f"{self._type_name} socket cannot send")
                self._wait_writable_start(flags)
            parts.append(data)
            return tracker
        if self._snd_parts:
            parts = self._snd_parts
            parts.append(data)
            self._snd_parts = []
        else:
            parts = [data]
        if not self._closed and self._xsend(parts):
            return tracker    # the common case, without the call into _send_msg
        try:
            self._send_msg(parts, flags)
            return tracker
        except Again:
            self._keep_partial(parts)
            raise
        except Exception:
            raise
        except BaseException:       # an interrupted wait (gevent.Timeout, a kill)
            self._keep_partial(parts)
            raise

    def _keep_partial(self, parts):
        if len(parts) > 1:
            # Keep the frames already accepted so a retry of the last frame completes it.
            self._snd_parts = parts[:-1]

    def send_multipart(self, msg_parts: Sequence[Any], flags: int = 0, copy: bool = True, track: bool = False,
                       **kwargs: Any) -> Optional[MessageTracker]:
        """Send a sequence of frames as one message (all or nothing)."""
        if type(flags) is not int:
            flags = int(flags)
        if self._mailbox.commands or self._mailbox.thread != thread_ident():
            self._mailbox.process()
        parts = []
        tracker = MessageTracker() if track else None
        for i, part in enumerate(msg_parts):
            if type(part) is not bytes or tracker is not None:
                if isinstance(part, str):
                    raise TypeError(f"Frame {i} ({part!r:.20}) does not support the buffer interface.")
                if tracker is None:
                    part = self._frame_data(part, copy)
                else:
                    part = self._tracked_frame(part, copy, tracker)[0]
            parts.append(part)
        if not parts:
            raise ValueError("send_multipart needs at least one frame")
        if self._snd_parts:
            parts = self._snd_parts + parts
            self._snd_parts = []
        self._send_msg(parts, flags & ~SNDMORE)
        return tracker

    # Frames smaller than this are copied even with copy=False (pyzmq's Socket.copy_threshold,
    # zmq.COPY_THRESHOLD): copying a few KiB costs less than keeping and tracking a reference.
    copy_threshold = COPY_THRESHOLD

    def _frame_data(self, data, copy):
        return frame_data(data, copy, self.copy_threshold)

    def _tracked_frame(self, data, copy, tracker):
        return tracked_frame(data, copy, tracker, self.copy_threshold)

    def _send_msg(self, parts, flags):
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")
        if self._xsend(parts):
            return
        if flags & DONTWAIT:
            raise Again()
        self._wait_send(parts)

    def _wait_writable_start(self, flags):
        """First frame of a multipart message: block (or raise Again) here, as libzmq does."""
        if self._xhas_out():
            return
        if flags & DONTWAIT:
            raise Again()
        if not wait_until(self._writable, self._sndtimeo, (self._out_signal,), self._check_usable):
            raise Again()

    def _writable(self):
        if self._mailbox.commands:
            self._mailbox.process()
        return self._xhas_out()

    def _wait_send(self, parts):
        def sent():
            if self._mailbox.commands:
                self._mailbox.process()
            return self._xsend(parts)

        if not wait_until(sent, self._sndtimeo, (self._out_signal,), self._check_usable, tried=True):
            raise Again()

    # -- receiving ---------------------------------------------------------------------------
    @overload
    def recv(self, flags: int = ..., copy: Literal[True] = ..., track: bool = ...) -> bytes: ...

    @overload
    def recv(self, flags: int = ..., *, copy: Literal[False], track: bool = ...) -> Frame: ...

    @overload
    def recv(self, flags: int, copy: Literal[False], track: bool = ...) -> Frame: ...

    @overload
    def recv(self, flags: int = ..., copy: bool = ..., track: bool = ...) -> Union[bytes, Frame]: ...

    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Union[bytes, Frame]:
        """Receive one frame: bytes (copy=True) or a Frame (copy=False).

        Blocks cooperatively unless DONTWAIT; Again on DONTWAIT or when RCVTIMEO expires.
        """
        if type(flags) is not int:
            flags = int(flags)
        parts = self._rcv_parts
        if parts is not None:
            i = self._rcv_idx
            data = parts[i]
            i += 1
            more = i < len(parts)
            if more:
                self._rcv_idx = i
            else:
                self._rcv_parts = None
            if copy:
                return data if type(data) is bytes else bytes(data)
            return self._make_frame(data, more)
        if self._mailbox.commands or self._mailbox.thread != thread_ident():
            self._mailbox.process()
        msg = self._xrecv()
        if msg is None:
            msg = self._wait_recv(flags)
        data = msg[0]
        if len(msg) > 1:
            self._rcv_parts = msg
            self._rcv_idx = 1
            more = True
        else:
            more = False
        if copy:
            return data if type(data) is bytes else bytes(data)
        return self._make_frame(data, more)

    def _make_frame(self, data, more):
        frame = Frame(data)
        frame._received = True
        frame.more = more
        pipe = self._last_pipe()
        if pipe is not None:
            frame._props = pipe.metadata
        return frame

    def _last_pipe(self):
        return None

    @overload
    def recv_multipart(self, flags: int = ..., *, copy: Literal[True], track: bool = ...) -> List[bytes]: ...

    @overload
    def recv_multipart(self, flags: int = ..., *, copy: Literal[False], track: bool = ...) -> List[Frame]: ...

    @overload
    def recv_multipart(self, flags: int = ...) -> List[bytes]: ...

    @overload
    def recv_multipart(self, flags: int = 0, copy: bool = True, track: bool = False) -> Union[List[Frame], List[bytes]]: ...

    def recv_multipart(self, flags: int = 0, copy: bool = True, track: bool = False) -> Union[List[Frame], List[bytes]]:
        """Receive a whole message: a list of bytes (copy=True) or Frames."""
        if type(flags) is not int:
            flags = int(flags)
        if self._rcv_parts is not None:
            parts = [self.recv(flags, copy)]
            while self._rcv_parts is not None:
                parts.append(self.recv(flags, copy))
            return parts
        if self._mailbox.commands or self._mailbox.thread != thread_ident():
            self._mailbox.process()
        msg = self._xrecv()
        if msg is None:
            msg = self._wait_recv(flags)
        if copy:
            return [f if type(f) is bytes else bytes(f) for f in msg]
        last = len(msg) - 1
        return [self._make_frame(f, i < last) for i, f in enumerate(msg)]

    def _wait_recv(self, flags):
        if flags & DONTWAIT:
            if self._closed:
                raise ZMQError(Errno.ENOTSOCK, "socket is closed")
            if not self._can_recv:
                raise ZMQError(Errno.ENOTSUP, f"{self._type_name} socket cannot recv")
            raise Again()
        msg = wait_until(self._received, self._rcvtimeo, (self._in_signal,), self._check_usable,
                         tried=True)
        if msg is None:
            raise Again()
        return msg

    def _received(self):
        if self._mailbox.commands:
            self._mailbox.process()
        return self._xrecv()

    # -- polling ---------------------------------------------------------------------------------
    def _events(self):
        if self._mailbox.commands or self._mailbox.thread != thread_ident():
            self._mailbox.process()
        ev = 0
        if self._rcv_parts is not None or (self._can_recv and self._xhas_in()):
            ev |= PollEvent.POLLIN
        if self._can_send and (self._snd_parts or self._xhas_out()):
            ev |= PollEvent.POLLOUT
        return ev

    # -- closing -----------------------------------------------------------------------------
    def _check_open(self):
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")

    def close(self, linger: Optional[int] = None) -> None:
        """Close the socket. Returns at once; with LINGER > 0 or -1 queued messages are still
        delivered in the background (Context.term() waits for that), LINGER 0 drops them."""
        self._close(linger)

    def _close(self, linger, wait=True):
        if self._closed:
            return
        self._closed = True
        if linger is None:
            linger = self._options[O.LINGER]
        else:
            self._options[O.LINGER] = linger
        self._notify_term()    # wake blocked calls: they raise ENOTSOCK
        self._close_endpoints(linger, wait)
        self.context._socket_closed(self)
        self._xclose()
        fd = self._mailbox.fd
        if fd is not None:
            self._mailbox.fd = None
            fd.close()

    def _xclose(self):
        pass


install_option_properties(SocketBase)
