"""The page file of a ``page:`` route and its template.

The page file is JSON::

    {"template": "page.html",                  path relative to the page file
     "mode": "arrival",                        "arrival" (default), "declared" or "server"
     "error": "<h1>Unavailable</h1>",          optional: the page shown when a required pagelet fails
     "pagelets": [
        {"id": "feed",                         names the placeholder <div data-pagelet="feed"></div>
         "endpoints": ["tcp://127.0.0.1:7001"],  req-envelope backends, load-balanced
         "timeout": 2.0,                       seconds from the page request (default 5)
         "fallback": "<p>Feed unavailable</p>",  shown on timeout or backend error (default "")
         "required": false}]}                  true: the page fails without this pagelet

The template is UTF-8 HTML with a ``</head>`` and a ``</body>``; between them, each pagelet
has exactly one placeholder, an empty element ``<div data-pagelet="ID"></div>`` (other
attributes may be on the ``div``; its content must be empty). Every placeholder must name a
declared pagelet and every pagelet must have a placeholder.

Pure: reads the two files it is given. load_page raises PageError (a ValueError) saying which
file and what is wrong. Called by bridge.config for ``page:`` targets.
"""
import json
import os
import re
from dataclasses import dataclass

__all__ = ["PageError", "Pagelet", "Page", "Template", "MODES", "load_page", "parse_page", "parse_template"]

MODES = ("arrival", "declared", "server")
DEFAULT_TIMEOUT = 5.0
DEFAULT_ERROR = "<h1>This page is not available</h1><p>Please try again in a moment.</p>"

# An empty placeholder element: <div ... data-pagelet="ID" ...></div> (whitespace inside allowed).
_PLACEHOLDER = re.compile(
    r"""<div\b(?P<attrs>[^>]*?\bdata-pagelet\s*=\s*(?P<q>["'])(?P<id>.*?)(?P=q)[^>]*)>(?P<inner>.*?)</div\s*>""",
    re.IGNORECASE | re.DOTALL)
_ANY_PLACEHOLDER = re.compile(r"\bdata-pagelet\s*=", re.IGNORECASE)
_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class PageError(ValueError):
    """A page file or template that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Pagelet:
    id: str
    endpoints: tuple
    timeout: float = DEFAULT_TIMEOUT
    fallback: str = ""
    required: bool = False


@dataclass(frozen=True)
class Template:
    """A template cut where the bridge writes: ``head`` ends just before ``</head>``; ``body``
    alternates text and pagelet ids (``("text", s)`` / ``("pagelet", id, open_tag)``) up to
    ``</body>``; ``tail`` starts with ``</body>``."""

    head: str
    body: tuple
    tail: str

    @property
    def placeholder_ids(self):
        return [part[1] for part in self.body if part[0] == "pagelet"]


@dataclass(frozen=True)
class Page:
    path: str                       # the page file, for messages
    template: Template
    pagelets: tuple                 # declared order
    mode: str = "arrival"
    error: str = DEFAULT_ERROR

    def pagelet(self, pagelet_id):
        return next(p for p in self.pagelets if p.id == pagelet_id)


def parse_template(text, where="template"):
    """Cut template text into a Template; raises PageError."""
    head_end = _HEAD_END.search(text)
    if head_end is None:
        raise PageError(f"{where}: no </head> (the bridge puts its runtime before it)")
    body_ends = list(_BODY_END.finditer(text))
    if not body_ends or body_ends[-1].start() < head_end.end():
        raise PageError(f"{where}: no </body> after </head> (pagelets stream in before it)")
    body_end = body_ends[-1].start()
    if _ANY_PLACEHOLDER.search(text, 0, head_end.start()):
        raise PageError(f"{where}: a data-pagelet placeholder before </head>")
    if _ANY_PLACEHOLDER.search(text, body_end):
        raise PageError(f"{where}: a data-pagelet placeholder after </body>")
    parts, pos = [], head_end.start()
    for m in _PLACEHOLDER.finditer(text, pos, body_end):
        if m.group("inner").strip():
            raise PageError(f"{where}: placeholder {m.group('id')!r} must be empty: <div data-pagelet=...></div>")
        if "<" in m.group("attrs"):
            raise PageError(f"{where}: malformed placeholder near {m.group(0)[:60]!r}")
        parts.append(("text", text[pos:m.start()]))
        parts.append(("pagelet", m.group("id"), f"<div{m.group('attrs')}>"))
        pos = m.end()
    parts.append(("text", text[pos:body_end]))
    found = sum(1 for part in parts if part[0] == "text" and _ANY_PLACEHOLDER.search(part[1]))
    if found:
        raise PageError(f"{where}: a data-pagelet attribute that is not on an empty <div>")
    ids = [part[1] for part in parts if part[0] == "pagelet"]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise PageError(f"{where}: placeholder {duplicates[0]!r} appears more than once")
    return Template(text[:head_end.start()], tuple(p for p in parts if p != ("text", "")), text[body_end:])


def _pagelet(item, where):
    if not isinstance(item, dict):
        raise PageError(f"{where}: each pagelet must be an object")
    unknown = set(item) - {"id", "endpoints", "timeout", "fallback", "required"}
    if unknown:
        raise PageError(f"{where}: pagelet has unknown key {sorted(unknown)[0]!r}")
    pid = item.get("id")
    if not isinstance(pid, str) or not pid or any(c in pid for c in "\"'<>&"):
        raise PageError(f"{where}: pagelet id {pid!r} must be a non-empty string without quotes or <>&")
    endpoints = item.get("endpoints")
    if isinstance(endpoints, str):
        endpoints = [endpoints]
    if (not isinstance(endpoints, list) or not endpoints
            or not all(isinstance(e, str) and "://" in e for e in endpoints)):
        raise PageError(f"{where}: pagelet {pid!r}: endpoints must be a list of ZeroMQ endpoints")
    timeout = item.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise PageError(f"{where}: pagelet {pid!r}: timeout must be a positive number of seconds")
    fallback = item.get("fallback", "")
    if not isinstance(fallback, str):
        raise PageError(f"{where}: pagelet {pid!r}: fallback must be an HTML string")
    required = item.get("required", False)
    if not isinstance(required, bool):
        raise PageError(f"{where}: pagelet {pid!r}: required must be true or false")
    return Pagelet(pid, tuple(endpoints), float(timeout), fallback, required)


def parse_page(doc, template_text, where="page"):
    """Build a Page from the decoded page file and the template's text; raises PageError."""
    if not isinstance(doc, dict):
        raise PageError(f"{where}: the page file must be a JSON object")
    unknown = set(doc) - {"template", "mode", "pagelets", "error"}
    if unknown:
        raise PageError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    mode = doc.get("mode", "arrival")
    if mode not in MODES:
        raise PageError(f"{where}: mode {mode!r} must be one of {', '.join(MODES)}")
    error = doc.get("error", DEFAULT_ERROR)
    if not isinstance(error, str):
        raise PageError(f"{where}: error must be an HTML string")
    items = doc.get("pagelets")
    if not isinstance(items, list) or not items:
        raise PageError(f"{where}: pagelets must be a non-empty list")
    pagelets = tuple(_pagelet(item, where) for item in items)
    ids = [p.id for p in pagelets]
    for pid in ids:
        if ids.count(pid) > 1:
            raise PageError(f"{where}: pagelet {pid!r} is declared twice")
    template = parse_template(template_text, f"{where}: template")
    placeholders = template.placeholder_ids
    for pid in ids:
        if pid not in placeholders:
            raise PageError(f'{where}: pagelet {pid!r} has no <div data-pagelet="{pid}"></div> in the template')
    for pid in placeholders:
        if pid not in ids:
            raise PageError(f"{where}: the template's placeholder {pid!r} is not a declared pagelet")
    return Page(where, template, pagelets, mode, error)


def load_page(path):
    """Read a page file and its template (relative to the page file) into a Page."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise PageError(f"page file {path}: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("template"), str) or not doc["template"]:
        raise PageError(f"page file {path}: needs \"template\": the template's path")
    template_path = os.path.join(os.path.dirname(os.path.abspath(path)), doc["template"])
    try:
        with open(template_path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, ValueError) as e:
        raise PageError(f"page file {path}: template {template_path}: {e}") from None
    return parse_page(doc, text, f"page file {path}")
