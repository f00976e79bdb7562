"""gzmq's draft socket types against zeromq.js (libzmq 4.3.5 built with the draft API), in a
Node.js child process (tests/js/draft_peer.js): SERVER/CLIENT, RADIO/DISH over tcp and udp,
SCATTER/GATHER, DGRAM. zeromq.js has no PEER or CHANNEL: those are covered gzmq to gzmq in
tests/sockets/test_spec_draft.py."""
import pytest

import gzmq

from tests.tools.jspeer import JsPeer

from .support import recv_within

pytestmark = pytest.mark.interop


@pytest.fixture
def js():
    started = []

    def start(*args):
        p = JsPeer("draft_peer.js", *args)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def _free_udp_port():
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_gzmq_client_to_js_server(gctx, js, deadline):
    with deadline(20):
        server = js("server", "tcp://127.0.0.1:*", "bind")
        client = gctx.socket(gzmq.CLIENT)
        client.connect(server.endpoint)
        for i in range(3):
            client.send(b"q%d" % i)
            assert server.line() == f"got q{i} number"
            assert recv_within(client, 10000) == [b"echo:q%d" % i]
        server.finish()


def test_js_client_to_gzmq_server(gctx, js, deadline):
    with deadline(20):
        server = gctx.socket(gzmq.SERVER)
        server.bind("tcp://127.0.0.1:*")
        client = js("client", server.LAST_ENDPOINT.decode(), "connect")
        assert server.poll(10000)
        frame = server.recv(copy=False)
        assert frame.bytes == b"hello"
        assert isinstance(frame.routing_id, int) and frame.routing_id != 0
        server.send(b"welcome", routing_id=frame.routing_id)
        assert client.line() == "reply welcome"
        client.finish()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_gzmq_radio_to_js_dish(gctx, js, deadline, transport):
    with deadline(20):
        port = _free_udp_port() if transport == "udp" else "*"
        dish = js("dish", f"{transport}://127.0.0.1:{port}", "bind")
        radio = gctx.socket(gzmq.RADIO)
        radio.connect(dish.endpoint)
        # A radio cannot know when a dish has joined: send until the dish prints.
        lines = []
        sender = _Repeat(lambda i: [radio.send(b"m%d" % i, group=g) for g in ("g1", "g2", "g3")])
        try:
            lines = dish.lines(3)
        finally:
            sender.stop()
        for line in lines:
            kind, group, body = line.split(" ")
            assert kind == "msg" and group in ("g1", "g2") and body.startswith("m")
        dish.finish()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_js_radio_to_gzmq_dish(gctx, js, deadline, transport):
    with deadline(20):
        dish = gctx.socket(gzmq.DISH)
        dish.join("g1")
        if transport == "udp":
            port = _free_udp_port()
            dish.bind(f"udp://127.0.0.1:{port}")
            radio = js("radio", f"udp://127.0.0.1:{port}", "connect")
        else:
            radio = js("radio", "tcp://127.0.0.1:*", "bind")
            dish.connect(radio.endpoint)
        for _ in range(3):
            assert dish.poll(10000)
            frame = dish.recv(copy=False)
            assert frame.group == "g1"
            assert frame.bytes.startswith(b"news ")   # never g0, which nobody joined
        radio.stop()
        assert radio.line() == "done"


def test_gzmq_scatter_to_js_gather(gctx, js, deadline):
    with deadline(20):
        gather = js("gather", "tcp://127.0.0.1:*", "bind")
        scatter = gctx.socket(gzmq.SCATTER)
        scatter.connect(gather.endpoint)
        for i in range(3):
            scatter.send(b"s%d" % i)
        assert gather.lines(3) == ["msg s0", "msg s1", "msg s2"]
        gather.finish()


def test_js_scatter_to_gzmq_gather(gctx, js, deadline):
    with deadline(20):
        gather = gctx.socket(gzmq.GATHER)
        gather.bind("tcp://127.0.0.1:*")
        scatter = js("scatter", gather.LAST_ENDPOINT.decode(), "connect")
        assert [recv_within(gather, 10000) for _ in range(3)] == [[b"part 0"], [b"part 1"], [b"part 2"]]
        scatter.stop()


def test_gzmq_dgram_to_js_datagram(gctx, js, deadline):
    with deadline(20):
        port = _free_udp_port()
        peer = js("dgram", f"udp://127.0.0.1:{port}", "bind")
        dgram = gctx.socket(gzmq.DGRAM)
        dgram.bind("udp://127.0.0.1:*")
        for i in range(3):
            dgram.send_multipart([f"127.0.0.1:{port}".encode(), b"d%d" % i])
            assert peer.line() == f"got d{i}"
            addr, body = recv_within(dgram, 10000)
            assert addr == f"127.0.0.1:{port}".encode() and body == b"echo:d%d" % i
        peer.finish()


class _Repeat:
    """Call fn(i) every 10 ms in a greenlet until stop() (a radio's slow-joiner loop)."""

    def __init__(self, fn):
        import gevent
        self._g = gevent.spawn(self._run, fn)

    def _run(self, fn):
        import gevent
        i = 0
        while True:
            fn(i)
            i += 1
            gevent.sleep(0.01)

    def stop(self):
        self._g.kill()
