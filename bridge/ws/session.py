"""One upgraded WebSocket connection: the reading loop, the close handshake, pings and idle timeout.

``WebSocketSession.run()`` runs in the browser connection's own greenlet (bridge.front.
connection hands the socket over after the 101) and returns when the WebSocket is over; the
connection then closes the socket. It reads with ``sock.recv`` and feeds bridge.ws.frames'
decoder; everything it sends goes through one bridge.front.outbox.Outbox, whose writer
greenlet is the only one that writes to the socket. Subclasses implement ``on_message``
(and may override ``on_ping``, ``on_pong``, ``on_close_frame``, ``on_open``, ``on_end``).

Close handshake (RFC 6455 section 7): a received close frame is echoed with its code (an
empty one with an empty one) and the server then closes TCP; a close we start (``close()``:
idle timeout 1001, slow browser 1008, too big 1009, bad UTF-8 1007, protocol error 1002,
shutdown 1001) waits up to ``close_timeout`` for the browser's close frame, then cuts the
connection. Data frames after our close frame are ignored. Every end is counted by close
code in StreamStats (1006 when the TCP connection just went away).

Liveness: if nothing at all arrives for ``ping_interval`` seconds the server sends a ping;
if nothing arrives for ``idle_timeout`` seconds it closes with 1001 ("idle timeout"). Both
run from the outbox writer's tick, so a session costs two greenlets (reader and writer).

This replaces gevent-websocket's WebSocket.receive/send (see bridge.ws.frames for the parts
of it that are kept and why the rest is not).
"""
import logging
import time

import gevent

from bridge.front.outbox import Outbox
from bridge.ws import frames
from bridge.ws.frames import FrameDecoder, FrameError

__all__ = ["WebSocketSession"]

log = logging.getLogger("bridge.ws")

_RECV = 256 * 1024


class WebSocketSession:
    kind = "websocket"
    auto_pong = True            # answer pings here (a Mongrel2 pass-through leaves it to the handler)
    send_pings = True

    def __init__(self, sock, leftover, limits, stats, route, deflate=None):
        self.sock = sock
        self.limits = limits
        self.stats = stats
        self.route = route
        self.deflate = deflate          # bridge.ws.deflate.PerMessageDeflate once negotiated
        self.decoder = FrameDecoder(limits.ws_max_message_bytes, decompressor=deflate and
                                    deflate.decompressor(limits.ws_max_message_bytes))
        periods = [t for t in (limits.ws_ping_interval if self.send_pings else 0, limits.ws_idle_timeout) if t]
        tick = min(periods) if periods else None
        self.outbox = Outbox(sock, stats, route, max_messages=limits.stream_queue_messages,
                             max_bytes=limits.stream_queue_bytes, policy=limits.slow_browser,
                             send_timeout=limits.send_timeout, tick_interval=tick,
                             on_tick=self._tick, on_overflow=self._on_overflow)
        self.last_received = time.monotonic()
        self.close_code = None          # the code of the close frame sent (or 1006)
        self.peer_code = None           # the code the browser's close frame carried
        self._we_closed = False         # our close frame went first: the browser's answers it
        self._peer_closed = False       # the browser's close frame has arrived
        self._leftover = leftover
        self._done = False
        self._close_timer = None

    # ------------------------------------------------------------------ sending (never blocks)

    def send_text(self, text):
        """Queue a text message (str); False if the connection is closing."""
        return self.send_message(frames.TEXT, text.encode("utf-8"))

    def send_message(self, opcode, payload):
        """Queue one data message (compressed if negotiated); False if the connection is closing."""
        if self.outbox.closing:
            return False
        return self.outbox.put(frames.encode_message(opcode, payload, self.deflate))

    def send_frame(self, frame):
        """Queue an already framed message (shared bytes when fanning out, uncompressed)."""
        return self.outbox.put(frame)

    def close(self, code=frames.NORMAL, reason=""):
        """Start the closing handshake (idempotent)."""
        if self.outbox.closing:
            return
        self.close_code = code
        self._we_closed = not self._peer_closed
        self.outbox.finish(frames.encode_close(code, reason))
        self._arm_close_timer()

    @property
    def closing(self):
        return self.outbox.closing

    # ------------------------------------------------------------------ hooks

    def on_open(self):
        pass

    def on_message(self, message):
        raise NotImplementedError

    def on_ping(self, ping):
        pass

    def on_pong(self, pong):
        pass

    def on_close_frame(self, close):
        """The browser sent a close frame; the default echoes its code and ends."""
        self.close_code = close.code if close.code is not None else frames.NORMAL
        self.outbox.finish(frames.encode_close(close.code))
        self._finish_and_stop()

    def on_end(self):
        pass

    # ------------------------------------------------------------------ the reading loop

    def run(self):
        stats, key = self.stats, (self.route, self.kind)
        stats.open[key] += 1
        stats.opened[key] += 1
        self.outbox.start()
        try:
            self.on_open()
            if self._leftover:
                self._feed(self._leftover)
            sock = self.sock
            while not self._done:
                data = sock.recv(_RECV)
                if not data:
                    break
                self.last_received = time.monotonic()
                self._feed(data)
        except OSError as e:
            log.debug("route %s: websocket read ended: %s", self.route, e)
        finally:
            stats.open[key] -= 1
            stats.closes[(self.route, self.close_code or 1006)] += 1
            try:
                self.on_end()
            finally:
                if self._close_timer is not None:
                    self._close_timer.kill()
                self.outbox.stop()

    def _feed(self, data):
        decoder = self.decoder
        decoder.receive_data(data)
        while not self._done:
            try:
                event = decoder.next_event()
            except FrameError as e:
                log.info("route %s: closing websocket %d: %s", self.route, e.code, e.reason)
                self.close(e.code, e.reason)
                self._finish_and_stop()
                return
            if event is None:
                return
            if self._peer_closed:
                continue                        # nothing after the browser's close frame counts
            if isinstance(event, frames.Message):
                if not self.outbox.closing:
                    self.stats.messages[(self.route, "in")] += 1
                    self.on_message(event)
            elif isinstance(event, frames.Ping):
                if self.auto_pong:
                    self.outbox.put_control(frames.encode_pong(event.payload))
                self.on_ping(event)
            elif isinstance(event, frames.Pong):
                self.on_pong(event)
            else:
                # RFC 6455 5.5.1: after its close frame the browser sends nothing more; what
                # comes anyway (a second close, Autobahn 7.1.2; a ping, 7.1.3) is ignored, so a
                # close still being answered (by a Mongrel2 handler) still goes out.
                self._peer_closed = True
                self.peer_code = event.code
                if self._we_closed:
                    self._done = True           # our close, answered: the server closes TCP now
                else:
                    self.on_close_frame(event)

    def _finish_and_stop(self):
        """Let the writer send what it has (bounded by close_timeout); stop reading."""
        self._done = True
        if not self.outbox.wait_flushed(self.limits.ws_close_timeout):
            self.outbox.abort()

    # ------------------------------------------------------------------ timers (writer's tick)

    def _tick(self, now):
        if self.outbox.closing:
            return
        quiet = now - self.last_received
        if self.limits.ws_idle_timeout and quiet >= self.limits.ws_idle_timeout:
            log.info("route %s: websocket idle for %.0fs: closing", self.route, quiet)
            self.close(frames.GOING_AWAY, "idle timeout")
        elif self.send_pings and self.limits.ws_ping_interval and quiet >= self.limits.ws_ping_interval:
            self.outbox.put_control(frames.encode_ping(b"bridge"))

    def _on_overflow(self):
        self.close_code = frames.POLICY_VIOLATION
        self._we_closed = not self._peer_closed
        self._arm_close_timer()
        return frames.encode_close(frames.POLICY_VIOLATION, "send queue overflow: reading too slowly")

    def _arm_close_timer(self):
        if self._close_timer is None:
            self._close_timer = gevent.spawn_later(self.limits.ws_close_timeout, self.outbox.abort)
