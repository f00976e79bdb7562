"""WebSocket echo: the bridge's WebSocket layer, and the whole bridge, next to gevent-websocket.

Columns (servers), each in a fresh process of its own, every one echoing each message back as
it came (same opcode, same payload), all on loopback with TCP_NODELAY:
- bridge-ws: the bridge's WebSocket layer as the bridge runs it after the 101: the handshake
  (bridge.http11 + bridge.ws.handshake), then a bridge.ws.session.WebSocketSession with the
  bridge's default Limits (1 MiB messages, pings, idle timeout, the bounded outbox and its
  writer greenlet), whose on_message queues the echo (``send_frame(encode_frame(...))``). It
  is served by a gevent StreamServer, as bridge.front.realtime hands sessions their socket,
  without the bridge's routing, metrics or ZeroMQ: the per-message cost of the WebSocket path
  (what examples/bridge/ws_echo_bench.py's "bridge" server measures). Issue 10's target
  (>= 0.8x gevent-websocket) is read from this column.
- bridge-m2: the whole bridge (``python -m bridge``, monkey-patched, default limits) with a
  ``mongrel2:`` route and a tiny Mongrel2 WebSocket echo handler on gzmq (m2_ws_echo): each
  message crosses two ZeroMQ hops (PUSH to the handler, PUB back) and the Mongrel2 envelope
  both ways. End to end, as a browser of a Mongrel2 WebSocket app sees it.
- gevent-ws: gevent.pywsgi.WSGIServer with geventwebsocket's WebSocketHandler and the usual
  ``while True: ws.send(ws.receive())`` app (gevent-websocket 0.10).
A ``pubsub:`` route echo (publish to a topic one is subscribed to) would add a PUB/SUB proxy
process and JSON ops around every message, so it is not used here.

Client: one gevent process (echo_rate / big_echo), the same for every column: raw sockets and
the RFC 6455 handshake, frames masked once in advance (a browser's masking costs the server
nothing extra), and every echo compared byte for byte with the frame expected back.
- ``ws echo 64B c=10``: 10 connections, each with one 64-byte text message in flight (send,
  wait for its echo, send again); echoed messages per second over the trial's duration, after
  0.2 s of warm-up. ``... pipelined``: the same with 16 messages in flight per connection.
- ``ws echo 1MiB binary`` / ``text``: one connection echoes one 1 MiB message (the bridge's
  default ws_max_message_bytes) at a time: median time from the first byte sent to the last
  byte of the echo received, over at least 5 echoes and the trial's duration, after one
  warm-up echo. The text message is valid UTF-8 with multi-byte characters, so both servers
  validate it (gevent-websocket per byte, twice).
"""
import json
import os
import socket
import statistics
import struct
import sys
import time

from benchmarks.process import TrialError
from benchmarks.registry import Family, Metric, Scenario, Unavailable, register

PATH = "/echo"
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="       # RFC 6455's sample key; the servers only hash it
UPGRADE = (b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
TEXT, BINARY = 0x1, 0x2
WARMUP_S = 0.2
BIG_SAMPLES = (5, 50)               # at least, at most, echoes of the big message per trial


# -- frames (client side) --

def frame_head(opcode, size, mask_bit=0):
    if size < 126:
        return struct.pack("!BB", 0x80 | opcode, mask_bit | size)
    if size < 1 << 16:
        return struct.pack("!BBH", 0x80 | opcode, mask_bit | 126, size)
    return struct.pack("!BBQ", 0x80 | opcode, mask_bit | 127, size)


def masked_frame(opcode, payload):
    """A client frame (masked, as RFC 6455 requires): built once, sent many times."""
    mask = os.urandom(4)
    key = (mask * (len(payload) // 4 + 1))[:len(payload)]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(len(payload), "big")
    return frame_head(opcode, len(payload), 0x80) + mask + body


def echo_of(opcode, payload):
    """The server frame expected back: unmasked, FIN, the smallest length encoding."""
    return frame_head(opcode, len(payload)) + payload


def text_payload(size):
    """size bytes of valid UTF-8 with 2- and 3-byte characters (ASCII-padded at the end)."""
    unit = "gzmq bridge: héllo wörld, 1 € = 100 ¢; ".encode()
    body = unit * (size // len(unit))
    return body + b"." * (size - len(body))


# -- worker side: servers (impl "gevent-app", except the gzmq handler) --

def serve_bridge_ws(env):
    """The bridge's WebSocket layer echoing: handshake, WebSocketSession, Outbox (see above)."""
    from gevent.server import StreamServer

    from bridge.config import Limits
    from bridge.front.outbox import StreamStats
    from bridge.http11 import RequestParser
    from bridge.ws import frames, handshake
    from bridge.ws.session import WebSocketSession

    limits = Limits()
    stats = StreamStats()

    class Echo(WebSocketSession):
        def on_message(self, message):
            self.send_frame(frames.encode_frame(message.opcode, message.payload))

    def handle(sock, address):
        # As bridge.front.connection and bridge.front.realtime do for a WebSocket request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        parser = RequestParser()
        request = None
        while request is None:
            data = sock.recv(65536)
            if not data:
                return
            parser.receive_data(data)
            request = parser.next_event()
        try:
            accept = handshake.check(request)
        except handshake.HandshakeError as exc:
            sock.sendall(handshake.refusal(exc.status, exc.reason, exc.headers))
            return
        session = Echo(sock, parser.take_buffered(), limits, stats, PATH)
        session.outbox.put_control(handshake.accepted(accept))
        session.run()

    server = StreamServer(("127.0.0.1", 0), handle)
    server.start()
    env.ready(port=server.server_port)
    server.serve_forever()


def serve_gevent_websocket(env):
    """gevent-websocket's documented echo app on gevent's WSGIServer, TCP_NODELAY."""
    from gevent.pywsgi import WSGIServer
    from geventwebsocket.handler import WebSocketHandler

    class NoDelayHandler(WebSocketHandler):
        def handle(self):
            self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle()

    def app(environ, start_response):
        ws = environ.get("wsgi.websocket")
        if ws is None:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [b"WebSocket only\n"]
        while True:
            message = ws.receive()
            if message is None:
                break
            ws.send(message)
        return []

    server = WSGIServer(("127.0.0.1", 0), app, handler_class=NoDelayHandler, log=None)
    server.start()
    env.ready(port=server.server_port)
    server.serve_forever()


def m2_ws_echo(env, send_spec, recv_spec):
    """A Mongrel2 WebSocket handler (env.lib: gzmq) echoing text and binary messages.

    As any Mongrel2 WebSocket handler: answers WEBSOCKET_HANDSHAKE with the 101 (the body is
    the Sec-WebSocket-Accept value), and each WEBSOCKET message whose FLAGS say text or binary
    with a pre-framed reply; pings get pongs, a close frame is echoed, then the connection is
    closed (an empty reply). Disconnect notices need no answer.
    """
    zmq = env.lib
    context = zmq.Context()
    requests = context.socket(zmq.PULL)
    requests.connect(send_spec)
    replies = context.socket(zmq.PUB)
    replies.connect(recv_spec)
    env.ready()
    while True:
        # UUID ID PATH SIZE:HEADERS,SIZE:BODY,  (sliced once: a 1 MiB body is copied once)
        message = requests.recv()
        sender, connection_id, _path, _ = message.split(b" ", 3)
        start = len(sender) + len(connection_id) + len(_path) + 3
        colon = message.index(b":", start)
        headers_end = colon + 1 + int(message[start:colon])
        headers = message[colon + 1:headers_end]
        colon = message.index(b":", headers_end + 1)
        body = message[colon + 1:colon + 1 + int(message[headers_end + 1:colon])]
        target = b"%s %d:%s, " % (sender, len(connection_id), connection_id)
        if b'"METHOD":"WEBSOCKET_HANDSHAKE"' in headers:
            replies.send(target + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + body + b"\r\n\r\n")
        elif b'"METHOD":"WEBSOCKET"' in headers:
            flags = int(headers.split(b'"FLAGS":"', 1)[1].split(b'"', 1)[0], 16)
            opcode = flags & 0x0F
            if opcode in (TEXT, BINARY):
                replies.send(b"".join((target, frame_head(opcode, len(body)), body)))
            elif opcode == 0x9:
                replies.send(target + frame_head(0xA, len(body)) + body)
            elif opcode == 0x8:
                replies.send(target + frame_head(0x8, len(body)) + body)
                replies.send(target)


# -- worker side: the client (impl "gevent-app") --

def connect(port):
    """A gevent socket with a WebSocket upgraded on it at PATH."""
    from gevent import socket as gsocket
    sock = gsocket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(UPGRADE % PATH.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(4096)
        if not data:
            raise ConnectionError("closed during the WebSocket handshake")
        head += data
    status, _, rest = head.partition(b"\r\n\r\n")
    if not status.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"handshake refused: {status[:80]!r}")
    if rest:
        raise ConnectionError(f"unexpected bytes after the 101: {rest[:40]!r}")
    return sock


def echo_rate(env, port, connections, window, size, warmup, duration):
    """Echoed messages per second: `connections` sockets, each with `window` messages in flight."""
    import gevent

    payload = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    frame, echo = masked_frame(TEXT, payload), echo_of(TEXT, payload)
    batches = {n: (frame * n, echo * n) for n in range(1, window + 1)}
    counts = [0] * connections
    sending = [True]
    socks = [connect(port) for _ in range(connections)]

    def pump(index):
        sock, pending, in_flight = socks[index], b"", window
        sock.sendall(batches[window][0])
        while in_flight:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError(f"connection {index}: closed by the server")
            pending += data
            whole = len(pending) // len(echo)
            if not whole:
                continue
            if pending[:whole * len(echo)] != batches[whole][1]:
                raise ValueError(f"connection {index}: echo differs from what was sent: "
                                 f"{pending[:2 * len(echo)]!r}")
            pending = pending[whole * len(echo):]
            counts[index] += whole
            in_flight -= whole
            if sending[0]:
                sock.sendall(batches[whole][0])
                in_flight += whole
        if pending:
            raise ValueError(f"connection {index}: {len(pending)} unexpected bytes after the last echo")

    pumps = [gevent.spawn(pump, index) for index in range(connections)]
    gevent.sleep(warmup)
    first, started = sum(counts), env.clock()
    gevent.sleep(duration)
    last, seconds = sum(counts), env.clock() - started
    sending[0] = False
    finished = gevent.joinall(pumps, timeout=10, raise_error=True)
    if len(finished) != connections:
        raise TimeoutError(f"{connections - len(finished)} connections never got their last echoes")
    for sock in socks:
        sock.close()
    rate = (last - first) / seconds
    return {"msg_per_s": rate, "messages": last - first, "seconds": seconds,
            # Little's law: what one message's round trip took on average, in flight with the rest.
            "mean_round_trip_us": connections * window / rate * 1e6 if rate else None}


def big_echo(env, port, size, opcode, duration):
    """Median milliseconds to echo one message of `size` bytes, one at a time on one connection."""
    payload = text_payload(size) if opcode == TEXT else os.urandom(size)
    frame, echo = masked_frame(opcode, payload), echo_of(opcode, payload)
    received = bytearray(len(echo))
    view = memoryview(received)
    sock = connect(port)

    def once():
        started = time.perf_counter()
        sock.sendall(frame)
        got = 0
        while got < len(echo):
            count = sock.recv_into(view[got:])
            if not count:
                raise ConnectionError("closed by the server during the echo")
            got += count
        seconds = time.perf_counter() - started
        if received != echo:
            raise ValueError(f"echo differs from what was sent (head {bytes(received[:12])!r})")
        return seconds

    once()                                  # warm-up: first-use costs, buffers grown
    least, most = BIG_SAMPLES
    samples, stop_at = [], env.clock() + duration
    while len(samples) < most and (len(samples) < least or env.clock() < stop_at):
        samples.append(once())
    sock.close()
    return {"median_ms": statistics.median(samples) * 1e3, "min_ms": min(samples) * 1e3,
            "max_ms": max(samples) * 1e3, "echoes": len(samples)}


# -- orchestrator side --

def wait_until_echoing(trial, port):
    """Upgrade and echo one small message until that works (a Mongrel2 handler's PUB
    subscribes asynchronously, so a first 101 can be lost); blocking sockets, 1 s per attempt."""
    payload = b"ping from the harness"
    frame, echo = masked_frame(TEXT, payload), echo_of(TEXT, payload)
    last_error = None
    while trial.remaining() > 2:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(UPGRADE % PATH.encode())
                data = _read_until(sock, lambda data: b"\r\n\r\n" in data)
                head, _, rest = data.partition(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 101"):
                    raise ConnectionError(f"answered {head[:60]!r}")
                sock.sendall(frame)
                rest = _read_until(sock, lambda data: len(data) >= len(echo), rest)
                if rest == echo:
                    return port
                last_error = f"echoed {rest[:40]!r}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.05)
    raise TrialError(f"port {port} never echoed a WebSocket message: {last_error}")


def _read_until(sock, done, data=b""):
    while not done(data):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed after {data[:60]!r}")
        data += chunk
    return data


def start_bridge_ws(trial):
    port = trial.start(serve_bridge_ws, impl="gevent-app").expect("ready")["port"]
    return wait_until_echoing(trial, port)


def start_bridge_m2(trial):
    bridge = trial.start_command("bridge", [
        sys.executable, "-m", "bridge", "--listen", "127.0.0.1:0", "--log-level", "warning",
        "--route", f"{PATH}=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*"])
    line = bridge.readline()
    while not line.startswith(b"bridge ready "):
        line = bridge.readline()
    info = json.loads(line[len(b"bridge ready "):])
    route = info["routes"][0]
    trial.start(m2_ws_echo, impl="gzmq", send_spec=route["send"], recv_spec=route["recv"]).expect("ready")
    return wait_until_echoing(trial, int(info["listen"].rsplit(":", 1)[1]))


def start_gevent_websocket(trial):
    port = trial.start(serve_gevent_websocket, impl="gevent-app").expect("ready")["port"]
    return wait_until_echoing(trial, port)


SETUPS = {"bridge-ws": start_bridge_ws, "bridge-m2": start_bridge_m2, "gevent-ws": start_gevent_websocket}

DESCRIPTIONS = {
    "bridge-ws": "bridge.ws (handshake, WebSocketSession, Outbox; default limits) echoing, "
                 "on a gevent StreamServer",
    "bridge-m2": "python -m bridge, mongrel2: route, a gzmq Mongrel2 WebSocket echo handler "
                 "(two ZeroMQ hops)",
    "gevent-ws": "gevent-websocket echo app on gevent.pywsgi, TCP_NODELAY",
}


def probe(trial):
    try:
        SETUPS[trial.column](trial)
    except TrialError as exc:
        raise Unavailable(str(exc).split("\n")[0]) from None
    info = {"description": DESCRIPTIONS[trial.column]}
    if trial.column == "gevent-ws":
        from benchmarks.machine import package_version
        info["version"] = package_version("gevent-websocket")
    return info


WEBSOCKET = Family(name="websocket", columns=("bridge-ws", "bridge-m2", "gevent-ws"), probe=probe,
                   ratios=(("bridge-ws", "gevent-ws"), ("bridge-m2", "gevent-ws")))

CONNECTIONS = 10
SMALL = 64
BIG = 1 << 20


def rate_run(window):
    def run(trial):
        port = SETUPS[trial.column](trial)
        client = trial.start(echo_rate, impl="gevent-app", port=port, connections=CONNECTIONS,
                             window=window, size=SMALL, warmup=WARMUP_S, duration=trial.duration)
        return client.result()
    return run


def big_run(opcode):
    def run(trial):
        port = SETUPS[trial.column](trial)
        return trial.start(big_echo, impl="gevent-app", port=port, size=BIG, opcode=opcode,
                           duration=trial.duration).result()
    return run


for suffix, window in (("", 1), (" pipelined", 16)):
    register(Scenario(
        name=f"ws echo 64B c={CONNECTIONS}{suffix}",
        group=f"WebSocket echo, {SMALL} B text messages, {CONNECTIONS} connections",
        family=WEBSOCKET, run=rate_run(window),
        metrics=(Metric("msg_per_s", "msg/s"),
                 Metric("mean_round_trip_us", "us mean", higher_is_better=False, headline=False)),
        details={"connections": CONNECTIONS, "in_flight_per_connection": window, "size": SMALL,
                 "warmup_s": WARMUP_S}))

for kind, opcode in (("binary", BINARY), ("text", TEXT)):
    register(Scenario(
        name=f"ws echo 1MiB {kind}",
        group="WebSocket echo of one 1 MiB message (lower is better)",
        family=WEBSOCKET, run=big_run(opcode),
        metrics=(Metric("median_ms", "ms median", higher_is_better=False),
                 Metric("min_ms", "ms min", higher_is_better=False, headline=False)),
        details={"size": BIG, "opcode": kind, "samples_per_trial": list(BIG_SAMPLES)}))
