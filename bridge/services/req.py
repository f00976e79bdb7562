"""``req:`` routes: the JSON envelope over a DEALER (bridge.backends.req, bridge.adapters.envelope).

HTTP: the envelope goes out and the exchange is held until the reply (written in one send),
a 502 for a bad reply, or a 504 at the route's timeout. An upgrade request is forwarded like
any request. Request op: the same envelope, waited for in the op's greenlet.
"""
import logging

from gevent.event import AsyncResult

from bridge.adapters import envelope
from bridge.backends.req import ReqBackend
from bridge.http11 import error_body
from bridge.routing import ConfigError, ReqTarget, number, split_options
from bridge.services.base import ServiceBase

__all__ = ["ReqService"]

log = logging.getLogger("bridge.req")


class ReplyWaiter:
    """A ReplyReceiver for a request op: the op's greenlet waits on ``result``."""

    def __init__(self):
        self.result = AsyncResult()

    def deliver_reply(self, request_id, payload):
        self.result.set(payload)


class ReqService(ServiceBase):
    scheme = "req"

    @staticmethod
    def parse_target(rest, spec):
        endpoints, options = split_options(rest, spec)
        if not endpoints:
            raise ConfigError(f"{spec!r}: req needs at least one endpoint")
        unknown = set(options) - {"timeout"}
        if unknown:
            raise ConfigError(f"{spec!r}: unknown req option {sorted(unknown)[0]!r}")
        return ReqTarget(tuple(endpoints), number("timeout", options.get("timeout", "30"), spec))

    @staticmethod
    def share_key(target, resources):
        return ("req", target.endpoints)

    def __init__(self, route, resources):
        super().__init__(route, resources)
        target = route.target
        self.backend = ReqBackend(resources.context, target, resources.metrics)

    def start(self):
        self.started = True
        self.backend.start()

    def close(self):
        self.backend.close()

    def busy(self):
        return bool(self.backend.pending)

    def describe(self, route):
        return {"endpoints": list(route.target.endpoints), "timeout": route.target.timeout}

    def health(self):
        return self.backend.health()

    def serve_http(self, conn, req, route, started):
        backend = self.backend
        request_id = backend.new_id()
        payload = envelope.encode_request(request_id, req, conn.remote_addr, route.prefix)
        if not backend.submit(request_id, payload, conn):
            conn.fail(req, route, started, 503, backend.unavailable_why(), extra=[("Retry-After", "1")])
            return
        conn.hold(req, route, started, backend, request_id, started + route.target.timeout)

    def answer_request(self, req, route, remote_addr):
        status, _headers, body = self.forward(req, route, remote_addr)
        return status, body

    def forward(self, req, route, remote_addr):
        backend = self.backend
        request_id = backend.new_id()
        waiter = ReplyWaiter()
        if not backend.submit(request_id, envelope.encode_request(request_id, req, remote_addr, route.prefix),
                              waiter):
            return 503, [], error_body(503, backend.unavailable_why())
        try:
            payload = waiter.result.wait(route.target.timeout)
        finally:
            backend.forget(request_id)
        if not waiter.result.ready():
            return 504, [], error_body(504, "no reply from the backend in time")
        try:
            return envelope.decode_reply(payload)
        except envelope.EnvelopeError as e:
            log.warning("route %s: bad reply from backend: %s", route.prefix, e)
            return 502, [], error_body(502, "invalid reply from the backend")
