"""What every route kind's service offers, and what they are built with.

A service is built once from its route's target (bridge.routing) when the bridge starts or
reloads, and shared by every route naming the same backend sockets (``share_key``). The
connection loop (bridge.front.connection) calls it for each request its route matches:
``serve_http`` for an HTTP exchange, ``serve_websocket`` for an upgrade request, and the
pubsub route's WebSocket calls ``answer_request`` for a browser's ``request`` op. It never
asks which kind a service is. hypercorn's protocol/stream split is the model: the loop owns
HTTP, the service owns what one exchange means.

Backends hand replies to whatever waits for them through the two delivery protocols below
(a browser connection, a WebSocket session, a sub-request's collector, a BigPipe page), and
those that hold requests for a browser let it give them up (``PendingRequests``).
"""
import itertools
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Optional, Protocol

__all__ = ["Service", "ServiceBase", "Resources", "HandlerOutput", "ReplyReceiver", "PendingRequests"]


class HandlerOutput(Protocol):
    """Receives a Mongrel2 handler's raw bytes for one connection id (bridge.backends.mongrel2).
    Called from the backend's receiving greenlet: must never block."""

    def deliver(self, data: bytes) -> None:
        """Handler bytes for the browser; b"" closes once what came before is written."""

    def deliver_cancel(self) -> None:
        """The handler said ``ctl cancel``: close without a disconnect message."""


class ReplyReceiver(Protocol):
    """Receives a req backend's reply envelope for one request id (bridge.backends.req,
    also the long-poll sessions). Called from a receiving greenlet: must never block."""

    def deliver_reply(self, request_id: str, payload: bytes) -> None:
        """The reply (JSON envelope bytes) to ``request_id``."""


class PendingRequests(Protocol):
    """Holds requests sent on behalf of a browser (a req backend, the long-poll sessions): a
    held exchange whose browser leaves, or whose deadline passes, is forgotten, and a late
    reply to it is dropped (bridge.front.connection.Connection.hold)."""

    def forget(self, request_id: str) -> None:
        """Stop waiting for ``request_id``."""


@dataclass
class Resources:
    """What the bridge gives every service it builds."""

    context: object                         # the gzmq Context
    metrics: object                         # bridge.metrics.Metrics
    stream_stats: object                    # bridge.front.outbox.StreamStats
    uuid: str                               # the bridge's default Mongrel2 sender UUID
    connections: dict = field(default_factory=dict)     # Mongrel2 connection id -> HandlerOutput
    connection_ids: Callable = field(default_factory=lambda: itertools.count(1).__next__)
    sessions: set = field(default_factory=set)          # open WebSocket sessions (1001 on stop)
    services: dict = field(default_factory=dict)        # share key -> service, in use now
    previous: dict = field(default_factory=dict)        # during a reload: the services before it

    def take(self, key):
        """The service built for ``key``: one in use now, or one from before a reload (moved
        over, so its bound sockets and open connections carry on), or None."""
        service = self.services.get(key)
        if service is None and key in self.previous:
            service = self.services[key] = self.previous.pop(key)
        return service


class Service(Protocol):
    scheme: ClassVar[str]                   # the route target's scheme: mongrel2, req, ...

    def start(self) -> None:
        """Start receiving (a greenlet per backend socket)."""

    def close(self) -> None:
        """Close the sockets; pending exchanges end."""

    def describe(self, route) -> dict:
        """What runs where for ``route`` (bound endpoints included): the ready line and health."""

    def health(self) -> dict:
        """The backend's state now: ``{"state": "connected" | "unavailable" | ..., "why": ...}``."""

    def busy(self) -> bool:
        """Does an exchange still use this service? (A service dropped by a reload is closed
        once it is not.)"""

    def serve_http(self, conn, req, route, started) -> None:
        """Answer one HTTP request on a browser connection (bridge.front.connection)."""

    def serve_websocket(self, conn, req, route, started) -> None:
        """Answer an upgrade request; may take the connection over."""

    def answer_request(self, req, route, remote_addr) -> tuple:
        """A browser's ``request`` op as an HTTP request: block until ``(status, body)``."""

    def forward(self, req, route, remote_addr) -> tuple:
        """``answer_request`` with the response headers: ``(status, [(name, value)], body)``
        (an embedding app forwarding its own requests, bridge.embed)."""


class ServiceBase:
    """Defaults: an upgrade is served as plain HTTP, the request op is 501, no backend state."""

    scheme: Optional[str] = None
    # The topic hub that streams to browsers (pubsub: routes), which an embedding serves as
    # WebSocket/SSE endpoints; None for a service that answers requests.
    hub: Any = None

    def __init__(self, route, resources):
        self.target = route.target
        self.label = route.prefix           # the first route's prefix (metrics of shared sockets)
        self.resources = resources

    @staticmethod
    def share_key(target, resources):
        """Routes whose targets give the same key share one service (None: never shared)."""
        return None

    started = False

    def start(self):
        self.started = True

    def close(self):
        pass

    def check_shared(self, target):
        """Another route shares this service: raise ConfigError if they disagree."""

    @staticmethod
    def binds(target):
        """The endpoints a service for ``target`` binds (several workers must not share one)."""
        return ()

    @staticmethod
    def for_worker(target, index, count, uuid):
        """The target worker ``index`` of ``count`` serves (bridge.workers): the same, unless
        the kind binds sockets, which every worker must then bind apart."""
        return target

    def describe(self, route):
        return {}

    def health(self):
        return {"state": "ok"}

    def busy(self):
        return False

    def serve_websocket(self, conn, req, route, started):
        self.serve_http(conn, req, route, started)

    def answer_request(self, req, route, remote_addr):
        return 501, f"route kind {self.scheme!r} cannot answer a request op\n".encode()

    def forward(self, req, route, remote_addr):
        status, body = self.answer_request(req, route, remote_addr)
        return status, [], body
