"""``mongrel2:`` routes: Mongrel2's handler protocol (bridge.backends.mongrel2), as Mongrel2 1.12.

HTTP: the request is PUSHed (bodies over ``upload_threshold``, or chunked, through a file when
the route has ``upload_store``); the handler's raw bytes are written to the browser as they
come (bridge.front.connection follows them to know when the response ends). WebSocket: the
Mongrel2 pass-through (bridge.ws.mongrel2). Request op: the request under a connection id of
its own, the handler's response collected until complete (bridge.front.subrequest).
"""
import dataclasses
import logging
import os
import tempfile

from bridge.adapters.mongrel2 import request_message, upload_messages
from bridge.backends.mongrel2 import Mongrel2Backend
from bridge.front.subrequest import ResponseCapture, parse_response
from bridge.http11 import error_body
from bridge.routing import (ConfigError, Mongrel2Target, number, shift_endpoint, split_options,
                            worker_uuid)
from bridge.services.base import ServiceBase
from bridge.ws import handshake
from bridge.ws.mongrel2 import Mongrel2WebSocket

__all__ = ["Mongrel2Service"]

log = logging.getLogger("bridge.mongrel2")

DEFAULT_REQUEST_OP_TIMEOUT = 30.0


class Mongrel2Service(ServiceBase):
    scheme = "mongrel2"

    @staticmethod
    def parse_target(rest, spec):
        endpoints, options = split_options(rest, spec)
        if len(endpoints) != 2:
            raise ConfigError(f"{spec!r}: mongrel2 needs SEND_SPEC,RECV_SPEC")
        unknown = set(options) - {"protocol", "timeout", "uuid", "recv_ident", "upload_store",
                                  "upload_threshold"}
        if unknown:
            raise ConfigError(f"{spec!r}: unknown mongrel2 option {sorted(unknown)[0]!r}")
        protocol = options.get("protocol", "json")
        if protocol not in ("json", "tnetstring"):
            raise ConfigError(f"{spec!r}: protocol must be json or tnetstring")
        timeout = number("timeout", options["timeout"], spec) if "timeout" in options else None
        threshold = options.get("upload_threshold", "20480")
        if not threshold.isdigit():
            raise ConfigError(f"{spec!r}: upload_threshold must be a number of bytes")
        return Mongrel2Target(endpoints[0], endpoints[1], protocol, timeout, options.get("uuid"),
                              options.get("recv_ident"), options.get("upload_store") or None,
                              int(threshold))

    @staticmethod
    def binds(target):
        return (target.send, target.recv)

    @staticmethod
    def for_worker(target, index, count, uuid):
        """With several workers (bridge.workers) each binds its own PUSH and SUB (worker 0 the
        endpoints as given, worker i >= 1 port + 100 * i, or ipc path + ".i") and sends as its own
        UUID (``UUID-i`` for i >= 1), subscribing to its own replies only: handlers connect to
        every worker's pair and answer whichever sender a request names, as they would to
        several Mongrel2 servers."""
        if target.recv_ident is not None:
            raise ConfigError(f"mongrel2:{target.send},{target.recv}: recv_ident cannot be used with "
                              f"several workers (each subscribes to its own sender UUID)")
        return dataclasses.replace(target, send=shift_endpoint(target.send, index),
                                   recv=shift_endpoint(target.recv, index),
                                   uuid=worker_uuid(target.uuid, index) if target.uuid else None)

    @staticmethod
    def share_key(target, resources):
        # Routes naming the same endpoints share one backend, as Mongrel2 routes share a
        # handler; a wildcard port binds a new port each time, so such a target is its own.
        if "*" in target.send or "*" in target.recv:
            return None
        return ("mongrel2", target.send, target.recv)

    def __init__(self, route, resources):
        super().__init__(route, resources)
        target = route.target
        self.uuid = target.uuid or resources.uuid
        self.backend = Mongrel2Backend(resources.context, target, self.uuid, resources.connections,
                                       resources.metrics)

    def check_shared(self, target):
        """Routes sharing the sockets must agree on what goes over them."""
        backend = self.backend
        if ((target.uuid or self.resources.uuid) != backend.uuid or target.protocol != backend.protocol
                or target.recv_ident != backend.recv_ident):
            raise ConfigError(f"routes sharing {target.send},{target.recv} disagree on uuid/protocol/recv_ident")

    def start(self):
        self.started = True
        self.backend.start()

    def close(self):
        self.backend.close()

    def busy(self):
        return bool(self.backend.users)

    def describe(self, route):
        backend = self.backend
        return {"send": backend.send_endpoint, "recv": backend.recv_endpoint, "uuid": backend.uuid,
                "protocol": route.target.protocol, "timeout": route.target.timeout}

    def health(self):
        handlers = self.backend.peers.count
        if handlers:
            return {"state": "connected", "handlers": handlers}
        return {"state": "unavailable", "handlers": 0,
                "why": f"no handler connected to {self.backend.send_endpoint}"}

    def _unavailable_why(self):
        return f"no Mongrel2 handler connected to {self.backend.send_endpoint}"

    # ------------------------------------------------------------------ HTTP

    def serve_http(self, conn, req, route, started):
        backend, target, path = self.backend, route.target, None
        # As Mongrel2: a body over the threshold, or any chunked one, goes through the file.
        if target.upload_store and (len(req.body) > target.upload_threshold
                                    or req.header("transfer-encoding") is not None):
            try:
                path = _store_upload(target.upload_store, req.body)
            except OSError as e:
                log.warning("route %s: upload not stored: %s", route.prefix, e)
                conn.fail(req, route, started, 500, f"upload not stored ({e.strerror})")
                return
            messages = upload_messages(backend.uuid, conn.id, req, route.prefix, conn.remote_addr,
                                       path, backend.protocol, conn.scheme)
        else:
            messages = [request_message(backend.uuid, conn.id, req, route.prefix, conn.remote_addr,
                                        backend.protocol, conn.scheme)]
        self.resources.connections[conn.id] = conn      # before the send: replies may be quick
        if not backend.send(messages[0]):
            if path is not None:
                os.unlink(path)
            conn.fail(req, route, started, 503, self._unavailable_why(), extra=[("Retry-After", "1")])
            return
        for message in messages[1:]:                    # the upload's "done" message
            backend.send(message)
        backend.users.add(conn.id)
        conn.m2_backends.add(backend)
        deadline = started + target.timeout if target.timeout else None
        conn.await_handler(req, route, started, backend, deadline)

    # ------------------------------------------------------------------ WebSocket

    def serve_websocket(self, conn, req, route, started):
        try:
            accept = handshake.check(req, conn.origins)
        except handshake.HandshakeError as e:
            conn.respond(req, e.status, error_body(e.status, e.reason), extra=e.headers,
                         keep_alive=False, label=route.prefix, started=started)
            return
        session = Mongrel2WebSocket(conn, conn.take_over(), req, route, self.backend,
                                    conn.site.stream_stats, self.resources.connections)
        if not session.start(accept):
            conn.site.metrics.error(route.prefix, "unavailable")
            conn.request_done(req, route.prefix, 503, started)
            conn.sock.sendall(handshake.refusal(503, self._unavailable_why(), [("Retry-After", "1")]))
            return
        self.backend.users.add(conn.id)
        conn.request_done(req, route.prefix, 101, started)
        conn.site.run_session(session)

    # ------------------------------------------------------------------ the request op

    def answer_request(self, req, route, remote_addr):
        status, _headers, body = self.forward(req, route, remote_addr)
        return status, body

    def forward(self, req, route, remote_addr):
        resources, backend = self.resources, self.backend
        conn_id = resources.connection_ids()
        capture = ResponseCapture(req.method == "HEAD")
        resources.connections[conn_id] = capture
        try:
            message = request_message(backend.uuid, conn_id, req, route.prefix, remote_addr, backend.protocol)
            if not backend.send(message):
                return 503, [], error_body(503, self._unavailable_why())
            finished = capture.done.wait(route.target.timeout or DEFAULT_REQUEST_OP_TIMEOUT)
        finally:
            if resources.connections.get(conn_id) is capture:
                del resources.connections[conn_id]
            backend.notify_disconnect(conn_id)
        if not finished:
            return 504, [], error_body(504, "no reply from the handler in time")
        try:
            return parse_response(capture.data, with_headers=True)
        except ValueError as e:
            log.warning("route %s: bad response from handler: %s", route.prefix, e)
            return 502, [], error_body(502, "invalid response from the handler")


def _store_upload(template, body):
    """Write ``body`` to a new file made from ``template`` (Mongrel2's upload.temp_store,
    ``DIR/upload.XXXXXX``; mode 0600, as mkstemp makes it) and return its path. The handler
    reads the file and deletes it, as behind Mongrel2."""
    directory, name = os.path.split(template)
    fd, path = tempfile.mkstemp(prefix=name.rstrip("X"), dir=directory or ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(body)
    except OSError:
        os.unlink(path)
        raise
    return path


