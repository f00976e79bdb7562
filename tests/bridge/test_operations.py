"""What operators expect, on the real ``python -m bridge``: the access log (common and JSON),
SIGHUP reloading routes and limits without dropping open connections, health with each
route's backend state, the /_bridge/ endpoints on an admin listener or off, clear errors for
a missing static directory and an unknown log level, and the HTTP details (absolute-form
targets, Expect other than 100-continue)."""
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from httpkit import REPO, BridgeProcess, Client, fetch, free_port, python


def _wait(predicate, what, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


class SlowEcho:
    """A pyzmq REP answering the req envelope with its path, after ``delay`` seconds."""

    def __init__(self, zmq, ctx, delay=0.0):
        self.sock = ctx.socket(zmq.REP)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.endpoint = f"tcp://127.0.0.1:{self.sock.bind_to_random_port('tcp://127.0.0.1')}"
        self.delay, self.stopping = delay, False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            if self.sock.poll(50):
                req = json.loads(self.sock.recv())
                time.sleep(self.delay)
                self.sock.send(json.dumps({"body": "echo " + req["path"]}).encode())

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def www(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "a.txt").write_text("A")
    return root


def test_access_log_common_and_json(www, tmp_path, processes):
    for fmt in ("common", "json"):
        log = tmp_path / f"access-{fmt}.log"
        bridge = processes.start(BridgeProcess("--static", f"/={www}", "--access-log", str(log),
                                               "--access-log-format", fmt))
        assert fetch(bridge.port, "GET", "/a.txt?x=1").status == 200
        assert fetch(bridge.port, "GET", "/nothing").status == 404
        with Client(bridge.port) as c:                  # refused before it is a request
            c.send_raw(b"GET / HTTP/1.1\r\n\r\n")
            assert c.response().status == 400
        lines = _wait(lambda: (log.read_text().splitlines() if log.exists() else [])[2:] and
                      log.read_text().splitlines(), "three access-log lines")
        if fmt == "common":
            assert '"GET /a.txt?x=1 HTTP/1.1" 200 ' in lines[0] and lines[0].startswith("127.0.0.1 - - [")
            assert lines[0].endswith('"/"')
            assert '"GET /nothing HTTP/1.1" 404 ' in lines[1]
            assert ' 400 ' in lines[2] and "without Host" in lines[2]
        else:
            first = json.loads(lines[0])
            assert (first["method"], first["target"], first["status"], first["route"]) == ("GET", "/a.txt?x=1", 200, "/")
            assert first["bytes"] > 1 and first["seconds"] >= 0 and first["remote"] == "127.0.0.1"
            assert json.loads(lines[2])["status"] == 400
        bridge.stop()


def test_sighup_reloads_routes_and_limits_without_dropping_connections(pyzmq, zctx, www, tmp_path, processes):
    slow, other = SlowEcho(pyzmq, zctx, delay=1.5), SlowEcho(pyzmq, zctx)
    try:
        config = tmp_path / "bridge.json"
        config.write_text(json.dumps({"routes": [f"/slow/=req:{slow.endpoint},timeout=10", f"/=static:{www}"]}))
        bridge = processes.start(BridgeProcess("--config", str(config)))
        _wait(lambda: fetch(bridge.port, "GET", "/_bridge/health").json()["status"] == "ok", "backends connected")
        kept = Client(bridge.port, timeout=10)          # a keep-alive connection across the reload
        kept.request("GET", "/a.txt")
        assert kept.response().body == b"A"
        # A request in flight on a route the reload removes still gets its answer.
        in_flight = Client(bridge.port, timeout=10)
        in_flight.request("GET", "/slow/x")
        time.sleep(0.3)                                 # the request has left (the backend holds it 1.5 s)
        config.write_text(json.dumps({"routes": [f"/other/=req:{other.endpoint}", f"/=static:{www}"],
                                      "limits": {"max_body_bytes": 10}}))
        os.kill(bridge.proc.pid, signal.SIGHUP)
        _wait(lambda: fetch(bridge.port, "GET", "/other/y").status == 200, "the new route")
        assert fetch(bridge.port, "GET", "/slow/x").status == 404          # gone for new requests
        response = in_flight.response()
        assert (response.status, response.body) == (200, b"echo /slow/x")
        kept.request("GET", "/a.txt")
        assert kept.response().body == b"A"                                # the same connection
        assert fetch(bridge.port, "POST", "/a.txt", body=b"x" * 11).status == 413   # the new limit
        # A config that does not load changes nothing.
        config.write_text('{"routes": ["/bad=nonsense:x"]}')
        os.kill(bridge.proc.pid, signal.SIGHUP)
        time.sleep(0.5)
        assert fetch(bridge.port, "GET", "/other/y").status == 200
        assert bridge.proc.poll() is None
        kept.close()
        in_flight.close()
    finally:
        slow.close()
        other.close()


def test_health_says_which_backend_is_unreachable_and_503_says_why(pyzmq, zctx, processes):
    up = SlowEcho(pyzmq, zctx)
    down = f"tcp://127.0.0.1:{free_port()}"
    try:
        bridge = processes.start(BridgeProcess("--route", f"/up/=req:{up.endpoint}", "--route", f"/down/=req:{down}",
                                               "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*"))
        health = _wait(lambda: (lambda h: h["routes"][0]["backend"]["state"] == "connected" and h)(
            fetch(bridge.port, "GET", "/_bridge/health").json()), "the up backend connected")
        assert health["status"] == "degraded" and sorted(health["degraded_routes"]) == ["/down/", "/m2/"]
        by_prefix = {r["prefix"]: r["backend"] for r in health["routes"]}
        assert by_prefix["/up/"] == {"state": "connected", "backends": 1}
        assert by_prefix["/down/"]["state"] == "unavailable" and down in by_prefix["/down/"]["why"]
        assert by_prefix["/m2/"]["handlers"] == 0
        r = fetch(bridge.port, "GET", "/down/x")
        assert r.status == 503 and down.encode() in r.body and r.body.startswith(b"503 Service Unavailable: ")
        r = fetch(bridge.port, "GET", "/m2/x")
        assert r.status == 503 and b"no Mongrel2 handler connected to tcp://127.0.0.1:" in r.body
    finally:
        up.close()


def test_admin_listener_and_off(www, processes):
    bridge = processes.start(BridgeProcess("--static", f"/={www}", "--admin", "127.0.0.1:0"))
    admin = int(bridge.info["admin"].rsplit(":", 1)[1])
    assert fetch(bridge.port, "GET", "/_bridge/health").status == 404
    assert fetch(bridge.port, "GET", "/_bridge/metrics").status == 404
    assert fetch(bridge.port, "GET", "/_bridge/bridge.js").status == 200      # pages still load it
    assert fetch(admin, "GET", "/_bridge/health").json()["status"] == "ok"
    assert b"bridge_requests_total" in fetch(admin, "GET", "/_bridge/metrics").body
    assert fetch(admin, "GET", "/a.txt").status == 404                         # admin serves no routes
    bridge.stop()
    bridge = processes.start(BridgeProcess("--static", f"/={www}", "--admin", "off"))
    assert fetch(bridge.port, "GET", "/_bridge/health").status == 404
    assert "admin" not in bridge.info


@pytest.mark.parametrize("flags, message", [
    (["--static", "/=/no/such/dir"], "static directory '/no/such/dir' does not exist"),
    (["--log-level", "verbose"], "unknown log level 'verbose'"),
    (["--route", "/x=bogus:1"], "the scheme must be one of mongrel2, req, pubsub, page, static"),
    (["--admin", "somewhere"], "admin 'somewhere' must be main, off or HOST:PORT"),
    (["--tls-cert", "/no/cert.pem"], "tls_cert '/no/cert.pem': no such file"),
])
def test_clear_errors(flags, message):
    run = subprocess.run(python("-m", "bridge", "--listen", "127.0.0.1:0", *flags), cwd=REPO,
                         capture_output=True, text=True, timeout=30,
                         env=dict(os.environ, PYTHONPATH=REPO))
    assert run.returncode == 2 and message in run.stderr, run.stderr


def test_absolute_form_and_expect(www, processes):
    bridge = processes.start(BridgeProcess("--static", f"/={www}"))
    with Client(bridge.port) as c:
        c.send_raw(b"GET http://localhost/a.txt HTTP/1.1\r\nHost: elsewhere\r\n\r\n")
        assert c.response().body == b"A"
    with Client(bridge.port) as c:
        c.send_raw(b"POST /a.txt HTTP/1.1\r\nHost: h\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx")
        r = c.response()
        assert r.status == 417 and b"teapot" in r.body
