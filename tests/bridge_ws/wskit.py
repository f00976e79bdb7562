"""Helpers for tests/bridge_ws: the bridge as a process, independent pyzmq peers, WebSocket clients.

Every peer here is independent of the code under test: pyzmq (libzmq) sockets for the
backends, websocket-client for browsers, raw sockets where exact bytes matter. Every
blocking call has a timeout, so a step that hangs fails its test.
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import websocket

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "bridge"))

from httpkit import Client, fetch, free_port  # noqa: E402  (re-exported)

__all__ = ["Client", "fetch", "free_port", "Bridge", "Publisher", "Sink", "recv_json", "recv_until",
           "recv_close", "send_json", "client_frame", "raw_upgrade", "read_server_frame", "REPO", "HERE"]


class Bridge:
    """``python -m bridge --listen 127.0.0.1:0 FLAGS``; stderr goes to a file (read by ``log()``)."""

    def __init__(self, *flags, listen="127.0.0.1:0"):
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   PYTHONUNBUFFERED="1")
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "bridge", "--listen", listen, *flags],
                                     cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=self.stderr,
                                     start_new_session=True)
        line = _readline(self.proc, 20.0)
        assert line.startswith("bridge ready "), line + self.log()
        self.info = json.loads(line[len("bridge ready "):])
        self.port = int(self.info["listen"].rsplit(":", 1)[1])

    def route(self, prefix):
        return next(r for r in self.info["routes"] if r["prefix"] == prefix)

    def url(self, path, scheme="ws"):
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def ws(self, path, **kwargs):
        kwargs.setdefault("timeout", 10)
        return websocket.create_connection(self.url(path), **kwargs)

    def metrics(self):
        values = {}
        for line in fetch(self.port, "GET", "/_bridge/metrics").body.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        return values

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc.stdout.close()
        self.stderr.close()


def _readline(proc, timeout):
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise AssertionError(f"no output within {timeout}s")
    finally:
        sel.close()
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(f"exited with {proc.wait()}")
    return line.decode().rstrip("\n")


def recv_json(ws):
    """The next text message as JSON (websocket-client answers pings by itself)."""
    opcode, data = ws.recv_data()
    assert opcode == websocket.ABNF.OPCODE_TEXT, (opcode, data)
    return json.loads(data)


def recv_until(ws, predicate, limit=10000):
    """Messages until one satisfies ``predicate``; returns (that one, the ones before)."""
    before = []
    for _ in range(limit):
        msg = recv_json(ws)
        if predicate(msg):
            return msg, before
        before.append(msg)
    raise AssertionError(f"no matching message in {limit}: {before[-3:]}")


def recv_close(ws):
    """Read until the server's close frame; returns (code, reason). Skips data and pings."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            if len(data) < 2:
                return None, ""
            return struct.unpack("!H", data[:2])[0], data[2:].decode("utf-8")


def send_json(ws, doc):
    ws.send(json.dumps(doc))


def client_frame(opcode, payload, fin=True, mask=b"\x11\x22\x33\x44", rsv=0, length=None):
    """A masked client frame, byte by byte (``length`` may lie about the payload size)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    if mask is None:
        return bytes([head[0], head[1] & 0x7F]) + head[2:] + payload
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def raw_upgrade(port, path, extra=(), timeout=10):
    """A raw socket after a successful handshake, and the bytes read past the 101 head."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", *extra]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        assert data, buf
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in head, head
    return sock, rest


def read_server_frame(sock, buf=b""):
    """One unmasked server frame from a raw socket: (opcode, payload, rest of buffer)."""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            data = sock.recv(65536)
            if not data:
                raise EOFError(f"closed with {len(buf)} of {n} bytes")
            buf += data

    need(2)
    opcode, n = buf[0] & 0x0F, buf[1] & 0x7F
    assert not buf[1] & 0x80, "server frames must not be masked"
    pos = 2
    if n == 126:
        need(4)
        n, pos = struct.unpack("!H", buf[2:4])[0], 4
    elif n == 127:
        need(10)
        n, pos = struct.unpack("!Q", buf[2:10])[0], 10
    need(pos + n)
    return opcode, buf[pos:pos + n], buf[pos + n:]


class Publisher:
    """A pyzmq XPUB bound where the bridge's SUB connects: sees subscriptions, publishes."""

    def __init__(self, zmq, ctx):
        self.zmq = zmq
        self.sock = ctx.socket(zmq.XPUB)
        self.sock.setsockopt(zmq.SNDHWM, 0)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{self.port}"

    def subscription(self, timeout=10.0):
        """The next subscription event: (True for subscribe / False for cancel, topic bytes)."""
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError(f"no subscription event within {timeout}s")
        event = self.sock.recv()
        return event[0] == 1, event[1:]

    def no_subscription_event(self, timeout):
        return not self.sock.poll(int(timeout * 1000))

    def send(self, *frames):
        self.sock.send_multipart(list(frames))

    def close(self):
        self.sock.close()


class Sink:
    """A pyzmq XSUB bound where the bridge's PUB connects, subscribed to everything.

    libzmq 4.3.5's bound SUB/XSUB does not send its subscriptions to a peer that connects
    later, so the subscription is sent once the bridge has connected (``ready``), and the
    bridge's PUB has processed it once a probe published through it arrives.
    """

    def __init__(self, zmq, ctx):
        self.zmq = zmq
        self.sock = ctx.socket(zmq.XSUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.monitor = self.sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{self.port}"

    def ready(self, ws, deadline=10.0):
        """Wait for the bridge to connect, subscribe, and prove it with probes over ``ws``."""
        from zmq.utils.monitor import recv_monitor_message

        if not self.monitor.poll(int(deadline * 1000)):
            raise AssertionError("the bridge's PUB never connected")
        recv_monitor_message(self.monitor)
        self.sock.send(b"\x01")
        end = time.monotonic() + deadline
        n = 0
        while time.monotonic() < end:
            n += 1
            send_json(ws, {"op": "publish", "topic": "probe", "data": str(n), "id": f"probe-{n}"})
            recv_until(ws, lambda m: m.get("id") == f"probe-{n}")
            if self.sock.poll(200):
                while self.sock.poll(100):
                    self.sock.recv_multipart()
                return
        raise AssertionError("probes never reached the sink")

    def recv(self, timeout=10.0):
        if not self.sock.poll(int(timeout * 1000)):
            raise AssertionError(f"nothing published within {timeout}s")
        return self.sock.recv_multipart()

    def close(self):
        self.monitor.close()
        self.sock.close()
