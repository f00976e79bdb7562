"""The whole engine fed from a raw socket: fuzz inputs against live gzmq sockets over tcp.

EngineTarget binds one live socket per type (NULL), a ROUTER asking ZAP with NULL, a PLAIN
server ROUTER and a CURVE server ROUTER (a GreenletAuthenticator answers both), all in this
process. ``feed(data)`` turns a fuzz input into a stream (reliability.zmtp_cases: the same
header bytes choose the socket and what precedes the payload), connects a raw TCP socket,
sends the stream in the input's cuts, half-closes, and waits for gzmq to close the
connection. Every input must end that way within HANG_SECONDS: gzmq either drops the peer
for a protocol error or sees our EOF. Whatever valid messages an input carries are drained by
one greenlet per socket, as an application would.

``check()`` is the health check run every few hundred inputs: an honest DEALER still gets
its round trip through the ROUTER, no session outlives its connection (each socket holds
only its honest sessions), and the process has only its baseline descriptors. Engine
internal errors (``log.exception`` in a session) and exceptions reaching the hub are
collected by reliability.report.ErrorWatch and count as failures.
"""
import socket as _stdsocket

import gevent
from gevent import socket as gsocket

import gzmq
from gzmq.auth import CURVE_ALLOW_ANY, GreenletAuthenticator

from . import zmtp_cases
from .report import ErrorWatch, open_fds

HANG_SECONDS = 10.0


class Hang(Exception):
    """gzmq kept a fuzzed connection open after the peer half-closed (or stopped reading)."""


class EngineTarget:
    def __init__(self):
        self.ctx = gzmq.Context()
        self.auth = GreenletAuthenticator(self.ctx)
        self.auth.start()
        self.auth.configure_plain(domain="*", passwords={"user": "pass"})
        self.auth.configure_curve(domain="*", location=CURVE_ALLOW_ANY)
        self.sockets = {}
        self.addresses = {}
        self.greenlets = []
        for name in zmtp_cases.SOCKET_TYPES:
            self._add(("NULL", name), getattr(gzmq, name))
        zap = self._add(("NULL-ZAP", "ROUTER"), gzmq.ROUTER)
        zap.zap_domain = b"fuzz"
        plain = self._add(("PLAIN", "ROUTER"), gzmq.ROUTER)
        plain.plain_server = True
        if zmtp_cases.has_curve():
            server_secret = zmtp_cases._curve_keys()[0]
            curve = self._add(("CURVE", "ROUTER"), gzmq.ROUTER)
            curve.curve_server = True
            curve.curve_secretkey = server_secret
        for key, sock in self.sockets.items():
            sock.bind("tcp://127.0.0.1:*")
            host, port = sock.last_endpoint.decode().rsplit("/", 1)[1].rsplit(":", 1)
            self.addresses[key] = (host, int(port))
            if key[1] not in ("PUB", "PUSH", "REQ"):
                self.greenlets.append(gevent.spawn(self._drain, key, sock))
        # The honest peer: a DEALER whose pings the ROUTER's drain loop answers.
        self.honest = self.ctx.socket(gzmq.DEALER)
        self.honest.linger = 0
        self.honest.rcvtimeo = 5000
        self.honest.connect(self.sockets[("NULL", "ROUTER")].last_endpoint.decode())
        self.honest_rounds = 0
        self.inputs = 0
        self.messages = 0
        self.check()
        self.baseline_fds = open_fds()

    def _add(self, key, kind):
        sock = self.ctx.socket(kind)
        sock.linger = 0
        sock.handshake_ivl = 5000
        if kind == gzmq.XPUB:
            sock.xpub_verbose = True
        self.sockets[key] = sock
        return sock

    def _drain(self, key, sock):
        kind = key[1]
        while True:
            try:
                msg = sock.recv_multipart()
            except gzmq.ZMQError:
                return
            self.messages += 1
            try:
                if kind == "ROUTER" and len(msg) == 3 and msg[1] == b"honest-ping":
                    sock.send_multipart([msg[0], b"pong", msg[2]])
                elif kind == "REP":
                    sock.send_multipart([b"ok"], gzmq.DONTWAIT)
            except gzmq.ZMQError:
                pass

    def target_for(self, case):
        mech = case.mechanism
        if mech == "NULL-ZAP":
            return ("NULL-ZAP", "ROUTER")
        if mech == "PLAIN-SERVER":
            return ("PLAIN", "ROUTER")
        if mech in ("CURVE-SERVER", "CURVE-TRAFFIC") and ("CURVE", "ROUTER") in self.sockets:
            return ("CURVE", "ROUTER")
        return ("NULL", case.socket_type)

    def feed(self, data):
        """One input, start to end. Raises Hang if gzmq keeps the connection."""
        case, stream = zmtp_cases.stream_for(data)
        key = self.target_for(case)
        self.inputs += 1
        sock = gsocket.socket(_stdsocket.AF_INET, _stdsocket.SOCK_STREAM)
        timer = gevent.Timeout(HANG_SECONDS)
        timer.start()
        try:
            sock.connect(self.addresses[key])
            sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
            reader = gevent.spawn(self._read_to_end, sock)
            try:
                for piece in zmtp_cases._pieces(stream, case.seed) if len(stream) < 4096 else [stream]:
                    sock.sendall(piece)
                sock.shutdown(_stdsocket.SHUT_WR)
            except OSError:
                pass   # gzmq dropped us mid-stream: that is an answer too
            reader.get()
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            raise Hang(f"{case} on {key}: connection still open {HANG_SECONDS:g} s after the peer's "
                       f"half-close ({len(stream)} bytes sent)") from None
        finally:
            timer.close()
            sock.close()

    @staticmethod
    def _read_to_end(sock):
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass

    def check(self):
        """Health: honest round trip, no stray sessions. Returns a list of problems."""
        problems = []
        self.honest_rounds += 1
        tag = b"%d" % self.honest_rounds
        try:
            self.honest.send_multipart([b"honest-ping", tag])
            reply = self.honest.recv_multipart()
            if reply != [b"pong", tag]:
                problems.append(f"honest DEALER got {reply!r}, expected pong {tag!r}")
        except gzmq.ZMQError as exc:
            problems.append(f"honest DEALER round trip failed: {exc}")
        for key, sock in self.sockets.items():
            expected = 1 if key == ("NULL", "ROUTER") else 0
            if len(sock._sessions) != expected:
                problems.append(f"{key}: {len(sock._sessions)} sessions alive, expected {expected}")
        return problems

    def close(self):
        gevent.killall(self.greenlets, timeout=2)
        self.auth.stop()
        self.ctx.destroy(linger=0)


def run_loop(target, inputs, watch, row, check_every=500):
    """Feed `inputs` (an iterable of bytes); record hangs, health problems and errors in row."""
    for data in inputs:
        try:
            target.feed(data)
        except Hang as exc:
            row.error(f"hang: {exc}; input {bytes(data).hex()[:400]}")
        if target.inputs % check_every == 0:
            for problem in target.check():
                row.error(problem)
            if watch.errors:
                watch.errors.append(f"(around input {bytes(data).hex()[:400]})")
                watch.drain_into(row)


__all__ = ["EngineTarget", "Hang", "run_loop", "ErrorWatch"]
