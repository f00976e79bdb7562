"""Mongrel2 WebSocket pass-through for ``mongrel2:`` routes, as Mongrel2 1.12 does it.

Flow (Mongrel2 src/connection.c; byte-checked against captures from a running mongrel2 1.12.2):
  1. An upgrade request on a mongrel2 route is validated (bridge.ws.handshake); the handler gets
     it as a normal request message whose METHOD is ``WEBSOCKET_HANDSHAKE`` and whose body is
     the Sec-WebSocket-Accept value the bridge computed.
  2. The handler answers with the 101 itself (so it may refuse, or pick a subprotocol); its
     bytes, like every later reply, are written to the browser raw.
  3. Every message from the browser goes to the handler with the handshake's headers, METHOD
     ``WEBSOCKET`` and ``FLAGS`` (hex, FIN|opcode: ``"0x81"`` text, ``"0x82"`` binary,
     ``"0x88"`` close, ``"0x89"`` ping, ``"0x8a"`` pong); the body is the unmasked payload.
     Fragmented messages are reassembled first (FLAGS carries the first frame's opcode);
     control frames are forwarded as they arrive.
  4. The handler does the rest, as behind Mongrel2: it sends pre-framed bytes, answers pings,
     echoes the close frame and then closes with an empty reply.
What the bridge adds: frames are checked before they reach the handler (masking, reserved
bits and opcodes: 1002; over ``ws_max_message_bytes``: 1009; text not UTF-8: 1007, where
Mongrel2 has no limit and leaves UTF-8 to the handler), the handler's bytes go through a
bounded outbox (slow browsers: see bridge.front.outbox), a browser that closes without the
handler closing is cut after ``ws_close_timeout``, and the handler always gets the ``@*``
disconnect message when the connection ends (unless it cancelled it). The bridge sends no
pings of its own on these connections (the handler would see the pongs), but an idle timeout
still applies.
"""
import logging

from bridge import m2wire
from bridge.adapters.mongrel2 import request_headers
from bridge.ws import frames
from bridge.ws.session import WebSocketSession

__all__ = ["Mongrel2WebSocket"]

log = logging.getLogger("bridge.ws")


def _with(headers, **extra):
    """The handshake headers with METHOD changed and FLAGS put where Mongrel2 puts it."""
    out = {}
    for key, value in headers.items():
        out[key] = value
        if key == "x-forwarded-for" and "FLAGS" in extra:
            out["FLAGS"] = extra["FLAGS"]
    out["METHOD"] = extra["METHOD"]
    return out


class Mongrel2WebSocket(WebSocketSession):
    kind = "websocket"
    auto_pong = False           # the handler answers pings, as behind Mongrel2
    send_pings = False

    def __init__(self, conn, leftover, req, route, backend, stats, registry):
        super().__init__(conn.sock, leftover, conn.limits, stats, route.prefix)
        self.conn = conn
        self.backend = backend
        self.registry = registry                # connection id -> HandlerOutput (bridge.services)
        self._headers = request_headers(req, route.prefix, conn.remote_addr, conn.scheme)
        self._path = self._headers["PATH"]     # as the client's bytes (adapters.mongrel2.wire_text)
        # Every message carries the handshake's headers, differing only in FLAGS: encoded once
        # per FLAGS value, not once per message (13.5 us a message for a browser's headers).
        self._prefix = m2wire.request_prefix(backend.uuid, conn.id, self._path)
        self._encoded = {}              # FLAGS -> encoded headers

    def start(self, accept):
        """Register for handler replies and send WEBSOCKET_HANDSHAKE; False: no handler."""
        self.registry[self.conn.id] = self      # handler replies for this id now come here
        message = m2wire.encode_request(self.backend.uuid, self.conn.id, self._path,
                                        _with(self._headers, METHOD="WEBSOCKET_HANDSHAKE"),
                                        accept.encode("ascii"), self.backend.protocol)
        if not self.backend.send(message):
            del self.registry[self.conn.id]
            return False
        self.conn.m2_backends.add(self.backend)  # the connection sends the disconnect at the end
        return True

    # ------------------------------------------------------------------ handler side (never blocks)

    def deliver(self, data):
        """Raw handler bytes for the browser; b"" closes once what is queued is sent."""
        if data:
            self.outbox.put(data)
        else:
            self.outbox.finish(shutdown=True)

    def deliver_cancel(self):
        self.conn.cancelled = True
        self.outbox.finish(shutdown=True)

    # ------------------------------------------------------------------ browser side

    def _forward(self, opcode, payload):
        flags = f"0x{0x80 | opcode:x}"
        headers = self._encoded.get(flags)
        if headers is None:
            headers = self._encoded[flags] = m2wire.encode_headers(
                _with(self._headers, METHOD="WEBSOCKET", FLAGS=flags), self.backend.protocol)
        if not self.backend.send(m2wire.join_request(self._prefix, headers, payload)):
            log.warning("route %s: no handler for a websocket message; closing", self.route)
            self.close(frames.INTERNAL_ERROR, "no handler")

    def on_message(self, message):
        self._forward(message.opcode, message.payload)

    def on_ping(self, ping):
        self._forward(frames.PING, ping.payload)

    def on_pong(self, pong):
        self._forward(frames.PONG, pong.payload)

    def on_close_frame(self, close):
        # The handler echoes the close and then closes; if it does not, cut after a while.
        self.close_code = close.code if close.code is not None else frames.NORMAL
        self._forward(frames.CLOSE, close.payload)
        self._arm_close_timer()

    def on_end(self):
        if self.registry.get(self.conn.id) is self:
            del self.registry[self.conn.id]
