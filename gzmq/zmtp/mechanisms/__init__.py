"""Security mechanisms (RFC 23 NULL, RFC 24 PLAIN, RFC 25/26 CURVE) as handshake state machines.

A mechanism is sans-IO: the connection hands it each handshake command (name, data) and gets
back the command frames to send and any events (ZapRequest). When `done` is True,
`peer_metadata` holds the peer's properties. Mechanisms that encrypt traffic (CURVE) set
`encrypts` and implement encrypt_frame()/decrypt_frame().
"""
from .base import Mechanism  # noqa: F401
from .null import NullMechanism  # noqa: F401
