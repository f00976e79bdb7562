"""gzmq against a real JeroMQ 0.3.6 (Debian libjeromq-java), which speaks ZMTP/2.0 (RFC 15).

gzmq recognises the 2.0 peer from its staged greeting and downgrades as libzmq does
(gzmq.zmtp.greeting): a 2.0 greeting, identities as first frames, subscriptions as
0x01/0x00 messages. The Java side is tests/interop/jeromq/JeroPeer.java, compiled once per
session and driven line by line over its stdin/stdout (gevent pipes, so gzmq's engine runs
while the test waits for Java). Both directions of bind/connect for each pattern.
"""
import os
import shutil
import socket as _stdsocket
import tempfile

import gevent
import pytest
from gevent import subprocess

import gzmq
from tests.tools.peers import require_peer

from .support import BIG, recv_within

JAR = "/usr/share/java/jeromq.jar"
SOURCE = os.path.join(os.path.dirname(__file__), "jeromq", "JeroPeer.java")


@pytest.fixture(scope="module")
def jeromq_classes():
    java, javac = shutil.which("java"), shutil.which("javac")
    require_peer("JeroMQ 0.3.6 (Debian libjeromq-java) and a JDK",
                 java and javac and os.path.exists(JAR))
    out = tempfile.mkdtemp(prefix="gzj-")
    subprocess.check_call([javac, "-d", out, "-cp", JAR, SOURCE], timeout=120)
    yield out
    shutil.rmtree(out, ignore_errors=True)


def free_endpoint():
    s = _stdsocket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"tcp://127.0.0.1:{port}"


def _hex(frame):
    return bytes(frame).hex() or "-"


class JeroPeer:
    """One JeroMQ socket in a JVM; every call waits for the Java side's answer line."""

    def __init__(self, classes, socket_type, how, endpoint, identity=None):
        args = ["java", "-cp", f"{JAR}:{classes}", "JeroPeer", socket_type, how, endpoint]
        if identity is not None:
            args.append(identity.hex())
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        assert self._line(60) == "ready"

    def _line(self, timeout=20):
        with gevent.Timeout(timeout, AssertionError("no answer from the JeroMQ peer")):
            line = self.proc.stdout.readline()
        if not line:
            raise AssertionError("the JeroMQ peer exited")
        return line.strip()

    def _ask(self, command, timeout=20):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._line(timeout)

    def send(self, frames):
        assert self._ask("send " + " ".join(_hex(f) for f in frames)) == "sent"

    def recv(self):
        """The next message (the Java side waits up to 10 s)."""
        words = self._ask("recv").split(" ")
        assert words[0] == "msg", f"JeroMQ peer received nothing: {words}"
        return [b"" if w == "-" else bytes.fromhex(w) for w in words[1:]]

    def subscribe(self, topic):
        assert self._ask("sub " + _hex(topic)) == "ok"

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def jeromq(jeromq_classes):
    made = []

    def make(socket_type, how, endpoint, identity=None):
        peer = JeroPeer(jeromq_classes, socket_type, how, endpoint, identity)
        made.append(peer)
        return peer

    yield make
    for peer in made:
        peer.close()


def gsock(gctx, kind, how, endpoint, identity=None):
    sock = gctx.socket(kind)
    sock.linger = 0
    if identity is not None:
        sock.routing_id = identity
    getattr(sock, how)(endpoint)
    return sock


HOW = [("bind", "connect"), ("connect", "bind")]   # (gzmq, JeroMQ)
IDS = ["gzmq-binds", "jeromq-binds"]


@pytest.mark.parametrize("ours, theirs", HOW, ids=IDS)
def test_req_rep_both_ways(gctx, jeromq, ours, theirs, deadline):
    with deadline(90):
        ep = free_endpoint()
        # gzmq REQ -> JeroMQ REP
        req = gsock(gctx, gzmq.REQ, ours, ep)
        rep = jeromq("REP", theirs, ep)
        req.send_multipart([b"hello", b"", b"x"])
        assert rep.recv() == [b"hello", b"", b"x"]
        rep.send([b"world"])
        assert recv_within(req) == [b"world"]
        # JeroMQ REQ -> gzmq REP
        ep2 = free_endpoint()
        grep = gsock(gctx, gzmq.REP, ours, ep2)
        jreq = jeromq("REQ", theirs, ep2)
        jreq.send([b"ping"])
        assert recv_within(grep) == [b"ping"]
        grep.send_multipart([b"pong", b""])
        assert jreq.recv() == [b"pong", b""]


@pytest.mark.parametrize("ours, theirs", HOW, ids=IDS)
def test_dealer_router_identities(gctx, jeromq, ours, theirs, deadline):
    """Identities travel as the 2.0 peers' first frame: a ROUTER routes by them."""
    with deadline(90):
        ep = free_endpoint()
        router = gsock(gctx, gzmq.ROUTER, ours, ep)
        dealer = jeromq("DEALER", theirs, ep, identity=b"java-1")
        dealer.send([b"", b"from java"])
        assert recv_within(router) == [b"java-1", b"", b"from java"]
        router.send_multipart([b"java-1", b"", b"to java"])
        assert dealer.recv() == [b"", b"to java"]
        # and the other way: a JeroMQ ROUTER sees gzmq's routing id
        ep2 = free_endpoint()
        jrouter = jeromq("ROUTER", theirs, ep2)
        gdealer = gsock(gctx, gzmq.DEALER, ours, ep2, identity=b"gz-1")
        gdealer.send_multipart([b"a", b"", b"b"])
        assert jrouter.recv() == [b"gz-1", b"a", b"", b"b"]
        jrouter.send([b"gz-1", b"back"])
        assert recv_within(gdealer) == [b"back"]


@pytest.mark.parametrize("ours, theirs", HOW, ids=IDS)
def test_push_pull_big_and_empty_frames(gctx, jeromq, ours, theirs, deadline):
    with deadline(90):
        ep = free_endpoint()
        push = gsock(gctx, gzmq.PUSH, ours, ep)
        pull = jeromq("PULL", theirs, ep)
        push.send_multipart([b"", BIG, b""])
        assert pull.recv() == [b"", BIG, b""]
        ep2 = free_endpoint()
        gpull = gsock(gctx, gzmq.PULL, ours, ep2)
        jpush = jeromq("PUSH", theirs, ep2)
        jpush.send([BIG, b"", b"end"])
        assert recv_within(gpull) == [BIG, b"", b"end"]


@pytest.mark.parametrize("ours, theirs", HOW, ids=IDS)
def test_pair(gctx, jeromq, ours, theirs, deadline):
    with deadline(60):
        ep = free_endpoint()
        pair = gsock(gctx, gzmq.PAIR, ours, ep)
        jpair = jeromq("PAIR", theirs, ep)
        pair.send(b"one")
        assert jpair.recv() == [b"one"]
        jpair.send([b"two", b"parts"])
        assert recv_within(pair) == [b"two", b"parts"]


@pytest.mark.parametrize("ours, theirs", HOW, ids=IDS)
def test_gzmq_pub_filters_for_jeromq_sub(gctx, jeromq, ours, theirs, deadline):
    """The JeroMQ SUB's subscription arrives as a 0x01 message; the gzmq PUB filters by it."""
    with deadline(60):
        ep = free_endpoint()
        pub = gsock(gctx, gzmq.PUB, ours, ep)
        sub = jeromq("SUB", theirs, ep)
        sub.subscribe(b"a")

        def publish():
            while True:
                pub.send(b"b-never")
                pub.send(b"a-msg")
                gevent.sleep(0.02)

        publisher = gevent.spawn(publish)
        try:
            got = [sub.recv() for _ in range(5)]
        finally:
            publisher.kill()
        assert got == [[b"a-msg"]] * 5


@pytest.mark.parametrize("ours, theirs", HOW, ids=IDS)
def test_jeromq_pub_filters_for_gzmq_sub(gctx, jeromq, ours, theirs, deadline):
    """gzmq's SUB sends its subscription to a 2.0 publisher as a 0x01 message."""
    with deadline(60):
        ep = free_endpoint()
        sub = gsock(gctx, gzmq.SUB, ours, ep)
        sub.subscribe(b"a")
        pub = jeromq("PUB", theirs, ep)
        while True:                      # until the subscription has reached the publisher
            pub.send([b"b-never"])
            pub.send([b"a-msg", b"part"])
            if sub.poll(20):
                break
        for _ in range(3):
            pub.send([b"b-never"])
            pub.send([b"a-msg", b"part"])
        got = [recv_within(sub) for _ in range(4)]
        assert got == [[b"a-msg", b"part"]] * 4
