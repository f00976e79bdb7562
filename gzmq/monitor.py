"""Socket monitor (libzmq's zmq_socket_monitor, pyzmq's get_monitor_socket).

A monitored socket reports connection events through a PAIR socket bound to an inproc
address; each event is two frames, as libzmq: 6 bytes (uint16 event id, uint32 value, host
byte order) and the endpoint. The sequences follow libzmq 4.3.5 (measured against pyzmq):

    connect:  CONNECT_DELAYED(115) CONNECTED(fd) HANDSHAKE_SUCCEEDED(0) ... DISCONNECTED(fd)
              CONNECT_RETRIED(ms) CONNECT_DELAYED(115) CLOSED(fd) CONNECT_RETRIED(ms) ...
    bind:     LISTENING(fd) ACCEPTED(fd) HANDSHAKE_SUCCEEDED(0) DISCONNECTED(fd) ... CLOSED(fd)
    stop:     MONITOR_STOPPED(0)

Events are sent without blocking; if nobody reads the monitor socket they are dropped at its
HWM rather than stalling the monitored socket. They come from the socket's thread and from its
engine's (an I/O thread, in that mode), so emit() writes straight into the monitor PAIR's pipe
(a pipe takes writes from any thread) instead of calling the PAIR's send(), which belongs to
the thread that owns that socket.
"""
from __future__ import annotations

import inspect
import struct
from typing import Any, Dict, List

from .constants import Event, SocketType
from .error import ZMQError

_EVENT = struct.Struct("=HI")


class Monitor:
    def __init__(self, socket, addr, events):
        self.events = events
        self.addr = addr
        self.pair = socket.context.socket(SocketType.PAIR)
        self.pair.bind(addr)

    def emit(self, event, value, endpoint):
        if not event & self.events:
            return
        if isinstance(endpoint, str):
            endpoint = endpoint.encode()
        try:
            pipe = self.pair._pipes[0]  # (our own PAIR: at most one reader is attached)
        except IndexError:
            return                      # nobody connected: dropped, as by libzmq
        # Full: dropped too; monitoring never blocks the monitored socket.
        pipe.write([_EVENT.pack(event, value & 0xFFFFFFFF), endpoint or b""])

    def stop(self):
        if self.pair.closed:
            return
        try:
            self.pair.send_multipart([_EVENT.pack(Event.MONITOR_STOPPED, 0), b""], 1)
        except ZMQError:
            pass
        self.pair.close()


def parse_monitor_message(msg: List[Any]) -> Dict[str, Any]:
    """[6-byte event, endpoint] -> {'event': Event, 'value': int, 'endpoint': bytes}."""
    if len(msg) != 2 or len(msg[0]) != 6:
        raise RuntimeError(f"Invalid event message format: {msg!r}")
    event_id, value = _EVENT.unpack(bytes(msg[0]))
    try:
        event = Event(event_id)
    except ValueError:
        event = event_id
    return {"event": event, "value": value, "endpoint": bytes(msg[1])}


def recv_monitor_message(socket: Any, flags: int = 0) -> Any:
    """Receive and parse one event from a monitor socket (pyzmq's helper); from an asyncio
    socket (gzmq.asyncio), an awaitable of the event."""
    msg = socket.recv_multipart(flags)
    if inspect.isawaitable(msg):
        return _parse_when_received(msg)
    return parse_monitor_message(msg)


async def _parse_when_received(msg: Any) -> Dict[str, Any]:
    return parse_monitor_message(await msg)
