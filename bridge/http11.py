"""HTTP/1.1 for the bridge's front: request parsing and response framing, bytes in, bytes out.

RequestParser turns the bytes a browser sends into Request events (RFC 9112): the request
line, the header block (at most ``max_header_bytes``, else 431), and the whole body, by
Content-Length or chunked (at most ``max_body_bytes``, else 413, decided from the
Content-Length before any body is read). Conflicting framing (both Content-Length and
Transfer-Encoding, differing lengths) is refused with 400, as request smuggling defences
require. ResponseTracker watches the raw bytes a Mongrel2 handler writes and says when one
response is complete, so the connection can be kept alive. ``response_head`` builds a head.

Pure: no sockets, no gevent, no clocks. Bad input raises HTTPError(status, reason) and
nothing else. Driven by bridge.front.connection.
"""
import re
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import unquote_to_bytes

__all__ = ["HTTPError", "Request", "RequestParser", "ResponseTracker", "ChunkedDecoder", "NEED_DATA",
           "response_head", "reason_phrase", "error_body", "chunk", "whole_response"]

NEED_DATA = None

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_VERSION = re.compile(rb"HTTP/1\.[01]\Z")
_HEX = re.compile(rb"[0-9A-Fa-f]+\Z")
_ABSOLUTE = re.compile(r"(?i)(https?)://([^/?#]*)(.*)\Z")

# The same rules as RequestParser._parse_lines, for a head read as latin-1 with its CRLFs made
# LFs: a request line and header lines that pass every check, matched by three regular
# expressions instead of a dozen operations per line. Measured per request, from bytes in to
# a Request: wrk's two-line head 6.5 us instead of 10.8 us, a browser's twelve lines 14.5 us
# instead of 29 us. A head they do not match goes through _parse_lines, which says what is wrong.
_TCHAR = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_REQUEST_LINE = re.compile(rf"({_TCHAR}+) ([^\x00-\x20\x7f]+) (HTTP/1\.[01])")
_FIELD_LINES = re.compile(rf"{_TCHAR}+:[^\x00\r\n]*(?:\n{_TCHAR}+:[^\x00\r\n]*)*")
_FIELD = re.compile(rf"({_TCHAR}+):[ \t]*([^\x00\r\n]*)\n?")      # the value still to rstrip
# Header names that frame the body or the connection (RequestParser._frame reads only these).
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "host", "expect"})


class HTTPError(Exception):
    """The peer broke HTTP; ``status`` is what we answer (400, 413, 431, 501, 505...)."""

    def __init__(self, status, reason):
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


@dataclass
class Request:
    """One complete request. Header names are lower-cased str; values str (latin-1)."""

    method: str
    target: str             # as sent: path plus ?query
    version: str            # "HTTP/1.1" or "HTTP/1.0"
    headers: list           # [(name, value)] in arrival order, names lower-cased
    body: bytes = b""
    keep_alive: bool = True

    # Split once from the target: the connection, routing and the Mongrel2 headers all read them.
    path: str = field(init=False, repr=False, compare=False)
    query: str = field(init=False, repr=False, compare=False)
    fragment: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        rest, _, self.fragment = self.target.partition("#")
        self.path, _, self.query = rest.partition("?")

    def header(self, name, default=None):
        """The last value of header ``name`` (lower-case), or ``default``."""
        for key, value in reversed(self.headers):
            if key == name:
                return value
        return default

    def decoded_path(self):
        """The path, percent-decoded (as WSGI's PATH_INFO: bytes read as latin-1)."""
        return unquote_to_bytes(self.path).decode("latin-1")


def reason_phrase(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def error_body(status, why):
    """The plain-text body of every error the bridge answers: ``503 Service Unavailable: why``."""
    return f"{status} {reason_phrase(status)}: {why}\n".encode("utf-8", "replace")


def chunk(data):
    """One chunk of a chunked response body (RFC 9112 §7.1); empty data gives nothing, so a
    caller can never end the body by accident (the terminator is b"0\r\n\r\n")."""
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


def response_head(status, headers, version="HTTP/1.1"):
    """Serialise a status line and headers (``[(name, value)]``) with the final CRLF."""
    lines = [f"{version} {status} {reason_phrase(status)}\r\n"]
    lines.extend(f"{k}: {v}\r\n" for k, v in headers)
    lines.append("\r\n")
    return "".join(lines).encode("latin-1")


class ChunkedDecoder:
    """The chunked transfer coding (RFC 9112 7.1), incremental, for every reader of it: request
    bodies (RequestParser), Mongrel2 handlers' responses (ResponseTracker only needs to know
    where they end) and responses collected for a request op (bridge.front.subrequest).

    ``feed(bytes)`` returns the data decoded from them (maybe b""); ``done`` is True once the
    last chunk and its trailers are in, and whatever came after them is ``unused``. Raises
    HTTPError: 400 for bad framing, 413 past ``max_body`` bytes of data, 431 for trailers over
    ``max_trailer_bytes``; the decoder is then broken.
    """

    _SIZE, _DATA, _CRLF, _TRAILER = range(4)

    def __init__(self, max_body=None, max_trailer_bytes=16384):
        self.max_body = max_body
        self.max_trailer_bytes = max_trailer_bytes
        self.size = 0                   # data bytes decoded so far
        self.done = False
        self.unused = b""
        self._buf = bytearray()
        self._state = self._SIZE
        self._remaining = 0
        self._trailer_bytes = 0

    def feed(self, data):
        buf = self._buf
        buf += data
        out = []
        while not self.done:
            state = self._state
            if state == self._DATA:
                take = min(self._remaining, len(buf))
                if take:
                    out.append(bytes(buf[:take]))
                    del buf[:take]
                    self._remaining -= take
                if self._remaining:
                    break
                self._state = self._CRLF
            elif state == self._SIZE:
                line = self._line(1024, "chunk size line")
                if line is None:
                    break
                size = line.split(b";", 1)[0].strip(b" \t")
                if not _HEX.match(size) or len(size) > 16:
                    raise HTTPError(400, f"bad chunk size {bytes(size[:20])!r}")
                self._remaining = int(size, 16)
                self.size += self._remaining
                if self.max_body is not None and self.size > self.max_body:
                    raise HTTPError(413, f"chunked body exceeds {self.max_body} bytes")
                self._state = self._DATA if self._remaining else self._TRAILER
            elif state == self._CRLF:
                if buf[:2] != b"\r\n"[:len(buf)]:
                    raise HTTPError(400, "chunk data not followed by CRLF")
                if len(buf) < 2:
                    break
                del buf[:2]
                self._state = self._SIZE
            else:
                line = self._line(self.max_trailer_bytes, "trailer")
                if line is None:
                    break
                self._trailer_bytes += len(line) + 2
                if self._trailer_bytes > self.max_trailer_bytes:
                    raise HTTPError(431, "trailers too large")
                if not line:
                    self.done = True
                    self.unused = bytes(buf)
                    buf.clear()
        return b"".join(out)

    def _line(self, limit, what):
        buf = self._buf
        end = buf.find(b"\r\n")
        if end < 0:
            if len(buf) > limit:
                raise HTTPError(431 if what == "trailer" else 400, f"{what} too long")
            return None
        line = bytes(buf[:end])
        del buf[:end + 2]
        return line


def whole_response(req, status, body, headers, keep_alive):
    """A response with its whole body, as one bytes object: Content-Length, Connection as
    ``keep_alive`` and the request's version need, a plain-text Content-Type for a body that
    has none, and no body for HEAD, 204 and 304. ``req`` None: a request that never parsed."""
    head = [*headers, ("Content-Length", str(len(body)))]
    if not keep_alive:
        head.append(("Connection", "close"))
    elif req is not None and req.version == "HTTP/1.0":
        head.append(("Connection", "keep-alive"))
    if body and not any(k.lower() == "content-type" for k, _ in head):
        head.append(("Content-Type", "text/plain; charset=utf-8"))
    payload = response_head(status, head)
    if (req is None or req.method != "HEAD") and status not in (204, 304):
        payload += body
    return payload


class _State:
    HEAD, BODY, CHUNKED, ERROR = range(4)


class RequestParser:
    """Incremental request parser: ``receive_data(bytes)``, then ``next_event()``.

    ``next_event()`` returns a Request, or NEED_DATA (None) when more bytes are needed, or
    raises HTTPError; after an error the parser stays broken. Bytes after a complete request
    (pipelining) stay buffered for the next call. ``expect_continue`` is True once a head with
    ``Expect: 100-continue`` is in and its body has not started: the caller writes the 100.
    """

    def __init__(self, max_header_bytes=16384, max_body_bytes=8 * 1024 * 1024):
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self._buf = bytearray()
        self._state = _State.HEAD
        self._req = None
        self._body = bytearray()
        self._remaining = 0
        self._chunks = None             # ChunkedDecoder of a chunked body in progress
        self.expect_continue = False

    @property
    def buffered(self):
        """Bytes received but not yet consumed by a request."""
        return len(self._buf)

    @property
    def in_progress(self):
        """True when part of a request has arrived (the head has started, or the body)."""
        if self._state == _State.HEAD:
            return bool(self._buf.lstrip(b"\r\n"))
        return True

    @property
    def in_body(self):
        return self._state not in (_State.HEAD, _State.ERROR)

    def receive_data(self, data):
        self._buf += data

    def take_buffered(self):
        """Hand over the bytes received after the last request (a switch to WebSocket)."""
        data, self._buf = bytes(self._buf), bytearray()
        return data

    def next_event(self):
        if self._state == _State.ERROR:
            raise HTTPError(400, "parser already failed")
        try:
            return self._next()
        except HTTPError:
            self._state = _State.ERROR
            raise

    # -- internals

    def _next(self):
        if self._state == _State.HEAD:
            if not self._parse_head():
                return NEED_DATA
        if self._state == _State.BODY:
            if self._remaining:
                take = min(self._remaining, len(self._buf))
                self._take_body(take)
                self._remaining -= take
                if self._remaining:
                    return NEED_DATA
            return self._finish()
        # _State.CHUNKED: everything buffered goes to the decoder; what follows the body
        # (a pipelined request) comes back as ``unused``.
        data = self._chunks.feed(self._buf)
        self._buf = bytearray()
        if data:
            self._body += data
        if not self._chunks.done:
            return NEED_DATA
        self._buf = bytearray(self._chunks.unused)
        return self._finish()

    def _take_body(self, n):
        self._body += self._buf[:n]
        del self._buf[:n]

    def _finish(self):
        req, self._req = self._req, None
        if self._body:
            req.body = bytes(self._body)
            self._body = bytearray()
        self._state = _State.HEAD
        self._chunks = None
        self.expect_continue = False
        return req

    def _parse_head(self):
        buf = self._buf
        if not buf:
            return False
        # RFC 9112 2.2: a server SHOULD ignore at least one empty line received before the
        # request-line.
        if buf[0] == 13 or buf[0] == 10:        # CR, LF
            while buf[:2] == b"\r\n":
                del buf[:2]
            while buf[:1] == b"\n":
                del buf[:1]
        end = buf.find(b"\r\n\r\n")
        sep = 4
        bare = buf.find(b"\n\n")
        if bare >= 0 and (end < 0 or bare < end):
            end, sep = bare, 2
        if end < 0:
            if len(buf) > self.max_header_bytes:
                raise HTTPError(431, f"request head exceeds {self.max_header_bytes} bytes")
            return False
        if end + sep > self.max_header_bytes:
            raise HTTPError(431, f"request head exceeds {self.max_header_bytes} bytes")
        head = buf[:end].decode("latin-1").replace("\r\n", "\n")
        del buf[:end + sep]
        self._req = self._build(head)
        return True

    def _build(self, head):
        request_line, _, fields = head.partition("\n")
        line = _REQUEST_LINE.fullmatch(request_line)
        if line is not None and (not fields or _FIELD_LINES.fullmatch(fields)):
            method, target, version = line.groups()
            headers = [(name.lower(), value.rstrip(" \t")) for name, value in _FIELD.findall(fields)]
        else:
            method, target, version, headers = self._parse_lines(head.encode("latin-1").split(b"\n"))
        authority = None
        if not target.startswith("/"):
            absolute = _ABSOLUTE.match(target)
            if absolute is not None:
                # RFC 9112 3.2.2: a server MUST accept the absolute-form, and then MUST ignore the
                # Host header field in favour of the target's authority.
                authority, rest = absolute.group(2), absolute.group(3)
                if not authority or "@" in authority:
                    raise HTTPError(400, f"bad authority in the request target {target[:80]!r}")
                target = rest if rest.startswith("/") else "/" + rest
        req = Request(method, target, version, headers)
        self._frame(req)
        if authority is not None:
            req.headers = [(k, v) for k, v in headers if k != "host"] + [("host", authority)]
        return req

    def _parse_lines(self, lines):
        """The head line by line, saying what is wrong (the fast path's regexes refused it)."""
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise HTTPError(400, f"bad request line {lines[0][:80]!r}")
        method, target, version = parts
        if not _TOKEN.match(method):
            raise HTTPError(400, f"bad method {method[:20]!r}")
        if not _VERSION.match(version):
            if version.startswith(b"HTTP/"):
                raise HTTPError(505, f"unsupported version {version[:20]!r}")
            raise HTTPError(400, f"bad request line {lines[0][:80]!r}")
        if any(c < 0x21 or c == 0x7F for c in target):
            raise HTTPError(400, "control character in the request target")
        headers = []
        for line in lines[1:]:
            if line[:1] in (b" ", b"\t"):
                raise HTTPError(400, "obsolete line folding in headers")
            name, colon, value = line.partition(b":")
            if not colon or not _TOKEN.match(name):
                raise HTTPError(400, f"bad header line {line[:60]!r}")
            value = value.strip(b" \t")
            if b"\0" in value or b"\r" in value:
                raise HTTPError(400, f"bad character in header {name[:40]!r}")
            headers.append((name.decode("ascii").lower(), value.decode("latin-1")))
        return method.decode("ascii"), target.decode("latin-1"), version.decode("ascii"), headers

    def _frame(self, req):
        lengths, codings, connection, hosts, expect = set(), [], [], 0, ""
        for k, v in req.headers:
            if k in _FRAMING:
                if k == "content-length":
                    lengths.add(v.strip())
                elif k == "transfer-encoding":
                    codings.append(v)
                elif k == "connection":
                    connection.append(v)
                elif k == "host":
                    hosts += 1
                else:
                    expect = v                  # the last one, as Request.header() gives it
        tokens = {t.strip() for t in ",".join(connection).lower().split(",")} if connection else ()
        if req.version == "HTTP/1.1":
            req.keep_alive = "close" not in tokens
        else:
            req.keep_alive = "keep-alive" in tokens and "close" not in tokens
        if req.version == "HTTP/1.1" and not hosts:
            raise HTTPError(400, "HTTP/1.1 request without Host")
        # RFC 9112 §3.2: 400 for more than one Host line (proxies and backends may pick
        # different ones: a routing and cache-poisoning confusion).
        if hosts > 1:
            raise HTTPError(400, "more than one Host header")
        if codings:
            if lengths:
                raise HTTPError(400, "both Content-Length and Transfer-Encoding")
            chain = [c.strip().lower() for v in codings for c in v.split(",")]
            if chain != ["chunked"]:
                raise HTTPError(501, f"unsupported transfer coding {','.join(chain)!r}")
            if req.version != "HTTP/1.1":
                raise HTTPError(400, "Transfer-Encoding in an HTTP/1.0 request")
            self._state = _State.CHUNKED
            self._chunks = ChunkedDecoder(self.max_body_bytes, self.max_header_bytes)
        elif lengths:
            if len(lengths) > 1:
                raise HTTPError(400, "conflicting Content-Length headers")
            (text,) = lengths
            if not text.isdigit() or not text.isascii() or len(text) > 18:
                raise HTTPError(400, f"bad Content-Length {text[:20]!r}")
            n = int(text)
            if n > self.max_body_bytes:
                raise HTTPError(413, f"body of {n} bytes exceeds {self.max_body_bytes}")
            self._remaining = n
            self._state = _State.BODY
        else:
            self._remaining = 0
            self._state = _State.BODY
        expectations = [m.strip().lower() for m in expect.split(",") if m.strip()]
        if any(m != "100-continue" for m in expectations):
            # RFC 9110 10.1.1: 100-continue is the only expectation defined; others get 417.
            raise HTTPError(417, f"unsupported expectation {expect[:40]!r} (only 100-continue)")
        wants_body = self._state != _State.BODY or self._remaining > 0
        self.expect_continue = (wants_body and req.version == "HTTP/1.1"
                                and "100-continue" in expectations)


class ResponseTracker:
    """Follows the raw bytes of one HTTP response to tell when it is complete.

    A Mongrel2 handler writes whole HTTP responses itself, in any number of pieces. Feed every
    piece to ``feed()``; it returns True once the response is complete: after Content-Length
    body bytes, after the last chunk and trailers, or at once for 204/304 and HEAD. A response
    with neither framing ends only when the handler closes the connection; so does anything
    that does not parse as a response (we never alter the bytes, only watch them). ``status``
    is the final status code once seen; ``keep_alive`` is False when the response asked to
    close. A 101 means the connection has switched protocols and never completes.
    """

    def __init__(self, head_request=False, max_head_bytes=65536):
        self.head_request = head_request
        self.max_head_bytes = max_head_bytes
        self.status = None
        self.keep_alive = True
        self.done = False
        self.upgraded = False
        self.until_close = False
        self._buf = bytearray()
        self._mode = "head"
        self._remaining = 0
        self._chunks = None

    def feed(self, data):
        if self.done or self.until_close or self.upgraded:
            return self.done
        if not self._buf:
            # Nothing half-parsed, as for most pieces: a whole head is read straight from
            # ``data`` and body bytes are only counted, without a trip through the buffer
            # (a response in one piece: 290 bytecodes instead of 430).
            if self._mode == "head":
                end = data.find(b"\r\n\r\n")
                if end >= 0 and data.startswith(b"HTTP/"):
                    self._head(bytes(data[:end]))
                    data = data[end + 4:]
                    if self.done or self.until_close or self.upgraded:
                        return self.done
            if self._mode == "length":
                if len(data) < self._remaining:
                    self._remaining -= len(data)
                    return False
                self._remaining = 0
                self.done = True
                return True
        self._buf += data
        while not (self.done or self.until_close or self.upgraded):
            if not self._step():
                break
        if self.until_close or self.upgraded or self.done:
            self._buf.clear()
        return self.done

    def _step(self):
        mode = self._mode
        if mode == "head":
            if self._buf[:5] != b"HTTP/"[:len(self._buf)]:
                self.until_close = True            # not a response head: just pass it through
                return False
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > self.max_head_bytes:
                    self.until_close = True
                return False
            head = bytes(self._buf[:end])
            del self._buf[:end + 4]
            self._head(head)
            return True
        if mode == "length":
            take = min(self._remaining, len(self._buf))
            del self._buf[:take]
            self._remaining -= take
            if not self._remaining:
                self.done = True
            return not self._remaining
        if mode == "chunked":
            try:
                self._chunks.feed(self._buf)
            except HTTPError:
                self.until_close = True         # not our bytes to judge: pass the rest through
                return False
            self._buf.clear()
            self.done = self._chunks.done
            return False
        return False

    def _head(self, head):
        status_line, _, fields = head.partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            self.until_close = True
            return
        status = int(parts[1])
        if 100 <= status < 200 and status != 101:
            return                              # informational: the real response follows
        self.status = status
        if status == 101:
            self.upgraded = True
            return
        connection, coding, length = [], [], None
        low = head.lower()
        at = low.find(b"\r\ncontent-length:")
        if (at >= 0 and b"connection" not in low and b"transfer-encoding" not in low
                and low.count(b"content-length") == 1):
            # Most responses: one Content-Length line and no Connection or Transfer-Encoding
            # anywhere, so the line-by-line loop below would find just that line.
            end = head.find(b"\r\n", at + 17)
            length = head[at + 17:end if end >= 0 else len(head)].strip()
        elif fields:
            for line in fields.split(b"\r\n"):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = value.strip()      # the last one counts
                elif name == b"connection":
                    connection.append(value.strip())
                elif name == b"transfer-encoding":
                    coding.append(value.strip())
        if connection:
            tokens = {t.strip() for t in b",".join(connection).lower().split(b",")}
            if b"close" in tokens or (parts[0] == b"HTTP/1.0" and b"keep-alive" not in tokens):
                self.keep_alive = False
        elif parts[0] == b"HTTP/1.0":
            self.keep_alive = False
        if self.head_request or status in (204, 304):
            self.done = True
        elif coding and b"chunked" in b",".join(coding).lower():
            self._mode = "chunked"
            self._chunks = ChunkedDecoder()
        elif length is not None:
            if not length.isdigit():
                self.until_close = True
                return
            self._remaining = int(length)
            self._mode = "length"
            self.done = self._remaining == 0
        else:
            self.until_close = True
