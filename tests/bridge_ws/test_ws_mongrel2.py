"""Mongrel2 WebSocket pass-through: the same independent pyzmq handler behind a real Mongrel2 1.12
and behind the bridge, and the messages it receives compared between the two.

The handler (written here against pyzmq only, after Mongrel2's examples/ws/python/echo.py)
answers WEBSOCKET_HANDSHAKE with the 101, echoes text and binary messages, answers pings with
pongs, echoes a close frame and then closes with an empty reply. It records every message.
"""
import base64
import hashlib
import importlib.util
import json
import os
import threading
import time

import pytest
import websocket

from httpkit import wait_ready
from wskit import REPO, Bridge

pytestmark = pytest.mark.mongrel2

M2_UUID = "54c6755b-9628-40a4-9a2d-cc82a816345e"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _mongrel2_class():
    # The real-Mongrel2 launcher of tests/bridge (its conftest), loaded under its own name.
    spec = importlib.util.spec_from_file_location("bridge_tests_conftest",
                                                  os.path.join(REPO, "tests", "bridge", "conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.M2_UUID == M2_UUID
    return module.Mongrel2


def _netstring(data, pos):
    colon = data.index(b":", pos)
    n = int(data[pos:colon])
    return data[colon + 1:colon + 1 + n], colon + 2 + n


def server_frame(opcode, payload):
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, n])
    elif n < 65536:
        head = bytes([0x80 | opcode, 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([0x80 | opcode, 127]) + n.to_bytes(8, "big")
    return head + payload


class WSHandler:
    """The independent handler, in a thread: PULL from SEND_SPEC, PUB to RECV_SPEC."""

    def __init__(self, zmq, ctx, send_spec, recv_spec):
        self.pull = ctx.socket(zmq.PULL)
        self.pub = ctx.socket(zmq.PUB)
        for sock in (self.pull, self.pub):
            sock.setsockopt(zmq.LINGER, 0)
        self.pull.connect(send_spec)
        self.pub.connect(recv_spec)
        self.messages = []
        self.seen = threading.Condition()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _reply(self, sender, conn_id, body):
        self.pub.send(sender + b" %d:%s, " % (len(conn_id), conn_id) + body)

    def _run(self):
        while not self.stopping:
            if not self.pull.poll(100):
                continue
            msg = self.pull.recv()
            sender, conn_id, path, rest = msg.split(b" ", 3)
            headers, end = _netstring(rest, 0)
            body, _ = _netstring(rest, end)
            headers = json.loads(headers)
            with self.seen:
                self.messages.append((conn_id, headers, body))
                self.seen.notify_all()
            method = headers.get("METHOD")
            if method == "WEBSOCKET_HANDSHAKE":
                self._reply(sender, conn_id, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                             b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + body + b"\r\n\r\n")
            elif method == "WEBSOCKET":
                opcode = int(headers["FLAGS"], 16) & 0x0F
                if opcode in (0x1, 0x2):
                    self._reply(sender, conn_id, server_frame(opcode, body))
                elif opcode == 0x9:
                    self._reply(sender, conn_id, server_frame(0xA, body))
                elif opcode == 0x8:
                    self._reply(sender, conn_id, server_frame(0x8, body))
                    self._reply(sender, conn_id, b"")
            elif method == "GET":                       # readiness probe
                self._reply(sender, conn_id, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    def wait_for(self, predicate, timeout=10.0, since=0):
        """The first message from index ``since`` on that satisfies ``predicate``."""
        end = time.monotonic() + timeout
        with self.seen:
            while True:
                found = [m for m in self.messages[since:] if predicate(m)]
                if found:
                    return found[0]
                left = end - time.monotonic()
                if left <= 0:
                    got = [(h.get("METHOD"), h.get("FLAGS")) for _, h, _ in self.messages]
                    raise AssertionError(f"handler never saw it; got {got}")
                self.seen.wait(left)

    def handshake(self):
        """(index, conn id) of the latest WEBSOCKET_HANDSHAKE. Mongrel2 reuses file descriptors
        as connection ids, so only later messages surely belong to that connection."""
        self.wait_for(lambda m: m[1].get("METHOD") == "WEBSOCKET_HANDSHAKE")
        with self.seen:
            index = max(i for i, m in enumerate(self.messages) if m[1].get("METHOD") == "WEBSOCKET_HANDSHAKE")
            return index, self.messages[index][0]

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.pull.close()
        self.pub.close()


def _start(kind, zmq, ctx, tmp_path_factory):
    if kind == "mongrel2":
        m2 = _mongrel2_class()(str(tmp_path_factory.mktemp("mongrel2")))
        handler = WSHandler(zmq, ctx, f"tcp://127.0.0.1:{m2.send}", f"tcp://127.0.0.1:{m2.recv}")
        return m2, handler, m2.port
    bridge = Bridge("--uuid", M2_UUID, "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*")
    route = bridge.route("/m2/")
    handler = WSHandler(zmq, ctx, route["send"], route["recv"])
    return bridge, handler, bridge.port


@pytest.fixture(params=["mongrel2", "bridge"])
def front(request, pyzmq, zctx, tmp_path_factory):
    server, handler, port = _start(request.param, pyzmq, zctx, tmp_path_factory)
    try:
        wait_ready(port, "/m2/ready", ok=lambda r: r.status == 200)   # the handler's PUB is subscribed
        yield request.param, handler, port
    finally:
        handler.stop()
        server.stop()


def _ws(port, path="/m2/ws?room=1"):
    return websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=10)


def test_handshake_goes_to_the_handler(front, deadline):
    kind, handler, port = front
    with deadline(20):
        ws = _ws(port)                  # websocket-client checks the 101's accept value itself
        conn_id, headers, body = handler.wait_for(lambda m: m[1].get("METHOD") == "WEBSOCKET_HANDSHAKE")
        # Body: the Sec-WebSocket-Accept value the front computed; the handler sent the 101.
        key = headers["sec-websocket-key"]
        assert body == base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        assert headers["PATH"] == "/m2/ws" and headers["URI"] == "/m2/ws?room=1" and headers["QUERY"] == "room=1"
        assert headers["PATTERN"] == "/m2/" and headers["VERSION"] == "HTTP/1.1"
        assert headers["upgrade"].lower() == "websocket"
        assert "FLAGS" not in headers
        ws.close()


def test_messages_and_control_frames_pass_through(front, deadline):
    kind, handler, port = front
    with deadline(30):
        ws = _ws(port)
        ws.send("héllo")
        assert ws.recv() == "héllo"
        blob = bytes(range(256)) * 4
        ws.send_binary(blob)
        assert ws.recv() == blob
        # Fragments are reassembled: the handler gets one message, FLAGS of the first frame.
        ws.send_frame(websocket.ABNF.create_frame("ab", websocket.ABNF.OPCODE_TEXT, fin=0))
        ws.send_frame(websocket.ABNF.create_frame("cd", websocket.ABNF.OPCODE_CONT, fin=1))
        assert ws.recv() == "abcd"
        # Pings go to the handler, which answers with the pong.
        ws.ping(b"are you there")
        opcode, data = ws.recv_data(control_frame=True)
        assert (opcode, data) == (websocket.ABNF.OPCODE_PONG, b"are you there")
        flags = [(h["FLAGS"], b) for _, h, b in handler.messages if h.get("METHOD") == "WEBSOCKET"]
        assert flags == [("0x81", "héllo".encode()), ("0x82", blob), ("0x81", b"abcd"), ("0x89", b"are you there")]
        ws.close()


def test_close_goes_to_the_handler(front, deadline):
    kind, handler, port = front
    with deadline(30):
        ws = _ws(port)
        since, conn_id = handler.handshake()
        ws.send("x")
        ws.recv()
        ws.send_close(4000, b"done")
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE and data == (4000).to_bytes(2, "big") + b"done"
        _, headers, body = handler.wait_for(lambda m: m[0] == conn_id and m[1].get("FLAGS") == "0x88", since=since)
        assert body == (4000).to_bytes(2, "big") + b"done"
        if kind == "bridge":
            # The bridge tells handlers about every connection that ends, even one they closed
            # themselves (Mongrel2 1.12 sends nothing then).
            handler.wait_for(lambda m: m[0] == conn_id and m[1].get("METHOD") == "JSON"
                             and json.loads(m[2]) == {"type": "disconnect"}, since=since)
        ws.close()


def test_two_close_frames_still_get_the_handlers_close(front, deadline):
    # Autobahn 7.1.2: the browser sends a second close frame before the handler's echo of the
    # first arrives; the front must still deliver that echo, then close TCP.
    kind, handler, port = front
    with deadline(30):
        ws = _ws(port)
        handler.handshake()
        # Both in one write: the handler's close could otherwise end the connection first.
        close = websocket.ABNF.OPCODE_CLOSE
        ws.sock.sendall(websocket.ABNF.create_frame((1000).to_bytes(2, "big") + b"one", close).format()
                        + websocket.ABNF.create_frame((1001).to_bytes(2, "big") + b"two", close).format())
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE and data == (1000).to_bytes(2, "big") + b"one"
        ws.sock.settimeout(10)
        assert ws.sock.recv(1) == b""                   # then the connection closes
        ws.close()


def test_client_leaving_abruptly_tells_the_handler(front, deadline):
    kind, handler, port = front
    with deadline(30):
        ws = _ws(port)
        since, conn_id = handler.handshake()
        ws.send("x")
        ws.recv()
        ws.sock.close()                                 # no close frame
        handler.wait_for(lambda m: m[0] == conn_id and m[1].get("METHOD") == "JSON", since=since)


def test_same_messages_as_mongrel2(pyzmq, zctx, tmp_path_factory, deadline):
    """The handler sees the same messages, header names and FLAGS from both fronts."""
    seen = {}
    with deadline(60):
        for kind in ("mongrel2", "bridge"):
            server, handler, port = _start(kind, pyzmq, zctx, tmp_path_factory)
            try:
                wait_ready(port, "/m2/ready", ok=lambda r: r.status == 200)
                ws = websocket.create_connection(f"ws://127.0.0.1:{port}/m2/ws?q=1", timeout=10,
                                                 origin="http://example.com", host="example.com")
                ws.send("one")
                ws.recv()
                ws.send_binary(b"\x00two")
                ws.recv()
                since, conn_id = handler.handshake()
                ws.close()
                handler.wait_for(lambda m: m[0] == conn_id and m[1].get("FLAGS") == "0x88", since=since)
                seen[kind] = [(h.get("METHOD"), h.get("FLAGS"), sorted(h), b)
                              for c, h, b in handler.messages[since:] if c == conn_id and h.get("METHOD") != "JSON"]
            finally:
                handler.stop()
                server.stop()
    m2, ours = seen["mongrel2"], seen["bridge"]
    # The accept key differs (websocket-client picks a new key each time); the rest is identical.
    assert [(m, f, k) for m, f, k, _ in m2] == [(m, f, k) for m, f, k, _ in ours]
    assert [b for m, _, _, b in m2 if m != "WEBSOCKET_HANDSHAKE"] == [b for m, _, _, b in ours
                                                                     if m != "WEBSOCKET_HANDSHAKE"]


def test_no_handler_is_503(bridge_factory, deadline):
    bridge = bridge_factory("--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*")
    with deadline(20):
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            websocket.create_connection(f"ws://127.0.0.1:{bridge.port}/m2/ws", timeout=10)
        assert e.value.status_code == 503


def test_oversized_message_is_closed_by_the_bridge(pyzmq, zctx, bridge_factory, deadline):
    bridge = bridge_factory("--uuid", M2_UUID, "--ws-max-message-bytes", "1000",
                            "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*")
    route = bridge.route("/m2/")
    handler = WSHandler(pyzmq, zctx, route["send"], route["recv"])
    try:
        with deadline(30):
            wait_ready(bridge.port, "/m2/ready", ok=lambda r: r.status == 200)
            ws = _ws(bridge.port)
            since, conn_id = handler.handshake()
            ws.send("y" * 2000)
            opcode, data = ws.recv_data(control_frame=True)
            assert opcode == websocket.ABNF.OPCODE_CLOSE and data[:2] == (1009).to_bytes(2, "big")
            # The handler never saw the message, and hears that the connection is gone.
            handler.wait_for(lambda m: m[0] == conn_id and m[1].get("METHOD") == "JSON", since=since)
            assert not [m for m in handler.messages if m[1].get("METHOD") == "WEBSOCKET"]
    finally:
        handler.stop()



