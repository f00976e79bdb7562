"""ZMTP 3.1 codec (RFC 23 / RFC 37), sans-IO.

No sockets, no gevent, no clocks: bytes in, events out; encode functions return bytes.
Malformed input raises gzmq.error.ZMTPError and nothing else. Driven by gzmq.engine.session.
"""
from .connection import ZMTPConnection  # noqa: F401
from .events import Cancel, PeerError, Ping, Pong, Ready, Subscribe  # noqa: F401
