"""Fixtures for the WebSocket, server-push and browser-client tests (issue 8).

``pubsub`` starts a bridge with a pubsub route whose backends are independent pyzmq peers:
an XPUB the bridge's SUB connects to (it sees the bridge's subscriptions come and go) and an
XSUB the bridge's PUB connects to (it receives browser publishes), plus a pyzmq REP behind a
req route for the request op. ``bridge_factory`` starts bridges with other flags. Everything
runs on 127.0.0.1 and is stopped when the test ends.
"""
import threading
from types import SimpleNamespace

import pytest

from wskit import Bridge, Publisher, Sink


@pytest.fixture
def zctx(pyzmq):
    ctx = pyzmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def bridge_factory():
    started = []

    def start(*flags, **kwargs):
        bridge = Bridge(*flags, **kwargs)
        started.append(bridge)
        return bridge

    yield start
    for bridge in reversed(started):
        bridge.stop()


class EchoREP:
    """A pyzmq REP answering the req envelope with what it got (in a thread)."""

    def __init__(self, zmq, ctx):
        import json

        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.stopping = False

        def serve():
            while not self.stopping:
                if not self.sock.poll(100):
                    continue
                req = json.loads(self.sock.recv())
                reply = {"status": 201 if req["method"] == "POST" else 200,
                         "body": {"method": req["method"], "path": req["path"], "query": req["query"],
                                  "body": req["body"], "content_type": req["headers"].get("content-type")}}
                self.sock.send(json.dumps(reply).encode())

        self.thread = threading.Thread(target=serve, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def pubsub(pyzmq, zctx, bridge_factory):
    """A bridge with ``/live/=pubsub:XPUB,XSUB`` and ``/api/=req:REP``, and its peers."""
    publisher = Publisher(pyzmq, zctx)
    sink = Sink(pyzmq, zctx)
    rep = EchoREP(pyzmq, zctx)

    def start(*flags):
        return bridge_factory("--route", f"/live/=pubsub:{publisher.endpoint},{sink.endpoint}",
                              "--route", f"/api/=req:{rep.endpoint},timeout=5", *flags)

    ns = SimpleNamespace(publisher=publisher, sink=sink, rep=rep, start=start)
    yield ns
    rep.close()
    sink.close()
    publisher.close()
