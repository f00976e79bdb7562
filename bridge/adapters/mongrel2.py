"""An HTTP request as a Mongrel2 handler message, headers exactly as Mongrel2 1.12 sends them.

Mongrel2 (src/request.c, src/connection.c) puts PATH first, overwrites the client's
x-forwarded-for with the peer address, lower-cases client header names, turns a repeated
header into a list, and appends its own upper-case headers after the client's, so a client
cannot spoof METHOD and friends (manual, Rule 5). Captured from mongrel2 1.12.2:

    {"PATH":"/h/foo","x-forwarded-for":"127.0.0.1","accept":"*/*","x-a":["1","2"],...,
     "METHOD":"GET","VERSION":"HTTP/1.1","URI":"/h/foo?x=1","QUERY":"x=1","PATTERN":"/h",
     "URL_SCHEME":"http","REMOTE_ADDR":"127.0.0.1"}

Pure. Called by bridge.backends.mongrel2.
"""
from bridge import m2wire


def request_headers(req, pattern, remote_addr, scheme="http"):
    """The header dict Mongrel2 would send for ``req`` (a bridge.http11.Request)."""
    headers = {"PATH": req.path, "x-forwarded-for": remote_addr}
    for name, value in req.headers:
        if name == "x-forwarded-for":           # clobbered, as Mongrel2 does by default
            continue
        old = headers.get(name)
        if old is None:
            headers[name] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            headers[name] = [old, value]
    headers["METHOD"] = req.method
    headers["VERSION"] = req.version
    headers["URI"] = req.target
    if req.query:
        headers["QUERY"] = req.query
    if req.fragment:
        headers["FRAGMENT"] = req.fragment
    headers["PATTERN"] = pattern
    headers["URL_SCHEME"] = scheme
    headers["REMOTE_ADDR"] = remote_addr
    return headers


def request_message(sender, conn_id, req, pattern, remote_addr, protocol="json", scheme="http"):
    """The bytes to PUSH to a handler for ``req`` on connection ``conn_id``."""
    headers = request_headers(req, pattern, remote_addr, scheme)
    return m2wire.encode_request(sender, conn_id, req.path, headers, req.body, protocol)
