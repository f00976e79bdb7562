"""The public Socket class (pyzmq's zmq.Socket).

`Socket(ctx, zmq.PUSH)` and `ctx.socket(zmq.PUSH)` both work, as in pyzmq, and so do user
subclasses (`class MySocket(gzmq.Socket)`, `ctx.socket(zmq.REQ, socket_class=MySocket)`):
__new__ builds (once per pair, cached) a class whose MRO puts the socket type's routing hooks
first, then the user's class, then the shared machinery, so a subclass's overrides of public
methods win and `isinstance(s, MySocket)` holds.
"""
from __future__ import annotations

from typing import Any

from .constants import Errno, SocketType
from .error import ZMQError
from .shadow import make_shadow
from .sockets import SOCKET_CLASSES
from .sockets.base import SocketBase

_COMBINED: dict[tuple[type, type, bool], type] = {}


def class_for_type(cls: type, socket_type: Any, hooks_first: bool = True) -> type:
    """The class of a `cls` socket of `socket_type` (made once per pair): the socket type's
    routing hooks before `cls` in its MRO, or after it with hooks_first=False (gzmq.asyncio,
    whose Futures wrap the whole blocking call, hooks and all)."""
    if socket_type is None:
        raise ZMQError(Errno.EINVAL, "socket type required")
    try:
        impl = SOCKET_CLASSES[SocketType(socket_type)]
    except (KeyError, ValueError):
        raise ZMQError(Errno.EINVAL, f"socket type {socket_type!r} is not supported by gzmq") from None
    key = (cls, impl, hooks_first)
    combined = _COMBINED.get(key)
    if combined is None:
        combined = _COMBINED[key] = type(cls.__name__, (impl, cls) if hooks_first else (cls, impl),
                                         {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
    return combined


class Socket(SocketBase):
    """A gzmq socket. See SocketBase for the API (pyzmq's)."""

    def __new__(cls, context: Any = None, socket_type: Any = None, *args: Any, **kwargs: Any) -> Any:
        # Socket(other_socket) and Socket(shadow=sock_or_address) make a shadow (gzmq.shadow).
        if kwargs.get("shadow") or isinstance(context, SocketBase):   # (a socket Shadow too: its __class__)
            return make_shadow(kwargs.get("shadow") or context, SocketBase)
        return object.__new__(class_for_type(cls, socket_type))

    def __init__(self, context: Any = None, socket_type: Any = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(context, socket_type)

    def __reduce__(self) -> Any:
        raise TypeError("gzmq sockets cannot be pickled")
