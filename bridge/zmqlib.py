"""The one place the bridge imports ZeroMQ: ``from bridge.zmqlib import zmq``.

The bridge runs on gzmq (pure Python, gevent-native); pyzmq is not a run-time dependency.
Everything in bridge/ uses only pyzmq's public API through this name: Context, socket types,
setsockopt options (LINGER, IMMEDIATE, SUBSCRIBE, LAST_ENDPOINT...), send/recv(_multipart)
with DONTWAIT, Again, ZMQError, Poller.
"""
import gzmq as zmq

__all__ = ["zmq", "DONTWAIT"]

# zmq.DONTWAIT is an IntFlag member, and each ``flags & X`` a socket does with it runs enum's
# Python code (three of them per send: 4.3 us); the same flag as a plain int costs 0.15 us.
DONTWAIT = int(zmq.DONTWAIT)
