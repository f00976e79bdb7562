"""The send side of one long-lived browser connection (WebSocket or SSE): a bounded queue and
the only greenlet that writes to the socket.

Producers (the pub/sub hub fanning out, a Mongrel2 handler's replies, the connection's own
reader answering a ping) call ``put``/``put_control``/``finish``; those never block and never
touch the socket, so two greenlets can never write at once (gevent-websocket's
ConcurrentObjectUseError, BRIDGE.md section 5.2 bug 9) and a slow browser never slows the hub.
The writer sends control items first, then data in batches of up to 64 KiB per send.

Slow-browser policy (``policy``), applied when a put would pass ``max_messages`` queued messages
or ``max_bytes`` queued bytes (a single message larger than ``max_bytes`` still goes through
an empty queue):
  - ``"close"`` (default): the browser is too slow to follow; its queue is discarded and the
    connection ends. A WebSocket gets a close frame (1008, "send queue overflow") if the writer
    is free to send it; if the writer is stuck in a send to this very browser, the socket is
    shut down at once, which frees the memory immediately.
  - ``"drop-oldest"``: the oldest queued messages are discarded to make room; the browser stays
    connected and misses those messages.
Both are counted (StreamStats: overflows by policy, dropped messages). A send that makes no
progress for ``send_timeout`` seconds also ends the connection.

``tick_interval``/``on_tick``: the writer calls ``on_tick(now)`` at least that often (WebSocket
pings and idle timeout, SSE keep-alive comments), so those need no greenlet of their own.

Owned by bridge.ws.session.WebSocketSession and bridge.front.realtime's SSE stream; the owner
starts it and calls ``stop()`` when it ends.
"""
import logging
import socket
import time
from collections import defaultdict, deque

import gevent
from gevent.event import Event

from bridge.front.sending import send_all, shut_down

__all__ = ["Outbox", "StreamStats", "POLICIES"]

log = logging.getLogger("bridge.outbox")

POLICIES = ("close", "drop-oldest")
_BATCH = 64 * 1024


class StreamStats:
    """Counters for WebSocket, SSE, long-poll and pub/sub, rendered into /_bridge/metrics.

    Plain attributes and dicts (the fan-out path updates them per message); ``render()``
    returns Prometheus text lines for bridge.metrics.Metrics.
    """

    def __init__(self):
        self.open = defaultdict(int)              # (route, kind) -> open now (kind: websocket, sse, poll)
        self.opened = defaultdict(int)            # (route, kind) -> total
        self.messages = defaultdict(int)          # (route, direction) -> frames/messages
        self.closes = defaultdict(int)            # (route, code) -> WebSocket closes by code
        self.overflows = defaultdict(int)         # (route, policy) -> slow browsers caught
        self.dropped = defaultdict(int)           # route -> messages discarded (drop-oldest, poll)
        self.queued_bytes = 0                     # bytes waiting in every outbox now
        self.topics = {}                          # route -> topics the SUB socket subscribes now
        self.backend_messages = defaultdict(int)  # (route, kind) -> pub/sub messages: in, out, invalid

    def render(self):
        out = []

        def family(name, kind, text, rows):
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")
            out.extend(rows)

        def lab(**labels):
            return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"

        family("bridge_stream_open", "gauge", "Long-lived browser connections open now, by kind.",
               [f"bridge_stream_open{lab(route=r, kind=k)} {n}" for (r, k), n in sorted(self.open.items())])
        family("bridge_stream_opened_total", "counter", "Long-lived browser connections accepted.",
               [f"bridge_stream_opened_total{lab(route=r, kind=k)} {n}"
                for (r, k), n in sorted(self.opened.items())])
        family("bridge_stream_messages_total", "counter",
               "Messages to browsers (out) and from browsers (in) on WebSocket/SSE/poll.",
               [f"bridge_stream_messages_total{lab(route=r, direction=d)} {n}"
                for (r, d), n in sorted(self.messages.items())])
        family("bridge_ws_closes_total", "counter", "WebSocket connections ended, by close code.",
               [f"bridge_ws_closes_total{lab(route=r, code=c)} {n}" for (r, c), n in sorted(self.closes.items())])
        family("bridge_stream_overflows_total", "counter",
               "Slow browsers whose send queue overflowed, by the policy applied.",
               [f"bridge_stream_overflows_total{lab(route=r, policy=p)} {n}"
                for (r, p), n in sorted(self.overflows.items())])
        family("bridge_stream_dropped_messages_total", "counter",
               "Messages discarded for slow browsers (drop-oldest policy, long-poll queues).",
               [f"bridge_stream_dropped_messages_total{lab(route=r)} {n}" for r, n in sorted(self.dropped.items())])
        family("bridge_stream_queued_bytes", "gauge", "Bytes queued for browsers now (all connections).",
               [f"bridge_stream_queued_bytes {self.queued_bytes}"])
        family("bridge_pubsub_topics", "gauge", "Topics the route's SUB socket is subscribed to now.",
               [f"bridge_pubsub_topics{lab(route=r)} {n}" for r, n in sorted(self.topics.items())])
        family("bridge_pubsub_messages_total", "counter",
               "Pub/sub backend messages: in (from SUB), out (browser publishes), invalid.",
               [f"bridge_pubsub_messages_total{lab(route=r, kind=k)} {n}"
                for (r, k), n in sorted(self.backend_messages.items())])
        return out


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Outbox:
    def __init__(self, sock, stats, route, *, max_messages=1000, max_bytes=16 << 20, policy="close",
                 send_timeout=60.0, tick_interval=None, on_tick=None, on_overflow=None):
        if policy not in POLICIES:
            raise ValueError(f"slow-browser policy {policy!r} must be one of {POLICIES}")
        self.sock = sock
        self.stats = stats
        self.route = route
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.policy = policy
        self.send_timeout = send_timeout
        self.tick_interval = tick_interval
        self.on_tick = on_tick
        self.on_overflow = on_overflow          # () -> final bytes to send (a close frame) or b""
        self.overflowed = False
        self.last_send = time.monotonic()
        self.done = Event()                     # set when the writer has ended
        self._data = deque()
        self._control = deque()
        self._bytes = 0
        self._wake = Event()
        self._closing = False
        self._final = b""
        self._shutdown = False
        self._sending = False
        self._tick_due = False
        self._greenlet = None

    @property
    def closing(self):
        return self._closing

    @property
    def queued(self):
        return len(self._data)

    def start(self):
        self._greenlet = gevent.spawn(self._run)

    # ------------------------------------------------------------------ producers (never block)

    def put(self, data):
        """Queue one data message (bytes, already framed); False if it will never be sent."""
        if self._closing:
            return False
        size = len(data)
        if self._data and (len(self._data) >= self.max_messages or self._bytes + size > self.max_bytes):
            if not self._overflow(size):
                return False
        self._data.append(data)
        self._bytes += size
        self.stats.queued_bytes += size
        self._wake.set()
        return True

    def put_control(self, data):
        """Queue a control frame (pong, ping); sent before queued data."""
        if self._closing:
            return False
        self._control.append(data)
        self._wake.set()
        return True

    def finish(self, final=b"", shutdown=False):
        """Send what is queued, then ``final`` (a close frame, or nothing); accept no more.

        ``shutdown``: shut the socket down once that is sent (a Mongrel2 handler's close).
        """
        if self._closing:
            return
        self._closing = True
        self._final = final
        self._shutdown = shutdown
        self._wake.set()

    def abort(self):
        """Shut the socket down now: a blocked send fails and the reader sees the end."""
        shut_down(self.sock, socket.SHUT_RDWR)

    def stop(self):
        """Kill the writer (if still running) and release what is queued."""
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=1)
        self._release()

    def wait_flushed(self, timeout):
        """Wait until the writer ended after finish(); True if it did in time."""
        return self.done.wait(timeout)

    # ------------------------------------------------------------------ policy

    def _overflow(self, size):
        self.stats.overflows[(self.route, self.policy)] += 1
        if self.policy == "drop-oldest":
            dropped = 0
            while self._data and (len(self._data) >= self.max_messages or self._bytes + size > self.max_bytes):
                old = self._data.popleft()
                self._bytes -= len(old)
                self.stats.queued_bytes -= len(old)
                dropped += 1
            self.stats.dropped[self.route] += dropped
            return True
        self.overflowed = True
        log.warning("route %s: browser too slow (%d messages, %d bytes queued): disconnected",
                    self.route, len(self._data), self._bytes)
        self._release()
        stuck = self._sending                   # the writer is blocked sending to this browser
        if self.on_overflow is not None:        # a WebSocket: a close frame, then its handshake
            self.finish(self.on_overflow())
        else:                                   # a stream without a closing handshake (SSE)
            self.finish(shutdown=True)
        if stuck:
            self.abort()
        return False

    # ------------------------------------------------------------------ the writer

    def _release(self):
        self.stats.queued_bytes -= self._bytes
        self._bytes = 0
        self._data.clear()
        self._control.clear()

    def _run(self):
        # The tick comes from one repeating timer that only sets a flag and wakes the writer;
        # waiting on the event with a timeout instead armed a gevent Timeout each time the
        # writer went idle (once per message on an echoing WebSocket, 6 us each).
        ticker = None
        if self.tick_interval:
            ticker = gevent.get_hub().loop.timer(self.tick_interval, self.tick_interval)
            ticker.start(self._on_ticker)
        try:
            while True:
                if self._tick_due:
                    self._tick_due = False
                    self.on_tick(time.monotonic())
                if self._control:
                    self._send(self._control.popleft())
                elif self._data:
                    self._send(self._batch())
                elif self._closing:
                    if self._final:
                        self._send(self._final)
                    if self._shutdown:
                        self.abort()
                    return
                else:
                    self._wake.clear()
                    self._wake.wait()
        except OSError as e:
            log.debug("route %s: send failed: %s", self.route, e)
            self.abort()
        finally:
            if ticker is not None:
                ticker.close()
            self._closing = True
            self._release()
            self.done.set()

    def _on_ticker(self):
        # A hub callback: it only sets a flag and an event.
        self._tick_due = True
        self._wake.set()

    def _batch(self):
        data = self._data
        first = data.popleft()
        size = len(first)
        if not data or size >= _BATCH:
            self._bytes -= size
            self.stats.queued_bytes -= size
            return first
        parts = [first]
        while data and size < _BATCH:
            item = data.popleft()
            parts.append(item)
            size += len(item)
        self._bytes -= size
        self.stats.queued_bytes -= size
        return b"".join(parts)

    def _send(self, payload):
        self._sending = True
        try:
            send_all(self.sock, payload, self.send_timeout)
        finally:
            self._sending = False
        self.last_send = time.monotonic()
