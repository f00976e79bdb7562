"""Building blocks the scenarios share: raw hostile connections and an honest round-trip peer.

Raw connections are gevent sockets that send exactly the bytes a scenario scripts (built with
gzmq.zmtp's encoders: these scenarios attack the engine, not the encoder, which
tests/tools/rawpeer.py checks independently). ``Honest`` is a well-behaved DEALER that keeps
doing round trips through a ROUTER's echo loop while an attack runs and counts what it sent
and what came back: a DEALER/ROUTER pair over a connection that stays up promises delivery.
"""
import socket as _stdsocket
import time

import gevent
from gevent import socket as gsocket
from gevent.event import Event

import gzmq
from gzmq.zmtp import commands
from gzmq.zmtp.frames import encode_message
from gzmq.zmtp.greeting import build_greeting


def greeting(mechanism=b"NULL"):
    return build_greeting(mechanism)


def ready(socket_type, identity=None):
    props = [("Socket-Type", socket_type.encode())]
    if identity is not None:
        props.append(("Identity", identity))
    return commands.command(commands.READY, commands.encode_metadata(props))


def message(frames):
    out = []
    encode_message(frames, out)
    return b"".join(bytes(c) for c in out)


def tcp_address(sock):
    host, port = sock.last_endpoint.decode().rsplit("/", 1)[1].rsplit(":", 1)
    return host, int(port)


def raw_connect(address, timeout=5):
    sock = gsocket.socket(_stdsocket.AF_INET, _stdsocket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect(address)
    sock.settimeout(None)
    sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
    return sock


def wait_closed(sock, timeout):
    """Read (and discard) until the other side closes; True if it did within `timeout`."""
    timer = gevent.Timeout(timeout)
    timer.start()
    try:
        while True:
            if not sock.recv(65536):
                return True
    except gevent.Timeout as exc:
        if exc is not timer:
            raise
        return False
    except OSError:
        return True
    finally:
        timer.close()


def router_echo(router):
    """Greenlet body: answer [id, b"ping", n] with [id, b"pong", n]; drop everything else."""
    while True:
        try:
            msg = router.recv_multipart()
        except gzmq.ZMQError:
            return
        if len(msg) == 3 and msg[1] == b"ping":
            try:
                router.send_multipart([msg[0], b"pong", msg[2]])
            except gzmq.ZMQError:
                pass


class Honest:
    """An honest DEALER doing back-to-back round trips through `router_endpoint` until stop()."""

    def __init__(self, ctx, router_endpoint, identity=None, pause=0.005):
        self.sock = ctx.socket(gzmq.DEALER)
        self.sock.linger = 0
        if identity is not None:
            self.sock.routing_id = identity
        self.sock.connect(router_endpoint)
        self.sent = 0
        self.received = 0
        self.errors = []
        self.pause = pause
        self._stop = Event()
        self.max_rtt = 0.0
        self._greenlet = gevent.spawn(self._loop)

    def _loop(self):
        while not self._stop.is_set():
            n = self.sent
            tag = b"%d" % n
            t0 = time.monotonic()
            self.sock.send_multipart([b"ping", tag])
            self.sent += 1
            # A reply must come; while an attack runs it may be slow, never missing.
            if not self.sock.poll(30000):
                self.errors.append(f"honest round trip {n}: no reply within 30 s")
                return
            reply = self.sock.recv_multipart()
            if reply != [b"pong", tag]:
                self.errors.append(f"honest round trip {n}: got {reply!r}")
                return
            self.received += 1
            self.max_rtt = max(self.max_rtt, time.monotonic() - t0)
            if self.pause:
                self._stop.wait(self.pause)

    def wait_rounds(self, n, timeout=10):
        """Block until at least n more round trips completed (proof of service)."""
        target = self.received + n
        deadline = time.monotonic() + timeout
        while self.received < target and time.monotonic() < deadline and not self._greenlet.dead:
            gevent.sleep(0.01)
        return self.received >= target

    def stop(self):
        self._stop.set()
        self._greenlet.join(timeout=35)
        if not self._greenlet.dead:
            self._greenlet.kill()
        self.sock.close()

    def fill(self, row):
        row.sent += self.sent
        row.received += self.received
        row.lost += self.sent - self.received
        for e in self.errors:
            row.error(e)
        row.note(f"honest DEALER: {self.received} round trips during the attack, slowest {self.max_rtt * 1000:.0f} ms")
