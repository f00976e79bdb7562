"""Call a WSGI app for a parsed request (PEP 3333) and hand back status, headers and body.

Only the gateway half the connection loop needs: build the environ, run the app, collect
what it returns. Pure apart from what the app itself does; used by bridge.front.connection.
"""
import io
import sys
from urllib.parse import unquote_to_bytes

from bridge.http11 import chunk as chunk_of, response_head

__all__ = ["make_environ", "call", "collect", "frame_response"]


def make_environ(req, script_name, path_info, server_address, remote_address, scheme="http"):
    """The environ for ``req`` (a bridge.http11.Request). ``path_info`` is percent-decoded."""
    environ = {
        "REQUEST_METHOD": req.method,
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": req.query,
        "SERVER_NAME": str(server_address[0]),
        "SERVER_PORT": str(server_address[1]),
        "SERVER_PROTOCOL": req.version,
        "REMOTE_ADDR": remote_address[0],
        "REMOTE_PORT": str(remote_address[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(req.body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in req.headers:
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name == "content-length":
            environ["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = environ[key] + "," + value if key in environ else value
    if req.body and "CONTENT_LENGTH" not in environ:
        environ["CONTENT_LENGTH"] = str(len(req.body))    # a chunked body, already decoded
    return environ


def call(app, environ):
    """Run ``app``; return (status code, [(name, value)], iterable of bytes, close callable)."""
    started = {}

    def start_response(status, headers, exc_info=None):
        if exc_info and started:
            raise exc_info[1].with_traceback(exc_info[2])
        started["status"], started["headers"] = status, headers
        return lambda data: started.setdefault("written", []).append(data)

    result = app(environ, start_response)
    body = iter(result)
    first = []
    if "status" not in started:                 # apps may call start_response lazily
        for chunk in body:
            first.append(chunk)
            if "status" in started:
                break
    written = started.get("written", [])
    chunks = _chain(written + first, body)
    status = int(started["status"].split(" ", 1)[0])
    close = getattr(result, "close", lambda: None)
    return status, list(started["headers"]), chunks, close


def collect(app, req, script_name, remote_addr, server_address=("127.0.0.1", 0)):
    """Run ``app`` for ``req`` and return ``(status, whole body)`` (a browser's request op)."""
    path_info = unquote_to_bytes(req.path[len(script_name):]).decode("latin-1")
    environ = make_environ(req, script_name, path_info, server_address, (remote_addr, 0))
    status, _headers, chunks, close = call(app, environ)
    try:
        return status, b"".join(chunks)
    finally:
        close()


def frame_response(req, status, headers, chunks, date, single_send=256 * 1024):
    """Frame what a WSGI app returned: ``(keep_alive, pieces)``, the bytes to send in order.

    Up to ``single_send`` bytes of body go out with the head in one piece (Content-Length
    when that is the whole body); a longer body without a Content-Length is chunked for
    HTTP/1.1 and ends the connection for HTTP/1.0. The app's own Connection and
    Transfer-Encoding headers are dropped: framing is the server's. Pure apart from
    iterating ``chunks``.
    """
    body, size = [], 0
    exhausted = True
    for part in chunks:
        if part:
            body.append(part)
            size += len(part)
        if size > single_send:
            exhausted = False
            break
    names = {k.lower() for k, _ in headers}
    headers = [(k, v) for k, v in headers if k.lower() not in ("connection", "transfer-encoding")]
    keep = req.keep_alive
    chunked = False
    if "content-length" not in names:
        if exhausted:
            headers.append(("Content-Length", str(size)))
        elif req.version == "HTTP/1.1":
            headers.append(("Transfer-Encoding", "chunked"))
            chunked = True
        else:
            keep = False
    if "date" not in names:
        headers.insert(0, ("Date", date))
    if not keep:
        headers.append(("Connection", "close"))
    elif req.version == "HTTP/1.0":
        headers.append(("Connection", "keep-alive"))
    head = response_head(status, headers)
    if req.method == "HEAD" or status in (204, 304):
        return keep, iter((head,))
    if chunked:
        return keep, _chunked(head + chunk_of(b"".join(body)), chunks)
    return keep, _chain([head + b"".join(body)], chunks)


def _chunked(first, rest):
    yield first
    for part in rest:
        if part:
            yield chunk_of(part)
    yield b"0\r\n\r\n"


def _chain(head, rest):
    yield from head
    yield from rest
