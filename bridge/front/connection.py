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

Per request:
  - mongrel2 route: the request is PUSHed; handler bytes are written raw as they arrive (any
    number of pieces), an empty reply closes; a ResponseTracker watches the bytes, and once a
    response framed by Content-Length (or chunked) is complete the next request may be read
    (keep-alive). Pipelining is not supported (as in Mongrel2): the next request waits.
  - req route: the envelope goes out on the DEALER; the reply, a 502 for a bad one or a 504 at
    the route's timeout, is written in one send.
  - static and /_bridge/*: bottle apps through bridge.front.wsgi.
  - page route (BigPipe): bridge.bigpipe.front.serve_page streams the page from this greenlet.
  - pubsub route, and a WebSocket upgrade on a mongrel2 route: bridge.front.realtime. A
    WebSocket or SSE stream takes the socket over (``take_over``) until it ends; a long-poll
    is parked (``hold``) and answered through ``deliver_reply`` like a req route.
  - 503 when no backend is connected, at once.

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
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

import gevent
from gevent.event import Event
from gevent.queue import Queue

from bridge.adapters import envelope
from bridge.adapters.mongrel2 import request_message, upload_messages
from bridge.bigpipe.front import serve_page
from bridge.front import realtime, wsgi
from bridge.front.sending import send_all
from bridge.http11 import HTTPError, RequestParser, ResponseTracker, chunk as _chunk, response_head

log = logging.getLogger("bridge.connection")

_DATA, _EOF, _HANDLER, _CANCEL, _REPLY, _OVERFLOW, _TICK, _DRIVE = range(8)
_READ_AHEAD = 64 * 1024            # unparsed bytes the reader buffers before it waits
_SINGLE_SEND = 256 * 1024          # bodies up to this size go out with the head in one send
_LINGER_SECONDS = 2.0
_LINGER_BYTES = 16 * 1024 * 1024


@dataclass
class Exchange:
    """The request in flight on this connection."""

    route: object
    req: object
    started: float
    deadline: float = None
    request_id: str = None          # req routes
    backend: object = None
    tracker: ResponseTracker = None  # mongrel2 routes
    sent: int = 0


_date_cache = [0, ""]


def http_date():
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache[:] = [now, time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))]
    return _date_cache[1]


class Connection:
    def __init__(self, bridge, sock, address):
        self.bridge = bridge
        self.sock = sock
        self.address = address
        self.remote_addr = address[0] if isinstance(address, tuple) else "unix"
        self.id = bridge.next_connection_id()
        limits = bridge.config.limits
        self.limits = limits
        self.parser = RequestParser(limits.max_header_bytes, limits.max_body_bytes)
        self.inbox = Queue()
        self.exchange = None
        self.closing = False
        self.queued_bytes = 0
        self.overflowed = False
        self.cancelled = False          # a handler said ctl cancel: no disconnect message
        self.m2_backends = set()
        self._data_posted = False
        self._reader_gate = Event()
        self._reader_gate.set()
        self._discarding = False
        self._discarded = 0
        self._eof = Event()
        self._reader = None
        self._continued = False
        self._request_started = None
        self._last_data = time.monotonic()
        self._idle_since = time.monotonic()
        self._timer = None              # wakes the loop (a _TICK) at _timer_at; see _arm
        self._timer_at = None
        self._parked = False            # the loop waits on its inbox (see _write_through)

    # ------------------------------------------------------------------ backend side (never block)

    def deliver(self, data):
        """Raw handler bytes for this client; b"" closes the connection after what is queued."""
        if self.overflowed or self.closing:
            return
        if data and self._parked and self.inbox.empty() and self._write_through(data):
            return
        if data and self.queued_bytes and self.queued_bytes + len(data) > self.limits.max_queue_bytes:
            self.overflowed = True
            route = self.exchange.route.prefix if self.exchange is not None else "(none)"
            self.bridge.metrics.error(route, "overflow")
            log.warning("connection %d: client too slow, %d handler bytes queued; dropped",
                        self.id, self.queued_bytes)
            self.inbox.put((_OVERFLOW, None))
            try:
                # The writer may be stuck in sendall to this very client: shutting the socket
                # down makes that send fail at once, so the connection closes and frees memory.
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
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
        self._handler_bytes_sent(data, inline=True)
        return True

    def deliver_cancel(self):
        self.inbox.put((_CANCEL, None))

    def deliver_reply(self, request_id, payload):
        self.inbox.put((_REPLY, (request_id, payload)))

    # ------------------------------------------------------------------ main loop

    def serve(self):
        metrics = self.bridge.metrics
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
            self._respond(ex.req, 504, b"Gateway Timeout: no reply from the backend in time\n",
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
                self._send(b"HTTP/1.1 100 Continue\r\n\r\n")
            if req is None:
                if self.parser.in_progress and self._request_started is None:
                    self._request_started = time.monotonic()
                break
            self._request_started = None
            self._continued = False
            self._dispatch(req)
            if self.exchange is None:
                self._idle_since = time.monotonic()
        if self.parser.buffered < _READ_AHEAD:
            self._reader_gate.set()

    def _dispatch(self, req):
        started = time.monotonic()
        bridge = self.bridge
        if req.path.startswith("/_bridge/"):
            self._serve_wsgi(bridge.internal_app, req, "/_bridge", "/_bridge/", started)
            return
        route = bridge.routes.match(req.header("host"), req.path)
        if route is None:
            self._respond(req, 404, b"Not Found\n", label="(none)", started=started)
            return
        kind = route.kind
        if kind == "pubsub" or (kind == "mongrel2" and realtime.is_websocket(req)):
            realtime.serve(self, req, route, started)
        elif kind == "static":
            self._serve_wsgi(bridge.static_apps[route.target.directory], req,
                             route.prefix.rstrip("/"), route.prefix, started)
        elif kind == "mongrel2":
            self._start_mongrel2(req, route, started)
        elif kind == "page":
            self._serve_page(req, route, started)
        else:
            self._start_req(req, route, started)

    def _start_mongrel2(self, req, route, started):
        backend = self.bridge.backend_for(route)
        target, path = route.target, None
        # As Mongrel2: a body over the threshold, or any chunked one, goes through the file.
        if target.upload_store and (len(req.body) > target.upload_threshold
                                    or req.header("transfer-encoding") is not None):
            try:
                path = _store_upload(target.upload_store, req.body)
            except OSError as e:
                log.warning("route %s: upload not stored: %s", route.prefix, e)
                self._respond(req, 500, b"Internal Server Error: upload not stored\n",
                              label=route.prefix, started=started)
                return
            messages = upload_messages(backend.uuid, self.id, req, route.prefix, self.remote_addr,
                                       path, backend.protocol)
        else:
            messages = [request_message(backend.uuid, self.id, req, route.prefix,
                                        self.remote_addr, backend.protocol)]
        self.bridge.connections[self.id] = self     # before the send: replies may be quick
        if not backend.send(messages[0]):
            if path is not None:
                os.unlink(path)
            self._unavailable(req, route, started)
            return
        for message in messages[1:]:                # the upload's "done" message
            backend.send(message)
        self.m2_backends.add(backend)
        deadline = started + route.target.timeout if route.target.timeout else None
        self.exchange = Exchange(route, req, started, deadline, backend=backend,
                                 tracker=ResponseTracker(head_request=req.method == "HEAD"))

    def _start_req(self, req, route, started):
        backend = self.bridge.backend_for(route)
        request_id = backend.new_id()
        payload = envelope.encode_request(request_id, req, self.remote_addr, route.prefix)
        if not backend.submit(request_id, payload, self):
            self._unavailable(req, route, started)
            return
        self.exchange = Exchange(route, req, started, started + route.target.timeout,
                                 request_id=request_id, backend=backend)

    def _serve_page(self, req, route, started):
        # BigPipe (bridge.bigpipe.front): this writer greenlet streams the page until its
        # document is closed; the reader's EOF event cancels it when the browser leaves.
        keep = serve_page(req, route, self.bridge.pagelet_backends(route), self._send, self._eof,
                          self.remote_addr, self.bridge.metrics, started)
        if not keep:
            self.closing = True

    # ------------------------------------------------------------------ for bridge.front.realtime

    def respond(self, req, status, body, **kwargs):
        """Write a whole response in one send (see _respond)."""
        self._respond(req, status, body, **kwargs)

    def take_over(self):
        """Stop HTTP on this connection and return the bytes read past the request.

        The caller (a WebSocket or SSE stream) owns the socket, reads included, until it
        returns; the connection then closes. Its mailbox is no longer read.
        """
        self.closing = True
        if self._reader is not None:
            self._reader.kill(block=True)
        return self.parser.take_buffered()

    def hold(self, req, route, started, backend, request_id, deadline=None):
        """Park ``req`` until ``deliver_reply(request_id, envelope reply)``; the browser
        leaving calls ``backend.forget(request_id)``; past ``deadline``, 504."""
        self.exchange = Exchange(route, req, started, deadline, request_id=request_id, backend=backend)

    def _unavailable(self, req, route, started):
        self.bridge.metrics.error(route.prefix, "unavailable")
        self._respond(req, 503, b"Service Unavailable: no backend connected\n",
                      label=route.prefix, started=started, extra=[("Retry-After", "1")])

    # ------------------------------------------------------------------ backend events

    def _on_handler_data(self, data):
        if not data:                                # an empty reply closes the connection
            self._end_exchange(None)
            self.closing = True
            return
        self._send(data)
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
            self.bridge.metrics.error(ex.route.prefix, "bad_gateway")
            status, headers, body = 502, [], b"Bad Gateway: invalid reply from the backend\n"
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
        metrics = self.bridge.metrics
        if error:
            metrics.error(ex.route.prefix, error)
        if forget and ex.request_id is not None:
            ex.backend.forget(ex.request_id)
        if ex.tracker is not None and error not in ("timeout",):
            code = ex.tracker.status or (499 if error == "cancelled" else 0)
            metrics.request_done(ex.route.prefix, code, time.monotonic() - ex.started)
        self._idle_since = time.monotonic()

    # ------------------------------------------------------------------ writing

    def _respond(self, req, status, body, headers=(), keep_alive=True, label=None, started=None,
                 extra=()):
        """Write a whole response in one send."""
        keep = keep_alive and req.keep_alive and not self.closing
        head = [("Date", http_date()), *headers, *extra, ("Content-Length", str(len(body)))]
        if not keep:
            head.append(("Connection", "close"))
        elif req.version == "HTTP/1.0":
            head.append(("Connection", "keep-alive"))
        if not any(k.lower() == "content-type" for k, _ in head) and body:
            head.append(("Content-Type", "text/plain; charset=utf-8"))
        payload = response_head(status, head)
        if req.method != "HEAD" and status not in (204, 304):
            payload += body
        self._send(payload)
        if label is not None:
            self.bridge.metrics.request_done(label, status, time.monotonic() - (started or 0))
        if not keep:
            self.closing = True

    def _serve_wsgi(self, app, req, script_name, label, started):
        raw_rest = req.path[len(script_name):]
        path_info = unquote_to_bytes(raw_rest).decode("latin-1")
        environ = wsgi.make_environ(req, script_name, path_info, self.bridge.address, self.address
                                    if isinstance(self.address, tuple) else ("", 0))
        try:
            status, headers, chunks, close = wsgi.call(app, environ)
        except Exception:                       # a broken app must not take the connection down
            log.exception("WSGI app for %s failed", label)
            self._respond(req, 500, b"Internal Server Error\n", label=label, started=started)
            return
        try:
            self._write_wsgi(req, status, headers, chunks)
        finally:
            close()
        self.bridge.metrics.request_done(label, status, time.monotonic() - started)

    def _write_wsgi(self, req, status, headers, chunks):
        body, size = [], 0
        exhausted = True
        for chunk in chunks:
            if chunk:
                body.append(chunk)
                size += len(chunk)
            if size > _SINGLE_SEND:
                exhausted = False
                break
        names = {k.lower() for k, _ in headers}
        headers = [(k, v) for k, v in headers if k.lower() not in ("connection", "transfer-encoding")]
        keep = req.keep_alive
        chunked = False
        if "content-length" not in names:
            if exhausted:
                headers.append(("Content-Length", str(size)))
            elif req.version == "HTTP/1.1":
                headers.append(("Transfer-Encoding", "chunked"))
                chunked = True
            else:
                keep = False
        if "date" not in names:
            headers.insert(0, ("Date", http_date()))
        if not keep:
            headers.append(("Connection", "close"))
        elif req.version == "HTTP/1.0":
            headers.append(("Connection", "keep-alive"))
        no_body = req.method == "HEAD" or status in (204, 304)
        head = response_head(status, headers)
        if no_body:
            self._send(head)
        elif chunked:
            self._send(head + _chunk(b"".join(body)))
            for chunk in chunks:
                if chunk:
                    self._send(_chunk(chunk))
            self._send(b"0\r\n\r\n")
        else:
            self._send(head + b"".join(body))
            for chunk in chunks:
                self._send(chunk)
        if not keep:
            self.closing = True

    def _error(self, status, reason):
        """Answer a broken request and close (the body says why)."""
        log.debug("connection %d: %d %s", self.id, status, reason)
        body = f"{status} {reason}\n".encode("latin-1", "replace")
        head = [("Date", http_date()), ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))), ("Connection", "close")]
        self._send(response_head(status, head) + body)
        self.bridge.metrics.request_done("(invalid)", status, 0.0)
        self.closing = True

    def _send(self, data):
        """sendall, bounded: a client that takes no bytes for send_timeout is dropped."""
        send_all(self.sock, data, self.limits.send_timeout)

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
            self._eof.set()
            self.inbox.put((_EOF, None))

    def _cleanup(self, reader):
        self.closing = True
        if self._timer is not None:
            self._timer.close()
            self._timer = self._timer_at = None
        bridge = self.bridge
        if bridge.connections.get(self.id) is self:
            del bridge.connections[self.id]
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
            if reader is not None and not self._eof.is_set():
                self._discarding, self._discarded = True, 0
                self._reader_gate.set()
                self._eof.wait(_LINGER_SECONDS)
        except OSError:
            pass
        if reader is not None:
            reader.kill(block=True, timeout=1)
        self.sock.close()


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
