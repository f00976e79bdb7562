"""Heartbeats (issue 4, RFC 37): a dead peer is noticed within HEARTBEAT_TIMEOUT, the
connecting side reconnects to a restarted peer and carries on; a peer's PING TTL is honoured."""
import os
import signal
import subprocess
import sys
import time

import gevent
import pytest

import gzmq
from gzmq.utils.monitor import recv_monitor_message

PEER = os.path.join(os.path.dirname(__file__), "peer_echo.py")


def start_peer(impl, endpoint, *extra):
    proc = subprocess.Popen([sys.executable, PEER, impl, endpoint, *extra], stdout=subprocess.PIPE)
    line = proc.stdout.readline()
    assert line.strip() == b"ready", line
    return proc


def free_endpoint():
    ctx = gzmq.Context()
    s = ctx.socket(gzmq.PULL)
    s.bind("tcp://127.0.0.1:*")
    ep = s.last_endpoint.decode()
    s.close()
    ctx.term()
    return ep


def wait_event(mon, event):
    while True:
        ev = recv_monitor_message(mon)
        if ev["event"] == event:
            return ev


def echo(sock, payload):
    sock.send(payload)
    assert sock.recv() == payload


@pytest.mark.parametrize("impl", ["gzmq", "pyzmq"])
@pytest.mark.parametrize("how", ["SIGKILL", "SIGSTOP"])
def test_dead_peer_detected_and_restarted_peer_reached(impl, how, pyzmq, deadline):
    ep = free_endpoint()
    peer = start_peer(impl, ep)
    ctx = gzmq.Context()
    dealer = ctx.socket(gzmq.DEALER)
    dealer.setsockopt(gzmq.HEARTBEAT_IVL, 100)
    dealer.setsockopt(gzmq.HEARTBEAT_TIMEOUT, 500)
    mon = dealer.get_monitor_socket(gzmq.EVENT_DISCONNECTED | gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    dealer.connect(ep)
    try:
        with deadline(10):
            echo(dealer, b"before")
            wait_event(mon, gzmq.EVENT_HANDSHAKE_SUCCEEDED)
        # SIGKILL: the kernel closes the connection (FIN). SIGSTOP: the process freezes and the
        # kernel keeps the connection up, so only missing PONGs reveal it: the heartbeat path.
        os.kill(peer.pid, getattr(signal, how))
        with deadline(3):   # HEARTBEAT_TIMEOUT (0.5 s) + an interval, with room for a busy machine
            wait_event(mon, gzmq.EVENT_DISCONNECTED)
        if how == "SIGSTOP":
            os.kill(peer.pid, signal.SIGKILL)
        peer.wait()
        peer = start_peer(impl, ep)
        with deadline(10):
            wait_event(mon, gzmq.EVENT_HANDSHAKE_SUCCEEDED)
            echo(dealer, b"after restart")
    finally:
        peer.kill()
        peer.wait()
        for s in (mon, dealer):
            s.close(linger=0)
        ctx.term()


def test_peer_ping_ttl_honoured(pyzmq, deadline):
    """A libzmq DEALER pings us with TTL 500 ms; when it freezes, our ROUTER (heartbeats off
    on our side) drops the connection once the TTL has passed with nothing received."""
    ctx = gzmq.Context()
    router = ctx.socket(gzmq.ROUTER)
    mon = router.get_monitor_socket(gzmq.EVENT_DISCONNECTED)
    router.bind("tcp://127.0.0.1:*")
    peer = start_peer("pyzmq", router.last_endpoint.decode(), "dealer")
    try:
        with deadline(10):
            rid, msg = router.recv_multipart()
            assert msg == b"hello"
            # Traffic for a few heartbeat intervals (100 ms each), so the peer's PINGs and
            # their TTL have reached us; our PONGs keep it happy meanwhile.
            t0 = time.monotonic()
            while time.monotonic() - t0 < 0.4:
                router.send_multipart([rid, b"echo me"])
                assert router.recv_multipart() == [rid, b"echo me"]
        os.kill(peer.pid, signal.SIGSTOP)
        with deadline(3):
            wait_event(mon, gzmq.EVENT_DISCONNECTED)
    finally:
        peer.kill()
        peer.wait()
        for s in (mon, router):
            s.close(linger=0)
        ctx.term()
