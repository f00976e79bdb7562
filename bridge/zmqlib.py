"""The one place the bridge imports ZeroMQ: ``from bridge.zmqlib import zmq``.

The bridge runs on gzmq (pure Python, gevent-native). Everything in bridge/ uses only pyzmq's
public API through this name: Context, socket types, setsockopt options (LINGER, IMMEDIATE,
SUBSCRIBE, LAST_ENDPOINT...), send/recv(_multipart) with DONTWAIT, Again, ZMQError.
"""
try:
    import gzmq as zmq

    zmq.Context
except (ImportError, AttributeError):
    # TEMPORARY, for development only: gzmq's core is still being written, so fall back to
    # pyzmq's gevent-compatible module until it lands. The lead removes this fallback then;
    # nothing in bridge/ may rely on zmq.green-specific behaviour.
    import zmq.green as zmq

__all__ = ["zmq"]
