"""The browser runtime (runtime.js) as bytes, with the URL the skeleton loads it from.

``URL`` carries a content hash (``/_bridge/bigpipe.js?v=...``), so a browser may keep the file
as long as it likes and a new bridge version is fetched afresh. Served by
bridge.front.app.internal_app; named in every skeleton by bridge.bigpipe.assembly.
"""
import hashlib
import os

__all__ = ["SOURCE", "VERSION", "PATH", "URL", "CONTENT_TYPE"]

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtime.js"), "rb") as _f:
    SOURCE = _f.read()

VERSION = hashlib.sha256(SOURCE).hexdigest()[:16]
PATH = "/_bridge/bigpipe.js"
URL = f"{PATH}?v={VERSION}"
CONTENT_TYPE = "application/javascript; charset=utf-8"
