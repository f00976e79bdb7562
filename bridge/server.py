"""The bridge process: route table, backends, the listening socket, and their lifetimes.

``Bridge(config)`` binds everything at construction (so a bad endpoint fails at once),
``start()`` starts accepting and the backends' receiving greenlets, ``stop()`` closes it all.
It works unpatched (everything it touches is gevent-native); the command line
(bridge.__main__) monkey-patches first because bottle's request objects are thread-locals.
"""
import itertools
import logging

import gevent
from gevent.server import StreamServer

from bridge.backends.mongrel2 import Mongrel2Backend
from bridge.backends.req import ReqBackend
from bridge.front.app import internal_app, static_app
from bridge.front.connection import Connection
from bridge.front.outbox import StreamStats
from bridge.metrics import Metrics
from bridge.pubsub import PubSubHub
from bridge.routing import Mongrel2Target, PageTarget, PubSubTarget, ReqTarget, RouteTable, StaticTarget
from bridge.zmqlib import zmq

log = logging.getLogger("bridge")

__all__ = ["Bridge"]


class Bridge:
    def __init__(self, config, context=None):
        self.config = config
        self.metrics = Metrics()
        self.stream_stats = StreamStats()       # WebSocket/SSE/poll/pubsub series
        self.metrics.collectors.append(self.stream_stats.render)
        self.sessions = set()                   # open WebSocket sessions (closed with 1001 on stop)
        self.connections = {}                   # Mongrel2 connection id -> Connection
        self._ids = itertools.count(1)
        self.routes = RouteTable(config.routes)
        self._own_context = context is None
        self.context = context or zmq.Context()
        self.backends = {}                      # key -> backend
        self.static_apps = {}
        self.internal_app = internal_app(self)
        self.server = None
        try:
            for route in self.routes.routes:
                self._make_backend(route)
            self.server = StreamServer(config.listen, self._handle, backlog=1024)
            self.server.init_socket()
        except BaseException:
            self.close_backends()
            raise

    def _key(self, target):
        # Routes naming the same endpoints share one backend, as Mongrel2 routes share a
        # handler. A wildcard port ("tcp://127.0.0.1:*") binds a new port each time, so such a
        # target is its own backend.
        if isinstance(target, Mongrel2Target):
            if "*" in target.send or "*" in target.recv:
                return ("mongrel2", id(target))
            return ("mongrel2", target.send, target.recv)
        if isinstance(target, PubSubTarget):
            return ("pubsub", target.sub, target.pub)
        return ("req", target.endpoints)

    def _make_backend(self, route):
        target = route.target
        if isinstance(target, StaticTarget):
            if target.directory not in self.static_apps:
                self.static_apps[target.directory] = static_app(target.directory)
            return
        if isinstance(target, PageTarget):
            # Each pagelet is a req backend, shared with routes and pagelets naming the same endpoints.
            for pagelet in target.page.pagelets:
                if ("req", pagelet.endpoints) not in self.backends:
                    self.backends[("req", pagelet.endpoints)] = ReqBackend(
                        self.context, ReqTarget(pagelet.endpoints, pagelet.timeout), self.metrics)
            return
        key = self._key(target)
        existing = self.backends.get(key)
        if isinstance(target, Mongrel2Target):
            uuid = target.uuid or self.config.uuid
            if existing is not None:
                if (existing.uuid != uuid or existing.protocol != target.protocol
                        or existing.recv_ident != target.recv_ident):
                    raise ValueError(f"routes sharing {target.send},{target.recv} disagree on "
                                     "uuid/protocol/recv_ident")
                return
            self.backends[key] = Mongrel2Backend(self.context, target, uuid, self.connections, self.metrics)
        elif isinstance(target, PubSubTarget) and existing is None:
            self.backends[key] = PubSubHub(self.context, target, self.stream_stats, route.prefix)
        elif isinstance(target, ReqTarget) and existing is None:
            self.backends[key] = ReqBackend(self.context, target, self.metrics)

    def backend_for(self, route):
        return self.backends[self._key(route.target)]

    def pagelet_backends(self, route):
        """A page route's req backends by pagelet id."""
        return {p.id: self.backends[("req", p.endpoints)] for p in route.target.page.pagelets}

    def next_connection_id(self):
        return next(self._ids)

    @property
    def address(self):
        return self.server.address

    def describe(self):
        """What runs where (endpoints with their bound ports): for logs, tests and /_bridge/health."""
        routes = []
        for route in self.routes.routes:
            info = {"prefix": route.prefix, "kind": route.kind, "host": route.host}
            target = route.target
            if isinstance(target, Mongrel2Target):
                backend = self.backend_for(route)
                info.update(send=backend.send_endpoint, recv=backend.recv_endpoint, uuid=backend.uuid,
                            protocol=target.protocol, timeout=target.timeout)
            elif isinstance(target, ReqTarget):
                info.update(endpoints=list(target.endpoints), timeout=target.timeout)
            elif isinstance(target, PubSubTarget):
                info.update(sub=target.sub, pub=target.pub)
            elif isinstance(target, PageTarget):
                info.update(file=target.file, mode=target.page.mode,
                            pagelets=[{"id": p.id, "endpoints": list(p.endpoints), "timeout": p.timeout,
                                       "required": p.required} for p in target.page.pagelets])
            else:
                info.update(directory=target.directory)
            routes.append(info)
        host, port = self.address[:2]
        return {"listen": f"{host}:{port}", "uuid": self.config.uuid, "routes": routes}

    def start(self):
        for backend in self.backends.values():
            backend.start()
        self.server.start()

    def serve_forever(self):
        """Run until stop() (from a signal handler or another greenlet)."""
        if not self.server.started:
            self.start()
        self.server.serve_forever()

    def _handle(self, sock, address):
        Connection(self, sock, address).serve()

    def close_sessions(self, timeout=1.0):
        """Close every WebSocket with 1001 (going away); wait up to ``timeout`` for the close
        frames to leave, so browsers reconnect knowing why."""
        sessions = list(self.sessions)
        for session in sessions:
            session.close(1001, "server shutting down")
        gevent.wait([session.outbox.done for session in sessions], timeout=timeout)

    def stop(self, timeout=1.0):
        self.close_sessions(timeout)
        if self.server is not None:
            self.server.stop(timeout=timeout)
        self.close_backends()

    def close_backends(self):
        for backend in self.backends.values():
            backend.close()
        self.backends.clear()
        if self._own_context:
            self.context.term()
