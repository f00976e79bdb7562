"""Call a WSGI app for a parsed request (PEP 3333) and hand back status, headers and body.

Only the gateway half the connection loop needs: build the environ, run the app, collect
what it returns. Pure apart from what the app itself does; used by bridge.front.connection.
"""
import io
import sys
from urllib.parse import unquote_to_bytes

__all__ = ["make_environ", "call", "collect"]


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


def _chain(head, rest):
    yield from head
    yield from rest
