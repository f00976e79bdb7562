"""What every browser connection of one listener shares (bridge.front.connection gets it at
construction): the routes with their services, the limits, the metrics, the access log, the
/_bridge/ app, and whether the listener speaks TLS.

``routing`` is one (RouteTable, {route: service}) pair, replaced whole by a reload, so a
request sees the old routes or the new ones, never a mix; an exchange already running keeps
the route and service it started with. ``answer_request`` routes a browser's request op
(bridge.adapters.ops.Request) like an HTTP request on the same host.
"""
import logging

from bridge.front import subrequest

__all__ = ["Site"]

log = logging.getLogger("bridge.site")


class Site:
    def __init__(self, *, routing, limits, metrics, stream_stats, resources, internal_app,
                 access_log=None, scheme="http", address=lambda: ("127.0.0.1", 0)):
        self.routing = routing                  # (RouteTable, {route: service})
        self.limits = limits
        self.metrics = metrics
        self.stream_stats = stream_stats
        self.resources = resources              # bridge.services.Resources
        self.internal_app = internal_app        # bottle app at /_bridge/
        self.access_log = access_log            # bridge.front.accesslog.AccessLog or None
        self.scheme = scheme
        self.address = address                  # () -> the listening (host, port)
        # Handler bytes may be written by the backend's greenlet while the connection waits
        # (Connection._write_through) only where a send that never waits exists: not over TLS,
        # whose sends wait for the socket whatever their timeout says.
        self.write_through = scheme == "http"

    def match(self, host, path):
        """``(route, service)`` for a request, or ``(None, None)``."""
        table, services = self.routing
        route = table.match(host, path)
        return (route, services[route]) if route is not None else (None, None)

    def answer_request(self, op, host, remote_addr):
        """Route a request op; block until ``(status, body bytes)``."""
        req = subrequest.build(op, host)
        if req.path.startswith("/_bridge/"):
            return subrequest.collect_wsgi(self.internal_app, req, "/_bridge", remote_addr)
        route, service = self.match(host, req.path)
        if route is None:
            return 404, b"Not Found\n"
        return service.answer_request(req, route, remote_addr)

    def run_session(self, session):
        """Run a WebSocket session to its end, known to the bridge meanwhile (1001 on stop)."""
        sessions = self.resources.sessions
        sessions.add(session)
        try:
            session.run()
        finally:
            sessions.discard(session)
