"""Serve one request on a ``page:`` route: the I/O half of BigPipe.

serve_page() runs in the connection's writer greenlet (bridge.front.connection calls it for
``page:`` routes and waits for it, so a connection still carries one request at a time):

1. every pagelet request goes out at once, each on its pagelet's req backend (a DEALER
   load-balancing over the pagelet's endpoints, shared with req routes naming the same ones);
   each carries the page request's context (see ``PageletRequests``);
2. the response head and the skeleton go out as one send, before waiting for anything;
3. replies are settled in completion order, each pagelet's deadline (its ``timeout`` from the
   page request) turns into its fallback, and the assembler's bytes are written as chunks;
4. the closing bytes and the last chunk close the document, whatever happened.

A required pagelet that has no backend connected answers the whole page with 503 and the
page's error HTML before anything is streamed; one that fails later ends the stream with
``BigPipe.fail``. In server mode (``?nojs=1``) the page is written once, complete, with a
Content-Length. A client that leaves (its read side ends, or a write fails) cancels every
outstanding pagelet: the req backend forgets it, so a late reply is dropped. (A REQ/REP backend
cannot be interrupted mid-request; it is simply no longer waited for.)
"""
import json
import logging
import time
from email.utils import formatdate

from gevent.queue import Empty, Queue

from bridge.adapters import envelope
from bridge.bigpipe.assembly import Assembly, choose_mode, decode_reply, failure
from bridge.http11 import chunk, response_head

__all__ = ["serve_page", "PageletRequests"]

log = logging.getLogger("bridge.bigpipe")

_GONE = object()


class PageletRequests:
    """The req envelope each pagelet backend receives: the page request's own envelope
    (method, path, query, headers with cookies, body, remote_addr, pattern) plus ``pagelet``
    (the pagelet id) and ``cookies`` (the Cookie header as an object, first value wins)."""

    def __init__(self, req, remote_addr, pattern):
        self._doc = json.loads(envelope.encode_request("", req, remote_addr, pattern))
        cookies = {}
        for header in (value for name, value in req.headers if name == "cookie"):
            for item in header.split(";"):
                name, eq, value = item.strip().partition("=")
                if eq and name and name not in cookies:
                    cookies[name] = value.strip().strip('"')
        self._doc["cookies"] = cookies

    def build(self, request_id, pagelet_id):
        doc = dict(self._doc, id=request_id, pagelet=pagelet_id)
        return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class _Inbox:
    """Where the req backends deliver pagelet replies; their greenlets only enqueue here."""

    def __init__(self):
        self.queue = Queue()

    def deliver_reply(self, request_id, payload):
        self.queue.put_nowait((request_id, payload))

    def client_gone(self, _event=None):          # an Event rawlink: runs in the hub, never blocks
        self.queue.put_nowait((_GONE, None))


_chunk = chunk


def _head(status, keep, extra):
    headers = [("Date", formatdate(usegmt=True)), ("Content-Type", "text/html; charset=utf-8"),
               ("Cache-Control", "no-store"), *extra]
    if not keep:
        headers.append(("Connection", "close"))
    return response_head(status, headers)


def serve_page(req, route, backends, send, gone, remote_addr, metrics, started):
    """Answer ``req`` with the page of ``route`` (a PageTarget route); returns keep-alive.

    ``backends`` maps each pagelet id to its req backend; ``send(bytes)`` writes to the client
    (raising OSError when it is gone); ``gone`` is an Event set when the client's side ends;
    ``started`` is the monotonic time the request was complete (pagelet deadlines count from
    it). Raises OSError from ``send`` after cancelling what is outstanding.
    """
    page = route.target.page
    label = route.prefix
    assembly = Assembly(page, choose_mode(page, req.query), req.path, req.query)
    http10 = req.version == "HTTP/1.0"
    streamed_head = [("X-Accel-Buffering", "no"), ("Surrogate-Control", 'no-store, content="BigPipe/1.0"')]
    if not http10:
        streamed_head.append(("Transfer-Encoding", "chunked"))
    frame = (lambda data: data) if http10 else _chunk
    if req.method == "HEAD":
        keep = req.keep_alive and not (http10 and assembly.streamed)
        send(_head(200, keep, streamed_head if assembly.streamed else []))
        metrics.request_done(label, 200, time.monotonic() - started)
        return keep

    inbox = _Inbox()
    outstanding = {}                    # request id -> (pagelet, backend, deadline)
    streaming = False
    status = 499
    requests = PageletRequests(req, remote_addr, label)

    def settle(result):
        if not result.ok:
            metrics.error(label, "pagelet_" + result.status)
            log.warning("page %s: pagelet %s: %s%s", label, result.id, result.status,
                        f" ({result.reason})" if result.reason else "")
        out = assembly.settle(result)
        if out and streaming:
            send(frame(out))

    gone.rawlink(inbox.client_gone)
    try:
        for pagelet in page.pagelets:
            backend = backends[pagelet.id]
            request_id = backend.new_id()
            if backend.submit(request_id, requests.build(request_id, pagelet.id), inbox):
                outstanding[request_id] = (pagelet, backend, started + pagelet.timeout)
            else:
                settle(failure(pagelet, "unavailable", "no backend connected"))
        if assembly.streamed and assembly.failed is None:
            keep = req.keep_alive and not http10
            send(_head(200, keep, streamed_head) + frame(assembly.start()))
            streaming = True
        while outstanding and not assembly.complete:
            now = time.monotonic()
            wait = max(0.0, min(deadline for _, _, deadline in outstanding.values()) - now)
            try:
                request_id, payload = inbox.queue.get(timeout=wait)
            except Empty:
                now = time.monotonic()
                for request_id, (pagelet, backend, deadline) in list(outstanding.items()):
                    if deadline <= now:
                        del outstanding[request_id]
                        backend.forget(request_id)
                        settle(failure(pagelet, "timeout", f"no reply within {pagelet.timeout}s"))
                continue
            if request_id is _GONE:
                metrics.error(label, "cancelled")
                return False
            entry = outstanding.pop(request_id, None)
            if entry is not None:
                settle(decode_reply(entry[0], payload))
        if streaming:
            status = 200
            send(frame(assembly.finish()) + (b"" if http10 else b"0\r\n\r\n"))
            return keep
        # Not streamed: server-side assembly, or a required pagelet had no backend at all.
        status = assembly.status
        body = assembly.finish() if not assembly.streamed else assembly.error_document()
        keep = req.keep_alive
        extra = [("Content-Length", str(len(body)))]
        if keep and http10:
            extra.append(("Connection", "keep-alive"))
        send(_head(status, keep, extra) + body)
        return keep
    except OSError:
        metrics.error(label, "cancelled")
        raise
    finally:
        gone.unlink(inbox.client_gone)
        for request_id, (_, backend, _) in outstanding.items():
            backend.forget(request_id)
        metrics.request_done(label, status, time.monotonic() - started)
