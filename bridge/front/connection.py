"""One browser connection: an HTTP/1.1 loop over a gevent socket, and a mailbox for backends.

Two greenlets per connection. The reader only receives bytes, feeds them to the sans-IO
RequestParser and posts a wake-up; at end of stream it posts EOF, which is how a browser
leaving is noticed at once, even while a handler holds its request (long poll). The main
greenlet (``serve``) is the writer: it takes one mailbox item at a time, parses requests,
dispatches them, and writes whatever backends deliver. Backends call ``deliver``,
``deliver_cancel`` and ``deliver_reply`` from their receiving greenlets; those never block and
only enqueue, with one exception: handler bytes that arrive while the main greenlet waits on an
empty mailbox are sent at once by ``deliver`` (a send that never waits; what the kernel does not
take is queued as usual), which saves a wake-up per reply (see ``_write_through``).

Per request the route table (bridge.front.site) gives the route and its service
(bridge.services): ``service.serve_websocket`` for an upgrade request, else
``service.serve_http``. Services call back here: ``respond`` and ``fail`` write a whole
response, ``serve_wsgi`` runs a WSGI app, ``await_handler`` follows a Mongrel2 handler's raw
bytes (a ResponseTracker says when the response is complete, for keep-alive; pipelining waits,
as in Mongrel2), ``hold`` parks a request until ``deliver_reply`` (or 504 at its deadline),
``take_over`` hands the socket to a WebSocket or SSE stream. /_bridge/ goes to the site's
internal app. Every exchange ends in ``request_done`` (metrics and the access log).

Limits: the head must arrive within ``header_timeout`` of its first byte (else 408 and close),
a body must make progress within it, idle keep-alive connections close after
``keepalive_timeout``; 431/413/400 are written and the connection is closed with a bounded
lingering drain so that the client can read the answer. Handler bytes queued for a client
that does not read are bounded by ``max_queue_bytes``; beyond it the client is dropped (as
Mongrel2 does past 16 queued messages), and any send that makes no progress for
``send_timeout`` drops the client too. Small responses go out in a single send with
TCP_NODELAY on (gevent issue 1233).
"""
import logging
import socket
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import unquote_to_bytes

import gevent
from gevent.event import Event
from gevent.queue import Queue

from bridge.adapters import envelope
from bridge.front import wsgi
from bridge.front.sending import send_all, shut_down
from bridge.http11 import HTTPError, RequestParser, ResponseTracker, error_body, whole_response
from bridge.ws.handshake import is_upgrade

log = logging.getLogger("bridge.connection")

_DATA, _EOF, _HANDLER, _CANCEL, _REPLY, _OVERFLOW, _TICK, _DRIVE = range(8)
_READ_AHEAD = 64 * 1024            # unparsed bytes the reader buffers before it waits
_SINGLE_SEND = 256 * 1024          # bodies up to this size go out with the head in one send
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 16 * 1024 * 1024
# Route errors by status, for bridge_route_errors_total.
_ERROR_KINDS = {502: "bad_gateway", 503: "unavailable", 504: "timeout"}


@dataclass
class Exchange:
    """The request in flight on this connection."""

    route: object
    req: object
    started: float
    deadline: Optional[float] = None
    request_id: Optional[str] = None          # req routes
    backend: object = None
    tracker: Optional[ResponseTracker] = None  # mongrel2 routes
    sent: int = 0


_date_cache = [0, ""]


def http_date():
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))]
    return _date_cache[1]


class Connection:
    def __init__(self, site, sock, address):
        self.site = site
        self.sock = sock
        self.address = address
        self.remote_addr = address[0] if isinstance(address, tuple) else "unix"
        self.id = site.resources.connection_ids()
        self.scheme = site.scheme
        limits = site.limits
        self.limits = limits
        self.origins = [o.strip() for o in (limits.ws_origins or "").split(",") if o.strip()]
        self.parser = RequestParser(limits.max_header_bytes, limits.max_body_bytes)
        self.inbox = Queue()
        self.exchange = None
        self.closing = False
        self.queued_bytes = 0
        self.overflowed = False
        self.cancelled = False          # a handler said ctl cancel: no disconnect message
        self.m2_backends = set()
        self.gone = Event()             # set when the browser's side of the connection ends
        self._data_posted = False
        self._reader_gate = Event()
        self._reader_gate.set()
        self._discarding = False
        self._discarded = 0
        self._reader = None
        self._continued = False
        self._request_started = None
        self._last_data = time.monotonic()
        self.bytes_sent = 0
        self._bytes_at_start = 0        # bytes_sent when the current request arrived
        self._idle_since = time.monotonic()
        self._timer = None              # wakes the loop (a _TICK) at _timer_at; see _arm
        self._timer_at = None
        self._parked = False            # the loop waits on its inbox (see _write_through)

    # ------------------------------------------------------------------ backend side (never block)

    def deliver(self, data):
        """Raw handler bytes for this client; b"" closes the connection after what is queued."""
        if self.overflowed or self.closing:
            return
        if data and self._parked and self.inbox.empty() and self.site.write_through and self._write_through(data):
            return
        if data and self.queued_bytes and self.queued_bytes + len(data) > self.limits.max_queue_bytes:
            self.overflowed = True
            route = self.exchange.route.prefix if self.exchange is not None else "(none)"
            self.site.metrics.error(route, "overflow")
            log.warning("connection %d: client too slow, %d handler bytes queued; dropped",
                        self.id, self.queued_bytes)
            self.inbox.put((_OVERFLOW, None))
            # The writer may be stuck in sendall to this very client: shutting the socket
            # down makes that send fail at once, so the connection closes and frees memory.
            shut_down(self.sock, socket.SHUT_RDWR)
            return
        self.queued_bytes += len(data)
        self.inbox.put((_HANDLER, data))

    def _write_through(self, data):
        """Write handler bytes from the backend's greenlet while the loop waits for them.

        Only while the loop is parked on an empty inbox: then it is not writing, nothing is
        queued ahead of ``data``, and the send below never waits (what the kernel does not
        take is queued for the loop as usual). This spares the loop a wake-up per reply: a
        Mongrel2 route's request cost 19 us less CPU (median of six paired wrk -c100 runs).
        False: nothing was written, queue ``data``.
        """
        ex = self.exchange
        if ex is None or ex.tracker is None:
            return False
        try:
            sent = self.sock.send(data, 0, timeout=0.0)
        except OSError:                             # BlockingIOError too: the loop deals with it
            return False
        if sent < len(data):
            self.queued_bytes += len(data) - sent
            self.inbox.put((_HANDLER, data[sent:]))
            data = data[:sent]
        self.bytes_sent += len(data)
        self._handler_bytes_sent(data, inline=True)
        return True

    def deliver_cancel(self):
        self.inbox.put((_CANCEL, None))

    def deliver_reply(self, request_id, payload):
        self.inbox.put((_REPLY, (request_id, payload)))

    # ------------------------------------------------------------------ main loop

    def serve(self):
        metrics = self.site.metrics
        metrics.open_connections += 1
        metrics.connections_total += 1
        reader = None
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass                                    # not TCP (a unix socket)
        try:
            reader = self._reader = gevent.spawn(self._read_loop)
            self._loop()
        except OSError as e:                        # the client went away while we wrote
            log.debug("connection %d: %s", self.id, e)
        finally:
            self._cleanup(reader)
            metrics.open_connections -= 1

    def _loop(self):
        inbox = self.inbox
        while not self.closing:
            if inbox.empty():
                self._arm(self._deadline())
                self._parked = True
                try:
                    kind, value = inbox.get()
                finally:
                    self._parked = False
            else:
                kind, value = inbox.get()
            if kind == _TICK:
                deadline = self._deadline()
                if deadline is not None and time.monotonic() >= deadline:
                    self._on_timeout()
                continue
            if kind == _DATA:
                self._data_posted = False
                self._last_data = time.monotonic()
                self._drive()
            elif kind == _HANDLER:
                self.queued_bytes -= len(value)
                self._on_handler_data(value)
            elif kind == _REPLY:
                self._on_reply(*value)
            elif kind == _DRIVE:
                self._drive()
            elif kind == _EOF:
                self._on_client_gone()
            elif kind == _CANCEL:
                self.cancelled = True
                self._end_exchange(None)
                self.closing = True
            elif kind == _OVERFLOW:                 # counted and logged in deliver()
                self._end_exchange(None)
                self.closing = True

    def _deadline(self):
        """When the loop must act if nothing arrives (time.monotonic()), or None."""
        ex = self.exchange
        if ex is not None:
            if ex.deadline is None or ex.sent:
                return None
            return ex.deadline
        if self.parser.in_body:
            return self._last_data + self.limits.header_timeout
        if self._request_started is not None:
            return self._request_started + self.limits.header_timeout
        return self._idle_since + self.limits.keepalive_timeout

    def _arm(self, deadline):
        """Make sure a _TICK arrives by ``deadline``.

        One timer per connection, moved only when a deadline comes earlier than the one it is
        set for: the keep-alive deadline moves later with every request, and a _TICK that
        comes too early is only checked and re-armed. A gevent Timeout around each wait (what
        ``inbox.get(timeout=...)`` does) cost 6 us per wait, two waits per request.
        """
        if deadline is None or (self._timer_at is not None and self._timer_at <= deadline):
            return
        if self._timer is not None:
            self._timer.close()
        self._timer = gevent.get_hub().loop.timer(max(0.0, deadline - time.monotonic()))
        self._timer_at = deadline
        self._timer.start(self._on_timer)

    def _on_timer(self):
        # A hub callback: it only posts.
        self._timer_at = None
        self.inbox.put_nowait((_TICK, None))

    def _on_timeout(self):
        ex = self.exchange
        if ex is not None:
            if ex.deadline is None or ex.sent or time.monotonic() < ex.deadline:
                return
            self._end_exchange("timeout", forget=True)
            keep = ex.tracker is None and ex.req.keep_alive
            self._respond(ex.req, 504, error_body(504, "no reply from the backend in time"),
                          keep_alive=keep, label=ex.route.prefix, started=ex.started)
            if keep:
                self._drive()
            return
        if self.parser.in_progress:
            self._error(408, "request not received in time")
        else:
            self.closing = True                     # idle keep-alive connection

    # ------------------------------------------------------------------ requests

    def _drive(self):
        """Parse and dispatch buffered requests while nothing is in flight."""
        while self.exchange is None and not self.closing:
            try:
                req = self.parser.next_event()
            except HTTPError as e:
                self._error(e.status, e.reason)
                return
            if self.parser.expect_continue and not self._continued:
                self._continued = True
                self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            if req is None:
                if self.parser.in_progress and self._request_started is None:
                    self._request_started = time.monotonic()
                break
            self._request_started = None
            self._continued = False
            self._bytes_at_start = self.bytes_sent
            self._dispatch(req)
            if self.exchange is None:
                self._idle_since = time.monotonic()
        if self.parser.buffered < _READ_AHEAD:
            self._reader_gate.set()

    def _dispatch(self, req):
        started = time.monotonic()
        site = self.site
        if req.path.startswith("/_bridge/"):
            self.serve_wsgi(site.internal_app, req, "/_bridge", "/_bridge/", started)
            return
        route, service = site.match(req.header("host"), req.path)
        if route is None:
            self._respond(req, 404, error_body(404, f"no route for {req.path[:200]}"), label="(none)",
                          started=started)
        elif is_upgrade(req):
            service.serve_websocket(self, req, route, started)
        else:
            service.serve_http(self, req, route, started)

    # ------------------------------------------------------------------ for the services

    def respond(self, req, status, body, **kwargs):
        """Write a whole response in one send (see _respond)."""
        self._respond(req, status, body, **kwargs)

    def fail(self, req, route, started, status, why, extra=(), keep_alive=True):
        """Answer ``status`` with the one error body (``503 Service Unavailable: why``), counted
        as a route error (502, 503, 504) and in the access log."""
        label = route.prefix if route is not None else "(none)"
        kind = _ERROR_KINDS.get(status)
        if kind is not None:
            self.site.metrics.error(label, kind)
        self._respond(req, status, error_body(status, why), extra=extra, keep_alive=keep_alive,
                      label=label, started=started)

    def send(self, data):
        """sendall, bounded: a client that takes no bytes for send_timeout is dropped."""
        send_all(self.sock, data, self.limits.send_timeout)
        self.bytes_sent += len(data)

    def request_done(self, req, label, status, started):
        """One exchange answered: its metrics and its access-log line."""
        seconds = time.monotonic() - started
        self.site.metrics.request_done(label, status, seconds)
        if self.site.access_log is not None:
            self.site.access_log.write(self.remote_addr, req, status, self.bytes_sent - self._bytes_at_start,
                                       seconds, label)

    def await_handler(self, req, route, started, backend, deadline=None):
        """A Mongrel2 handler has ``req``: its raw bytes come through ``deliver`` until the
        response they carry is complete (or it closes); past ``deadline`` with no byte, 504."""
        self.exchange = Exchange(route, req, started, deadline, backend=backend,
                                 tracker=ResponseTracker(head_request=req.method == "HEAD"))

    def hold(self, req, route, started, backend, request_id, deadline=None):
        """Park ``req`` until ``deliver_reply(request_id, envelope reply)``; the browser
        leaving calls ``backend.forget(request_id)``; past ``deadline``, 504."""
        self.exchange = Exchange(route, req, started, deadline, request_id=request_id, backend=backend)

    def take_over(self):
        """Stop HTTP on this connection and return the bytes read past the request.

        The caller (a WebSocket or SSE stream) owns the socket, reads included, until it
        returns; the connection then closes. Its mailbox is no longer read.
        """
        self.closing = True
        if self._reader is not None:
            self._reader.kill(block=True)
        return self.parser.take_buffered()

    def serve_wsgi(self, app, req, script_name, label, started):
        """Answer ``req`` with a WSGI app mounted at ``script_name``."""
        raw_rest = req.path[len(script_name):]
        path_info = unquote_to_bytes(raw_rest).decode("latin-1")
        environ = wsgi.make_environ(req, script_name, path_info, self.site.address(), self.address
                                    if isinstance(self.address, tuple) else ("", 0), self.scheme)
        try:
            status, headers, chunks, close = wsgi.call(app, environ)
        except Exception:                       # a broken app must not take the connection down
            log.exception("WSGI app for %s failed", label)
            self._respond(req, 500, error_body(500, "the application failed"), label=label, started=started)
            return
        try:
            self._write_wsgi(req, status, headers, chunks)
        finally:
            close()
        self.request_done(req, label, status, started)

    # ------------------------------------------------------------------ backend events

    def _on_handler_data(self, data):
        if not data:                                # an empty reply closes the connection
            self._end_exchange(None)
            self.closing = True
            return
        self.send(data)
        self._handler_bytes_sent(data)

    def _handler_bytes_sent(self, data, inline=False):
        """Follow the response; ``inline``: called by _write_through, not by the loop."""
        ex = self.exchange
        if ex is None or ex.tracker is None:
            return                                  # bytes after the response: Mongrel2 writes them too
        ex.sent += len(data)
        if not ex.tracker.feed(data):
            return
        self._end_exchange(None)
        keep = ex.tracker.keep_alive and ex.req.keep_alive
        if not inline:
            if keep:
                self._drive()
            else:
                self.closing = True
        elif not keep:
            self.closing = True
            self.inbox.put((_TICK, None))           # the loop wakes up to close
        elif self.parser.buffered:
            self.inbox.put((_DRIVE, None))          # a pipelined request waits
        else:
            self._arm(self._deadline())             # now idle: the keep-alive timeout applies

    def _on_reply(self, request_id, payload):
        ex = self.exchange
        if ex is None or ex.request_id != request_id:
            return                                  # late reply for a request given up on
        self.exchange = None
        try:
            status, headers, body = envelope.decode_reply(payload)
        except envelope.EnvelopeError as e:
            log.warning("route %s: bad reply from backend: %s", ex.route.prefix, e)
            self.site.metrics.error(ex.route.prefix, "bad_gateway")
            status, headers, body = 502, [], error_body(502, "invalid reply from the backend")
        self._respond(ex.req, status, body, headers=headers, label=ex.route.prefix, started=ex.started)
        self._idle_since = time.monotonic()
        self._drive()

    def _on_client_gone(self):
        self._end_exchange("cancelled", forget=True)
        self.closing = True

    def _end_exchange(self, error, forget=False):
        ex, self.exchange = self.exchange, None
        if ex is None:
            return
        metrics = self.site.metrics
        if error:
            metrics.error(ex.route.prefix, error)
        if forget and ex.request_id is not None:
            ex.backend.forget(ex.request_id)
        if ex.tracker is not None and error not in ("timeout",):
            code = ex.tracker.status or (499 if error == "cancelled" else 0)
            self.request_done(ex.req, ex.route.prefix, code, ex.started)
        self._idle_since = time.monotonic()

    # ------------------------------------------------------------------ writing

    def _respond(self, req, status, body, headers=(), keep_alive=True, label=None, started=None,
                 extra=()):
        """Write a whole response in one send."""
        keep = keep_alive and req.keep_alive and not self.closing
        self.send(whole_response(req, status, body, [("Date", http_date()), *headers, *extra], keep))
        if label is not None:
            self.request_done(req, label, status, started if started is not None else time.monotonic())
        if not keep:
            self.closing = True

    def _write_wsgi(self, req, status, headers, chunks):
        keep, pieces = wsgi.frame_response(req, status, headers, chunks, http_date(), _SINGLE_SEND)
        for piece in pieces:
            self.send(piece)
        if not keep:
            self.closing = True

    def _error(self, status, reason):
        """Answer a broken request and close (the body says why)."""
        log.debug("connection %d: %d %s", self.id, status, reason)
        self.send(whole_response(None, status, error_body(status, reason), [("Date", http_date())], False))
        self.site.metrics.request_done("(invalid)", status, 0.0)
        if self.site.access_log is not None:
            self.site.access_log.write_invalid(self.remote_addr, status, reason)
        self.closing = True

    # ------------------------------------------------------------------ reading and closing

    def _read_loop(self):
        try:
            while True:
                if not self._discarding and self.parser.buffered >= _READ_AHEAD:
                    self._reader_gate.clear()
                    self._reader_gate.wait()
                    continue
                data = self.sock.recv(65536)
                if not data:
                    break
                if self._discarding:
                    self._discarded += len(data)
                    if self._discarded > _LINGER_BYTES:
                        break
                    continue
                self.parser.receive_data(data)
                if not self._data_posted:
                    self._data_posted = True
                    self.inbox.put((_DATA, None))
        except OSError:
            pass
        finally:
            self.gone.set()
            self.inbox.put((_EOF, None))

    def _cleanup(self, reader):
        self.closing = True
        if self._timer is not None:
            self._timer.close()
            self._timer = self._timer_at = None
        registry = self.site.resources.connections
        if registry.get(self.id) is self:
            del registry[self.id]
        ex, self.exchange = self.exchange, None
        if ex is not None and ex.request_id is not None:
            ex.backend.forget(ex.request_id)
        if not self.cancelled:
            for backend in self.m2_backends:
                backend.notify_disconnect(self.id)
        # Lingering close: stop sending, then drain what the client still sends for a moment,
        # so that a client still uploading can read our answer instead of a reset.
        try:
            self.sock.shutdown(socket.SHUT_WR)
            if reader is not None and not self.gone.is_set():
                self._discarding, self._discarded = True, 0
                self._reader_gate.set()
                self.gone.wait(_LINGER_SECONDS)
        except OSError:
            pass
        if reader is not None:
            reader.kill(block=True, timeout=1)
        self.sock.close()

