"""The one place the bridge imports ZeroMQ: ``from bridge.zmqlib import zmq``.

The bridge runs on gzmq (pure Python, gevent-native); pyzmq is not a run-time dependency.
Everything in bridge/ uses only pyzmq's public API through this name: Context, socket types,
setsockopt options (LINGER, IMMEDIATE, SUBSCRIBE, LAST_ENDPOINT...), send/recv(_multipart)
with DONTWAIT, Again, ZMQError, Poller.

One thing pyzmq has no API for comes from gzmq here too: its ZWS 2.0 relay (``zws_join``,
gzmq.transports.ws.join, and the subprotocols it takes), which ``zws:`` routes use to join a
browser's WebSocket to a backend endpoint.
"""
import gzmq as zmq
from gzmq.transports.ws import join as zws_join
from gzmq.zws.handshake import PROTOCOLS as _ZWS_PROTOCOLS

__all__ = ["zmq", "DONTWAIT", "zws_join", "ZWS_SUBPROTOCOLS"]

ZWS_SUBPROTOCOLS = _ZWS_PROTOCOLS[b"NULL"]      # ("ZWS2.0/NULL", "ZWS2.0"): no security handshake

# zmq.DONTWAIT is an IntFlag member, and each ``flags & X`` a socket does with it runs enum's
# Python code (three of them per send: 4.3 us); the same flag as a plain int costs 0.15 us.
DONTWAIT = int(zmq.DONTWAIT)
