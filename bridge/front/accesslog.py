"""The access log: one line per answered request, in the common log format or as JSON.

Common (as Apache, nginx and Mongrel2 write it)::

    127.0.0.1 - - [06/Dec/2026:07:16:02 +0000] "GET /api/x?y=1 HTTP/1.1" 200 57 0.0012 "/api/"

with the response's bytes on the wire (head included), then two fields of the bridge's own:
the seconds from the complete request to the end of the response, and the route. JSON: one
object per line, ``{"time", "remote", "method", "target", "version", "status", "bytes",
"seconds", "route"}``. A request the bridge refused before it was complete (400, 408, 413,
431...) is logged with the reason instead of a request line. WebSocket and SSE requests are
logged when they are answered (101, 200), not when they end.

Written to stderr (``-``) or appended to a file, line-buffered, from the connection loop: a
failing write is reported once and then dropped, never raised into a request.
"""
import json
import logging
import sys
import time

__all__ = ["AccessLog", "FORMATS"]

log = logging.getLogger("bridge.access")

FORMATS = ("common", "json")


class AccessLog:
    def __init__(self, destination="-", fmt="common"):
        if fmt not in FORMATS:
            raise ValueError(f"access log format {fmt!r} must be one of {FORMATS}")
        self.format = fmt
        self.destination = destination
        self._own = destination != "-"
        self.stream = open(destination, "a", buffering=1, encoding="utf-8") if self._own else sys.stderr
        self._failed = False

    def close(self):
        if self._own:
            self.stream.close()

    def write(self, remote, req, status, size, seconds, route):
        now = time.time()
        if self.format == "json":
            line = json.dumps({"time": _iso(now), "remote": remote, "method": req.method,
                               "target": req.target, "version": req.version, "status": status,
                               "bytes": size, "seconds": round(seconds, 6), "route": route},
                              ensure_ascii=False)
        else:
            line = (f'{remote} - - [{_clf(now)}] "{_quote(req.method)} {_quote(req.target)} '
                    f'{req.version}" {status} {size} {seconds:.4f} "{_quote(route)}"')
        self._emit(line)

    def write_invalid(self, remote, status, reason):
        """A request refused before it was complete: no request line to log."""
        now = time.time()
        if self.format == "json":
            line = json.dumps({"time": _iso(now), "remote": remote, "status": status, "error": reason})
        else:
            line = f'{remote} - - [{_clf(now)}] "-" {status} - - "{_quote(reason)}"'
        self._emit(line)

    def _emit(self, line):
        try:
            self.stream.write(line + "\n")
        except (OSError, ValueError) as e:
            if not self._failed:
                self._failed = True
                log.error("access log %s: %s (further lines dropped)", self.destination, e)


def _clf(now):
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))


def _iso(now):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def _quote(text):
    """No quote, backslash or control character can break a common-format line."""
    return "".join(c if c.isprintable() and c not in '"\\' else f"\\x{ord(c):02x}" for c in str(text))
