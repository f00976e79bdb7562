"""Helpers for the BigPipe tests: pagelet backends we control, an in-process bridge, a raw client.

Everything runs in the test process on gevent, so a backend can block on an Event the test
holds (to prove the skeleton left before any pagelet replied) and the client reads the raw
chunked bytes as they come. The client uses gevent.socket: the suite runs unpatched, and a
stdlib socket would block the hub the bridge runs on. Every wait is bounded by the tests'
``deadline`` or by the socket timeout here.
"""
import json
import os
import re
import socket as stdlib_socket
from html.parser import HTMLParser
from types import SimpleNamespace

import gevent
from gevent import socket
from gevent.event import Event
from gevent.lock import Semaphore
from gevent.pool import Group

import gzmq as zmq
from bridge.config import Config, parse_route
from bridge.server import Bridge

PAYLOAD = re.compile(rb"<script>BigPipe\.(arrive|fail)\((\{.*?\})\)</script>")


def free_port():
    with stdlib_socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def payloads(data):
    """The BigPipe.arrive/fail documents in ``data``, in order: [(kind, doc)]."""
    return [(m.group(1).decode(), json.loads(m.group(2))) for m in PAYLOAD.finditer(data)]


class Backend:
    """A pagelet backend in this process: gzmq ROUTER on a free port, a greenlet per request.

    ``respond(request) -> reply`` may block (on an Event, gevent.sleep); it returns a dict
    (sent as JSON), bytes (sent as they are) or None (never answer). ``log`` collects
    ``name`` each time a reply is sent, so tests can compare against completion order.
    """

    def __init__(self, context, name, respond, log):
        self.name = name
        self.respond = respond
        self.log = log
        self.requests = []
        self.received = Event()
        self.sock = context.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind("tcp://127.0.0.1:*")
        self.endpoint = self.sock.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._lock = Semaphore()
        self._group = Group()
        self._loop = gevent.spawn(self._serve)

    def _serve(self):
        while True:
            frames = self.sock.recv_multipart()
            self._group.spawn(self._answer, frames)

    def _answer(self, frames):
        peer, request_id, _, payload = frames
        request = json.loads(payload)
        self.requests.append(request)
        self.received.set()
        reply = self.respond(request)
        if reply is None:
            return
        data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
        with self._lock:
            self.sock.send_multipart([peer, request_id, b"", data])
        self.log.append(self.name)

    def close(self):
        self._loop.kill()
        self._group.kill()
        self.sock.close()


def answer(html, css=(), js=(), gate=None, delay=0.0, status=200):
    """A respond() that waits for ``gate`` (an Event) and/or ``delay``, then answers ``html``."""

    def respond(request):
        if gate is not None:
            gate.wait()
        if delay:
            gevent.sleep(delay)
        return {"status": status, "body": html, "css": list(css), "js": list(js)}

    return respond


def never(request):
    """A respond() for a backend that takes the request and never answers."""
    return None


def default_template(ids, title="test page"):
    divs = "\n".join(f'<div data-pagelet="{pid}"></div>' for pid in ids)
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
            f"<body><h1>{title}</h1>\n{divs}\n<p>footer</p></body></html>\n")


class PageSite:
    """Backends, a page file and an in-process bridge serving it at /page/; ``close()`` ends all."""

    def __init__(self, directory, pagelets, mode="arrival", template=None, error=None, extra_routes=()):
        self.context = zmq.Context()
        self.log = []
        self.backends = {}
        self.bridge = None
        items = []
        try:
            for spec in pagelets:
                respond = spec.get("respond")
                if respond is None:                  # nobody ever binds this endpoint
                    endpoint = f"tcp://127.0.0.1:{free_port()}"
                else:
                    backend = Backend(self.context, spec["id"], respond, self.log)
                    self.backends[spec["id"]] = backend
                    endpoint = backend.endpoint
                item = {"id": spec["id"], "endpoints": [endpoint], "timeout": spec.get("timeout", 5.0),
                        "fallback": spec.get("fallback", f"<p>{spec['id']} fallback</p>"),
                        "required": spec.get("required", False)}
                items.append(item)
            directory.mkdir(parents=True, exist_ok=True)
            (directory / "page.html").write_text(template or default_template([p["id"] for p in pagelets]),
                                                 encoding="utf-8")
            doc = {"template": "page.html", "mode": mode, "pagelets": items}
            if error is not None:
                doc["error"] = error
            self.page_file = directory / "page.json"
            self.page_file.write_text(json.dumps(doc), encoding="utf-8")
            routes = [parse_route(f"/page/=page:{self.page_file}"), *extra_routes]
            self.bridge = Bridge(Config(listen=("127.0.0.1", 0), routes=routes))
            self.bridge.start()
            self.route = self.bridge.routes.routes[0]
            self.port = self.bridge.address[1]
            # Pagelet requests go out with DONTWAIT on DEALERs with IMMEDIATE set: wait until
            # each live backend is connected, or the first page would see it "unavailable".
            dealers = self.pagelet_backends()
            for pid in self.backends:
                if not dealers[pid].dealer.poll(5000, zmq.POLLOUT):
                    raise AssertionError(f"the bridge never connected to pagelet backend {pid}")
        except BaseException:
            self.close()
            raise

    def pagelet_backends(self):
        """The page route's req backends by pagelet id."""
        table, services = self.bridge.site.routing
        return {pid: service.backend for pid, service in services[self.route].pagelets.items()}

    def pending(self, pid):
        """Requests the bridge still waits for on pagelet ``pid``'s backend."""
        return len(self.pagelet_backends()[pid].pending)

    def close(self):
        if self.bridge is not None:
            self.bridge.stop()
        for backend in self.backends.values():
            backend.close()
        self.context.term()


class Client:
    """One HTTP connection to the bridge over gevent.socket, read as raw bytes."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def request(self, target, method="GET", headers=(), version="HTTP/1.1"):
        lines = [f"{method} {target} {version}", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the bridge closed the connection")
        self.buf += data

    def _until(self, marker):
        while marker not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_head(self):
        """(status, {lower-case name: value}) of the next response."""
        lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split(" ")[1]), headers

    def read_chunk(self):
        """The next chunk's data; b"" for the last chunk."""
        size = int(self._until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            self._until(b"\r\n")
            return b""
        data = self._exact(size)
        assert self._exact(2) == b"\r\n", "chunk data not followed by CRLF"
        return data

    def read_chunks(self):
        """Every remaining chunk of a chunked body (without the last, empty one)."""
        chunks = []
        while True:
            chunk = self.read_chunk()
            if not chunk:
                return chunks
            chunks.append(chunk)

    def read_to_eof(self):
        try:
            while True:
                self._fill()
        except EOFError:
            data, self.buf = self.buf, b""
            return data

    def response(self, method="GET"):
        status, headers = self.read_head()
        if method == "HEAD":
            body = b""
        elif headers.get("transfer-encoding") == "chunked":
            body = b"".join(self.read_chunks())
        elif "content-length" in headers:
            body = self._exact(int(headers["content-length"]))
        else:
            body = self.read_to_eof()
        return SimpleNamespace(status=status, headers=headers, body=body)

    def close(self):
        self.sock.close()


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_dom(chromium_bin, url, profile_dir, budget_ms=15000, timeout=90):
    """The DOM headless Chromium has after running ``url``'s scripts (``--dump-dom``).

    ``--virtual-time-budget`` makes the dump wait until the page is idle (virtual time does not
    advance while a response is still streaming). gevent.subprocess keeps the hub running, so
    a bridge in this process serves Chromium meanwhile.
    """
    from gevent import subprocess

    proc = subprocess.run([chromium_bin, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}",
                           f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    dom = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0 or "<html" not in dom:
        raise AssertionError(f"chromium failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}")
    return dom


class _Placeholders(HTMLParser):
    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.text = text
        self.lines = [0]
        for line in text.split("\n"):          # getpos() counts "\n" only (not U+2028 and co.)
            self.lines.append(self.lines[-1] + len(line) + 1)
        self.found = {}
        self._open = None                       # [id, attrs, inner start, div depth]

    def _offset(self):
        line, column = self.getpos()
        return self.lines[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if tag != "div":
            return
        if self._open is not None:
            self._open[3] += 1
        elif "data-pagelet" in dict(attrs):
            attrs = dict(attrs)
            self._open = [attrs["data-pagelet"], attrs, self._offset() + len(self.get_starttag_text()), 1]

    def handle_endtag(self, tag):
        if tag != "div" or self._open is None:
            return
        self._open[3] -= 1
        if self._open[3] == 0:
            pid, attrs, start, _ = self._open
            self.found[pid] = (attrs, self.text[start:self._offset()])
            self._open = None


def placeholders(html):
    """{pagelet id: (attributes, inner HTML)} for every ``data-pagelet`` div in ``html``."""
    parser = _Placeholders(html)
    parser.feed(html)
    parser.close()
    return parser.found


def chromium_without_javascript(chromium_bin, url, profile_dir, seconds=60):
    """Open ``url`` in headless Chromium with JavaScript off; follow it until a page whose URL
    has ``nojs=1`` has loaded. Returns (the URLs navigated to, that page's HTML).

    Drives Chromium over the DevTools protocol (websocket-client, blocking: the servers must
    be other processes): Emulation.setScriptExecutionDisabled, Page.navigate, then the DOM
    read with DOM.getOuterHTML, which needs no JavaScript in the page.
    """
    import subprocess
    import time
    import urllib.request

    import websocket

    port = free_port()
    end = time.monotonic() + seconds
    with open(os.path.join(profile_dir, "chromium.log"), "wb") as log:
        proc = subprocess.Popen([chromium_bin, *CHROMIUM_FLAGS, f"--user-data-dir={profile_dir}",
                                 f"--remote-debugging-port={port}", "about:blank"],
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2) as r:
                    target = next(t for t in json.load(r) if t["type"] == "page")
                break
            except (OSError, StopIteration):
                if time.monotonic() > end or proc.poll() is not None:
                    raise AssertionError("chromium's DevTools endpoint never came up") from None
                time.sleep(0.1)
        ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=max(1.0, end - time.monotonic()))
        events, ids = [], iter(range(1, 1 << 30))

        def call(method, **params):
            msg_id = next(ids)
            ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("id") == msg_id:
                    if "error" in msg:
                        raise AssertionError(f"{method}: {msg['error']}")
                    return msg["result"]
                events.append(msg)

        try:
            call("Emulation.setScriptExecutionDisabled", value=True)
            call("Page.enable")
            call("Page.navigate", url=url)
            urls, arrived = [], False
            while not arrived:
                if time.monotonic() > end:
                    raise AssertionError(f"no nojs=1 page loaded within {seconds}s; navigated to {urls}")
                msg = events.pop(0) if events else json.loads(ws.recv())
                if msg.get("method") == "Page.frameNavigated" and not msg["params"]["frame"].get("parentId"):
                    urls.append(msg["params"]["frame"]["url"])
                arrived = msg.get("method") == "Page.loadEventFired" and "nojs=1" in (urls or [""])[-1]
            root = call("DOM.getDocument")["root"]
            return urls, call("DOM.getOuterHTML", nodeId=root["nodeId"])["outerHTML"]
        finally:
            ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
