"""pyzmq's conveniences on a socket: serialization (string, pyobj, json, serialized),
attribute-style options (sock.linger = 0, sock.routing_id, sock.SNDHWM), subscribe() and
unsubscribe(), poll(), and the monitor helpers. Nothing here knows how messages move.
"""
from __future__ import annotations

import json
import pickle
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, TypeVar, Union

from .. import constants as C
from ..constants import Errno, OPTION_TYPES, PollEvent, SocketOption, SocketType
from ..error import ZMQError
from ..monitor import Monitor
from ..poll import Poller

O = SocketOption
_Self = TypeVar("_Self")


class _AssignableMethod:
    """A method that assignment calls instead of replacing: pyzmq lets `sock.subscribe = b"x"`
    mean `sock.subscribe(b"x")` (the option), although `subscribe` is also a method."""

    def __init__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj, owner=None):
        return self.fn if obj is None else self.fn.__get__(obj, owner)

    def __set__(self, obj, value):
        self.fn(obj, value)


class SugarMixin:
    """pyzmq's conveniences for SocketBase (see the module docstring)."""

    _monitor: Any                # set by SocketBase
    _monitor_socket: Any

    # Attribute-style options (sock.linger = 0, sock.rcvtimeo, sock.ROUTING_ID) are properties
    # that install_option_properties() puts on the class, one per option in lower and upper
    # case. Deliberately no __getattr__ fallback (pyzmq's also accepts mixed case): a class with
    # __getattr__ loses CPython's fast attribute loads for every attribute of every socket, and
    # measured, that cost 30% of an inproc message (6.9k -> 10.0k instructions).

    if TYPE_CHECKING:
        # Attribute-style options are properties installed at import (install_option_properties),
        # which type checkers cannot see: any option name may be set, as with pyzmq's __setattr__.
        def __setattr__(self, name: str, value: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fileno(self) -> int:
        """zmq.FD (pyzmq): readable when EVENTS may have changed; see getsockopt(FD)."""
        return self.getsockopt(SocketOption.FD)

    @_AssignableMethod
    def subscribe(self, topic: Union[str, bytes]) -> None:
        """SUB/XSUB: subscribe to a topic prefix (str is UTF-8 encoded)."""
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.setsockopt(O.SUBSCRIBE, topic)

    @_AssignableMethod
    def unsubscribe(self, topic: Union[str, bytes]) -> None:
        """SUB/XSUB: drop one reference to a subscription."""
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.setsockopt(O.UNSUBSCRIBE, topic)

    def recv_into(self, buffer: Any, /, *, nbytes: int = 0, flags: int = 0) -> int:
        """Receive one frame into `buffer` (pyzmq >= 26), writing at most `nbytes` bytes (0: the
        buffer's size). Returns the frame's full length: larger than what was written when the
        frame was truncated. Raises TypeError/BufferError/ValueError for an unusable buffer
        before receiving anything."""
        view = memoryview(buffer)
        if view.readonly:
            raise BufferError("recv_into needs a writable buffer")
        if not view.c_contiguous:
            raise BufferError("recv_into needs a contiguous buffer")
        view = view.cast("B")
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, not {nbytes}")
        if nbytes > view.nbytes:
            raise ValueError(f"nbytes={nbytes} is larger than the buffer ({view.nbytes} bytes)")
        data = memoryview(self.recv(flags, copy=False)._data)   # not .buffer: no writable copy
        n = min(nbytes or view.nbytes, len(data))
        view[:n] = data[:n]
        return len(data)

    def join(self, group: Union[str, bytes]) -> None:
        """DISH: receive the messages a RADIO sends to `group` (str is UTF-8), pyzmq's draft API."""
        self._check_open()
        self._xjoin(group)

    def leave(self, group: Union[str, bytes]) -> None:
        """DISH: stop receiving `group`."""
        self._check_open()
        self._xleave(group)

    def _xjoin(self, group: Union[str, bytes]) -> None:
        raise ZMQError(Errno.ENOTSUP, f"{self._type_name} socket cannot join groups (DISH only)")

    _xleave = _xjoin

    # -- serialization helpers (pyzmq's) -----------------------------------------------------
    def send_string(self, u: str, flags: int = 0, copy: bool = True, encoding: str = "utf-8",
                    **kwargs: Any) -> Any:
        if not isinstance(u, str):
            raise TypeError("str objects only")
        return self.send(u.encode(encoding), flags=flags, copy=copy, **kwargs)

    send_unicode = send_string

    def recv_string(self, flags: int = 0, encoding: str = "utf-8") -> str:
        return self.recv(flags=flags).decode(encoding)

    recv_unicode = recv_string

    def send_pyobj(self, obj: Any, flags: int = 0, protocol: int = pickle.DEFAULT_PROTOCOL, **kwargs: Any) -> Any:
        return self.send(pickle.dumps(obj, protocol), flags=flags, **kwargs)

    def recv_pyobj(self, flags: int = 0) -> Any:
        return pickle.loads(self.recv(flags))

    def send_json(self, obj: Any, flags: int = 0, **kwargs: Any) -> Any:
        send_kwargs = {k: kwargs.pop(k) for k in ("routing_id", "group") if k in kwargs}
        msg = json.dumps(obj, **kwargs).encode("utf-8")
        return self.send(msg, flags=flags, **send_kwargs)

    def recv_json(self, flags: int = 0, **kwargs: Any) -> Any:
        return json.loads(self.recv(flags), **kwargs)

    def send_serialized(self, msg: Any, serialize: Callable[[Any], Sequence[Any]], flags: int = 0,
                        copy: bool = True, **kwargs: Any) -> Any:
        frames = serialize(msg)
        return self.send_multipart(frames, flags=flags, copy=copy, **kwargs)

    def recv_serialized(self, deserialize: Callable[[List[Any]], Any], flags: int = 0, copy: bool = True) -> Any:
        frames = self.recv_multipart(flags=flags, copy=copy)
        return deserialize(frames)

    def poll(self, timeout: Optional[int] = None, flags: int = PollEvent.POLLIN) -> int:
        """Wait until the socket has `flags` events; returns the events (0 on timeout).
        timeout in milliseconds (None or negative: forever)."""
        self._check_open()
        p = Poller()
        p.register(self, flags)
        evts = dict(p.poll(timeout))
        return evts.get(self, 0)

    # -- monitoring ---------------------------------------------------------------------------
    def monitor(self, addr: Union[str, bytes, None], events: int = C.Event.ALL) -> None:
        """Report connection events on a PAIR bound to `addr` (inproc); addr None stops it."""
        self._check_open()
        if isinstance(addr, bytes):
            addr = addr.decode()
        if addr is not None and not addr.startswith("inproc://"):
            # libzmq (zmq_socket_monitor): monitor endpoints are inproc only.
            raise ZMQError(Errno.EPROTONOSUPPORT, f"{addr}: a monitor endpoint must be inproc://")
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None
        if addr is None:
            return
        self._monitor = Monitor(self, addr, int(events))

    def get_monitor_socket(self, events: Optional[int] = None, addr: Optional[str] = None) -> Any:
        """A PAIR socket receiving this socket's events (pyzmq); read with recv_monitor_message."""
        self._check_open()
        mon = self._monitor_socket
        if mon is not None and not mon.closed:
            return mon          # pyzmq: asking again returns the socket already monitoring
        if self._monitor is not None and addr is None:
            raise ZMQError(Errno.EINVAL, "a monitor is already running; disable_monitor() first")
        if addr is None:
            addr = f"inproc://monitor.s-{id(self):x}"
        self.monitor(addr, C.Event.ALL if events is None else events)
        sock = self._monitor_socket = self.context.socket(SocketType.PAIR)
        sock.connect(addr)
        return sock

    def disable_monitor(self) -> None:
        self._monitor_socket = None
        self.monitor(None, 0)


def _get_attr_option(sock, option):
    try:
        return sock.getsockopt(option)
    except ZMQError as e:
        # pyzmq: write-only options read as attributes raise AttributeError (so getattr() with
        # a default, hasattr() and mock.Mock(spec=sock) work); so do options gzmq cannot read.
        if e.errno in (Errno.EINVAL, Errno.EFAULT, Errno.ENOTSUP):
            raise AttributeError(f"{option.name.lower()} attribute is not readable: {e}") from None
        raise


def _option_property(option: SocketOption) -> property:
    def fget(self: Any) -> Any:
        return _get_attr_option(self, option)

    def fset(self: Any, value: Any) -> None:
        if isinstance(value, str) and OPTION_TYPES.get(option) == "bytes":
            value = value.encode("utf-8")
        self.setsockopt(option, value)

    return property(fget, fset, doc=f"The {option.name} socket option.")


def install_option_properties(cls):
    """Attribute-style options as pyzmq: sock.linger = 0, sock.rcvtimeo, sock.routing_id,
    sock.SNDHWM. Real properties (not a __setattr__ hook) keep ordinary attribute writes on
    the hot path fast; names the class already has (type, subscribe...) are left alone."""
    for option in SocketOption:
        for name in (option.name.lower(), option.name):
            if not hasattr(cls, name):
                setattr(cls, name, _option_property(option))
    for alias in ("identity", "IDENTITY"):
        setattr(cls, alias, _option_property(O.ROUTING_ID))
