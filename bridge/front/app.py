"""The bottle apps behind the connection loop: static files and /_bridge/health, /_bridge/metrics.

Both are plain WSGI apps (testable under wsgiref.validate). ``static_app(root)`` serves files
below ``root`` with bottle.static_file (ETag and If-None-Match/If-Modified-Since -> 304,
Range, content types by extension, ``text/*`` as UTF-8), ``index.html`` for directories, and a
301 to add the slash a directory URL lacks. PATH_INFO arrives percent-decoded, so ``..``,
``%2e%2e`` and absolute paths all reach the same check: the resolved path must lie inside
``root`` or the answer is 403. Only GET and HEAD. Errors (404, 403, 405...) are the bridge's
plain-text ``404 Not Found: why`` (bridge.http11.error_body), never bottle's HTML page.

``internal_app(bridge)`` is mounted at /_bridge: ``health`` answers JSON (bridge.server.Bridge.
health: each route's backend state), ``metrics`` the Prometheus text of bridge.metrics, ``bigpipe.js`` the BigPipe runtime (bridge.bigpipe.runtime;
skeletons load it with a content hash in the query, so a day's caching is safe), ``bridge.js``
the browser client of pubsub routes (bridge/static/bridge.js; ETag, revalidated on each use).
"""
import hashlib
import json
import os

import bottle

from bridge.bigpipe import runtime
from bridge.http11 import error_body, reason_phrase

__all__ = ["static_app", "internal_app"]

with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static", "bridge.js"),
          "rb") as _f:
    CLIENT_JS = _f.read()
CLIENT_ETAG = '"' + hashlib.sha256(CLIENT_JS).hexdigest()[:16] + '"'


def _error_page(res):
    """Every error of these apps in the bridge's own words, as the connection loop answers
    (a route that does not exist, a 503 from a backend): ``404 Not Found: File does not exist.``"""
    res.content_type = "text/plain; charset=utf-8"
    why = res.body if isinstance(res.body, str) and res.body else reason_phrase(res.status_code)
    return error_body(res.status_code, why)


def _app():
    app = bottle.Bottle()
    app.default_error_handler = _error_page
    return app


def static_app(root):
    root = os.path.join(os.path.abspath(root), "")
    app = _app()

    @app.route("/", method=["GET", "HEAD"])
    @app.route("/<path:path>", method=["GET", "HEAD"])
    def serve(path=""):
        full = os.path.abspath(os.path.join(root, path.lstrip("/\\")))
        if full != root[:-1] and not full.startswith(root):
            return bottle.HTTPError(403, "Access denied.")
        if os.path.isdir(full):
            if path and not path.endswith("/"):
                location = bottle.request.script_name + path.lstrip("/") + "/"
                return bottle.HTTPResponse(status=301, Location=location)
            path = os.path.join(path, "index.html")
        return bottle.static_file(path.lstrip("/\\"), root=root)

    return app


def internal_app(bridge, admin=True):
    """The /_bridge/ app; ``admin`` False leaves out health and metrics (they answer on the
    admin listener, or nowhere), keeping the scripts pages load."""
    app = _app()

    if admin:
        @app.get("/health")
        def health():
            bottle.response.content_type = "application/json"
            return json.dumps(bridge.health())

        @app.get("/metrics")
        def metrics():
            bottle.response.content_type = "text/plain; version=0.0.4; charset=utf-8"
            return bridge.render_metrics()

    @app.get("/bigpipe.js")
    def bigpipe_js():
        etag = f'"{runtime.VERSION}"'
        if bottle.request.headers.get("If-None-Match") == etag:
            return bottle.HTTPResponse(status=304, ETag=etag)
        bottle.response.content_type = runtime.CONTENT_TYPE
        bottle.response.set_header("ETag", etag)
        bottle.response.set_header("Cache-Control", "public, max-age=86400")
        return runtime.SOURCE

    @app.get("/bridge.js")
    def bridge_js():
        if bottle.request.headers.get("If-None-Match") == CLIENT_ETAG:
            return bottle.HTTPResponse(status=304, ETag=CLIENT_ETAG)
        bottle.response.content_type = "application/javascript; charset=utf-8"
        bottle.response.set_header("ETag", CLIENT_ETAG)
        bottle.response.set_header("Cache-Control", "no-cache")
        return CLIENT_JS

    return app
