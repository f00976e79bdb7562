"""A JSON event stream to one WebSocket browser through a ``pubsub:`` route, with and without
permessage-deflate: messages per second delivered, and bytes on the wire per message.

Columns, the same bridge each time (``python -m bridge``, monkey-patched, default limits, a
``/live/=pubsub:`` route), differing only in the browser's offer:
- deflate: the client offers ``permessage-deflate; client_max_window_bits`` (what Chromium
  sends); the bridge compresses every message op with its context kept between messages.
- plain: no offer; the same messages uncompressed.
Publisher: a pyzmq PUB (one process) sending soccer-like JSON events of 90-130 bytes, each
different, in batches of 500 with a 5 ms pause (at most 100k/s, more than the bridge takes;
past the bridge's SUB high-water mark ZeroMQ drops, as it always does). Client: one gevent
process, raw socket, RFC 6455 handshake, subscribe op, then it reads frames, inflates the
compressed ones with zlib (checking every message is the JSON op it should be) and counts
messages and raw bytes received, after 0.3 s of warm-up, over the trial's duration.
"""
import json
import socket
import struct
import sys
import time

from benchmarks.process import TrialError
from benchmarks.registry import Family, Metric, Scenario, Unavailable, register

PATH = "/live/"
TOPIC = b"match"
WARMUP_S = 0.3
OFFER = "permessage-deflate; client_max_window_bits"
UPGRADE = ("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n")


def publisher(env):
    """A PUB (env.lib: pyzmq) streaming JSON events on TOPIC until killed."""
    zmq = env.lib
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    env.ready(port=port)
    players = ["Robben", "van Persie", "Sneijder", "Müller", "Özil", "Schweinsteiger", "Xavi", "Iniesta"]
    kinds = ["pass", "shot", "corner", "foul", "goal", "offside", "save"]
    n = 0
    while True:
        for _ in range(500):
            n += 1
            event = {"seq": n, "minute": n % 90, "kind": kinds[n % 7], "player": players[n % 8],
                     "x": n * 7 % 100, "y": n * 13 % 60, "score": [n // 997 % 5, n // 1409 % 4]}
            pub.send_multipart([TOPIC, json.dumps(event).encode()])
        time.sleep(0.005)


def client(env, port, compress, warmup, duration):
    """Messages per second and wire bytes per message received on the WebSocket."""
    import zlib

    from gevent import socket as gsocket

    sock = gsocket.create_connection(("127.0.0.1", port))
    extra = f"Sec-WebSocket-Extensions: {OFFER}\r\n" if compress else ""
    sock.sendall(UPGRADE.format(path=PATH, extra=extra).encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ConnectionError("closed during the handshake")
        buf += data
    head, _, buf = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"refused: {head[:80]!r}")
    if compress != (b"permessage-deflate" in head):
        raise ValueError(f"negotiation went wrong: {head!r}")
    op = json.dumps({"op": "subscribe", "topic": TOPIC.decode()}).encode()
    mask = b"\x01\x02\x03\x04"
    sock.sendall(struct.pack("!BB", 0x81, 0x80 | len(op)) + mask
                 + bytes(b ^ mask[i % 4] for i, b in enumerate(op)))
    inflater = zlib.decompressobj(-15)
    counting = False
    messages = wire = 0
    started = stop_at = None
    warm_until = env.clock() + warmup
    pos = 0
    while True:
        while True:                     # every whole frame in buf
            if len(buf) - pos < 2:
                break
            first, second = buf[pos], buf[pos + 1]
            size, start = second & 0x7F, pos + 2
            if size == 126:
                if len(buf) - pos < 4:
                    break
                size, start = struct.unpack("!H", buf[pos + 2:pos + 4])[0], pos + 4
            elif size == 127:
                if len(buf) - pos < 10:
                    break
                size, start = struct.unpack("!Q", buf[pos + 2:pos + 10])[0], pos + 10
            if len(buf) < start + size:
                break
            payload = buf[start:start + size]
            if first & 0x40:
                payload = inflater.decompress(payload + b"\x00\x00\xff\xff")
            if first & 0x0F == 0x1 and payload.startswith(b'{"op":"message"'):
                if counting:
                    messages += 1
                    wire += start + size - pos
                    if messages % 997 == 0:     # spot-check: the op is whole and right
                        doc = json.loads(payload)
                        if json.loads(doc["data"])["kind"] not in ("pass", "shot", "corner", "foul", "goal",
                                                                   "offside", "save"):
                            raise ValueError(f"bad message {payload[:80]!r}")
            pos = start + size
        buf = buf[pos:]
        pos = 0
        now = env.clock()
        if not counting and now >= warm_until:
            counting, started, stop_at = True, now, now + duration
        if counting and now >= stop_at:
            break
        data = sock.recv(262144)
        if not data:
            raise ConnectionError("closed by the bridge")
        buf += data
    seconds = env.clock() - started
    sock.close()
    if not messages:
        raise ValueError("no message arrived while counting")
    return {"msg_per_s": messages / seconds, "wire_bytes_per_msg": wire / messages,
            "messages": messages, "seconds": seconds}


def start(trial):
    pub_port = trial.start(publisher, impl="pyzmq").expect("ready")["port"]
    bridge = trial.start_command("bridge", [
        sys.executable, "-m", "bridge", "--listen", "127.0.0.1:0", "--log-level", "warning",
        "--route", f"{PATH}=pubsub:tcp://127.0.0.1:{pub_port}"])
    line = bridge.readline()
    while not line.startswith(b"bridge ready "):
        line = bridge.readline()
    port = int(json.loads(line[len(b"bridge ready "):])["listen"].rsplit(":", 1)[1])
    deadline = time.monotonic() + 10
    while True:                         # the bridge answers once it listens; its SUB connects
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return port
        except OSError:
            if time.monotonic() > deadline:
                raise TrialError(f"bridge on {port} never accepted") from None
            time.sleep(0.05)


def probe(trial):
    try:
        start(trial)
    except TrialError as exc:
        raise Unavailable(str(exc).split("\n")[0]) from None
    return {"description": {"deflate": "python -m bridge, pubsub: route, client offers " + OFFER,
                            "plain": "python -m bridge, pubsub: route, no extension offered"}[trial.column]}


WSSTREAM = Family(name="wsstream", columns=("deflate", "plain"), probe=probe, ratios=(("deflate", "plain"),))


def run(trial):
    port = start(trial)
    return trial.start(client, impl="gevent-app", port=port, compress=trial.column == "deflate",
                       warmup=WARMUP_S, duration=trial.duration).result()


register(Scenario(
    name="ws json stream",
    group="WebSocket JSON event stream from a pubsub: route, permessage-deflate vs plain",
    family=WSSTREAM, run=run,
    metrics=(Metric("msg_per_s", "msg/s"),
             Metric("wire_bytes_per_msg", "B/msg on the wire", higher_is_better=False)),
    details={"path": PATH, "offer": OFFER, "warmup_s": WARMUP_S}))
