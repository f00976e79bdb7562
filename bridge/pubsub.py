"""Topic streaming for ``pubsub:`` routes: one SUB (and optional PUB) socket per route, shared by
every browser on it.

``PREFIX=pubsub:SUB_ENDPOINT[,PUB_ENDPOINT]``: the bridge CONNECTS (never binds) a SUB socket to
SUB_ENDPOINT and, if given, a PUB socket to PUB_ENDPOINT. Backends bind PUB or XPUB on the
first and SUB or XSUB on the second (a forwarder, the soccer publisher, a chat service).

Subscriptions are on demand and reference-counted: the first browser to subscribe to a topic
makes the SUB socket subscribe (so an XPUB backend sees the interest, as Pushpin does), and
when the last one leaves (unsubscribe, or its connection ends) the SUB socket unsubscribes at
once. Backend messages:
  - one frame: the whole message is delivered to every browser subscribed to a topic that is
    a prefix of it, as ``{"op":"message","topic":<that topic>,"data":<the message>}``, so a
    plain ZeroMQ publisher (the introduction's soccer publisher) streams to browsers unchanged;
  - two frames ``[topic, data]``: matched by prefix on the topic frame the same way, delivered
    with ``"data"`` the second frame and ``"full_topic"`` the first;
  - more frames: counted as invalid and dropped.
A message matching several subscribed prefixes is delivered once per prefix (each browser
gets it under the topic it asked for). Each delivery is encoded once and shared by all its
browsers (bridge.adapters.ops), and kept in a bounded history with a sequence number, from
which SSE resumes after ``Last-Event-ID`` and long-polls catch up.

Browser publishes leave the PUB socket as ``[topic, data]`` (DONTWAIT: PUB drops rather than
blocks when a subscriber is at its high-water mark, as ZeroMQ PUB always does).

Subscribers are objects with a ``topics`` set and a non-blocking ``push(item)``: WebSocket
sessions (bridge.ws.topics), SSE streams and long-poll sessions (bridge.front.realtime). The
receiving greenlet yields every 64 messages so that their writers drain during bursts.
Owned by bridge.server.Bridge.
"""
import logging
import os
from collections import deque

import gevent

from bridge.adapters import ops
from bridge.backends.peers import PeerCount
from bridge.ws import frames
from bridge.zmqlib import DONTWAIT, zmq

__all__ = ["PubSubHub", "Item"]

log = logging.getLogger("bridge.pubsub")

_YIELD_EVERY = 64
RCVHWM = 10000


class Item:
    """One delivery: a backend message under one subscribed topic, encoded once.

    WebSocket browsers get at most ``limit`` bytes per message (``ws_max_send_bytes``): a
    message op larger than that is replaced, for them, by a ``dropped`` op naming its topic
    and size (a browser's WebSocket, or a client library such as websockets with its 1 MiB
    default, would otherwise fail the whole connection). SSE and long-poll get it whole.
    """

    __slots__ = ("seq", "topic", "text", "event_id", "too_big", "_frame", "_head", "_sse")

    def __init__(self, seq, topic, text, event_id):
        self.seq = seq
        self.topic = topic
        self.text = text            # the message op as JSON text
        self.event_id = event_id
        self.too_big = False        # known once framed: WebSocket browsers get "dropped"
        self._frame = None          # the uncompressed text frame (its payload serves the others)
        self._head = 0
        self._sse = None

    def ws_frame(self, limit):
        """The op (or the dropped op past ``limit`` bytes) as one uncompressed text frame,
        shared by every browser without compression."""
        if self._frame is None:
            payload = self.text.encode("utf-8")
            if len(payload) > limit:
                self.too_big = True
                log.info("topic %r: a %d-byte message exceeds ws_max_send_bytes (%d): "
                         "WebSocket browsers get a dropped op", self.topic, len(payload), limit)
                payload = ops.encode_dropped(self.topic, len(payload), limit).encode("utf-8")
            head = frames.encode_head(True, frames.TEXT, len(payload))
            self._frame, self._head = head + payload, len(head)
        return self._frame

    def ws_payload(self, limit):
        """``ws_frame``'s payload, for a browser that compresses (no copy is kept)."""
        return memoryview(self.ws_frame(limit))[self._head:]

    @property
    def sse(self):
        if self._sse is None:
            self._sse = f"id: {self.event_id}\ndata: {self.text}\n\n".encode("utf-8")
        return self._sse


class PubSubHub:
    def __init__(self, context, target, stats, route, history=1000):
        self.target = target
        self.stats = stats
        self.route = route
        self.epoch = os.urandom(3).hex()
        self.seq = 0
        self.history = deque(maxlen=history)
        self.closers = []
        self._topics = {}           # topic bytes -> {subscriber: None} (insertion-ordered set)
        self._names = {}            # topic bytes -> topic str
        self._lengths = []          # sorted distinct topic lengths
        self._greenlet = self.peers = None
        self.polls = None           # bridge.front.realtime.PollSessions, made by the first poll
        self.sub = context.socket(zmq.SUB)
        self.pub = context.socket(zmq.PUB) if target.pub else None
        try:
            for sock in filter(None, (self.sub, self.pub)):
                sock.setsockopt(zmq.LINGER, 0)
            # A burst must not be cut at the default 1000-message high-water mark while the
            # fan-out catches up; past RCVHWM the SUB stops reading and the publisher's own
            # high-water mark applies (ZeroMQ PUB drops). Per-browser queues bound the rest.
            self.sub.setsockopt(zmq.RCVHWM, RCVHWM)
            self.sub.connect(target.sub)
            if self.pub is not None:
                self.pub.connect(target.pub)
        except zmq.ZMQError:
            self.close()
            raise
        self.peers = PeerCount(self.sub)
        stats.topics[route] = 0

    def start(self):
        self.peers.start()
        self._greenlet = gevent.spawn(self._recv_loop)

    def busy(self):
        """Does a browser still follow a topic here (WebSocket, SSE or a poll session)?"""
        return bool(self._topics) or bool(self.polls is not None and self.polls.sessions)

    def health(self):
        if self.peers.count:
            return {"state": "connected", "publishers": self.peers.count}
        return {"state": "unavailable", "publishers": 0, "why": f"no publisher at {self.target.sub}"}

    def close(self):
        for closer in self.closers:
            closer()
        if self._greenlet is not None:
            self._greenlet.kill()
        if self.peers is not None:
            self.peers.close()
        self.sub.close()
        if self.pub is not None:
            self.pub.close()

    # ------------------------------------------------------------------ subscriptions

    @property
    def topics(self):
        """Topics the SUB socket is subscribed to now, with their number of subscribers."""
        return {self._names[k]: len(v) for k, v in self._topics.items()}

    def subscribe(self, topic, subscriber):
        """Add ``subscriber`` to ``topic`` (str); the first one subscribes the SUB socket."""
        if topic in subscriber.topics:
            return
        key = topic.encode("utf-8")
        subscriber.topics.add(topic)
        subs = self._topics.get(key)
        if subs is None:
            subs = self._topics[key] = {}
            self._names[key] = topic
            self._lengths = sorted({len(k) for k in self._topics})
            self.sub.setsockopt(zmq.SUBSCRIBE, key)
            self.stats.topics[self.route] = len(self._topics)
        subs[subscriber] = None

    def unsubscribe(self, topic, subscriber):
        """Remove ``subscriber`` from ``topic``; the last one unsubscribes the SUB socket."""
        if topic not in subscriber.topics:
            return
        subscriber.topics.discard(topic)
        key = topic.encode("utf-8")
        subs = self._topics.get(key)
        if subs is None:
            return
        subs.pop(subscriber, None)
        if not subs:
            del self._topics[key]
            del self._names[key]
            self._lengths = sorted({len(k) for k in self._topics})
            self.sub.setsockopt(zmq.UNSUBSCRIBE, key)
            self.stats.topics[self.route] = len(self._topics)

    def drop(self, subscriber):
        """Forget ``subscriber`` everywhere (its connection ended)."""
        for topic in list(subscriber.topics):
            self.unsubscribe(topic, subscriber)

    # ------------------------------------------------------------------ publishing

    def publish(self, topic, data):
        """Send ``[topic, data]`` on the PUB socket; False if the route has no PUB endpoint."""
        if self.pub is None:
            return False
        try:
            self.pub.send_multipart([topic.encode("utf-8"), data], DONTWAIT)
        except zmq.Again:
            return False
        self.stats.backend_messages[(self.route, "out")] += 1
        return True

    # ------------------------------------------------------------------ history

    def parse_event_id(self, text):
        """The sequence number in an event id of this hub's epoch, or None."""
        epoch, _, seq = (text or "").strip().partition("-")
        if epoch != self.epoch or not seq.isdigit():
            return None
        return int(seq)

    def replay(self, topics, after):
        """Items delivered after sequence ``after`` under any of ``topics``, oldest first."""
        return [item for item in self.history if item.seq > after and item.topic in topics]

    # ------------------------------------------------------------------ receiving

    def _recv_loop(self):
        n = 0
        while True:
            try:
                parts = self.sub.recv_multipart()
            except zmq.ZMQError as e:
                log.warning("pubsub SUB %s: %s", self.target.sub, e)
                return
            try:
                self.fanout(parts)
            except Exception:                   # one bad subscriber must not stop the route
                log.exception("route %s: fan-out failed", self.route)
            n += 1
            if n % _YIELD_EVERY == 0:
                gevent.sleep(0)

    def fanout(self, parts):
        """Deliver one backend message (a list of frames) to the browsers it matches."""
        stats = self.stats
        if len(parts) == 1:
            key = data = parts[0]
            full = None
        elif len(parts) == 2:
            key, data = parts
            full = key
        else:
            stats.backend_messages[(self.route, "invalid")] += 1
            log.warning("route %s: dropped a %d-frame message (1 or 2 frames expected)", self.route, len(parts))
            return
        stats.backend_messages[(self.route, "in")] += 1
        size = len(key)
        for length in self._lengths:
            if length > size:
                break
            subs = self._topics.get(key[:length])
            if not subs:
                continue
            topic = self._names[key[:length]]
            self.seq += 1
            item = Item(self.seq, topic, ops.encode_message(topic, data, full), f"{self.epoch}-{self.seq}")
            self.history.append(item)
            for subscriber in tuple(subs):
                subscriber.push(item)
            stats.messages[(self.route, "out")] += len(subs)
