"""Long-lived browser traffic on ``pubsub:`` routes (bridge.services.pubsub calls ``serve``).

For ``PREFIX=pubsub:...`` (with BASE = PREFIX without a trailing slash):

  ``GET PREFIX`` + Upgrade       the WebSocket (bridge.ws.topics: the JSON ops); a GET without
                                 the upgrade gets 426
  ``GET BASE/events?topic=T``    Server-Sent Events, ``text/event-stream``: every message op as
                                 ``id: EVENTID`` + ``data: {"op":"message",...}``; ``topic`` may
                                 repeat (``topic=`` alone is every message); a ``: keep-alive``
                                 comment after ``sse_keepalive`` seconds without a write; resumes
                                 after ``Last-Event-ID`` (or ``?last_event_id=``) from the route's
                                 history of recent deliveries
  ``GET BASE/poll?topic=T``      long-poll: answers ``{"session", "messages": [ops], "dropped",
                                 "reset"}`` as soon as there is anything, else after
                                 ``poll_timeout`` seconds (or ``?timeout=``, at most that) with no
                                 messages; the first poll (no ``session``) answers at once with
                                 the new session id: pass ``session=S`` on every later poll. A session
                                 keeps its subscriptions and queues messages (up to
                                 ``stream_queue_messages``, oldest dropped and counted) between
                                 polls, and ends after ``2 * poll_timeout + 1`` seconds
                                 without one. ``topic`` on a poll sets the session's topics
                                 (a poll that changes them is answered at once); without it
                                 they stay. An unknown session starts a new one and
                                 answers at once with ``"reset": true``.
  ``POST BASE/send``             one JSON op, publish or request, for clients without a
                                 WebSocket: answered with the reply (or error) op as JSON
                                 (a publish without ``id``: 204)

WebSocket and SSE take the socket over for their whole life (``Connection.take_over``), with
one writer greenlet and a bounded queue each (bridge.front.outbox); a long-poll is held like
any backend request (``Connection.hold``) and answered through ``deliver_reply``, so its
connection stays keep-alive. The ``ws_origins`` limit (comma-separated origins, empty: any)
applies to every WebSocket handshake, SSE and poll request that carries an Origin.
"""
import json
import logging
import os
import time
from collections import deque
from urllib.parse import parse_qs

import gevent

from bridge.adapters import ops
from bridge.front.outbox import Outbox
from bridge.http11 import error_body, response_head
from bridge.ws import handshake
from bridge.ws.topics import TopicSession

__all__ = ["serve", "EventStream", "PollSessions"]

log = logging.getLogger("bridge.realtime")

_JSON = [("Content-Type", "application/json"), ("Cache-Control", "no-cache")]


def serve(conn, req, route, hub, started):
    """Answer ``req`` on a pubsub ``route`` whose hub is ``hub``; may take the socket over."""
    base = route.prefix.rstrip("/")
    path = req.path
    if not handshake.origin_allowed(req.header("origin"), conn.origins):
        _fail(conn, req, route, started, 403, f"origin {req.header('origin')!r} is not allowed")
    elif path == route.prefix:
        _topic_websocket(conn, req, route, hub, started)
    elif path == base + "/events" and req.method in ("GET", "HEAD"):
        _event_stream(conn, req, route, hub, started)
    elif path == base + "/poll" and req.method == "GET":
        _poll(conn, req, route, hub, started)
    elif path == base + "/send" and req.method == "POST":
        _send(conn, req, route, hub, started)
    elif path in (base + "/events", base + "/poll", base + "/send"):
        _fail(conn, req, route, started, 405, f"{req.method} not allowed here")
    else:
        _fail(conn, req, route, started, 404, f"{route.prefix} is a pubsub route: WebSocket at "
                                              f"{route.prefix}, SSE at {base}/events, long-poll at {base}/poll")


def _fail(conn, req, route, started, status, reason, headers=()):
    conn.respond(req, status, error_body(status, reason), extra=headers, label=route.prefix,
                 started=started)


# ---------------------------------------------------------------------- WebSocket

def _topic_websocket(conn, req, route, hub, started):
    try:
        accept = handshake.check(req, conn.origins)
    except handshake.HandshakeError as e:
        conn.respond(req, e.status, error_body(e.status, e.reason), extra=e.headers,
                     keep_alive=False, label=route.prefix, started=started)
        return
    site = conn.site
    host = req.header("host")
    compression, extensions = handshake.negotiate_compression(req, conn.limits.ws_compression)
    leftover = conn.take_over()
    session = TopicSession(conn.sock, leftover, conn.limits, site.stream_stats, route.prefix, hub,
                           lambda op: site.answer_request(op, host, conn.remote_addr), compression)
    session.outbox.put_control(handshake.accepted(accept, extensions=extensions))
    conn.request_done(req, route.prefix, 101, started)
    site.run_session(session)


# ---------------------------------------------------------------------- Server-Sent Events

def _query(req):
    return parse_qs(req.query, keep_blank_values=True)


def _topics(query):
    topics = query.get("topic", [])
    for topic in topics:
        if len(topic.encode("utf-8", "surrogatepass")) > ops.MAX_TOPIC_BYTES:
            raise ValueError(f"topic longer than {ops.MAX_TOPIC_BYTES} bytes")
    return topics


class EventStream:
    """One SSE response: subscribed while the browser stays, written by an Outbox."""

    kind = "sse"

    def __init__(self, sock, hub, limits, stats, route):
        self.sock = sock
        self.hub = hub
        self.stats = stats
        self.route = route
        self.keepalive = limits.sse_keepalive
        self.topics = set()
        self.outbox = Outbox(sock, stats, route, max_messages=limits.stream_queue_messages,
                             max_bytes=limits.stream_queue_bytes, policy=limits.slow_browser,
                             send_timeout=limits.send_timeout, tick_interval=self.keepalive or None,
                             on_tick=self._tick)

    def push(self, item):
        self.outbox.put(item.sse)

    def _tick(self, now):
        if now - self.outbox.last_send >= self.keepalive:
            self.outbox.put_control(b": keep-alive\n\n")

    def run(self, head, topics, after):
        key = (self.route, self.kind)
        self.stats.open[key] += 1
        self.stats.opened[key] += 1
        self.outbox.put_control(head)
        self.outbox.start()
        try:
            if after is not None:
                for item in self.hub.replay(set(topics), after):
                    self.push(item)
            for topic in topics:
                self.hub.subscribe(topic, self)
            while True:                             # the browser only ever closes
                if not self.sock.recv(65536):
                    break
        except OSError:
            pass
        finally:
            self.stats.open[key] -= 1
            self.hub.drop(self)
            self.outbox.stop()


def _event_stream(conn, req, route, hub, started):
    query = _query(req)
    try:
        topics = _topics(query)
    except ValueError as e:
        _fail(conn, req, route, started, 400, str(e))
        return
    last = req.header("last-event-id") or (query.get("last_event_id") or [None])[0]
    after = hub.parse_event_id(last) if last else None
    head = response_head(200, [("Content-Type", "text/event-stream; charset=utf-8"),
                               ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no"),
                               ("Connection", "close")])
    if req.method == "HEAD":
        conn.respond(req, 200, b"", headers=[("Content-Type", "text/event-stream; charset=utf-8")],
                     label=route.prefix, started=started)
        return
    conn.take_over()
    stream = EventStream(conn.sock, hub, conn.limits, conn.site.stream_stats, route.prefix)
    conn.request_done(req, route.prefix, 200, started)
    # "retry" sets EventSource's reconnection delay; the comment flushes the head through proxies.
    stream.run(head + b"retry: 2000\n\n: ok\n\n", topics, after)


# ---------------------------------------------------------------------- long-poll

class PollSession:
    """One long-poll client: its topics, the messages queued since its last poll, its held poll."""

    __slots__ = ("id", "owner", "topics", "queue", "dropped", "waiting", "deadline", "last_seen")

    def __init__(self, id, owner):
        self.id = id
        self.owner = owner
        self.topics = set()
        self.queue = deque()
        self.dropped = 0
        self.waiting = None             # (connection, request id) of the held poll
        self.deadline = 0.0
        self.last_seen = time.monotonic()

    def push(self, item):
        owner = self.owner
        if len(self.queue) >= owner.limits.stream_queue_messages:
            self.queue.popleft()
            self.dropped += 1
            owner.stats.dropped[owner.hub.route] += 1
        self.queue.append(item.text)
        if self.waiting is not None:
            owner.wake(self)


class PollSessions:
    """The long-poll sessions of one pubsub route; the hub pushes to them like to any browser.

    ``forget(request_id)`` is what bridge.front.connection calls when a held poll's browser
    leaves. One housekeeping greenlet (per route, while sessions exist) answers polls whose
    time is up and ends sessions nobody polls any more.
    """

    def __init__(self, hub, limits, stats):
        self.hub = hub
        self.limits = limits
        self.stats = stats
        self.sessions = {}
        self.by_request = {}
        self.linger = 2 * limits.poll_timeout + 1.0
        self._sweeper = None
        hub.closers.append(self.close)

    def close(self):
        if self._sweeper is not None:
            self._sweeper.kill()
            self._sweeper = None

    def session(self, session_id):
        return self.sessions.get(session_id)

    def create(self):
        s = PollSession(os.urandom(9).hex(), self)
        self.sessions[s.id] = s
        key = (self.hub.route, "poll")
        self.stats.open[key] += 1
        self.stats.opened[key] += 1
        if self._sweeper is None:
            self._sweeper = gevent.spawn(self._sweep)
        return s

    def set_topics(self, s, topics):
        for topic in list(s.topics):
            if topic not in topics:
                self.hub.unsubscribe(topic, s)
        for topic in topics:
            self.hub.subscribe(topic, s)

    def answer(self, s, reset=False):
        """The JSON body for ``s`` now (and empty its queue)."""
        messages = list(s.queue)
        s.queue.clear()
        body = ('{"session":"' + s.id + '","messages":[' + ",".join(messages) + '],"dropped":'
                + str(s.dropped) + ',"reset":' + ("true" if reset else "false") + "}")
        s.dropped = 0
        s.last_seen = time.monotonic()
        return body.encode("utf-8")

    def hold(self, s, conn, timeout):
        request_id = os.urandom(6).hex()
        s.waiting = (conn, request_id)
        s.deadline = time.monotonic() + timeout
        self.by_request[request_id] = s
        return request_id

    def wake(self, s):
        """Answer the held poll of ``s`` (messages arrived, or its time is up)."""
        if s.waiting is None:
            return
        conn, request_id = s.waiting
        s.waiting = None
        self.by_request.pop(request_id, None)
        reply = {"status": 200, "headers": dict(_JSON), "body": self.answer(s).decode("utf-8")}
        conn.deliver_reply(request_id, json.dumps(reply).encode("utf-8"))

    def forget(self, request_id):
        s = self.by_request.pop(request_id, None)
        if s is not None and s.waiting is not None and s.waiting[1] == request_id:
            s.waiting = None
            s.last_seen = time.monotonic()

    def end(self, s):
        self.sessions.pop(s.id, None)
        if s.waiting is not None:
            self.by_request.pop(s.waiting[1], None)
        self.hub.drop(s)
        self.stats.open[(self.hub.route, "poll")] -= 1

    def _sweep(self):
        while self.sessions:
            gevent.sleep(0.25)
            now = time.monotonic()
            for s in list(self.sessions.values()):
                if s.waiting is not None:
                    if now >= s.deadline:
                        self.wake(s)
                elif now - s.last_seen > self.linger:
                    self.end(s)
        self._sweeper = None


def _polls(conn, hub):
    polls = hub.polls
    if polls is None:
        polls = hub.polls = PollSessions(hub, conn.limits, conn.site.stream_stats)
    return polls


def _poll(conn, req, route, hub, started):
    query = _query(req)
    try:
        topics = _topics(query)
        timeout = float((query.get("timeout") or [conn.limits.poll_timeout])[0])
    except ValueError as e:
        _fail(conn, req, route, started, 400, str(e))
        return
    timeout = max(0.0, min(timeout, conn.limits.poll_timeout))
    polls = _polls(conn, hub)
    session_id = (query.get("session") or [None])[0]
    s = polls.session(session_id) if session_id else None
    reset = bool(session_id) and s is None
    if s is None:
        s = polls.create()
    changed = "topic" in query and set(topics) != s.topics
    if changed:
        polls.set_topics(s, topics)
    s.last_seen = time.monotonic()
    if s.waiting is not None:                   # a newer poll replaces an older one
        polls.wake(s)
    # Answer at once when there is news: messages, a new session, or new topics (so that the
    # client knows its subscriptions are in effect).
    if s.queue or reset or changed or timeout == 0 or "session" not in query:
        conn.respond(req, 200, polls.answer(s, reset), headers=_JSON, label=route.prefix, started=started)
        return
    request_id = polls.hold(s, conn, timeout)
    conn.hold(req, route, started, polls, request_id, deadline=started + timeout + 10.0)


# ---------------------------------------------------------------------- POST BASE/send

def _send(conn, req, route, hub, started):
    try:
        text = req.body.decode("utf-8")
        op = ops.parse(text)
    except UnicodeDecodeError:
        op, error = None, ops.encode_error("the body must be UTF-8 JSON")
    except ops.OpError as e:
        op, error = None, ops.encode_error(e.error, e.id, e.op)
    if op is None:
        conn.respond(req, 400, error.encode(), headers=_JSON, label=route.prefix, started=started)
        return
    if isinstance(op, (ops.Subscribe, ops.Unsubscribe)):
        body = ops.encode_error("subscribe over the WebSocket, or with topic= on events or poll", op.id,
                                "subscribe" if isinstance(op, ops.Subscribe) else "unsubscribe")
        conn.respond(req, 400, body.encode(), headers=_JSON, label=route.prefix, started=started)
        return
    stats = conn.site.stream_stats
    stats.messages[(route.prefix, "in")] += 1
    if isinstance(op, ops.Publish):
        if hub.pub is None:
            body = ops.encode_error(f"route {route.prefix} has no PUB endpoint: publish is not available",
                                    op.id, "publish")
            conn.respond(req, 404, body.encode(), headers=_JSON, label=route.prefix, started=started)
        elif not hub.publish(op.topic, op.data):
            conn.respond(req, 503, ops.encode_ack(op.id, 503).encode(), headers=_JSON,
                         label=route.prefix, started=started)
        elif op.id is None:
            conn.respond(req, 204, b"", label=route.prefix, started=started)
        else:
            conn.respond(req, 200, ops.encode_ack(op.id).encode(), headers=_JSON, label=route.prefix,
                         started=started)
        return
    status, body = conn.site.answer_request(op, req.header("host"), conn.remote_addr)
    conn.respond(req, 200, ops.encode_reply(op.id, status, body).encode("utf-8"), headers=_JSON,
                 label=route.prefix, started=started)
