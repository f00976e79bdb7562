"""The bridge inside an existing bottle app on gevent's pywsgi with gevent-websocket.

For apps that already run the classic gevent web stack::

    from gevent import monkey; monkey.patch_all()
    import bottle
    from gevent.pywsgi import WSGIServer
    from geventwebsocket.handler import WebSocketHandler
    from bridge.embed import BridgePlugin

    app = bottle.Bottle()
    bridge = BridgePlugin(["/live/=pubsub:tcp://127.0.0.1:5563,tcp://127.0.0.1:5564",
                           "/api/=req:tcp://127.0.0.1:5555",
                           "/m2/=mongrel2:tcp://127.0.0.1:9997,tcp://127.0.0.1:9996"])
    app.install(bridge)                 # or: wsgi_app = bridge.middleware(any_wsgi_app)

    @app.get("/")
    @bridge.page([{"id": "feed", "endpoints": ["tcp://127.0.0.1:7001"], "timeout": 2}])
    def home():
        return bottle.template("home")  # HTML with <div data-pagelet="feed"></div>

    WSGIServer(("127.0.0.1", 8080), app, handler_class=WebSocketHandler).serve_forever()

What it adds to the app (the same route syntax and behaviour as ``gzmq-bridge``, bridge/README.md):

- ``pubsub:`` routes: the WebSocket at exactly PREFIX speaks bridge.js's ops (subscribe,
  unsubscribe, publish, request; bridge.adapters.ops), through gevent-websocket's public API
  (``environ["wsgi.websocket"]``: ``receive``, ``send``, ``close``) with one writer greenlet
  and a bounded queue per browser; ``BASE/events`` is Server-Sent Events and ``POST
  BASE/send`` takes one op. A ``request`` op is routed to this plugin's routes, or else to the
  app itself (called as WSGI), so bridge.js's ``request("/your/view")`` reaches your views.
  There is no long-poll here: bridge.js's ``transport: "auto"`` takes the WebSocket or SSE.
- ``req:`` and ``mongrel2:`` routes: every request under PREFIX is forwarded (the JSON
  envelope over DEALER, or Mongrel2's protocol with the plugin binding PUSH/SUB) and the
  backend's status, headers and body become the response. The Mongrel2 response is collected
  whole (up to 16 MiB), so streaming and long-lived Mongrel2 exchanges need the bridge itself.
- ``page(pagelets)``: a decorator making a view's HTML (a bottle template with
  ``<div data-pagelet="ID"></div>`` placeholders) a BigPipe page (bridge.bigpipe): the
  skeleton is flushed at once, each pagelet's req backend is asked in parallel, and pagelets
  stream in as they arrive (``?nojs=1``: assembled on the server).
- ``/_bridge/bridge.js`` and ``/_bridge/bigpipe.js``.

gevent-websocket is the ``embed`` extra (``pip install gzmq[embed]``); without it (or on a
server without its WebSocketHandler) the WebSocket answers 426 and SSE still works. The
plugin never monkey-patches: the app's entry point does, before importing bottle. ``close()``
closes the sockets. Bad routes raise bridge.routing.ConfigError at construction.
"""
import functools
import logging
import time
from urllib.parse import parse_qs

import bottle
import gevent
from gevent.event import Event
from gevent.pool import Group
from gevent.queue import Empty, Full, Queue

from bridge.adapters import ops
from bridge.bigpipe import runtime
from bridge.bigpipe.assembly import Assembly, choose_mode, decode_reply, failure
from bridge.bigpipe.front import PageletRequests
from bridge.bigpipe.page import DEFAULT_ERROR, PageError, parse_page
from bridge.config import Limits, parse_route
from bridge.front import subrequest
from bridge.front.app import CLIENT_ETAG, CLIENT_JS
from bridge.front.outbox import StreamStats
from bridge.http11 import Request
from bridge.metrics import Metrics
from bridge.routing import ConfigError, ReqTarget, Route, RouteTable
from bridge.services import Resources, build
from bridge.services.req import ReqService
from bridge.zmqlib import zmq

__all__ = ["BridgePlugin", "ConfigError"]

log = logging.getLogger("bridge.embed")

KINDS = ("pubsub", "req", "mongrel2")
MAX_REQUESTS = 64                       # request ops in flight per WebSocket


class BridgePlugin:
    """A bottle plugin (``app.install(plugin)``) and WSGI middleware (``plugin.middleware(app)``)."""

    name = "gzmq_bridge"
    api = 2

    def __init__(self, routes=(), *, limits=None, uuid=None, context=None):
        self.limits = limits or Limits()
        self.metrics = Metrics()
        self.stats = StreamStats()
        self.metrics.collectors.append(self.stats.render)
        self._own_context = context is None
        self.context = context or zmq.Context()
        import uuid as uuidlib
        self.resources = Resources(self.context, self.metrics, self.stats, uuid or str(uuidlib.uuid4()))
        self.host_app = None
        self.sessions = set()
        try:
            parsed = [parse_route(r) if isinstance(r, str) else r for r in routes]
            for route in parsed:
                if route.kind not in KINDS:
                    raise ConfigError(f"route {route.prefix}: {route.kind} routes are not embedded "
                                      f"(serve files and pages with bottle; kinds here: {', '.join(KINDS)})")
            self.table = RouteTable(parsed)
            self.services = {route: build(route, self.resources) for route in self.table.routes}
        except BaseException:
            self.close()
            raise
        self.app = self._make_app()
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    def start(self):
        if not self._started:
            self._started = True
            for service in self.resources.services.values():
                if not service.started:
                    service.start()

    def close(self):
        for session in list(self.sessions):
            session.close(1001, "server shutting down")
        for service in self.resources.services.values():
            service.close()
        self.resources.services.clear()
        if self._own_context:
            self.context.term()
            self._own_context = False

    def describe(self):
        """Each route with what its service bound or connected (Mongrel2's bound ports)."""
        out = []
        for route in self.table.routes:
            info = {"prefix": route.prefix, "kind": route.kind}
            info.update(self.services[route].describe(route))
            out.append(info)
        return out

    # ------------------------------------------------------------------ bottle plugin API

    def setup(self, app):
        """bottle calls this on ``app.install(plugin)``: the plugin's routes join the app's."""
        self.host_app = app
        app.merge(self.app)
        self.start()

    def apply(self, callback, route):
        return callback

    def middleware(self, wsgi_app):
        """WSGI middleware: the plugin's paths here, everything else to ``wsgi_app``."""
        self.host_app = wsgi_app
        self.start()
        prefixes = tuple(r.prefix for r in self.table.routes) + \
            tuple(r.prefix.rstrip("/") + "/" for r in self.table.routes) + ("/_bridge/",)

        def app(environ, start_response):
            path = environ.get("PATH_INFO", "")
            if path.startswith(prefixes) or any(path == r.prefix.rstrip("/") for r in self.table.routes):
                return self.app(environ, start_response)
            return wsgi_app(environ, start_response)

        return app

    # ------------------------------------------------------------------ the routes

    def _make_app(self):
        app = bottle.Bottle()

        @app.get("/_bridge/bridge.js")
        def bridge_js():
            if bottle.request.headers.get("If-None-Match") == CLIENT_ETAG:
                return bottle.HTTPResponse(status=304, ETag=CLIENT_ETAG)
            bottle.response.content_type = "application/javascript; charset=utf-8"
            bottle.response.set_header("ETag", CLIENT_ETAG)
            bottle.response.set_header("Cache-Control", "no-cache")
            return CLIENT_JS

        @app.get("/_bridge/bigpipe.js")
        def bigpipe_js():
            bottle.response.content_type = runtime.CONTENT_TYPE
            bottle.response.set_header("Cache-Control", "public, max-age=86400")
            return runtime.SOURCE

        for route in self.table.routes:
            service = self.services[route]
            if service.hub is not None:
                self._pubsub_routes(app, route, service.hub)
            else:
                self._forward_route(app, route, service)
        return app

    def _forward_route(self, app, route, service):
        methods = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]

        def forward(path=""):
            started = time.monotonic()
            req = request_from_environ(bottle.request.environ)
            remote = bottle.request.environ.get("REMOTE_ADDR") or "-"
            status, headers, body = service.forward(req, route, remote)
            self.metrics.request_done(route.prefix, status, time.monotonic() - started)
            return bottle.HTTPResponse(body=body, status=status, headers=headers)

        app.route(route.prefix + "<path:path>", methods, forward)
        app.route(route.prefix, methods, forward)

    def _pubsub_routes(self, app, route, hub):
        base = route.prefix.rstrip("/")

        def websocket():
            ws = bottle.request.environ.get("wsgi.websocket")
            if ws is None:
                raise bottle.HTTPError(426, f"{route.prefix} is a WebSocket (SSE at {base}/events)",
                                       Upgrade="websocket")
            if not _origin_allowed(bottle.request.headers.get("Origin"), self.limits):
                ws.close(1008, b"origin not allowed")
                return ""
            session = EmbeddedSession(ws, hub, self, route.prefix)
            self.sessions.add(session)
            try:
                session.run(bottle.request.environ)
            finally:
                self.sessions.discard(session)
            return ""

        def events():
            if not _origin_allowed(bottle.request.headers.get("Origin"), self.limits):
                raise bottle.HTTPError(403, "origin not allowed")
            query = parse_qs(bottle.request.query_string, keep_blank_values=True)
            topics = query.get("topic", [])
            if not topics:
                raise bottle.HTTPError(400, "give at least one topic=T (topic= alone: every message)")
            last = bottle.request.headers.get("Last-Event-ID") or (query.get("last_event_id") or [None])[0]
            after = hub.parse_event_id(last) if last else None
            bottle.response.content_type = "text/event-stream; charset=utf-8"
            bottle.response.set_header("Cache-Control", "no-cache")
            bottle.response.set_header("X-Accel-Buffering", "no")
            return EmbeddedEventStream(hub, self.limits, self.stats, route.prefix).stream(topics, after)

        def send():
            try:
                op = ops.parse(bottle.request.body.read().decode("utf-8", "replace"))
            except ops.OpError as e:
                raise bottle.HTTPError(400, ops.encode_error(e.error, e.id, e.op))
            bottle.response.content_type = "application/json"
            if isinstance(op, ops.Publish):
                if not hub.publish(op.topic, op.data):
                    return bottle.HTTPResponse(ops.encode_ack(op.id, 503) if op.id is not None else
                                               ops.encode_error("publish failed"), status=503)
                return ops.encode_ack(op.id) if op.id is not None else bottle.HTTPResponse(status=204)
            if isinstance(op, ops.Request):
                status, body = self.answer_request(op, bottle.request.environ)
                return ops.encode_reply(op.id, status, body)
            raise bottle.HTTPError(400, ops.encode_error("only publish and request ops go to /send", op.id))

        app.route(route.prefix, "GET", websocket)
        if base != route.prefix:
            app.route(base, "GET", websocket)
        app.route(base + "/events", "GET", events)
        app.route(base + "/send", "POST", send)

    # ------------------------------------------------------------------ the request op

    def answer_request(self, op, environ):
        """Route a request op: this plugin's routes, else the host app as WSGI; (status, body)."""
        host = environ.get("HTTP_HOST", "localhost")
        remote = environ.get("REMOTE_ADDR") or "-"
        req = subrequest.build(op, host)
        if req.path.startswith("/_bridge/"):
            return subrequest.collect_wsgi(self.app, req, "", remote)
        route = self.table.match(host, req.path)
        if route is not None:
            service = self.services[route]
            if service.hub is None:
                return service.answer_request(req, route, remote)
        if self.host_app is None:
            return 404, b"Not Found\n"
        return subrequest.collect_wsgi(self.host_app, req, "", remote)

    # ------------------------------------------------------------------ BigPipe

    def page(self, pagelets, mode="arrival", error=DEFAULT_ERROR):
        """Decorator: the view's HTML becomes a BigPipe page whose pagelets come from req
        backends. ``pagelets`` as in a page file (bridge.bigpipe.page): dicts with ``id``,
        ``endpoints``, and optional ``timeout``, ``fallback``, ``required``. PageError (a
        ValueError) at decoration for bad pagelets; the template is checked on each render
        (a view whose HTML lacks a placeholder answers 500 and logs why)."""
        probe = '<html><head></head><body>%s</body></html>' % "".join(
            f'<div data-pagelet="{p["id"]}"></div>' for p in pagelets if isinstance(p, dict) and "id" in p)
        checked = parse_page({"pagelets": list(pagelets), "mode": mode, "error": error}, probe, "page()")
        backends = {}
        for pagelet in checked.pagelets:
            target = ReqTarget(pagelet.endpoints, pagelet.timeout)
            key = ReqService.share_key(target, self.resources)
            service = self.resources.take(key)
            if service is None:
                service = self.resources.services[key] = ReqService(Route("/", target), self.resources)
                if self._started:
                    service.start()
            backends[pagelet.id] = service.backend

        def decorator(view):
            @functools.wraps(view)
            def wrapper(*args, **kwargs):
                html = view(*args, **kwargs)
                if not isinstance(html, str):
                    return html                 # a redirect, an HTTPResponse, bytes: as they are
                try:
                    page = parse_page({"pagelets": list(pagelets), "mode": mode, "error": error}, html,
                                      f"view {view.__name__}")
                except PageError as e:
                    log.error("%s", e)
                    raise bottle.HTTPError(500, "the page template does not match its pagelets")
                return self._render_page(page, backends, bottle.request.environ)
            return wrapper

        return decorator

    def _render_page(self, page, backends, environ):
        req = request_from_environ(environ)
        remote = environ.get("REMOTE_ADDR") or "-"
        assembly = Assembly(page, choose_mode(page, req.query), req.path, req.query)
        inbox = Queue()

        class Inbox:
            @staticmethod
            def deliver_reply(request_id, payload):
                inbox.put_nowait((request_id, payload))

        started = time.monotonic()
        requests = PageletRequests(req, remote, req.path)
        outstanding = {}
        early = []
        for pagelet in page.pagelets:
            backend = backends[pagelet.id]
            request_id = backend.new_id()
            if backend.submit(request_id, requests.build(request_id, pagelet.id), Inbox):
                outstanding[request_id] = (pagelet, backend, started + pagelet.timeout)
            else:
                early.append(assembly.settle(failure(pagelet, "unavailable", "no backend connected")))

        def settled():
            """Yield the assembler's bytes as pagelets settle; forget the rest if closed early."""
            try:
                while outstanding and not assembly.complete:
                    wait = max(0.0, min(d for _, _, d in outstanding.values()) - time.monotonic())
                    try:
                        request_id, payload = inbox.get(timeout=wait)
                    except Empty:
                        now = time.monotonic()
                        for rid, (pagelet, backend, deadline) in list(outstanding.items()):
                            if deadline <= now:
                                del outstanding[rid]
                                backend.forget(rid)
                                yield assembly.settle(failure(pagelet, "timeout",
                                                              f"no reply within {pagelet.timeout}s"))
                        continue
                    entry = outstanding.pop(request_id, None)
                    if entry is not None:
                        yield assembly.settle(decode_reply(entry[0], payload))
            finally:
                for rid, (_, backend, _) in outstanding.items():
                    backend.forget(rid)

        headers = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
        if assembly.streamed and assembly.failed is None:
            def stream():
                yield assembly.start()
                for out in settled():
                    if out:
                        yield out
                yield assembly.finish()
            headers["X-Accel-Buffering"] = "no"
            return bottle.HTTPResponse(body=stream(), status=200, headers=headers)
        for _ in settled():
            pass
        body = assembly.finish() if not assembly.streamed else assembly.error_document()
        return bottle.HTTPResponse(body=body, status=assembly.status, headers=headers)


def request_from_environ(environ):
    """The bridge.http11.Request a WSGI request stands for (headers lower-cased, body read)."""
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").lower(), value))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").lower(), value))
    length = environ.get("CONTENT_LENGTH") or ""
    body = environ["wsgi.input"].read(int(length)) if length.isdigit() and int(length) else b""
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    raw_path = path.encode("latin-1").decode("utf-8", "replace")
    from urllib.parse import quote
    target = quote(raw_path, safe="/%:@!$&'()*+,;=-._~")
    if environ.get("QUERY_STRING"):
        target += "?" + environ["QUERY_STRING"]
    version = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
    return Request(environ.get("REQUEST_METHOD", "GET"), target,
                   version if version in ("HTTP/1.0", "HTTP/1.1") else "HTTP/1.1", headers, body)


def _origin_allowed(origin, limits):
    allowed = [o.strip() for o in (limits.ws_origins or "").split(",") if o.strip()]
    return not allowed or origin is None or origin in allowed


class EmbeddedSession:
    """One browser on a gevent-websocket WebSocket: a reader (this greenlet) parsing ops, one
    writer greenlet draining a bounded queue (gevent-websocket's send is not greenlet-safe),
    request ops in greenlets of their own. A browser too slow for ``stream_queue_messages``
    is closed with 1008; every topic is left when it ends, however it ends."""

    kind = "websocket"

    def __init__(self, ws, hub, plugin, route):
        self.ws = ws
        self.hub = hub
        self.plugin = plugin
        self.route = route
        self.limits = plugin.limits
        self.stats = plugin.stats
        self.topics = set()
        self.queue = Queue(self.limits.stream_queue_messages + 1)     # + 1: room for the close
        self.requests = Group()
        self.closed = Event()

    def push(self, item):
        limit = self.limits.ws_max_send_bytes
        item.ws_frame(limit)                # sizes the op once (shared with the bridge's path)
        if item.too_big:
            self.stats.dropped[self.route] += 1
            self.send(ops.encode_dropped(item.topic, len(item.text.encode("utf-8")), limit))
        else:
            self.send(item.text)

    def send(self, text):
        if self.closed.is_set():
            return
        try:
            self.queue.put_nowait(text)
        except Full:
            self.stats.overflows[(self.route, "close")] += 1
            self.close(1008, "too slow: send queue full")

    def close(self, code, reason):
        """Close after what is queued (a browser too slow: at once, its queue dropped)."""
        if self.closed.is_set():
            return
        self.closed.set()
        if self.queue.full():
            while not self.queue.empty():
                self.queue.get_nowait()
        self.queue.put_nowait((code, reason))

    def _writer(self):
        try:
            while True:
                text = self.queue.get()
                if isinstance(text, tuple):             # (code, reason): the close
                    self.ws.close(text[0], text[1].encode())
                    return
                self.ws.send(text)
                self.stats.messages[(self.route, "out")] += 1
        except Exception as e:                          # the browser is gone (gevent-websocket's errors)
            log.debug("route %s: WebSocket write failed: %s", self.route, e)
            self.closed.set()

    def run(self, environ):
        key = (self.route, self.kind)
        self.stats.open[key] += 1
        self.stats.opened[key] += 1
        writer = gevent.spawn(self._writer)
        self.environ = environ
        try:
            while not self.closed.is_set():
                message = self.ws.receive()
                if message is None:
                    break
                self.stats.messages[(self.route, "in")] += 1
                self.on_message(message)
        except Exception as e:                          # gevent-websocket's errors end the socket
            log.debug("route %s: WebSocket ended: %s", self.route, e)
        finally:
            self.stats.open[key] -= 1
            self.hub.drop(self)
            self.requests.kill(block=True, timeout=1)
            if not self.closed.is_set():
                self.closed.set()
                writer.kill()
            else:
                writer.join(self.limits.ws_close_timeout)
                writer.kill()

    def on_message(self, message):
        if not isinstance(message, str):
            self.send(ops.encode_error("binary frames are not ops: send JSON text "
                                       "(binary data goes base64 with \"data_base64\": true)"))
            return
        try:
            op = ops.parse(message)
        except ops.OpError as e:
            self.send(ops.encode_error(e.error, e.id, e.op))
            return
        if isinstance(op, ops.Subscribe):
            self.hub.subscribe(op.topic, self)
            if op.id is not None:
                self.send(ops.encode_ack(op.id))
        elif isinstance(op, ops.Unsubscribe):
            self.hub.unsubscribe(op.topic, self)
            if op.id is not None:
                self.send(ops.encode_ack(op.id))
        elif isinstance(op, ops.Publish):
            if self.hub.pub is None:
                self.send(ops.encode_error(f"route {self.route} has no PUB endpoint: publish is not available",
                                           op.id, "publish"))
            elif not self.hub.publish(op.topic, op.data):
                self.send(ops.encode_ack(op.id, 503) if op.id is not None else
                          ops.encode_error("publish failed", None, "publish"))
            elif op.id is not None:
                self.send(ops.encode_ack(op.id))
        elif len(self.requests) >= MAX_REQUESTS:
            self.send(ops.encode_error(f"too many requests in flight (limit {MAX_REQUESTS})", op.id, "request"))
        else:
            self.requests.spawn(self._request, op)

    def _request(self, op):
        try:
            status, body = self.plugin.answer_request(op, self.environ)
        except Exception:
            log.exception("route %s: request op for %s failed", self.route, op.path)
            status, body = 500, b"Internal Server Error\n"
        self.send(ops.encode_reply(op.id, status, body))


class EmbeddedEventStream:
    """One SSE response as a WSGI body iterator (pywsgi sends each item as a chunk)."""

    def __init__(self, hub, limits, stats, route):
        self.hub = hub
        self.limits = limits
        self.stats = stats
        self.route = route
        self.topics = set()
        self.queue = Queue(limits.stream_queue_messages)
        self.overflowed = False

    def push(self, item):
        try:
            self.queue.put_nowait(item.sse)
        except Full:
            self.overflowed = True
            self.stats.overflows[(self.route, "close")] += 1

    def stream(self, topics, after):
        key = (self.route, "sse")
        self.stats.open[key] += 1
        self.stats.opened[key] += 1
        try:
            yield b"retry: 2000\n\n: ok\n\n"
            if after is not None:
                for item in self.hub.replay(set(topics), after):
                    yield item.sse
            for topic in topics:
                self.hub.subscribe(topic, self)
            keepalive = self.limits.sse_keepalive or None
            while not self.overflowed:
                try:
                    data = self.queue.get(timeout=keepalive)
                except Empty:
                    yield b": keep-alive\n\n"
                    continue
                self.stats.messages[(self.route, "out")] += 1
                yield data
        finally:
            self.stats.open[key] -= 1
            self.hub.drop(self)
