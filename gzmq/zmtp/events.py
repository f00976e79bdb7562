"""Events the ZMTP codec produces (RFC 37 commands, seen from the receiving side).

A received *message* is not an event object: it is a plain list of frames (bytes), because
it is the hot path and a list is the cheapest thing to hand over. Everything else is one of
these frozen dataclasses.
"""
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Ready:
    """The security handshake finished: the peer may now exchange messages.

    metadata: the peer's READY (or INITIATE) properties, names lower-cased (RFC 37 says names
    are case-insensitive). minor: the peer's ZMTP minor version (0 for 3.0, 1 for 3.1).
    """

    metadata: dict = field(default_factory=dict)
    minor: int = 1
    mechanism: bytes = b"NULL"

    @property
    def socket_type(self):
        return self.metadata.get("socket-type", b"").decode("ascii", "replace")

    @property
    def identity(self):
        return self.metadata.get("identity", b"")


@dataclass(frozen=True)
class Subscribe:
    """SUBSCRIBE command (3.1) from a SUB/XSUB peer. A 3.0 peer's `\\x01topic` message is not
    turned into this event: for 3.0 subscriptions are ordinary messages (socket types decide)."""

    topic: bytes


@dataclass(frozen=True)
class Cancel:
    """CANCEL command (3.1): the peer drops one reference to a subscription."""

    topic: bytes


@dataclass(frozen=True)
class Join:
    """JOIN command (RFC 48) from a DISH peer: send it the messages of this group."""

    group: bytes


@dataclass(frozen=True)
class Leave:
    """LEAVE command (RFC 48): the DISH left the group."""

    group: bytes


@dataclass(frozen=True)
class Ping:
    """PING (RFC 37 heartbeat). The codec has already queued the PONG; ttl is in seconds."""

    ttl: float
    context: bytes


@dataclass(frozen=True)
class Pong:
    """PONG: the answer to one of our PINGs."""

    context: bytes


@dataclass(frozen=True)
class PeerError:
    """ERROR command from the peer during the handshake (authentication refused, ...)."""

    reason: bytes


@dataclass(frozen=True)
class ZapRequest:
    """A server-side mechanism asks the ZAP handler (RFC 27) whether to admit the peer.

    The engine sends `frames` to the handler and hands the reply to
    ZMTPConnection.zap_reply().
    """

    mechanism: bytes
    credentials: tuple
