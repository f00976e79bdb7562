"""Transports: one registry, one interface, for tcp://, ipc://, inproc://, pgm://, epgm://, udp://,
ws:// and wss://.

A socket's bind(), connect(), unbind(), disconnect() and close() know no scheme: they split
the endpoint, look the scheme up here and talk to what they find:

    transport.bind(socket, scheme, address)     -> Binding
    transport.connect(socket, scheme, address)  -> Link

A Binding is what bind() leaves in the socket's table: its `endpoint` (as LAST_ENDPOINT
reports it, wildcards resolved), matches(addr) for unbind(), unbind(), and close(linger)
when the socket closes. A Link is what connect() leaves: its `endpoint`, the socket's end of
its `pipe` (None until it exists, or with IMMEDIATE), disconnect() and close(linger).

Transports talk to the socket through TransportHost (below) and run what must keep running
(listeners, connecters, sessions, multicast links) on the socket's engine hub. To add one:
write a module with a class implementing Transport, register() its schemes at the end of
this file, and add it to the conformance suite in tests/transports/.
"""
from typing import Optional, Protocol

from ..constants import Errno
from ..error import ZMQError


class Binding(Protocol):
    endpoint: str

    def matches(self, addr: str) -> bool: ...
    def unbind(self) -> None: ...
    def close(self, linger: int) -> None: ...


class Link(Protocol):
    endpoint: str
    pipe: Optional[object]

    def disconnect(self) -> None: ...
    def close(self, linger: int) -> None: ...


class TransportHost(Protocol):
    """What a transport may use of a socket (all on the socket's thread)."""

    context: object
    closed: bool
    engine: object            # its SocketEngine: engine.io.call() runs code on the engine hub
    engine_options: object    # EngineOptions: the socket's options as the engine sees them

    def make_pipe(self, endpoint: str, connect_side: bool, peer_mailbox) -> tuple:
        """A new pipe pair: (the socket's end, not attached yet; the other end)."""

    def attach_pipe(self, pipe, subscribe_to_all: bool = False) -> None:
        """The pipe joins the socket's routing (before its peer is known, for connect())."""

    def pipe_ready(self, pipe) -> None:
        """The peer behind the pipe is known (handshake done): the socket may refuse it."""

    def monitor_event(self, event: int, value: int, endpoint: str) -> None: ...


class Transport(Protocol):
    def bind(self, socket: TransportHost, scheme: str, address: str) -> Binding: ...
    def connect(self, socket: TransportHost, scheme: str, address: str) -> Link: ...


_REGISTRY: "dict[str, object]" = {}


def register(scheme, transport):
    _REGISTRY[scheme] = transport


def transport_for(scheme):
    try:
        return _REGISTRY[scheme]
    except KeyError:
        raise ZMQError(Errno.EPROTONOSUPPORT, f"transport {scheme!r} is not supported") from None


def schemes():
    return tuple(_REGISTRY)


def split_endpoint(endpoint):
    """'tcp://127.0.0.1:5555' -> ('tcp', '127.0.0.1:5555'), with a clear error if malformed."""
    if isinstance(endpoint, bytes):
        endpoint = endpoint.decode("utf-8")
    if not isinstance(endpoint, str):
        raise TypeError(f"endpoint must be str, not {type(endpoint).__name__}")
    scheme, sep, address = endpoint.partition("://")
    if not sep or not address:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: invalid endpoint (expected transport://address)")
    if scheme not in _REGISTRY:
        raise ZMQError(Errno.EPROTONOSUPPORT, f"{endpoint}: transport {scheme!r} is not supported")
    return scheme, address


from . import inproc, ipc, pgm, stream, tcp, udp, ws  # noqa: E402  (they register below)

register("tcp", stream.StreamTransport(tcp))
register("ipc", stream.StreamTransport(ipc))
register("inproc", inproc.InprocTransport())
register("pgm", pgm.MulticastTransport())
register("epgm", pgm.MulticastTransport())
register("udp", udp.UdpTransport())
register("ws", stream.StreamTransport(ws.WsNet(tls=False)))
register("wss", stream.StreamTransport(ws.WsNet(tls=True)))
