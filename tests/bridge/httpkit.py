"""Test helpers for tests/bridge: a small blocking HTTP/1.1 client and process management.

The client is raw sockets on purpose: tests need to see exactly what the server sent (chunk by
chunk, on one keep-alive connection, or a connection cut mid-request). Every socket has a
timeout, so a step that hangs fails the test instead of blocking it. Processes started here are
killed by the fixture that started them.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers")


def free_port():
    """A loopback TCP port that was free a moment ago (for programs that need a number)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # [(lower-case name, value)]
        self.body = body

    def header(self, name, default=None):
        for k, v in reversed(self.headers):
            if k == name:
                return v
        return default

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:60]!r}>"


class Client:
    """One HTTP connection; ``request()`` sends, ``response()`` reads one answer."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, method, path, body=b"", headers=(), version="HTTP/1.1", host="localhost"):
        lines = [f"{method} {path} {version}", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in headers]
        if body or method in ("POST", "PUT"):
            if not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers):
                lines.append(f"Content-Length: {len(body)}")
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("server closed the connection")
        self.buf += data

    def read_until(self, marker):
        while marker not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(marker, 1)
        return head

    def read_exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_to_eof(self):
        try:
            while True:
                self._fill()
        except EOFError:
            data, self.buf = self.buf, b""
            return data

    def read_head(self):
        head = self.read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        while head[0].startswith("HTTP/1.1 100"):
            head = self.read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ")[1])
        headers = [(k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in head[1:])]
        return status, headers

    def read_chunk(self):
        """One chunk of a chunked body (b"" for the last chunk, after its trailers)."""
        size = int(self.read_until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            self.read_until(b"\r\n")
            return b""
        data = self.read_exact(size)
        self.read_exact(2)
        return data

    def response(self, method="GET"):
        status, headers = self.read_head()
        resp = Response(status, headers, b"")
        if method == "HEAD" or status in (204, 304):
            return resp
        if "chunked" in (resp.header("transfer-encoding") or ""):
            parts = []
            while True:
                part = self.read_chunk()
                if not part:
                    break
                parts.append(part)
            resp.body = b"".join(parts)
        elif resp.header("content-length") is not None:
            resp.body = self.read_exact(int(resp.header("content-length")))
        else:
            resp.body = self.read_to_eof()
        return resp

    def closed_by_server(self):
        """True once the server has closed its side (reads EOF)."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def fetch(port, method, path, body=b"", headers=(), timeout=5.0, host="localhost"):
    """One request on a fresh connection."""
    with Client(port, timeout) as c:
        c.request(method, path, body, headers, host=host)
        return c.response(method)


def wait_ready(port, path, deadline=15.0, ok=lambda r: r.status < 500, attempt_timeout=1.0):
    """Retry ``GET path`` until ``ok(response)``: handlers connect asynchronously.

    A handler's first replies may be lost while its PUB socket is still subscribing (the
    ZeroMQ slow-joiner case), so each attempt has its own short timeout.
    """
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        try:
            last = fetch(port, "GET", path, timeout=attempt_timeout)
            if ok(last):
                return last
        except (OSError, EOFError) as e:
            last = e
        time.sleep(0.05)
    raise AssertionError(f"GET {path} on port {port} never became ready: {last!r}")


class Process:
    """A child process whose stdout we can read line by line; killed by ``stop()``."""

    def __init__(self, args, cwd=None):
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   PYTHONUNBUFFERED="1")
        self.args = args
        self.proc = subprocess.Popen(args, cwd=cwd or REPO, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)

    def readline(self, timeout=15.0):
        """The next stdout line, or AssertionError if none comes in ``timeout`` seconds."""
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                raise AssertionError(f"{self.args[:3]}: no output within {timeout}s")
        finally:
            sel.close()
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().decode(errors="replace")
            raise AssertionError(f"{self.args[:3]} exited ({self.proc.wait()}): {err[-2000:]}")
        return line.decode().rstrip("\n")

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc.stdout.close()
        self.proc.stderr.close()


def python(*args):
    return [sys.executable, *args]


def peer(name, *args):
    return python(os.path.join(PEERS, name), *args)


class BridgeProcess(Process):
    """``python -m bridge`` with the given flags; ``.port`` and ``.info`` from its ready line."""

    def __init__(self, *flags):
        super().__init__(python("-m", "bridge", "--listen", "127.0.0.1:0", *flags))
        line = self.readline()
        assert line.startswith("bridge ready "), line
        self.info = json.loads(line[len("bridge ready "):])
        self.port = int(self.info["listen"].rsplit(":", 1)[1])

    def route(self, prefix):
        return next(r for r in self.info["routes"] if r["prefix"] == prefix)

    def metrics(self):
        text = fetch(self.port, "GET", "/_bridge/metrics").body.decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        return values


class PyzmqHandlerThread:
    """A Mongrel2 handler on real pyzmq in a thread: PULL from send_spec, PUB to recv_spec.
    Subclasses implement handle(raw_request_bytes); stopped with close()."""

    def __init__(self, zmq, ctx, send_spec, recv_spec):
        import threading
        self.pull, self.pub = ctx.socket(zmq.PULL), ctx.socket(zmq.PUB)
        for sock in (self.pull, self.pub):
            sock.setsockopt(zmq.LINGER, 0)
        self.pull.connect(send_spec)
        self.pub.connect(recv_spec)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            if self.pull.poll(50):
                self.handle(self.pull.recv())

    def handle(self, raw):
        raise NotImplementedError

    def reply(self, sender, conn_id, http_response):
        self.pub.send(sender + b" %d:%s, " % (len(conn_id), conn_id) + http_response)

    def close(self):
        self.stopping = True
        self.thread.join(5)

