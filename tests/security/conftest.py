"""Fixtures and helpers for the security tests: gzmq and libzmq (zmq.green) contexts, key pairs,
and handshake-event recorders that work for both implementations.

"Refused" is never concluded from silence: each refusal test waits for the event that says
so on the socket monitor (libzmq's or gzmq's), then proves that an honest client still gets
through.
"""
import shutil
import tempfile

import gevent
import pytest

import gzmq
from gzmq.constants import Event


@pytest.fixture
def libs(green, gctx, lctx):
    """{"gzmq": (module, context), "libzmq": (module, context)}."""
    return {"gzmq": (gzmq, gctx), "libzmq": (green, lctx)}


@pytest.fixture
def cert_dir():
    path = tempfile.mkdtemp(prefix="gzs-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def server_keys():
    return gzmq.curve_keypair()


@pytest.fixture(scope="session")
def client_keys():
    return gzmq.curve_keypair()


@pytest.fixture(scope="session")
def other_keys():
    return gzmq.curve_keypair()


def is_gzmq(sock):
    return isinstance(sock, gzmq.Socket)


class Events:
    """Handshake events of one socket from its monitor (gzmq's or libzmq's, same API)."""

    def __init__(self, sock):
        self.sock = sock
        self.monitor = sock.get_monitor_socket()
        if is_gzmq(sock):
            from gzmq.utils.monitor import recv_monitor_message
        else:
            from zmq.utils.monitor import recv_monitor_message
        self._recv = recv_monitor_message

    def wait(self, event, timeout=10):
        """Wait for `event`; returns its value. Other events are skipped."""
        with gevent.Timeout(timeout, AssertionError(f"no {Event(event).name} within {timeout}s")):
            while True:
                got, value = self.next()
                if got == event:
                    return value

    def next(self):
        # zmq.green can miss its socket's edge-triggered wake-up and recovers only after
        # 11.6 s, longer than these waits; poll() asks libzmq itself, so look every 100 ms.
        while not self.monitor.poll(100):
            pass
        msg = self._recv(self.monitor)
        return int(msg["event"]), msg["value"]

    def drain(self):
        """The names of the events already reported, without waiting."""
        names = []
        while self.monitor.poll(0):
            names.append(Event(self.next()[0]).name)
        return names

    def close(self):
        if not self.sock.closed:
            self.sock.disable_monitor()
        self.monitor.close(linger=0)


@pytest.fixture
def events():
    made = []

    def make(sock):
        ev = Events(sock)
        made.append(ev)
        return ev

    yield make
    for ev in made:
        ev.close()


def endpoint_of(sock):
    return sock.getsockopt(32).decode()  # LAST_ENDPOINT, same number in gzmq and libzmq


def bind_tcp(sock):
    sock.bind("tcp://127.0.0.1:*")
    return endpoint_of(sock)


def curve_server(sock, keys):
    sock.curve_server = True
    sock.curve_secretkey = keys[1]
    sock.curve_publickey = keys[0]
    return sock


def curve_client(sock, keys, server_public):
    sock.curve_publickey = keys[0]
    sock.curve_secretkey = keys[1]
    sock.curve_serverkey = server_public
    return sock


def request(client, server, payload=b"ping", timeout=10):
    """One REQ/REP round trip; returns the request frames as the server received them."""
    with gevent.Timeout(timeout, AssertionError("request/reply did not complete")):
        client.send(payload)
        got = server.recv(copy=False)
        server.send(b"re:" + got.bytes)
        assert client.recv() == b"re:" + payload
    return got


def publish_until_received(pub, sub, msg, timeout=10):
    """Slow joiner: publish until the subscriber gets it (bounded); returns what it received."""
    with gevent.Timeout(timeout, AssertionError("subscriber never received")):
        while True:
            pub.send_multipart(msg)
            if sub.poll(20):
                return sub.recv_multipart()
