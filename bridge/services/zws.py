"""``zws:`` routes: a page speaks ZeroMQ itself, over a WebSocket to its own origin.

``--route /zmq/soccer=zws:tcp://127.0.0.1:5563``: a browser that upgrades at the route with a
ZWS 2.0 subprotocol (``ZWS2.0/NULL``, or the bare ``ZWS2.0`` JSZMQ speaks) is joined to a
connection of its own to the backend endpoint, and from then on is one more ZeroMQ peer of
that backend: a SUB of its PUB, a REQ of its REP, a DEALER of its ROUTER. No JSON ops: the
browser's frames (bridge.js ``GzmqBridge.zmq``, or JSZMQ) pass end to end. With ZWS2.0/NULL
the peers' READYs do too (the backend checks the socket type as for any peer); browsers can
only offer the bare ZWS2.0 (a subprotocol is a token: no "/"), whose routing-id messages the
relay turns into a READY without Socket-Type. Messages the browser sends before the backend's
READY are held until it comes (libzmq would take them for handshake commands).

The bridge does the upgrade (Origin as the ``ws_origins`` limit, ``--ws-origins``: 403 otherwise), connects to the
backend (503 if it cannot), answers 101 with the chosen subprotocol, then relays with gzmq's
ZWS translation (bridge.zmqlib.zws_join, gzmq.transports.ws.join; gzmq.zws is the sans-IO
part): a greeting in the
browser's name to the backend, each WebSocket message as one ZMTP frame and back. A browser
message larger than ``ws_max_message_bytes`` closes with 1009. Only the NULL mechanism: a
backend behind the bridge is reached as a local peer, the browser authenticated (if at all)
by the bridge's own means. Plain HTTP at the route is 426.
"""
import logging
import socket as _stdsocket

from gevent import socket as gsocket

from bridge.http11 import error_body
from bridge.routing import ConfigError, ZwsTarget
from bridge.services.base import ServiceBase
from bridge.ws import handshake
from bridge.zmqlib import ZWS_SUBPROTOCOLS, zws_join

__all__ = ["ZwsService"]

log = logging.getLogger("bridge")
ACCEPTED = ZWS_SUBPROTOCOLS            # ("ZWS2.0/NULL", "ZWS2.0")
CONNECT_TIMEOUT = 5.0


def _offered(req):
    offered = []
    for name, value in req.headers:
        if name == "sec-websocket-protocol":
            offered += [p.strip() for p in value.split(",") if p.strip()]
    return offered


class ZwsService(ServiceBase):
    scheme = "zws"

    @staticmethod
    def parse_target(rest, spec):
        endpoint = rest.strip()
        if not endpoint.startswith(("tcp://", "ipc://")):
            raise ConfigError(f"{spec!r}: zws needs a tcp:// or ipc:// backend endpoint")
        if endpoint.startswith("tcp://") and ":" not in endpoint[6:]:
            raise ConfigError(f"{spec!r}: {endpoint!r} has no port")
        return ZwsTarget(endpoint)

    def __init__(self, route, resources):
        super().__init__(route, resources)
        self.open = 0           # browsers joined right now

    def describe(self, route):
        return {"backend": route.target.endpoint, "subprotocols": list(ACCEPTED)}

    def health(self):
        return {"state": "ok", "browsers": self.open}

    def busy(self):
        return self.open > 0

    def serve_http(self, conn, req, route, started):
        status = 426
        conn.respond(req, status, error_body(status, f"{route.prefix} speaks ZeroMQ over WebSocket "
                                                     f"(subprotocol {' or '.join(ACCEPTED)})"),
                     extra=[("Upgrade", "websocket")], label=route.prefix, started=started)

    def serve_websocket(self, conn, req, route, started):
        try:
            accept = handshake.check(req, conn.origins)
        except handshake.HandshakeError as e:
            conn.respond(req, e.status, error_body(e.status, e.reason), extra=e.headers,
                         keep_alive=False, label=route.prefix, started=started)
            return
        protocol = next((p for p in _offered(req) if p in ACCEPTED), None)
        if protocol is None:
            conn.respond(req, 400, error_body(400, f"no ZWS subprotocol offered (want {' or '.join(ACCEPTED)})"),
                         keep_alive=False, label=route.prefix, started=started)
            return
        try:
            backend = self._connect(route.target.endpoint)
        except OSError as exc:
            log.warning("%s: backend %s unreachable: %s", route.prefix, route.target.endpoint, exc)
            conn.respond(req, 503, error_body(503, "the ZeroMQ backend is unreachable"),
                         keep_alive=False, label=route.prefix, started=started)
            return
        leftover = conn.take_over()
        self.open += 1
        try:
            conn.sock.sendall(handshake.accepted(accept, protocol=protocol))
            conn.request_done(req, route.prefix, 101, started)
            zws_join(conn.sock, backend, protocol, leftover,
                               maxmsgsize=conn.limits.ws_max_message_bytes,
                               label=f"bridge {route.prefix}", peer=conn.remote_addr)
        except OSError:
            pass
        finally:
            self.open -= 1
            try:
                backend.close()
            except OSError:
                pass

    @staticmethod
    def _connect(endpoint):
        scheme, _, address = endpoint.partition("://")
        if scheme == "ipc":
            sock = gsocket.socket(_stdsocket.AF_UNIX, _stdsocket.SOCK_STREAM)
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(address)
        else:
            host, _, port = address.rpartition(":")
            sock = gsocket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT)
            sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
        sock.settimeout(None)
        return sock
