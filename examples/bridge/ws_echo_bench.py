"""WebSocket echo: the bridge's WebSocket layer against a plain gevent-websocket server.

    python examples/bridge/ws_echo_bench.py                   # both servers, the table
    python examples/bridge/ws_echo_bench.py --seconds 10 --conns 50

Servers (each in a process of its own, one core each with the client on the other):
  - bridge: bridge.ws (handshake, frame codec, WebSocketSession and its outbox writer) on a
    gevent StreamServer, echoing every message (``on_message`` -> ``send_frame``);
  - bridge+m2: the whole bridge (``python -m bridge``) with a ``mongrel2:`` route and a pyzmq
    Mongrel2 WebSocket handler echoing in a thread: two ZeroMQ hops per message;
  - gevent-websocket: gevent.pywsgi.WSGIServer with geventwebsocket's WebSocketHandler and the
    usual ``while True: ws.send(ws.receive())`` app.
The client is a gevent process with raw sockets (pre-masked frames, minimal parsing), so that
the same client load hits both. Measures: echoed messages per second with CONNS connections
each keeping WINDOW messages in flight, and the time to echo one 1 MB binary message (where
gevent-websocket unmasks byte by byte in Python) and one 1 MB text message (where it also
validates UTF-8 byte by byte, twice).
"""
import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import time

import gevent

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# ---------------------------------------------------------------------- servers

def serve_bridge(port):
    from gevent.server import StreamServer

    from bridge.config import Limits
    from bridge.front.outbox import StreamStats
    from bridge.http11 import RequestParser
    from bridge.ws import frames, handshake
    from bridge.ws.session import WebSocketSession

    limits = Limits(ws_max_message_bytes=4 << 20, ws_ping_interval=0, ws_idle_timeout=0)
    stats = StreamStats()

    class Echo(WebSocketSession):
        def on_message(self, message):
            self.send_frame(frames.encode_frame(message.opcode, message.payload))

    def handle(sock, address):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        parser = RequestParser()
        req = None
        while req is None:
            data = sock.recv(65536)
            if not data:
                return
            parser.receive_data(data)
            req = parser.next_event()
        try:
            accept = handshake.check(req)
        except handshake.HandshakeError as e:
            sock.sendall(handshake.refusal(e.status, e.reason, e.headers))
            return
        session = Echo(sock, parser.take_buffered(), limits, stats, "/echo")
        session.outbox.put_control(handshake.accepted(accept))
        session.run()

    print("ready", flush=True)
    StreamServer(("127.0.0.1", port), handle).serve_forever()


def serve_bridge_m2(port):
    import signal
    import threading

    import zmq

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))      # so that the bridge is stopped too

    bridge = subprocess.Popen([sys.executable, "-m", "bridge", "--listen", f"127.0.0.1:{port}", "--route",
                               "/echo=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*", "--log-level", "WARNING"],
                              cwd=REPO, stdout=subprocess.PIPE, text=True)
    route = json.loads(bridge.stdout.readline().split(" ", 2)[2])["routes"][0]
    ctx = zmq.Context()
    pull, pub = ctx.socket(zmq.PULL), ctx.socket(zmq.PUB)
    pull.connect(route["send"])
    pub.connect(route["recv"])

    def netstring(data, pos):
        colon = data.index(b":", pos)
        n = int(data[pos:colon])
        return data[colon + 1:colon + 1 + n], colon + 2 + n

    def handler():
        while True:
            sender, conn_id, _path, rest = pull.recv().split(b" ", 3)
            headers, end = netstring(rest, 0)
            body, _ = netstring(rest, end)
            target = sender + b" %d:%s, " % (len(conn_id), conn_id)
            if b'"WEBSOCKET_HANDSHAKE"' in headers:
                pub.send(target + b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + body + b"\r\n\r\n")
            elif b'"FLAGS":"0x81"' in headers or b'"FLAGS":"0x82"' in headers:
                opcode = 1 if b'"0x81"' in headers else 2
                n = len(body)
                head = bytes([0x80 | opcode, n]) if n < 126 else (
                    bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big") if n < 65536
                    else bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big"))
                pub.send(target + head + body)

    threading.Thread(target=handler, daemon=True).start()
    time.sleep(1.0)                     # the handler's PUB subscribes (a bench, not a test)
    print("ready", flush=True)
    try:
        bridge.wait()
    finally:
        bridge.terminate()


def serve_gevent_websocket(port):
    from gevent import pywsgi
    from geventwebsocket.handler import WebSocketHandler

    def app(environ, start_response):
        ws = environ["wsgi.websocket"]
        ws.stream.handler.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            message = ws.receive()
            if message is None:
                break
            ws.send(message)
        return []

    print("ready", flush=True)
    pywsgi.WSGIServer(("127.0.0.1", port), app, handler_class=WebSocketHandler, log=None).serve_forever()


# ---------------------------------------------------------------------- client

def masked(opcode, payload, mask=b"\x01\x02\x03\x04"):
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    key = (mask * (n // 4 + 1))[:n]
    return head + mask + (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class RawClient:
    def __init__(self, port):
        from gevent import socket as gsocket

        self.sock = gsocket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def frames(self):
        """Read whatever arrived; return the number of whole frames consumed (and their bytes)."""
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError
        self.buf += data
        count, pos, buf = 0, 0, self.buf
        while len(buf) - pos >= 2:
            n = buf[pos + 1] & 0x7F
            start = pos + 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n, start = struct.unpack("!H", buf[pos + 2:pos + 4])[0], pos + 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n, start = struct.unpack("!Q", buf[pos + 2:pos + 10])[0], pos + 10
            if len(buf) < start + n:
                break
            pos = start + n
            count += 1
        self.buf = buf[pos:]
        return count


def run_client(port, conns, seconds, size, window):
    import gevent

    frame = masked(0x1, b"x" * size)
    counts = [0] * conns
    stop_at = time.monotonic() + seconds

    def one(i):
        c = RawClient(port)
        c.sock.sendall(frame * window)
        while time.monotonic() < stop_at:
            n = c.frames()
            counts[i] += n
            if n:
                c.sock.sendall(frame * n)
        c.sock.close()

    started = time.monotonic()
    gevent.joinall([gevent.spawn(one, i) for i in range(conns)], raise_error=True)
    return sum(counts) / (time.monotonic() - started)


def big_echo(port, size, rounds, text=False):
    payload = (b"0123456789abcdef" * (size // 16 + 1))[:size] if text else os.urandom(size)
    frame = masked(0x1 if text else 0x2, payload)
    c = RawClient(port)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        c.sock.sendall(frame)
        while c.frames() == 0:
            pass
        times.append(time.perf_counter() - t)
    c.sock.close()
    return min(times), sorted(times)[len(times) // 2]


# ---------------------------------------------------------------------- driver

def child(args):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), *args], env=env, stdout=subprocess.PIPE,
                            text=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", nargs="?", default="all",
                        choices=["all", "server-bridge", "server-bridge+m2", "server-gevent-websocket", "client"])
    parser.add_argument("--port", type=int)
    parser.add_argument("--conns", type=int, default=20)
    parser.add_argument("--window", type=int, default=1, help="messages in flight per connection")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--big", type=int, default=1 << 20, help="size of the big message")
    parser.add_argument("--big-rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.role == "server-bridge":
        serve_bridge(args.port)
        return
    if args.role == "server-bridge+m2":
        serve_bridge_m2(args.port)
        return
    if args.role == "server-gevent-websocket":
        serve_gevent_websocket(args.port)
        return
    if args.role == "client":
        rate = run_client(args.port, args.conns, args.seconds, args.size, args.window)
        best, median = big_echo(args.port, args.big, args.big_rounds)
        text_best, _ = big_echo(args.port, args.big, 1, text=True)
        print(json.dumps({"rate": rate, "big_best": best, "big_median": median, "text_best": text_best}), flush=True)
        return
    rows = []
    for name in ("bridge", "bridge+m2", "gevent-websocket"):
        port = free_port()
        server = child([f"server-{name}", "--port", str(port)])
        try:
            assert server.stdout.readline().strip() == "ready"
            client = child(["client", "--port", str(port), "--conns", str(args.conns), "--window", str(args.window),
                            "--size", str(args.size), "--seconds", str(args.seconds), "--big", str(args.big),
                            "--big-rounds", str(args.big_rounds)])
            result = json.loads(client.stdout.readline())
            client.wait()
            rows.append((name, result))
        finally:
            server.terminate()
            server.wait()
            server.stdout.close()
    print(f"WebSocket echo, {args.conns} connections x {args.window} in flight, {args.size}-byte text messages, "
          f"{args.seconds:.0f} s; then one {args.big // 1024} KiB binary message echoed {args.big_rounds} times")
    print(f"{'server':<18} {'msgs/s':>10} {'1 MB binary echo':>17} {'(median)':>10} {'1 MB text echo':>15}")
    for name, r in rows:
        print(f"{name:<18} {r['rate']:>10.0f} {r['big_best'] * 1000:>14.1f} ms {r['big_median'] * 1000:>7.1f} ms"
              f" {r['text_best'] * 1000:>12.1f} ms")


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
