"""pyzmq's zmq.eventloop.future: Future-returning sockets for tornado coroutines.

tornado (>= 5) runs on asyncio and its Future is asyncio's, so these are gzmq.asyncio's
Context, Socket and Poller under their own names: `await sock.recv()` in a tornado coroutine,
or `yield sock.recv()` in a gen.coroutine. A cancelled Future raises asyncio.CancelledError
(pyzmq's tornado Futures had a CancelledError of their own; it is that class here).
"""
from __future__ import annotations

import asyncio

from .. import asyncio as _asyncio

CancelledError = asyncio.CancelledError


class Socket(_asyncio.Socket):
    """gzmq.asyncio.Socket, for tornado."""


class Poller(_asyncio.Poller):
    """gzmq.asyncio.Poller, for tornado."""


class Context(_asyncio.Context):
    """gzmq.asyncio.Context, for tornado: its sockets are this module's."""

    _instance = None
    _instance_pid = None
    _socket_class = Socket


__all__ = ["Context", "Socket", "Poller", "CancelledError"]
