"""pyzmq's zmq.asyncio for gzmq: sockets whose send, recv and poll return asyncio Futures.

    import gzmq.asyncio

    ctx = gzmq.asyncio.Context()
    sock = ctx.socket(gzmq.REP)
    sock.bind("tcp://127.0.0.1:5555")
    request = await sock.recv_multipart()
    await sock.send_multipart([b"ok"])

The loop waits on the socket's zmq.FD (loop.add_reader), which, as libzmq's, only says that
the socket's EVENTS may have changed. Each time it fires, the socket reads EVENTS (which
re-arms the descriptor) and completes waiting sends and receives in the order they were
asked for, reading EVENTS again after each, until nothing more can complete: a message that
came while the loop was busy elsewhere is never left waiting for an edge that already passed.

This module's Context is in I/O-thread mode unless told otherwise, gevent or not: asyncio's
loop does not turn gevent's hub, on which an in-hub context runs its connections.
"""
from __future__ import annotations

import asyncio
import functools
import json
import pickle
import warnings
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional

from . import context as _context
from . import poll as _poll
from . import socket as _socket
from .constants import Errno, Flag, PollEvent, SocketOption
from .error import Again, ZMQError
from .shadow import Shadow, resolve
from .sockets.base import SocketBase

__all__ = ["Context", "Socket", "Poller", "ZMQEventLoop", "install"]

POLLIN = int(PollEvent.POLLIN)
POLLOUT = int(PollEvent.POLLOUT)
DONTWAIT = int(Flag.DONTWAIT)
EVENTS = SocketOption.EVENTS

ZMQEventLoop = asyncio.SelectorEventLoop    # pyzmq's old name; any asyncio loop works


def install() -> None:
    """pyzmq's deprecated no-op: asyncio's own loops can wait on zmq.FD."""
    warnings.warn("gzmq.asyncio.install() is not needed: asyncio's default loop works",
                  DeprecationWarning, stacklevel=2)


def _current_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        with warnings.catch_warnings():     # (3.12+ warns when it must make the loop)
            warnings.simplefilter("ignore", DeprecationWarning)
            return asyncio.get_event_loop()


class _Waiting:
    """A send or receive the loop will finish: the Future and the call that finishes it."""

    __slots__ = ("future", "kind", "args", "kwargs", "timer")

    def __init__(self, future, kind, args, kwargs, timer):
        self.future = future
        self.kind = kind
        self.args = args
        self.kwargs = kwargs
        self.timer = timer


class _FutureIO:
    """The futures of one gzmq socket, shared by every asyncio handle on it (the socket itself
    when made by this module's Context, and from_socket() shadows). One per socket, because a
    file descriptor has one reader per loop."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock            # the original gzmq socket
        self.receives: Deque[_Waiting] = deque()
        self.sends: Deque[_Waiting] = deque()
        # Async Pollers waiting on the socket: the look to take at each change, and its Future.
        self.watchers: Dict[Callable[[], None], asyncio.Future] = {}
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self.fd: Optional[int] = None
        self.direct = False         # in a synchronous call made for a future (see call)
        self.scheduled = False

    # -- the loop ------------------------------------------------------------------------
    def bind_loop(self) -> asyncio.AbstractEventLoop:
        """The current loop, with the socket's FD registered on it."""
        loop = _current_loop()
        if loop is not self.loop:
            self.forget_loop()
            self.fd = self.sock.getsockopt(SocketOption.FD)
            loop.add_reader(self.fd, self.process)
            self.loop = loop
        return loop

    def forget_loop(self) -> None:
        if self.loop is not None and self.fd is not None and not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
        self.loop = self.fd = None

    def forget_loop_if_idle(self) -> None:
        """A socket of this module keeps its reader until it closes (its close takes it off
        the loop first; measured, re-registering around every wait cost 10% of a round trip).
        Any other socket is read only while something waits, since it may be closed through
        its blocking API, which would leave the loop a reader on a closed descriptor."""
        if not isinstance(self.sock, Socket) and not (self.receives or self.sends or self.watchers):
            self.forget_loop()

    def schedule(self) -> None:
        """Look again soon: something consumed the FD's edge (an EVENTS read) while work waits."""
        if self.scheduled or self.loop is None or self.loop.is_closed():
            return
        self.scheduled = True
        self.loop.call_soon(self.process)

    # -- synchronous calls on the socket ----------------------------------------------------
    def call(self, kind: str, *args: Any, **kwargs: Any) -> Any:
        """The socket's own (blocking-API) method `kind`, called with DONTWAIT by the caller.
        For a socket made by this module, that is the method under the Future-returning
        one; `direct` keeps the Future-returning methods out of it when the blocking ones call
        each other (a draft socket's send_multipart calls send)."""
        sock = self.sock
        method = getattr(super(Socket, sock), kind) if isinstance(sock, Socket) else getattr(sock, kind)
        outer, self.direct = self.direct, True
        try:
            return method(*args, **kwargs)
        finally:
            self.direct = outer

    def events(self) -> int:
        return int(self.call("getsockopt", EVENTS))

    # -- futures -----------------------------------------------------------------------------
    def add(self, queue: Deque[_Waiting], kind: str, args: tuple, kwargs: dict, timeout_ms: int) -> asyncio.Future:
        loop = self.bind_loop()
        future = loop.create_future()
        timer = None
        if timeout_ms >= 0:
            timer = loop.call_later(timeout_ms / 1000.0, _time_out, future)
        waiting = _Waiting(future, kind, args, kwargs, timer)
        queue.append(waiting)
        future.add_done_callback(lambda f: self.discard(queue, waiting))
        return future

    def discard(self, queue: Deque[_Waiting], waiting: _Waiting) -> None:
        if waiting.timer is not None:
            waiting.timer.cancel()
        try:
            queue.remove(waiting)
        except ValueError:
            pass
        self.forget_loop_if_idle()

    def process(self) -> None:
        """FD readable (or a look was scheduled): finish what can be finished, in order."""
        self.scheduled = False
        sock = self.sock
        if sock.closed:
            self.cancel_all()
            return
        while True:
            try:
                events = self.events()
            except ZMQError as exc:      # closed or terminated under us
                self.fail_all(exc)
                return
            progressed = False
            if events & POLLIN and self.receives:
                progressed = self.finish(self.receives)
            if events & POLLOUT and self.sends:
                progressed = self.finish(self.sends) or progressed
            if not progressed:
                break
        for watcher in list(self.watchers):
            watcher()
        self.forget_loop_if_idle()

    def finish(self, queue: Deque[_Waiting]) -> bool:
        """Run the oldest live call of `queue`; False if the socket turned out not ready."""
        while queue and queue[0].future.done():
            queue.popleft()
        if not queue:
            return False
        waiting = queue[0]
        flags = waiting.kwargs.get("flags", 0) | DONTWAIT
        try:
            result = self.call(waiting.kind, *waiting.args, **dict(waiting.kwargs, flags=flags))
        except Again:
            return False
        except Exception as exc:
            queue.popleft()
            _settle(waiting, exc=exc)
            return True
        queue.popleft()
        _settle(waiting, result=result)
        return True

    def cancel_all(self) -> None:
        for waiting in list(self.receives) + list(self.sends):
            if not waiting.future.done():
                waiting.future.cancel()
        self.receives.clear()
        self.sends.clear()

    def fail_all(self, exc: BaseException) -> None:
        for waiting in list(self.receives) + list(self.sends):
            _settle(waiting, exc=exc)
        self.receives.clear()
        self.sends.clear()

    def close(self) -> None:
        self.cancel_all()
        for future in list(self.watchers.values()):
            future.cancel()         # (as pyzmq: a poll of a socket closed under it is cancelled)
        self.watchers.clear()
        self.forget_loop()


def _time_out(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(Again())


def _resolve(future: asyncio.Future, result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _settle(waiting: _Waiting, result: Any = None, exc: Optional[BaseException] = None) -> None:
    if waiting.timer is not None:
        waiting.timer.cancel()
    if waiting.future.done():
        return
    if exc is not None:
        waiting.future.set_exception(exc)
    else:
        waiting.future.set_result(result)


def _future_io(sock: Any) -> _FutureIO:
    """The _FutureIO of `sock` (a gzmq socket, this module's or not, or a shadow of one)."""
    state = sock.__dict__         # (a Shadow hands out its original's __dict__)
    io = state.get("_future_io")
    if io is None:
        original = resolve(sock, SocketBase) if isinstance(sock, Shadow) else sock
        io = state["_future_io"] = _FutureIO(original)
    return io


def _done(loop: asyncio.AbstractEventLoop, result: Any = None, exc: Optional[BaseException] = None) -> asyncio.Future:
    future = loop.create_future()
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
    return future


def _then(source: asyncio.Future, convert: Callable[[Any], Any]) -> asyncio.Future:
    """A Future of convert(source's result); cancelling it cancels `source`."""
    future = source.get_loop().create_future()

    def forward(done: asyncio.Future) -> None:
        if future.done():
            return
        if done.cancelled():
            future.cancel()
        elif done.exception() is not None:
            future.set_exception(done.exception())   # type: ignore[arg-type]
        else:
            try:
                future.set_result(convert(done.result()))
            except Exception as exc:
                future.set_exception(exc)

    if source.done():
        forward(source)         # (poll(timeout=0) is done when it returns, as pyzmq's)
    else:
        source.add_done_callback(forward)
        future.add_done_callback(lambda f: source.cancel() if f.cancelled() else None)
    return future


class Socket(_socket.Socket):
    """A gzmq socket whose send, recv and poll return asyncio Futures (pyzmq's zmq.asyncio).

    `Socket.from_socket(sock)` (or `Socket(sock)`) is an asyncio handle on an existing socket;
    closing either closes the socket."""

    _blocking_shadow: Any       # set below the class (gzmq.shadow.make_shadow asks for it)

    def __new__(cls, context: Any = None, socket_type: Any = None, *args: Any, **kwargs: Any) -> Any:
        source = kwargs.get("_from_socket") or kwargs.get("shadow")
        if source is None and isinstance(context, SocketBase):    # (a Shadow too: its __class__)
            source = context
        if source is not None:
            return _AsyncShadow(resolve(source, SocketBase), source)
        # This class before the type's routing hooks, so that the Futures wrap the whole
        # blocking call, hooks and all (a ROUTER's check of the peer, a draft socket's routing_id).
        return object.__new__(_socket.class_for_type(cls, socket_type, hooks_first=False))

    def __init__(self, context: Any = None, socket_type: Any = None, io_loop: Any = None, **kwargs: Any) -> None:
        kwargs.pop("_from_socket", None)
        if io_loop is not None:
            warnings.warn("Socket(io_loop=...) is ignored: the running loop is used, as in pyzmq",
                          DeprecationWarning, stacklevel=2)
        super().__init__(context, socket_type, **kwargs)

    @classmethod
    def from_socket(cls, socket: Any, io_loop: Any = None) -> Any:
        """An asyncio handle on `socket` (a gzmq socket): its calls return Futures."""
        return cls(_from_socket=socket)

    @classmethod
    def shadow(cls, address: Any) -> Any:
        return cls(_from_socket=resolve(address, SocketBase))

    # -- sending -----------------------------------------------------------------------------
    def send(self, data: Any, flags: int = 0, copy: bool = True, track: bool = False,  # type: ignore[override]
             **kwargs: Any) -> Any:
        """Send one frame; a Future of None (or of a MessageTracker with track=True)."""
        io = _future_io(self)
        if io.direct:
            return io.call("send", data, flags, copy, track, **kwargs)
        return self._start("send", io, io.sends, (data,), dict(kwargs, flags=flags, copy=copy, track=track),
                           SocketOption.SNDTIMEO)

    def send_multipart(self, msg_parts: Any, flags: int = 0, copy: bool = True, track: bool = False,
                       **kwargs: Any) -> Any:
        """Send a whole message; a Future that is done once the socket has taken it."""
        io = _future_io(self)
        if io.direct:
            return io.call("send_multipart", msg_parts, flags, copy, track, **kwargs)
        return self._start("send_multipart", io, io.sends, (list(msg_parts),),
                           dict(kwargs, flags=flags, copy=copy, track=track), SocketOption.SNDTIMEO)

    def _start(self, kind: str, io: _FutureIO, queue: Deque[_Waiting], args: tuple, kwargs: dict,
               timeout_option: SocketOption) -> asyncio.Future:
        """Try `kind` now; if the socket is not ready, a Future the loop finishes (see _FutureIO)."""
        flags = int(kwargs["flags"])
        if queue:
            if not flags & DONTWAIT:       # it waits its turn behind the calls before it
                return io.add(queue, kind, args, kwargs, self.getsockopt(timeout_option))
            if queue is io.sends:           # nor may a send that must not wait overtake them
                return _done(_current_loop(), exc=Again())
        try:
            result = io.call(kind, *args, **dict(kwargs, flags=flags | DONTWAIT))
        except Again as exc:
            if flags & DONTWAIT:
                return _done(_current_loop(), exc=exc)
            return io.add(queue, kind, args, kwargs, self.getsockopt(timeout_option))
        except Exception as exc:
            return _done(_current_loop(), exc=exc)
        if io.receives if queue is io.sends else io.sends:
            io.schedule()       # what this call did may have let in what the other kind waits for
        return _done(_current_loop(), result)

    # -- receiving ---------------------------------------------------------------------------
    def recv(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """A Future of one frame: bytes, or a Frame with copy=False."""
        io = _future_io(self)
        if io.direct:
            return io.call("recv", flags, copy, track)
        return self._start("recv", io, io.receives, (), dict(flags=flags, copy=copy, track=track),
                           SocketOption.RCVTIMEO)

    def recv_multipart(self, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        """A Future of a whole message (a list of frames)."""
        io = _future_io(self)
        if io.direct:
            return io.call("recv_multipart", flags, copy, track)
        return self._start("recv_multipart", io, io.receives, (), dict(flags=flags, copy=copy, track=track),
                           SocketOption.RCVTIMEO)

    def recv_into(self, buffer: Any, /, *, nbytes: int = 0, flags: int = 0) -> Any:
        """A Future of the frame's full length, the frame written into `buffer` (see gzmq.Socket)."""
        io = _future_io(self)
        if io.direct:
            return io.call("recv_into", buffer, nbytes=nbytes, flags=flags)
        return self._start("recv_into", io, io.receives, (buffer,), dict(nbytes=nbytes, flags=flags),
                           SocketOption.RCVTIMEO)

    def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> Any:
        return _then(self.recv(flags), lambda b: b.decode(encoding))

    recv_unicode = recv_string

    def recv_pyobj(self, flags: int = 0) -> Any:
        return _then(self.recv(flags), pickle.loads)

    def recv_json(self, flags: int = 0, **kwargs: Any) -> Any:
        return _then(self.recv(flags), lambda b: json.loads(b, **kwargs))

    def recv_serialized(self, deserialize: Callable[[List[Any]], Any], flags: int = 0, copy: bool = True) -> Any:
        return _then(self.recv_multipart(flags, copy), deserialize)

    # -- events and closing -------------------------------------------------------------------
    def poll(self, timeout: Optional[int] = None, flags: int = POLLIN) -> Any:
        """A Future of the socket's events among `flags` (0 if `timeout` ms passed first)."""
        if self.closed:
            raise ZMQError(Errno.ENOTSUP, "socket is closed")
        poller = Poller()
        poller.register(self, flags)
        return _then(poller.poll(timeout), lambda ready: dict(ready).get(self, 0))

    def getsockopt(self, option: int) -> Any:
        io = _future_io(self)
        ours = io.direct            # (a read of this module's own, which looks itself)
        value = io.call("getsockopt", option)
        if not ours and option == EVENTS and (io.receives or io.sends or io.watchers):
            io.schedule()           # reading EVENTS re-armed the FD: the loop must look itself
        return value

    get = getsockopt

    @property
    def _recv_futures(self) -> List[asyncio.Future]:
        """The Futures waiting for this socket to receive or to poll (pyzmq's attribute)."""
        io = _future_io(self)
        return [w.future for w in io.receives] + list(io.watchers.values())

    @property
    def _send_futures(self) -> List[asyncio.Future]:
        return [w.future for w in _future_io(self).sends]

    def close(self, linger: Optional[int] = None) -> None:
        """Close the socket; its waiting Futures are cancelled."""
        if not self.closed:
            _future_io(self).close()
        _future_io(self).call("close", linger)

    def _close(self, linger: Any, wait: bool = True) -> None:
        # Every way of closing ends here (close, ctx.destroy, the garbage collector): the loop
        # must stop reading the FD before the socket closes it.
        io = self.__dict__.get("_future_io")
        if io is not None and not self.closed:
            io.close()
        super()._close(linger, wait)


class _AsyncShadow(Shadow):
    """Socket.from_socket(sock): the socket's own state, with this module's methods."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name in _ASYNC_METHODS:
            return _ASYNC_METHODS[name].__get__(self)
        if name == "__class__":
            return Socket
        return Shadow.__getattribute__(self, name)


_ASYNC_METHODS = {name: Socket.__dict__[name] for name in (
    "send", "send_multipart", "_start", "recv", "recv_multipart", "recv_into",
    "recv_string", "recv_unicode", "recv_pyobj", "recv_json", "recv_serialized", "poll",
    "getsockopt", "get", "close")}
# The serializing sends call self.send, so they only need binding to the shadow.
for _name in ("send_string", "send_unicode", "send_pyobj", "send_json", "send_serialized"):
    _ASYNC_METHODS[_name] = getattr(_socket.Socket, _name)


class _BlockingShadow(Shadow):
    """gzmq.Socket.shadow(asyncio_socket) (and Socket(shadow=...)): the socket's own state with
    the blocking API, as pyzmq's base-class shadow of an async socket (a ZMQStream needs one)."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name in _ASYNC_METHODS:
            return functools.partial(_future_io(self).call, name)
        if name == "__class__":
            return _socket.Socket
        return Shadow.__getattribute__(self, name)


Socket._blocking_shadow = _BlockingShadow


class Poller(_poll.Poller):
    """A Poller whose poll(timeout) returns a Future of [(socket, events)] (pyzmq's)."""

    def poll(self, timeout: Optional[float] = -1) -> Any:
        loop = _current_loop()
        try:
            ready = super().poll(0)
        except Exception as exc:
            return _done(loop, exc=exc)
        if ready or timeout == 0:
            return _done(loop, ready)
        future = loop.create_future()
        ios: List[_FutureIO] = []
        raw: List[int] = []

        def look() -> None:
            if future.done():
                return
            try:
                found = _poll.Poller.poll(self, 0)
            except Exception as exc:
                future.set_exception(exc)
                return
            if found:
                future.set_result(found)

        for sock, flags in self.sockets:
            if _poll._is_zmq_socket(sock):
                io = _future_io(sock)
                io.bind_loop()
                io.watchers[look] = future
                ios.append(io)
            else:
                fd = _poll._fileno(sock)
                if flags & POLLIN:
                    loop.add_reader(fd, look)
                    raw.append(fd)
                if flags & POLLOUT:
                    loop.add_writer(fd, look)
                    raw.append(-1 - fd)
        timer = None
        if timeout is not None and timeout > 0:
            timer = loop.call_later(timeout / 1000.0, _resolve, future, [])

        def clean_up(_: asyncio.Future) -> None:
            if timer is not None:
                timer.cancel()
            for io in ios:
                io.watchers.pop(look, None)
                io.forget_loop_if_idle()
            if not loop.is_closed():
                for fd in raw:
                    if fd >= 0:
                        loop.remove_reader(fd)
                    else:
                        loop.remove_writer(-1 - fd)

        future.add_done_callback(clean_up)
        return future


class Context(_context.Context):
    """A gzmq Context whose sockets are this module's (Futures from send, recv and poll).

    Its I/O runs on I/O threads unless io_mode="hub" or io_threads=0 asks otherwise, even in a
    gevent program or under GZMQ_IO_MODE=hub: asyncio's loop does not turn gevent's hub.
    `Context(sync_context)` or `Context.shadow(sync_context)` makes this module's sockets in an
    existing context."""

    _instance = None        # (its own instance(), not gzmq.Context's)
    _instance_pid = None
    _socket_class = Socket

    def __new__(cls, io_threads: Any = 1, shadow: Any = 0, **kwargs: Any) -> Any:
        source = shadow or (io_threads if isinstance(io_threads, (_context.Context, Shadow)) else None)
        if source:
            return _AsyncContextShadow(resolve(source, _context.Context), source)
        return super().__new__(cls, io_threads, **kwargs)

    def __init__(self, io_threads: int = 1, io_mode: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(io_threads, io_mode or "thread", **kwargs)

    @classmethod
    def shadow(cls, address: Any) -> Any:
        return _AsyncContextShadow(resolve(address, _context.Context), address)


class _AsyncContextShadow(Shadow):
    """asyncio's Context over an existing gzmq Context: the same context, making this
    module's sockets."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        if name == "socket":
            return Context.socket.__get__(self)
        if name == "_socket_class":
            return Socket
        if name == "__class__":
            return Context
        return Shadow.__getattribute__(self, name)
