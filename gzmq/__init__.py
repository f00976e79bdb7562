"""gzmq: ZeroMQ for gevent, in pure Python.

Speaks ZMTP 3.1 on the wire (interoperates with libzmq, pyzmq, JeroMQ, NetMQ ...) and offers
pyzmq's API, so `import gzmq as zmq` runs ordinary pyzmq code under gevent. Every blocking
call (send, recv, poll, term) waits cooperatively on gevent primitives, with or without
gevent.monkey.patch_all().
"""
from .version import (VERSION, VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH,  # noqa: F401
                      __revision__, __version__, _LIBZMQ_VERSION, pyzmq_version,
                      pyzmq_version_info, pyzmq_version_info_tuple, zmq_version, zmq_version_info)
from . import constants  # noqa: E402
from .constants import *  # noqa: E402,F401,F403
from .constants import (ContextOption, DeviceType, Errno, Event, Flag, MessageOption, NormMode,  # noqa: E402,F401
                        PollEvent, ReconnectStop, RouterNotify, SecurityMechanism, SocketOption,
                        SocketType)
from .context import Context  # noqa: E402
from .error import (Again, ContextTerminated, InterruptedSystemCall, NotDone, ZMQBaseError,  # noqa: E402
                    ZMQBindError, ZMQError, ZMQVersionError, ZMTPError, strerror)
from .message import _FINISHED_TRACKER, Frame, Message, MessageTracker  # noqa: E402,F401
from .poll import Poller, select  # noqa: E402
from .proxy import device, proxy, proxy_steerable  # noqa: E402
from .socket import Socket  # noqa: E402
from .security.keys import curve_keypair, curve_public  # noqa: E402,F401  (PyNaCl imported lazily)
from . import devices  # noqa: E402,F401  (pyzmq's zmq.devices)
from typing import Any  # noqa: E402


def has(capability: str) -> bool:
    """zmq.has(): which optional transports/mechanisms this build supports."""
    if capability == "curve":
        try:
            import nacl  # noqa: F401
        except ImportError:
            return False
        return True
    return capability in ("ipc", "pgm", "epgm", "draft")


def zmq_errno() -> int:
    return 0


IPC_PATH_MAX_LEN = 107
DRAFT_API = True          # SERVER/CLIENT, RADIO/DISH, SCATTER/GATHER, PEER/CHANNEL, DGRAM
PYZMQ_DRAFT_API = True

# pyzmq's aliases for its non-async classes.
SyncContext = Context
SyncSocket = Socket


def zmq_poll(sockets: "list[tuple[Any, int]]", timeout: "float | None" = None) -> "list[tuple[Any, int]]":
    """pyzmq's low-level zmq_poll: [(socket, flags)] -> [(socket, events)]; timeout in ms."""
    poller = Poller()
    for sock, flags in sockets:
        poller.register(sock, flags)
    return poller.poll(timeout)


class Stopwatch:
    """pyzmq's Stopwatch: start(), then stop() returns the elapsed microseconds."""

    def __init__(self) -> None:
        self._start: "int | None" = None

    def start(self) -> None:
        import time
        self._start = time.monotonic_ns()

    def stop(self) -> int:
        import time
        if self._start is None:
            raise ZMQError(Errno.EINVAL, "Must start the Stopwatch before calling stop.")
        elapsed = (time.monotonic_ns() - self._start) // 1000
        self._start = None
        return elapsed
COPY_THRESHOLD = 65536

__all__ = ["Context", "Socket", "Frame", "Message", "MessageTracker", "Poller", "select",
           "ZMQError", "ZMQBaseError", "ZMQBindError", "Again", "ContextTerminated", "NotDone", "ZMQVersionError",
           "InterruptedSystemCall", "zmq_version", "zmq_version_info", "pyzmq_version",
           "pyzmq_version_info", "has", "strerror", "__version__", "proxy", "proxy_steerable",
           "device", "devices"] + constants.__all__
__all__ += ["curve_keypair", "curve_public"]

from . import sugar  # noqa: E402,F401  (pyzmq's zmq.sugar.* module paths; imports the names above)
