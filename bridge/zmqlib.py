"""The one place the bridge imports ZeroMQ: ``from bridge.zmqlib import zmq``.

The bridge runs on gzmq (pure Python, gevent-native); pyzmq is not a run-time dependency.
Everything in bridge/ uses only pyzmq's public API through this name: Context, socket types,
setsockopt options (LINGER, IMMEDIATE, SUBSCRIBE, LAST_ENDPOINT...), send/recv(_multipart)
with DONTWAIT, Again, ZMQError, Poller.
"""
import gzmq as zmq

__all__ = ["zmq"]
