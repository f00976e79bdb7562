"""An HTTP request as a Mongrel2 handler message, headers exactly as Mongrel2 1.12 sends them.

Mongrel2 (src/request.c, src/connection.c) puts PATH first, overwrites the client's
x-forwarded-for with the peer address, lower-cases client header names, turns a repeated
header into a list, and appends its own upper-case headers after the client's, so a client
cannot spoof METHOD and friends (manual, Rule 5). Captured from mongrel2 1.12.2:

    {"PATH":"/h/foo","x-forwarded-for":"127.0.0.1","accept":"*/*","x-a":["1","2"],...,
     "METHOD":"GET","VERSION":"HTTP/1.1","URI":"/h/foo?x=1","QUERY":"x=1","PATTERN":"/h",
     "URL_SCHEME":"http","REMOTE_ADDR":"127.0.0.1"}

Mongrel2 copies the client's bytes into the message as they came (a UTF-8 header value is
UTF-8 inside the JSON). bridge.http11 reads the head as latin-1 and m2wire writes str as UTF-8
(with surrogateescape), so non-ASCII text is re-read here as UTF-8 with surrogateescape: the
handler gets the client's bytes, not each byte above 0x7f UTF-8-encoded again.

Pure. Called by bridge.backends.mongrel2.
"""
from bridge import m2wire


def wire_text(text):
    """``text`` read as latin-1 (one char per byte), as m2wire writes those same bytes back."""
    if text.isascii():
        return text
    return text.encode("latin-1").decode("utf-8", "surrogateescape")


def request_headers(req, pattern, remote_addr, scheme="http", extra=None):
    """The header dict Mongrel2 would send for ``req`` (a bridge.http11.Request); ``extra``
    (Mongrel2's own lower-case headers, x-mongrel2-upload-*) goes after the client's."""
    headers = {"PATH": wire_text(req.path), "x-forwarded-for": remote_addr}
    for name, value in req.headers:
        value = wire_text(value)
        if name == "x-forwarded-for":           # clobbered, as Mongrel2 does by default
            continue
        old = headers.get(name)
        if old is None:
            headers[name] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            headers[name] = [old, value]
    if extra:
        headers.update(extra)
    headers["METHOD"] = req.method
    headers["VERSION"] = req.version
    headers["URI"] = wire_text(req.target)
    if req.query:
        headers["QUERY"] = wire_text(req.query)
    if req.fragment:
        headers["FRAGMENT"] = wire_text(req.fragment)
    headers["PATTERN"] = pattern
    headers["URL_SCHEME"] = scheme
    headers["REMOTE_ADDR"] = remote_addr
    return headers


def request_message(sender, conn_id, req, pattern, remote_addr, protocol="json", scheme="http"):
    """The bytes to PUSH to a handler for ``req`` on connection ``conn_id``."""
    headers = request_headers(req, pattern, remote_addr, scheme)
    return m2wire.encode_request(sender, conn_id, headers["PATH"], headers, req.body, protocol)


def upload_messages(sender, conn_id, req, pattern, remote_addr, path, protocol="json", scheme="http"):
    """The two messages of a Mongrel2 file upload whose body is already in the file ``path``:
    x-mongrel2-upload-start alone, then with x-mongrel2-upload-done; both with empty bodies.

    A chunked upload's done message carries the stored length as ``content-length``, as the
    handlers written for Mongrel2 read it (its examples/http_0mq/upload.py does
    ``req.headers['content-length']``, a KeyError without it)."""
    started = {"x-mongrel2-upload-start": path}
    done = {"x-mongrel2-upload-done": path, **started}
    if req.header("content-length") is None:
        done["content-length"] = str(len(req.body))
    return [m2wire.encode_request(sender, conn_id, wire_text(req.path),
                                  request_headers(req, pattern, remote_addr, scheme, extra), b"",
                                  protocol)
            for extra in (started, done)]
