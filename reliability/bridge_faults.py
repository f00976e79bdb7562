"""The bridge under hostile clients, dying backends and load.

One bridge process (``python -m bridge``, as deployed: monkey-patched) with a req route to two
envelope backends, a mongrel2 route, and a pubsub route for WebSockets; header_timeout is 2 s.
Its RSS and descriptors are read from /proc/<pid>; each row ends with an honest request that
must get its 200, and the bridge must still be the same process.

- bridge.http-malformed: smuggling-style and malformed requests (CL+TE, duplicate and signed
  Content-Length, obfuscated Transfer-Encoding, bad and overflowing chunk sizes, oversized
  heads, bad versions, NUL bytes, obs-fold...). Each must get its 4xx/5xx status and a closed
  connection, and nothing smuggled behind it may be answered.
- bridge.slowloris: clients that trickle a request head byte by byte get 408 and are closed
  within header_timeout; honest requests are served meanwhile.
- bridge.ws-violations: RFC 6455 violations (unmasked, RSV bits, reserved opcodes, bad UTF-8,
  a 2**40-byte frame head, fragmented or oversized control frames, stray continuations, bad
  close frames) get their close code (1002/1007/1009) and the connection ends; an honest
  WebSocket keeps subscribing.
- bridge.idle: 1 000 idle connections held open while honest requests are served; when they
  go, the bridge's descriptors return to baseline.
- bridge.backend-death: a req backend SIGKILLed with requests in flight (504 at the route
  timeout, then 503/200 as it is gone and back), a mongrel2 handler killed after starting a
  response (the client has the partial response; the bridge, like Mongrel2, cannot tell a
  dead handler from a slow stream, so the connection lasts until the client leaves; nothing
  leaks when it does).
- bridge.wrk: wrk -c100 through the req route (5 s short, 30 s long): zero socket errors.
"""
import json
import os
import re
import socket as _stdsocket
import struct
import sys
import tempfile
import time

import gevent
from gevent import socket as gsocket
from gevent import subprocess

from .faults import PeerProcess, free_port
from .report import Measure, Row, open_fds, rss_mb

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HEADER_TIMEOUT = 2.0
SIZES = {"short": dict(loris=100, idle=1000, wrk_s=5), "long": dict(loris=300, idle=1000, wrk_s=30)}


class BridgeUnderTest:
    def __init__(self):
        self.port = free_port()
        self.api = [free_port(), free_port()]
        self.m2_send, self.m2_recv = free_port(), free_port()
        self.pub_port = free_port()
        self.dir = tempfile.mkdtemp(prefix="gzmq-rel-bridge-")
        config = {
            "listen": f"127.0.0.1:{self.port}",
            "limits": {"header_timeout": HEADER_TIMEOUT, "keepalive_timeout": 30, "ws_close_timeout": 2},
            "routes": [
                "/api/=req:" + ",".join(f"tcp://127.0.0.1:{p}" for p in self.api) + ",timeout=2",
                f"/m2/=mongrel2:tcp://127.0.0.1:{self.m2_send},tcp://127.0.0.1:{self.m2_recv}",
                f"/live/=pubsub:tcp://127.0.0.1:{self.pub_port}",
            ],
        }
        path = os.path.join(self.dir, "bridge.json")
        with open(path, "w") as f:
            json.dump(config, f)
        env = dict(os.environ, PYTHONPATH=ROOT)
        self.log = open(os.path.join(self.dir, "bridge.log"), "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "bridge", "--config", path, "--log-level", "WARNING"],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        self.backends = [PeerProcess(["envelope", f"tcp://127.0.0.1:{p}"]).start() for p in self.api]
        self.m2 = PeerProcess(["m2", f"tcp://127.0.0.1:{self.m2_send}", f"tcp://127.0.0.1:{self.m2_recv}", "full"])
        self.m2.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                status, _, _ = self.request("GET", "/api/ready")
                if status == 200:
                    break
            except OSError:
                pass
            gevent.sleep(0.1)
        else:
            raise RuntimeError("bridge did not serve /api/ within 20 s: " + self.log_text()[-2000:])
        # Steady state before any baseline: every backend connected, descriptor count stable.
        for _ in range(4):
            self.request("GET", "/api/warm")
        last, stable_since = open_fds(self.pid), time.monotonic()
        while time.monotonic() - stable_since < 1.0 and time.monotonic() < deadline + 10:
            gevent.sleep(0.1)
            now = open_fds(self.pid)
            if now != last:
                last, stable_since = now, time.monotonic()

    def log_text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def connect(self):
        sock = gsocket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
        return sock

    def request(self, method, path, body=b"", timeout=10):
        """One request on a new connection: (status, headers, body)."""
        with self.connect() as sock:
            sock.settimeout(timeout)
            head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {len(body)}\r\n\r\n"
            sock.sendall(head.encode() + body)
            data = read_all(sock, timeout)
        return parse_response(data)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        for p in self.backends + [self.m2]:
            p.stop()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def read_all(sock, timeout):
    """Everything until the peer closes (or `timeout`)."""
    out = b""
    deadline = time.monotonic() + timeout
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except _stdsocket.timeout:
            continue
        except OSError:
            break
        if not data:
            break
        out += data
    return out


def parse_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/1\.[01] (\d{3})", lines[0] if lines else b"")
    status = int(m.group(1)) if m else 0
    return status, lines[1:], body


def _after_first_response(data):
    head, sep, rest = data.partition(b"\r\n\r\n")
    m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
    if not sep or not m:
        return b""
    return rest[int(m.group(1)):]


def honest_ok(bridge, row, what="after"):
    try:
        status, _, body = bridge.request("GET", "/api/honest")
    except OSError as exc:
        status, body = 0, repr(exc).encode()
    row.sent += 1
    if status == 200 and body.startswith(b"ok /api/honest"):
        row.received += 1
        return True
    row.lost += 1
    row.error(f"honest request {what}: {status} {body[:100]!r}")
    return False


# -- malformed and smuggling-style HTTP -----------------------------------------------------------
H = "Host: x\r\n"
MALFORMED = [
    # name, bytes, acceptable statuses
    ("CL+TE", f"POST /api/a HTTP/1.1\r\n{H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
              "0\r\n\r\nGET /api/smuggled HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    ("TE+CL", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\nContent-Length: 40\r\n\r\n"
              "0\r\n\r\nGET /api/smuggled HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
    ("two Content-Length", f"POST /api/a HTTP/1.1\r\n{H}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", {400}),
    ("Content-Length list", f"POST /api/a HTTP/1.1\r\n{H}Content-Length: 5, 6\r\n\r\nhello!", {400}),
    ("Content-Length +5", f"POST /api/a HTTP/1.1\r\n{H}Content-Length: +5\r\n\r\nhello", {400}),
    ("Content-Length -1", f"POST /api/a HTTP/1.1\r\n{H}Content-Length: -1\r\n\r\n", {400}),
    ("Content-Length hex", f"POST /api/a HTTP/1.1\r\n{H}Content-Length: 0x5\r\n\r\nhello", {400}),
    ("Content-Length huge", f"POST /api/a HTTP/1.1\r\n{H}Content-Length: 99999999999999999999\r\n\r\n", {400, 413}),
    ("body over limit", f"POST /api/a HTTP/1.1\r\n{H}Content-Length: 100000000\r\n\r\n", {413}),
    ("TE xchunked", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", {400, 501}),
    ("TE chunked, identity", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
     {400, 501}),
    ("TE space before colon", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", {400}),
    ("TE twice", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "0\r\n\r\n", {400, 501}),
    ("chunk size not hex", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", {400}),
    ("chunk size overflow", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n"
                            "fffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", {400, 413}),
    ("chunk size negative", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", {400}),
    ("chunk without CRLF", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", {400}),
    ("chunk extension flood", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n5;"
                              + "e=x;" * 20000 + "\r\nhello\r\n0\r\n\r\n", {400, 413, 431}),
    ("chunked body over limit", f"POST /api/a HTTP/1.1\r\n{H}Transfer-Encoding: chunked\r\n\r\n"
                                "8000000\r\n", {413}),
    ("oversized header", f"GET /api/a HTTP/1.1\r\n{H}X-Big: {'a' * 20000}\r\n\r\n", {431}),
    ("many headers", f"GET /api/a HTTP/1.1\r\n{H}" + "X-H: v\r\n" * 3000 + "\r\n", {431}),
    ("oversized request line", f"GET /api/{'a' * 20000} HTTP/1.1\r\n{H}\r\n", {414, 431, 400}),
    ("garbage line", "GARBAGE\r\n\r\n", {400}),
    ("HTTP/9.9", f"GET /api/a HTTP/9.9\r\n{H}\r\n", {400, 505}),
    ("HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 505}),
    ("NUL in header", f"GET /api/a HTTP/1.1\r\n{H}X-A: a\x00b\r\n\r\n", {400}),
    ("obs-fold", f"GET /api/a HTTP/1.1\r\n{H}X-A: a\r\n  folded\r\n\r\n", {400}),
    ("space in header name", f"GET /api/a HTTP/1.1\r\n{H}X A: b\r\n\r\n", {400}),
    ("no colon", f"GET /api/a HTTP/1.1\r\n{H}NoColonHere\r\n\r\n", {400}),
    ("method with slash", f"G/T /api/a HTTP/1.1\r\n{H}\r\n", {400}),
    ("missing Host 1.1", "GET /api/a HTTP/1.1\r\n\r\n", {400}),
    ("two Host", f"GET /api/a HTTP/1.1\r\n{H}{H}\r\n", {400}),
    # No CRLF ever comes, so the request line is never complete: 408 at header_timeout.
    ("binary junk (TLS hello)", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + "\xff" * 200, {400, 408}),
]


def http_malformed(bridge, mode):
    row = Row("bridge.http-malformed", mode, delivery=True)
    with Measure(row, bridge.pid) as r:
        honest_ok(bridge, r, "before")
        for name, text, statuses in MALFORMED:
            data = text.encode("latin-1")
            try:
                with bridge.connect() as sock:
                    try:
                        sock.sendall(data)
                    except OSError:
                        pass       # answered and closed before we finished: fine
                    answer = read_all(sock, 6)
            except OSError as exc:
                r.error(f"{name}: {exc!r}")
                continue
            r.inputs += 1
            r.faults += 1
            status, _, _ = parse_response(answer)
            if status not in statuses:
                r.error(f"{name}: got {status or answer[:80]!r}, expected {sorted(statuses)}")
            extra = _after_first_response(answer)
            if extra.strip():
                r.error(f"{name}: bytes after the first response (a smuggled request answered?): {extra[:300]!r}")
            if b"/api/smuggled" in answer:
                r.error(f"{name}: the smuggled request reached a backend")
        # Lenient but harmless: keep what the bridge does with bare LF on record.
        with bridge.connect() as sock:
            sock.sendall(b"GET /api/lf HTTP/1.1\nHost: x\nConnection: close\n\n")
            status, _, _ = parse_response(read_all(sock, 6))
        r.note(f"{len(MALFORMED)} malformed/smuggling requests, each answered with its 4xx/5xx and closed; "
               f"bare-LF request -> {status}")
        honest_ok(bridge, r)
        r.check(bridge.alive(), "bridge process died")
    return row


# -- slow loris -----------------------------------------------------------------------------------
def slowloris(bridge, mode, n):
    row = Row("bridge.slowloris", mode, delivery=True)
    with Measure(row, bridge.pid) as r:
        results = []

        def loris():
            try:
                sock = bridge.connect()
            except OSError as exc:
                results.append(("connect", repr(exc)))
                return
            t0 = time.monotonic()
            text = b"GET /api/slow HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
            got = b""
            sock.settimeout(0.3)
            try:
                for b in text:
                    sock.send(bytes((b,)))
                    try:
                        chunk = sock.recv(4096)
                        if not chunk:
                            break
                        got += chunk
                    except _stdsocket.timeout:
                        pass
                    if time.monotonic() - t0 > HEADER_TIMEOUT + 10:
                        break
            except OSError:
                pass
            got += read_all(sock, 3)
            sock.close()
            results.append((time.monotonic() - t0, parse_response(got)[0]))

        jobs = [gevent.spawn(loris) for _ in range(n)]
        gevent.sleep(0.5)
        for _ in range(5):
            honest_ok(bridge, r, "during the slow loris")
        gevent.joinall(jobs, timeout=HEADER_TIMEOUT + 20)
        r.inputs = r.faults = n
        statuses = [s for _, s in results if isinstance(_, float)]
        late = [t for t, s in results if isinstance(t, float) and t > HEADER_TIMEOUT + 3]
        r.check(len(results) == n, f"{n - len(results)} slow clients still running")
        r.check(all(s == 408 for s in statuses), f"statuses {sorted(set(statuses))}, expected 408")
        r.check(not late, f"{len(late)} slow clients held longer than header_timeout + 3 s")
        times = [t for t, _ in results if isinstance(t, float)]
        if times:
            r.note(f"{n} clients trickling a head: 408 and closed after {min(times):.1f}-{max(times):.1f} s "
                   f"(header_timeout {HEADER_TIMEOUT:g} s)")
        honest_ok(bridge, r)
        r.check(bridge.alive(), "bridge process died")
    return row


# -- WebSocket violations --------------------------------------------------------------------------
def ws_frame(opcode, payload, fin=True, mask=True, rsv=0, length=None):
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload) if length is None else length
    if n < 126:
        head = bytes((b0, (0x80 if mask else 0) | n))
    elif n < 65536:
        head = bytes((b0, (0x80 if mask else 0) | 126)) + struct.pack(">H", n)
    else:
        head = bytes((b0, (0x80 if mask else 0) | 127)) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def ws_open(bridge):
    sock = bridge.connect()
    sock.sendall(b"GET /live/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    buf = b""
    sock.settimeout(5)
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        if not data:
            raise OSError("closed during the WebSocket handshake")
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise OSError(f"no 101: {head[:80]!r}")
    return sock, rest


def ws_read_frames(sock, rest, timeout):
    """Frames the server sends until it closes: [(opcode, payload)]."""
    data = rest + read_all(sock, timeout)
    frames = []
    pos = 0
    while pos + 2 <= len(data):
        op = data[pos] & 0x0F
        n = data[pos + 1] & 0x7F
        pos += 2
        if n == 126:
            n = struct.unpack(">H", data[pos:pos + 2])[0]
            pos += 2
        elif n == 127:
            n = struct.unpack(">Q", data[pos:pos + 8])[0]
            pos += 8
        frames.append((op, data[pos:pos + n]))
        pos += n
    return frames


WS_VIOLATIONS = [
    ("unmasked frame", ws_frame(0x1, b'{"op":"x"}', mask=False), {1002}),
    ("RSV1 without extension", ws_frame(0x1, b"{}", rsv=0x40), {1002}),
    ("reserved opcode 3", ws_frame(0x3, b"x"), {1002}),
    ("reserved control opcode 0xB", ws_frame(0xB, b"x"), {1002}),
    ("invalid UTF-8", ws_frame(0x1, b"\xff\xfe\xfd"), {1007}),
    ("UTF-8 split across fragments, then broken", ws_frame(0x1, b"\xe2\x82", fin=False) + ws_frame(0x0, b"\x28"),
     {1007}),
    ("2**40-byte frame head", ws_frame(0x2, b"", length=1 << 40)[:14], {1009}),
    ("message over 1 MiB in fragments", ws_frame(0x1, b"a" * 700000, fin=False) + ws_frame(0x0, b"a" * 700000),
     {1009}),
    ("fragmented ping", ws_frame(0x9, b"p", fin=False), {1002}),
    ("ping payload 126 bytes", ws_frame(0x9, b"p" * 126), {1002}),
    ("continuation without start", ws_frame(0x0, b"x"), {1002}),
    ("new message inside a fragmented one", ws_frame(0x1, b"a", fin=False) + ws_frame(0x1, b"b"), {1002}),
    ("close with 1-byte payload", ws_frame(0x8, b"\x03"), {1002}),
    ("close with code 999", ws_frame(0x8, struct.pack(">H", 999)), {1002}),
    ("close with bad UTF-8 reason", ws_frame(0x8, struct.pack(">H", 1000) + b"\xff"), {1002, 1007}),
]


def ws_violations(bridge, mode):
    row = Row("bridge.ws-violations", mode, delivery=True)
    with Measure(row, bridge.pid) as r:
        for name, data, codes in WS_VIOLATIONS:
            r.inputs += 1
            r.faults += 1
            try:
                sock, rest = ws_open(bridge)
            except OSError as exc:
                r.error(f"{name}: {exc}")
                continue
            try:
                sock.sendall(data)
            except OSError:
                pass
            frames = ws_read_frames(sock, rest, 6)
            sock.close()
            closes = [p for op, p in frames if op == 0x8]
            code = struct.unpack(">H", closes[0][:2])[0] if closes and len(closes[0]) >= 2 else None
            if code not in codes:
                r.error(f"{name}: close code {code}, expected {sorted(codes)}")
        # An honest WebSocket client on the same route.
        sock, rest = ws_open(bridge)
        sock.sendall(ws_frame(0x1, b'{"op":"subscribe","topic":"t","id":7}'))
        sock.sendall(ws_frame(0x8, struct.pack(">H", 1000)))
        frames = ws_read_frames(sock, rest, 6)
        sock.close()
        texts = [p for op, p in frames if op == 0x1]
        r.sent += 1
        if any(b'"reply"' in t and b'"id": 7' in t or b'"id":7' in t for t in texts):
            r.received += 1
        else:
            r.lost += 1
            r.error(f"honest WebSocket got no reply to its subscribe: {frames[:3]!r}")
        r.note(f"{len(WS_VIOLATIONS)} RFC 6455 violations, each closed with its code (1002/1007/1009)")
        honest_ok(bridge, r)
        r.check(bridge.alive(), "bridge process died")
    return row


# -- idle connections --------------------------------------------------------------------------------
def idle(bridge, mode, n):
    row = Row("bridge.idle", mode, delivery=True)
    with Measure(row, bridge.pid) as r:
        socks = []
        for i in range(n):
            try:
                socks.append(bridge.connect())
            except OSError as exc:
                r.error(f"idle connection {i}: {exc}")
                break
        r.inputs = len(socks)
        gevent.sleep(0.5)
        fds_open = open_fds(bridge.pid)
        rss_open = rss_mb(bridge.pid)
        for _ in range(10):
            honest_ok(bridge, r, "with 1 000 idle connections")
        for s in socks:
            s.close()
        deadline = time.monotonic() + 10
        while open_fds(bridge.pid) > r.fds_base and time.monotonic() < deadline:
            gevent.sleep(0.1)
        r.note(f"{len(socks)} idle connections: bridge fds {r.fds_base} -> {fds_open}, RSS "
               f"{r.rss_base:.0f} -> {rss_open:.0f} MiB while open")
        r.check(bridge.alive(), "bridge process died")
    return row


# -- backends dying ---------------------------------------------------------------------------------
def backend_death(bridge, mode):
    row = Row("bridge.backend-death", mode, delivery=False)
    with Measure(row, bridge.pid) as r:
        # req route: both backends die with requests in flight.
        in_flight = [gevent.spawn(bridge.request, "GET", f"/api/inflight-{i}") for i in range(20)]
        for b in bridge.backends:
            b.kill()
            r.faults += 1
        results = [g.get() if g.successful() else (0, [], b"") for g in gevent.joinall(in_flight, timeout=15)]
        statuses = sorted(set(s for s, _, _ in results))
        r.inputs += len(in_flight)
        r.check(all(s in (200, 502, 503, 504) for s, _, _ in results) and len(results) == 20,
                f"requests in flight when the backends died: {statuses}")
        dead = [bridge.request("GET", "/api/dead")[0] for _ in range(3)]
        r.inputs += 3
        r.check(all(s in (503, 504) for s in dead), f"with every backend dead: {dead}, expected 503/504")
        for b in bridge.backends:
            b.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if bridge.request("GET", "/api/back")[0] == 200:
                break
            gevent.sleep(0.2)
        honest_ok(bridge, r, "after the backends came back")
        r.note(f"req backends SIGKILLed: 20 requests in flight -> {statuses}; while dead -> {sorted(set(dead))}; "
               "served again after restart")

        # mongrel2 route: the handler starts a response and is killed.
        bridge.m2.kill()
        partial = PeerProcess(["m2", f"tcp://127.0.0.1:{bridge.m2_send}", f"tcp://127.0.0.1:{bridge.m2_recv}",
                               "partial"]).start()
        got = b""
        sock = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and b"partial" not in got:
            if sock is not None:
                sock.close()
            sock = bridge.connect()
            sock.sendall(b"GET /m2/x HTTP/1.1\r\nHost: x\r\n\r\n")
            got = read_all(sock, 1)
        r.inputs += 1
        r.check(b"partial" in got, f"mongrel2 partial response not seen: {got[:100]!r}")
        partial.kill()
        r.faults += 1
        other = bridge.request("GET", "/api/other")[0]
        r.check(other == 200, f"another client during the dead handler's stream: {other}")
        sock.close()            # the client gives up: the bridge must let go of everything
        bridge.m2.start()
        deadline = time.monotonic() + 15
        status = 0
        while time.monotonic() < deadline:
            status, _, body = bridge.request("GET", "/m2/again", timeout=3)
            if status == 200:
                break
            gevent.sleep(0.2)
        r.check(status == 200, f"mongrel2 route after the handler restarted: {status}")
        r.note("mongrel2 handler killed mid-response: the client keeps its partial response until it "
               "leaves (the bridge, like Mongrel2, has no idle limit on a started response); other "
               "clients served; a restarted handler serves the route again")
        r.check(bridge.alive(), "bridge process died")
    return row


# -- wrk ----------------------------------------------------------------------------------------------
def wrk(bridge, mode, seconds):
    row = Row("bridge.wrk", mode, delivery=True)
    with Measure(row, bridge.pid) as r:
        cmd = ["wrk", "-t2", "-c100", f"-d{seconds}s", "--timeout", "10s", "--latency",
               f"http://127.0.0.1:{bridge.port}/api/wrk"]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
        except FileNotFoundError:
            r.error("wrk is not installed (Debian package wrk)")
            return row
        out = proc.stdout + proc.stderr
        m = re.search(r"(\d+) requests in", out)
        total = int(m.group(1)) if m else 0
        errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        p99 = re.search(r"99%\s+([\d.]+\w+)", out)
        r.inputs = r.sent = total
        bad = int(non2xx.group(1)) if non2xx else 0
        r.received = total - bad
        r.lost = bad
        if errs:
            r.error("wrk socket errors: " + errs.group(0))
        r.check(proc.returncode == 0 and total > 0, f"wrk failed: {out[-500:]}")
        r.note(f"wrk -t2 -c100 -d{seconds}s through the req route (2 envelope backends): {total} requests, "
               f"{rps.group(1) if rps else '?'} req/s, p99 {p99.group(1) if p99 else '?'}, "
               f"socket errors: {errs.group(0) if errs else 'none'}, non-2xx: {bad}")
        honest_ok(bridge, r)
        r.check(bridge.alive(), "bridge process died")
    return row


def run_group(mode, only=None, **_):
    s = SIZES[mode]
    cases = [
        ("bridge.http-malformed", lambda b: http_malformed(b, mode)),
        ("bridge.slowloris", lambda b: slowloris(b, mode, s["loris"])),
        ("bridge.ws-violations", lambda b: ws_violations(b, mode)),
        ("bridge.idle", lambda b: idle(b, mode, s["idle"])),
        ("bridge.backend-death", lambda b: backend_death(b, mode)),
        ("bridge.wrk", lambda b: wrk(b, mode, s["wrk_s"])),
    ]
    cases = [(n, f) for n, f in cases if not only or any(n.startswith(o) or o == "bridge" for o in only)]
    if not cases:
        return
    bridge = BridgeUnderTest()
    seen = 0
    try:
        for name, fn in cases:
            row = fn(bridge)
            text = bridge.log_text()
            new, seen = text[seen:], len(text)
            if "Traceback" in new or "ERROR" in new:
                at = new.find("Traceback") if "Traceback" in new else new.find("ERROR")
                row.error("bridge logged an error: " + new[at:][:1500])
            yield row
    finally:
        bridge.stop()
