"""Errors, shaped like pyzmq's (zmq.error) with libzmq's errno values.

ZMQError(errno, msg) carries .errno and .strerror; Again, ContextTerminated, NotDone,
ZMQVersionError and InterruptedSystemCall subclass it as in pyzmq, so `except zmq.Again`
works unchanged. ZMTPError is gzmq's own: the protocol codec raises it (and nothing else) for
malformed peer input; it never reaches a user's recv() (the engine drops that peer instead).
"""
from __future__ import annotations

import errno as _errno
import os
from typing import Optional

from .constants import Errno

_ZMQ_MESSAGES: dict[int, str] = {
    Errno.EFSM: "Operation cannot be accomplished in current state",
    Errno.ENOCOMPATPROTO: "The protocol is not compatible with the socket type",
    Errno.ETERM: "Context was terminated",
    Errno.EMTHREAD: "No thread available",
    Errno.ENOTSUP: "Operation not supported",
    Errno.EPROTONOSUPPORT: "Protocol not supported",
    Errno.ENOBUFS: "No buffer space available",
    Errno.ENETDOWN: "Network is down",
    Errno.EADDRINUSE: "Address already in use",
    Errno.EADDRNOTAVAIL: "Can't assign requested address",
    Errno.ECONNREFUSED: "Connection refused",
    Errno.EINPROGRESS: "Operation in progress",
    Errno.ENOTSOCK: "Socket operation on non-socket",
    Errno.EMSGSIZE: "Message too long",
    Errno.EAFNOSUPPORT: "Address family not supported by protocol",
    Errno.ENETUNREACH: "Network is unreachable",
    Errno.ECONNABORTED: "Software caused connection abort",
    Errno.ECONNRESET: "Connection reset by peer",
    Errno.ENOTCONN: "Transport endpoint is not connected",
    Errno.ETIMEDOUT: "Connection timed out",
    Errno.EHOSTUNREACH: "Host unreachable",
    Errno.ENETRESET: "Network dropped connection on reset",
}


def strerror(errno: int) -> str:
    """libzmq's zmq_strerror(): the message for an errno value."""
    if errno in _ZMQ_MESSAGES:
        return _ZMQ_MESSAGES[errno]
    return os.strerror(errno)


class ZMQBaseError(Exception):
    """Base of every gzmq exception (pyzmq's zmq.ZMQBaseError)."""


class ZMQError(ZMQBaseError):
    """An errno-style error: `.errno` is libzmq's number, `.strerror` the message."""

    errno: Optional[int] = None
    strerror: str

    def __init__(self, errno: Optional[int] = None, msg: Optional[str] = None) -> None:
        if errno is None:
            errno = _errno.EINVAL
        self.errno = errno
        self.strerror = msg if msg is not None else strerror(errno)
        super().__init__(self.errno, self.strerror)

    def __str__(self) -> str:
        return self.strerror

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}('{self}')"


class Again(ZMQError):
    """EAGAIN: the operation would block (DONTWAIT, or RCVTIMEO/SNDTIMEO expired)."""

    def __init__(self, errno: int = Errno.EAGAIN, msg: Optional[str] = None) -> None:
        super().__init__(errno, msg if msg is not None else "Resource temporarily unavailable")


class ContextTerminated(ZMQError):
    """ETERM: the socket's Context was terminated."""

    def __init__(self, errno: int = Errno.ETERM, msg: Optional[str] = None) -> None:
        super().__init__(errno, msg)


class InterruptedSystemCall(ZMQError, InterruptedError):  # type: ignore[misc]  # errno: int | None
    """EINTR, as pyzmq."""

    def __init__(self, errno: int = _errno.EINTR, msg: Optional[str] = None) -> None:
        super().__init__(errno, msg)


class ZMQBindError(ZMQBaseError):
    """bind_to_random_port (and the devices' random binds) found no free port (pyzmq)."""


class NotDone(ZMQBaseError):
    """A MessageTracker wait timed out."""


class ZMQVersionError(NotImplementedError):
    """A feature needs a newer libzmq than the level gzmq implements."""

    def __init__(self, min_version: str, msg: str = "Feature") -> None:
        self.min_version = min_version
        self.msg = msg
        super().__init__(f"{msg} requires libzmq >= {min_version}")


class ZMTPError(Exception):
    """A peer broke the ZMTP protocol. Raised only by the codec (gzmq.zmtp).

    `event` names the monitor event the engine reports for it (a HANDSHAKE_FAILED_* code or
    None), `protocol_error` the libzmq ZMQ_PROTOCOL_ERROR_* value where one applies.
    """

    def __init__(self, message: str, protocol_error: int = 0x10000000) -> None:
        super().__init__(message)
        self.protocol_error = protocol_error


def _check_errno(value: OSError) -> ZMQError:
    """Map an OSError from the OS socket layer to ZMQError with the same errno."""
    return ZMQError(value.errno or _errno.EIO, f"{value.strerror or value}")
