"""The bridge process: services, listeners, reloads, and their lifetimes.

``Bridge(config)`` builds a service per route (bridge.services, chosen by the route's scheme,
shared by routes naming the same sockets) and binds everything at construction, so a bad
endpoint fails at once; ``start()`` starts accepting and the services' receiving greenlets;
``stop()`` closes it all. ``reload(config)`` swaps in new routes and limits without touching
the listeners or open connections: services whose sockets stay are kept (with their bound
ports and connected peers), new ones start, and dropped ones are closed once no exchange uses
them any more (``RETIRE_SECONDS`` at most). Listener, TLS and admin changes need a restart;
the certificate files themselves are read again.

Listeners: the main one (https when ``tls_cert`` is set: Python's ssl, TLS 1.2 or later, ALPN
http/1.1; the handshake must finish within ``header_timeout``), and an optional admin listener
for /_bridge/health and /_bridge/metrics (``admin``: ``main``, ``off`` or HOST:PORT).

It works unpatched (everything it touches is gevent-native); the command line
(bridge.__main__) monkey-patches first because bottle's request objects are thread-locals.
"""
from __future__ import annotations

import logging
import os
import time
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple, cast

import gevent
import gevent.pool
from gevent import ssl
from gevent.server import StreamServer

from bridge.front.accesslog import AccessLog
from bridge.front.app import internal_app
from bridge.front.connection import Connection
from bridge.front.outbox import StreamStats
from bridge.front.site import Site
from bridge.metrics import Metrics
from bridge.routing import RouteTable
from bridge.services import Resources, build
from bridge.workers import Cluster, connection_ids
from bridge.zmqlib import zmq

if TYPE_CHECKING:
    from bridge.config import Config

log = logging.getLogger("bridge")

__all__ = ["Bridge", "tls_context", "RETIRE_SECONDS"]

RETIRE_SECONDS = 3600.0


def tls_context(cert: str, key: Optional[str] = None) -> ssl.SSLContext:
    """A server SSLContext with modern defaults: TLS 1.2 or later, ALPN http/1.1 (no h2)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(cert, key)
    return context


class Bridge:
    def __init__(self, config: Config, context: Optional[zmq.Context] = None, *,
                 listener: Any = None, admin_listener: Any = None,
                 worker: Optional[Tuple[int, int, str]] = None) -> None:
        """``listener``/``admin_listener``: sockets to accept on instead of binding
        ``config.listen``/``config.admin`` (a worker's, bridge.workers); ``worker``: ``(index,
        count, directory)`` when this is one of several workers (bridge.workers.Cluster)."""
        self.config = config
        self.metrics = Metrics()
        self.stream_stats = StreamStats()       # WebSocket/SSE/poll/pubsub series
        self.metrics.collectors.append(self.stream_stats.render)
        self._own_context = context is None
        self.context = context or zmq.Context()
        self.resources = Resources(self.context, self.metrics, self.stream_stats,
                                   cast(str, config.uuid))          # Config sets it
        self.server: Any = None             # a StreamServer once constructed
        self.admin_server: Any = None
        self.cluster: Any = None
        self.access_log = None
        self._retiring = gevent.pool.Group()
        try:
            self.tls = tls_context(config.tls_cert, config.tls_key) if config.tls_cert else None
            if config.access_log:
                self.access_log = AccessLog(config.access_log, config.access_log_format)
            routing = self._build_routing(config.routes)
            self.site = Site(routing=routing, limits=config.limits, metrics=self.metrics,
                             stream_stats=self.stream_stats, resources=self.resources,
                             internal_app=internal_app(self, admin=config.admin == "main"),
                             access_log=self.access_log, scheme="https" if self.tls else "http",
                             address=lambda: self.address)
            if worker is not None:
                index, count, directory = worker
                self.resources.connection_ids = connection_ids(index, count)
                self.cluster = Cluster(self.context, index, count, directory)
            self.server = (StreamServer(listener, self._handle) if listener is not None
                           else StreamServer(config.listen, self._handle, backlog=1024))
            self.server.init_socket()
            if isinstance(config.admin, tuple):
                admin = (StreamServer(admin_listener, self._handle_admin) if admin_listener is not None
                         else StreamServer(config.admin, self._handle_admin, backlog=128))
                self.admin_site = Site(routing=(RouteTable(), {}), limits=config.limits, metrics=self.metrics,
                                       stream_stats=self.stream_stats, resources=self.resources,
                                       internal_app=internal_app(self, admin=True), access_log=self.access_log,
                                       address=lambda: admin.address)
                self.admin_server = admin
                self.admin_server.init_socket()
        except BaseException:
            self.close_backends()
            raise

    # ------------------------------------------------------------------ routes and services

    def _build_routing(self, routes):
        table = RouteTable(routes)
        return table, {route: build(route, self.resources) for route in table.routes}

    @property
    def routes(self) -> RouteTable:
        return self.site.routing[0]

    @property
    def services(self) -> Dict[Any, Any]:
        return self.resources.services

    def reload(self, config: Config) -> None:
        """Swap in ``config``'s routes and limits (SIGHUP). Raises (and changes nothing) if a
        route cannot be built; open connections and exchanges carry on either way."""
        resources = self.resources
        before = dict(resources.services)
        resources.previous, resources.services = dict(before), {}
        try:
            routing = self._build_routing(config.routes)
            if self.tls is not None and config.tls_cert:
                self.tls.load_cert_chain(config.tls_cert, config.tls_key)
        except BaseException:
            for key, service in resources.services.items():
                if before.get(key) is not service:
                    service.close()
            resources.services, resources.previous = before, {}
            raise
        dropped, resources.previous = resources.previous, {}
        for service in resources.services.values():
            if not service.started:
                service.start()
        self.site.routing = routing
        self.site.limits = config.limits
        if self.admin_server is not None:
            self.admin_site.limits = config.limits
        for name in ("listen", "tls_cert", "admin", "access_log", "access_log_format", "workers"):
            if getattr(config, name) != getattr(self.config, name) and name != "tls_cert":
                log.warning("reload: %s changed; that takes a restart (kept %r)", name, getattr(self.config, name))
        restart = ("listen", "admin", "access_log", "access_log_format", "workers")
        kept = config.__class__(**{**config.__dict__, **{n: getattr(self.config, n) for n in restart}})
        self.config = kept
        for service in dropped.values():
            self._retiring.spawn(self._retire, service)
        log.info("reloaded: %d routes, %d services (%d retiring)", len(routing[0].routes),
                 len(resources.services), len(dropped))

    def _retire(self, service):
        """Close a service a reload dropped, once no exchange uses it (or after RETIRE_SECONDS)."""
        end = time.monotonic() + RETIRE_SECONDS
        while service.busy() and time.monotonic() < end:
            gevent.sleep(0.5)
        service.close()

    # ------------------------------------------------------------------ listeners

    @property
    def address(self) -> Tuple[str, int]:
        return cast(Tuple[str, int], self.server.address)

    def describe(self) -> Dict[str, Any]:
        """What runs where (endpoints with their bound ports): for logs, tests and /_bridge/health."""
        table, services = self.site.routing
        routes = []
        for route in table.routes:
            info = {"prefix": route.prefix, "kind": route.kind, "host": route.host}
            info.update(services[route].describe(route))
            routes.append(info)
        host, port = self.address[:2]
        info = {"listen": f"{host}:{port}", "uuid": self.config.uuid, "routes": routes,
                "scheme": self.site.scheme}
        if self.admin_server is not None:
            host, port = cast(Tuple[str, int], self.admin_server.address)[:2]
            info["admin"] = f"{host}:{port}"
        return info

    def health(self) -> Dict[str, Any]:
        """local_health(); with several workers, the whole cluster's (bridge.workers.Cluster)."""
        if self.cluster is not None:
            return self.cluster.health(self.local_health())
        return self.local_health()

    def render_metrics(self) -> str:
        """The Prometheus text of /_bridge/metrics: this process's series, or with several
        workers every worker's, labelled ``worker``."""
        if self.cluster is not None:
            return self.cluster.metrics()
        return self.metrics.render()

    def local_health(self) -> Dict[str, Any]:
        """describe() with each route's backend state; status "ok" or "degraded"."""
        info = self.describe()
        table, services = self.site.routing
        for entry, route in zip(info["routes"], table.routes):
            entry["backend"] = services[route].health()
        bad = [r["prefix"] for r in info["routes"] if r["backend"]["state"] not in ("ok", "connected")]
        info["status"] = "degraded" if bad else "ok"
        if bad:
            info["degraded_routes"] = bad
        info["open_connections"] = self.metrics.open_connections
        info["pid"] = os.getpid()
        return info

    def start(self) -> None:
        if self.cluster is not None and self.cluster.bridge is None:
            self.cluster.start(self)
        for service in self.resources.services.values():
            if not service.started:
                service.start()
        self.server.start()
        if self.admin_server is not None:
            self.admin_server.start()

    def serve_forever(self) -> None:
        """Run until stop() (from a signal handler or another greenlet)."""
        if not self.server.started:
            self.start()
        self.server.serve_forever()

    def _handle(self, sock, address):
        if self.tls is not None:
            sock = self._tls_handshake(sock, address)
            if sock is None:
                return
        Connection(self.site, sock, address).serve()

    def _handle_admin(self, sock, address):
        Connection(self.admin_site, sock, address).serve()

    def _tls_handshake(self, sock, address):
        # The handshake runs in the connection's greenlet, bounded like a request head.
        sock.settimeout(self.config.limits.header_timeout)
        try:
            tls = self.tls.wrap_socket(sock, server_side=True)
        except (OSError, ValueError) as e:      # ssl.SSLError and socket.timeout are OSErrors
            log.debug("%s: TLS handshake failed: %s", address[0] if address else "?", e)
            sock.close()
            return None
        tls.settimeout(None)
        return tls

    def close_sessions(self, timeout: float = 1.0) -> None:
        """Close every WebSocket with 1001 (going away); wait up to ``timeout`` for the close
        frames to leave, so browsers reconnect knowing why."""
        sessions = list(self.resources.sessions)
        for session in sessions:
            session.close(1001, "server shutting down")
        gevent.wait([session.outbox.done for session in sessions], timeout=timeout)

    def stop(self, timeout: float = 1.0) -> None:
        self.close_sessions(timeout)
        for server in (self.admin_server, self.server):
            if server is not None:
                server.stop(timeout=timeout)
        self.close_backends()

    def close_backends(self) -> None:
        self._retiring.kill()
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None
        for service in self.resources.services.values():
            service.close()
        self.resources.services.clear()
        if self.access_log is not None:
            self.access_log.close()
            self.access_log = None
        if self._own_context:
            self.context.term()
