"""The WebSocket at a ``pubsub:`` route's PREFIX: browser ops in, topic messages and replies out.

Each text message is one op (bridge.adapters.ops): subscribe/unsubscribe go to the route's
bridge.pubsub.PubSubHub, publish leaves its PUB socket, request is routed like an HTTP
request by bridge.front.subrequest in a greenlet of its own (at most ``MAX_REQUESTS`` in
flight per connection) and answered with a reply op when it completes, in any order. A bad
or unknown op gets an error op and the connection stays open; so does a binary frame.
When the connection ends, however it ends, the session leaves every topic (the hub
unsubscribes topics nobody wants any more) and its pending requests are cancelled.
Created by bridge.front.realtime.
"""
import logging

from gevent.pool import Group

from bridge.adapters import ops
from bridge.ws import frames
from bridge.ws.session import WebSocketSession

__all__ = ["TopicSession", "MAX_REQUESTS"]

log = logging.getLogger("bridge.ws")

MAX_REQUESTS = 64


class TopicSession(WebSocketSession):
    def __init__(self, sock, leftover, limits, stats, route, hub, requester, deflate=None):
        super().__init__(sock, leftover, limits, stats, route, deflate)
        self.hub = hub
        self.requester = requester      # (ops.Request) -> (status, body bytes); may block
        self.topics = set()
        self._requests = Group()

    # The hub calls push() for every delivery; it only queues. Uncompressed browsers share one
    # frame per item; a compressing one frames it with its own deflate context.
    def push(self, item):
        limit = self.limits.ws_max_send_bytes
        if self.deflate is None:
            self.outbox.put(item.ws_frame(limit))
        else:
            self.outbox.put(frames.encode_message(frames.TEXT, item.ws_payload(limit), self.deflate))
        if item.too_big:
            self.stats.dropped[self.route] += 1

    def on_message(self, message):
        if message.opcode != frames.TEXT:
            self.send_text(ops.encode_error("binary frames are not ops: send JSON text "
                                            "(binary data goes base64 with \"data_base64\": true)"))
            return
        try:
            op = ops.parse(message.text)
        except ops.OpError as e:
            self.send_text(ops.encode_error(e.error, e.id, e.op))
            return
        if isinstance(op, ops.Subscribe):
            self.hub.subscribe(op.topic, self)
            if op.id is not None:
                self.send_text(ops.encode_ack(op.id))
        elif isinstance(op, ops.Unsubscribe):
            self.hub.unsubscribe(op.topic, self)
            if op.id is not None:
                self.send_text(ops.encode_ack(op.id))
        elif isinstance(op, ops.Publish):
            if self.hub.pub is None:
                self.send_text(ops.encode_error(f"route {self.route} has no PUB endpoint: publish is "
                                                "not available", op.id, "publish"))
            elif not self.hub.publish(op.topic, op.data):
                self.send_text(ops.encode_ack(op.id, 503) if op.id is not None else
                               ops.encode_error("publish failed", None, "publish"))
            elif op.id is not None:
                self.send_text(ops.encode_ack(op.id))
        elif len(self._requests) >= MAX_REQUESTS:
            self.send_text(ops.encode_error(f"too many requests in flight (limit {MAX_REQUESTS})",
                                            op.id, "request"))
        else:
            self._requests.spawn(self._request, op)

    def _request(self, op):
        try:
            status, body = self.requester(op)
        except Exception:
            log.exception("route %s: request op for %s failed", self.route, op.path)
            status, body = 500, b"Internal Server Error\n"
        self.send_text(ops.encode_reply(op.id, status, body))

    def on_end(self):
        self.hub.drop(self)
        self._requests.kill(block=True, timeout=1)
