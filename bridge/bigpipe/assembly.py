"""What a ``page:`` route writes: the skeleton, one script payload per pagelet, the closing tail.

Sans-IO: no sockets, no gevent, no clocks. The front (bridge.bigpipe.front) feeds results in
and writes the bytes that come out. The wire format (BRIDGE.md section 4.2)::

    <!DOCTYPE html>...<head>...
    <script src="/_bridge/bigpipe.js?v=..."></script>
    <noscript><meta http-equiv="refresh" content="0; URL=/page?nojs=1"></noscript>
    <script>BigPipe.start({"mode":"arrival","pagelets":["nav","feed"]})</script>
    </head><body>... <div data-pagelet="nav"></div> ... <div data-pagelet="feed"></div> ...
                                                                  <- the skeleton: one chunk
    <script>BigPipe.arrive({"id":"feed","status":"ok","html":"...","css":[...],"js":[...]})</script>
                                                                  <- one chunk per pagelet
    <script>BigPipe.arrive({"id":"nav","status":"timeout","html":"fallback","css":[],"js":[]})</script>
    <script>BigPipe.done()</script></body></html>                 <- the template's tail

The payload is JSON with ``<``, ``>``, ``&``, U+2028 and U+2029 written as ``\\uXXXX``, so no
pagelet HTML can end the script element, open an HTML comment or break a JavaScript string.
Pagelets flush in completion order (``arrival``) or in the template's declared order
(``declared``, held back until every earlier pagelet is settled). A failed required pagelet
flushes ``BigPipe.fail({"id","status","html"})`` at once (the runtime replaces the page body
with the page's error HTML) and the page ends there.

Server-side assembly (mode ``server``, or ``?nojs=1``): nothing is written until every pagelet
is settled; then ``finish()`` returns one document with each placeholder filled in
(``<div data-pagelet="feed" data-pagelet-status="ok">HTML</div>``, the same DOM the runtime
builds), the pagelets' CSS as ``<link>`` before ``</head>`` and their JS as ``<script src>``
before ``</body>``, deduplicated in declared order; ``status`` is 200, or 502/503/504 with the
error page when a required pagelet failed.

A pagelet backend answers the req envelope with ``{"status": 200, "body": "<html>", "css":
[urls], "js": [urls]}`` (css, js optional); decode_reply turns anything else (another status,
a body that is not a string, not JSON) into an ``error`` result carrying the fallback HTML.
"""
import base64
import binascii
import html
import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from bridge.bigpipe import runtime

__all__ = ["PageletResult", "Assembly", "choose_mode", "decode_reply", "failure", "script_json",
           "nojs_url", "STATUS_CODES"]

# HTTP status of a server-assembled page whose required pagelet ended this way.
STATUS_CODES = {"error": 502, "unavailable": 503, "timeout": 504}

_SCRIPT_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@dataclass(frozen=True)
class PageletResult:
    """How one pagelet ended: status ``ok``, ``error``, ``timeout`` or ``unavailable``."""

    id: str
    status: str
    html: str
    css: tuple = ()
    js: tuple = ()
    reason: str = ""                # why it failed, for logs

    @property
    def ok(self):
        return self.status == "ok"


def failure(pagelet, status, reason=""):
    """The result for a pagelet that did not answer usefully: its fallback HTML."""
    return PageletResult(pagelet.id, status, pagelet.fallback, reason=reason)


def decode_reply(pagelet, payload):
    """A pagelet backend's reply (bytes) as a PageletResult; never raises."""
    try:
        doc = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        return failure(pagelet, "error", f"reply is not UTF-8 JSON: {e}")
    if not isinstance(doc, dict):
        return failure(pagelet, "error", "reply is not a JSON object")
    status = doc.get("status", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 299:
        return failure(pagelet, "error", f"reply status {status!r}")
    body = doc.get("body")
    if body is None:
        body = ""
    if not isinstance(body, str):
        return failure(pagelet, "error", "reply body is not an HTML string")
    if doc.get("body_base64"):
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return failure(pagelet, "error", "reply body is not base64 of UTF-8")
    deps = {}
    for key in ("css", "js"):
        urls = doc.get(key) or []
        if not isinstance(urls, list) or not all(isinstance(u, str) and u for u in urls):
            return failure(pagelet, "error", f"reply {key} must be a list of URLs")
        deps[key] = tuple(urls)
    return PageletResult(pagelet.id, "ok", body, deps["css"], deps["js"])


def script_json(value):
    """``value`` as JSON that is safe inside ``<script>...</script>``."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "".join(_SCRIPT_ESCAPES.get(c, c) for c in text) if any(c in text for c in _SCRIPT_ESCAPES) else text


def choose_mode(page, query):
    """``server`` for ``?nojs=1`` (any true value) or a server-mode page, else the page's mode."""
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "nojs" and value not in ("0", "false", "no"):
            return "server"
    return page.mode


def nojs_url(path, query):
    """The same page, server-assembled: ``query`` plus ``nojs=1``."""
    return f"{path}?{query}&nojs=1" if query else f"{path}?nojs=1"


def _attr(value):
    return html.escape(value, quote=True)


def _dedup(urls):
    seen = []
    for url in urls:
        if url not in seen:
            seen.append(url)
    return seen


class Assembly:
    """One page being assembled; feed each pagelet's result to settle(), in completion order.

    Streamed modes (``arrival``, ``declared``): write start() first, then what each settle()
    returns, then finish() once ``complete``. Server mode: settle() returns nothing; write
    ``status`` and finish(). Results settled before start() come out with the skeleton.
    """

    def __init__(self, page, mode, path="/", query=""):
        if mode not in ("arrival", "declared", "server"):
            raise ValueError(f"unknown BigPipe mode {mode!r}")
        self.page = page
        self.mode = mode
        self.path = path
        self.query = query
        self.results = {}               # id -> PageletResult
        self.failed = None              # the required pagelet's failed result
        self._started = False
        self._held = []                 # text settled before start()
        self._next = 0                  # declared mode: index of the next pagelet to flush

    @property
    def streamed(self):
        return self.mode != "server"

    @property
    def complete(self):
        """True when finish() may be written: every pagelet settled, or a required one failed."""
        return self.failed is not None or len(self.results) == len(self.page.pagelets)

    @property
    def outstanding(self):
        """Ids still waited for, in declared order (none once a required pagelet failed)."""
        if self.failed is not None:
            return []
        return [p.id for p in self.page.pagelets if p.id not in self.results]

    @property
    def status(self):
        """The HTTP status of a server-assembled page."""
        return STATUS_CODES.get(self.failed.status, 502) if self.failed is not None else 200

    # ------------------------------------------------------------------ streamed

    def start(self):
        """The skeleton: the template up to ``</body>`` with the runtime in its head."""
        if not self.streamed or self._started:
            raise RuntimeError("start() is for streamed modes, once")
        self._started = True
        template = self.page.template
        state = {"mode": self.mode, "pagelets": [p.id for p in self.page.pagelets]}
        out = [template.head,
               f'<script src="{_attr(runtime.URL)}"></script>\n',
               f'<noscript><meta http-equiv="refresh" content="0; URL={_attr(nojs_url(self.path, self.query))}">'
               f"</noscript>\n",
               f"<script>BigPipe.start({script_json(state)})</script>\n"]
        for part in template.body:
            out.append(part[1] if part[0] == "text" else part[2] + "</div>")
        out.append("\n")
        out.extend(self._held)
        self._held = []
        return "".join(out).encode("utf-8")

    def settle(self, result):
        """Record how one pagelet ended; returns the bytes to flush now (maybe b"")."""
        if self.failed is not None or result.id in self.results:
            return b""
        self.results[result.id] = result
        pagelet = self.page.pagelet(result.id)
        if not self.streamed:
            if pagelet.required and not result.ok:
                self.failed = result
            return b""
        if pagelet.required and not result.ok:
            self.failed = result
            doc = {"id": result.id, "status": result.status, "html": self.page.error}
            return self._emit(f"<script>BigPipe.fail({script_json(doc)})</script>\n")
        if self.mode == "arrival":
            return self._emit(self._arrive(result))
        out = []
        pagelets = self.page.pagelets
        while self._next < len(pagelets) and pagelets[self._next].id in self.results:
            out.append(self._arrive(self.results[pagelets[self._next].id]))
            self._next += 1
        return self._emit("".join(out))

    def _arrive(self, result):
        doc = {"id": result.id, "status": result.status, "html": result.html,
               "css": list(result.css), "js": list(result.js)}
        return f"<script>BigPipe.arrive({script_json(doc)})</script>\n"

    def _emit(self, text):
        if not self._started:
            self._held.append(text)
            return b""
        return text.encode("utf-8")

    # ------------------------------------------------------------------ the end

    def finish(self):
        """Streamed: the closing bytes. Server mode: the whole document."""
        if self.streamed:
            return ("<script>BigPipe.done()</script>" + self.page.template.tail).encode("utf-8")
        if self.failed is not None:
            return self.error_document()
        template = self.page.template
        results = [self.results.get(p.id) for p in self.page.pagelets]
        css = _dedup(url for r in results if r is not None for url in r.css)
        js = _dedup(url for r in results if r is not None for url in r.js)
        out = [template.head]
        out += [f'<link rel="stylesheet" href="{_attr(url)}">\n' for url in css]
        for part in template.body:
            if part[0] == "text":
                out.append(part[1])
                continue
            result = self.results.get(part[1])
            status, content = (result.status, result.html) if result is not None else ("timeout", "")
            out.append(f'{part[2][:-1]} data-pagelet-status="{status}">{content}</div>')
        out += [f'\n<script src="{_attr(url)}"></script>' for url in js]
        out.append(template.tail)
        return "".join(out).encode("utf-8")

    def error_document(self):
        """The page's error HTML in the template's head and tail (a required pagelet failed)."""
        failed_id = self.failed.id if self.failed is not None else ""
        template = self.page.template
        return (f'{template.head}</head><body><div data-bigpipe-error="{_attr(failed_id)}">'
                f"{self.page.error}</div>{template.tail}").encode("utf-8")
