"""Several bridge hosts behind a TCP load balancer, topics shared through an XSUB/XPUB forwarder
(bridge/README.md, "Past one machine"), in network namespaces (hostnet.py): haproxy on lb
spreads browsers over the bridges on hosts a and b; a plain ZeroMQ publisher on host a reaches
browsers on both bridges; a browser's publish on one bridge reaches a browser on the other."""
import json
import os
import sys
import time

import pytest
import websocket

from hostnet import HostNet, missing_tools
from httpkit import Process
from wskit import REPO, recv_until, send_json

HAPROXY_CFG = """\
global
    maxconn 1000
defaults
    mode tcp
    timeout connect 5s
    timeout client 1h
    timeout server 1h
frontend web
    bind {lb}:8080
    default_backend bridges
backend bridges
    balance roundrobin
    server a {a}:8080
    server b {b}:8080
"""


@pytest.fixture(scope="module")
def net():
    from tools.peers import require_peer
    missing = missing_tools()
    require_peer(", ".join(missing), not missing)
    net = HostNet()
    yield net
    net.close()


def haproxy_binary():
    for path in ("/usr/sbin/haproxy", "/usr/bin/haproxy"):
        if os.path.exists(path):
            return path
    from tools.peers import require_peer
    require_peer("haproxy (Debian haproxy)", False)


def ws_via(host, url):
    """A websocket-client connection whose socket lives in ``host``'s namespace."""
    with host.enter():
        return websocket.create_connection(url, timeout=10)


def bridge_of(ws, n=[0]):
    n[0] += 1
    send_json(ws, {"op": "request", "id": f"h{n[0]}", "path": "/_bridge/health"})
    reply, _ = recv_until(ws, lambda m: m.get("id") == f"h{n[0]}")
    return json.loads(reply["body"])["listen"]


def test_topics_reach_browsers_on_every_bridge_behind_a_load_balancer(net, tmp_path, deadline):
    lb, a, b, fwd = net["lb"], net["a"], net["b"], net["fwd"]
    procs = []
    try:
        with deadline(90):
            front, back = f"tcp://{fwd.address}:5570", f"tcp://{fwd.address}:5571"
            forwarder = Process(fwd.command(sys.executable, os.path.join(REPO, "examples", "devices",
                                                                         "forwarder_device.py"),
                                            "device", "--frontend", front, "--backend", back))
            procs.append(forwarder)
            assert forwarder.readline().startswith("forwarder:")
            for host in (a, b):
                # Each bridge: SUB to the forwarder's XPUB, PUB to its XSUB.
                bridge = Process(host.command(sys.executable, "-m", "bridge", "--listen", f"{host.address}:8080",
                                              "--route", f"/live/=pubsub:{back},{front}"))
                procs.append(bridge)
                assert bridge.readline().startswith("bridge ready ")
            cfg = tmp_path / "haproxy.cfg"
            cfg.write_text(HAPROXY_CFG.format(lb=lb.address, a=a.address, b=b.address))
            procs.append(Process(lb.command(haproxy_binary(), "-db", "-f", str(cfg))))
            # Browsers (in lb's namespace, as a client network would be) until one is on each bridge.
            browsers = {}
            for _ in range(50):
                try:
                    ws = ws_via(lb, f"ws://{lb.address}:8080/live/")
                except (OSError, websocket.WebSocketException):
                    time.sleep(0.1)                 # haproxy still starting
                    continue
                where = bridge_of(ws)
                if where in browsers:
                    ws.close()
                else:
                    browsers[where] = ws
                if len(browsers) == 2:
                    break
            assert set(browsers) == {f"{a.address}:8080", f"{b.address}:8080"}
            on_a, on_b = browsers[f"{a.address}:8080"], browsers[f"{b.address}:8080"]
            for ws in (on_a, on_b):
                send_json(ws, {"op": "subscribe", "topic": "news", "id": "s"})
                send_json(ws, {"op": "subscribe", "topic": "chat", "id": "c"})
            # A plain ZeroMQ publisher on host a ("news N" every 10 ms) reaches both bridges.
            publisher = Process(a.command(sys.executable, os.path.join(REPO, "examples", "devices",
                                                                       "forwarder_device.py"),
                                          "publisher", "--frontend", front, "--topic", "news"))
            procs.append(publisher)
            for ws in (on_a, on_b):
                msg, _ = recv_until(ws, lambda m: m.get("op") == "message" and m["topic"] == "news")
                assert msg["data"].startswith("news ")
            # A browser's publish on bridge a reaches the browser on bridge b (once the chat
            # subscription has travelled b -> forwarder -> a's PUB: probes until one arrives).
            for n in range(200):
                send_json(on_a, {"op": "publish", "topic": "chat", "data": f"hello {n}"})
                on_b.settimeout(0.1)
                try:
                    msg, _ = recv_until(on_b, lambda m: m.get("topic") == "chat")
                    break
                except websocket.WebSocketTimeoutException:
                    continue
            on_b.settimeout(10)
            assert msg["data"].startswith("hello ")
            for ws in browsers.values():
                ws.close()
    finally:
        for proc in reversed(procs):
            proc.stop()
