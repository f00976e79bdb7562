"""Our bridge end to end (``python -m bridge`` in a subprocess): req routes over pyzmq REP
backends, Mongrel2-route timeouts, 503/504, limits (413, 431, header timeout), static files,
clients that leave mid-request, health and metrics, config files with Host matching.
"""
import json
import os
import socket
import time

import pytest

from httpkit import BridgeProcess, Client, Process, fetch, free_port, peer, wait_ready


def start_backends(processes, names, delay=0.0):
    endpoints = []
    for name in names:
        endpoint = f"tcp://127.0.0.1:{free_port()}"
        proc = processes.start(Process(peer("rep_backend.py", endpoint, name, str(delay))))
        assert proc.readline() == "ready"
        endpoints.append(endpoint)
    return endpoints


def wait_for_metric(bridge, key, at_least=1, deadline=5.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if bridge.metrics().get(key, 0) >= at_least:
            return
        time.sleep(0.02)
    raise AssertionError(f"metric {key} never reached {at_least}: {bridge.metrics()}")


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A bridge with a req route over three pyzmq REP backends, and a static route."""
    from types import SimpleNamespace

    procs = []
    ns = SimpleNamespace(start=lambda p: procs.append(p) or p)
    root = tmp_path_factory.mktemp("www")
    (root / "index.html").write_text("<h1>home</h1>")
    (root / "style.css").write_text("body{}")
    (root / "sub").mkdir()
    (root / "sub" / "index.html").write_text("sub index")
    secret = root.parent / "secret.txt"
    secret.write_text("top secret")
    try:
        endpoints = start_backends(ns, ["a", "b", "c"])
        bridge = ns.start(BridgeProcess("--route", "/api/=req:" + ",".join(endpoints),
                                        "--route", "/api/bad-backend/=req:" + endpoints[0],
                                        "--static", f"/static/={root}",
                                        "--max-body-bytes", "100000"))
        seen = set()
        end = time.monotonic() + 15
        while seen != {"a", "b", "c"}:           # every backend connected
            assert time.monotonic() < end, f"backends seen: {seen}"
            r = fetch(bridge.port, "GET", "/api/x")
            if r.status == 200:
                seen.add(r.json()["backend"])
        yield SimpleNamespace(bridge=bridge, port=bridge.port, root=root)
    finally:
        for p in reversed(procs):
            p.stop()


# ---------------------------------------------------------------- req routes


def test_requests_spread_over_backends(api):
    counts = {}
    with Client(api.port) as c:                  # one keep-alive connection
        for _ in range(30):
            c.request("GET", "/api/who")
            r = c.response()
            assert r.status == 200
            name = r.json()["backend"]
            counts[name] = counts.get(name, 0) + 1
    assert set(counts) == {"a", "b", "c"}
    assert min(counts.values()) >= 5, counts


def test_envelope_fields(api):
    r = fetch(api.port, "POST", "/api/items?a=1&b=%20", body="héllo".encode(),
              headers=[("X-Multi", "1"), ("X-Multi", "2")])
    doc = r.json()
    assert r.header("content-type") == "application/json"
    assert doc["method"] == "POST"
    assert doc["path"] == "/api/items"             # the full path, not the prefix-stripped rest
    assert doc["query"] == "a=1&b=%20"
    assert doc["body"] == "héllo" and doc["body_base64"] is False
    assert doc["headers"]["x-multi"] == ["1", "2"]


def test_binary_body_round_trip(api):
    payload = bytes(range(256)) * 4
    r = fetch(api.port, "POST", "/api/binary", body=payload)
    assert r.status == 200
    assert r.body == payload
    assert r.header("content-type") == "application/octet-stream"


def test_reply_status_and_headers_applied(api):
    r = fetch(api.port, "GET", "/api/status/201")
    assert r.status == 201
    assert r.body == b"status body"
    assert r.header("x-backend") in ("a", "b", "c")
    assert [v for k, v in r.headers if k == "set-cookie"] == ["a=1", "b=2"]


def test_invalid_reply_is_502(api):
    assert fetch(api.port, "GET", "/api/bad-backend/bad").status == 502


def test_longest_prefix_wins(api):
    # /api/bad-backend/ goes to backend "a" only, whatever the route order.
    names = {fetch(api.port, "GET", "/api/bad-backend/x").json()["backend"] for _ in range(6)}
    assert names == {"a"}


def test_504_on_slow_backend(processes):
    endpoints = start_backends(processes, ["slow"], delay=5)
    bridge = processes.start(BridgeProcess("--route", f"/api/=req:{endpoints[0]},timeout=0.5"))
    wait_ready(bridge.port, "/api/x", ok=lambda r: r.status == 200)
    with Client(bridge.port) as c:
        c.request("GET", "/api/slow")
        assert c.response().status == 504
    wait_for_metric(bridge, 'bridge_route_errors_total{route="/api/",kind="timeout"}')


def test_503_at_once_without_backend(processes):
    nobody = f"tcp://127.0.0.1:{free_port()}"
    bridge = processes.start(BridgeProcess("--route", f"/api/=req:{nobody},timeout=30",
                                           "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*"))
    for path in ("/api/x", "/m2/x"):
        started = time.monotonic()
        r = fetch(bridge.port, "GET", path, timeout=5)
        assert r.status == 503
        assert time.monotonic() - started < 2.0      # pinned: well under 2 s, whatever the timeout


def test_mongrel2_route_timeout(processes):
    bridge = processes.start(BridgeProcess(
        "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*,timeout=0.5"))
    route = bridge.route("/m2/")
    processes.start(Process(peer("m2_pyzmq_handler.py", route["send"], route["recv"])))
    wait_ready(bridge.port, "/m2/pid", ok=lambda r: r.status == 200)
    with Client(bridge.port) as c:
        c.request("GET", "/m2/slow")
        assert c.response().status == 504
    # the handler learns that the connection is gone
    assert fetch(bridge.port, "GET", "/m2/pid").status == 200


def test_slow_reader_is_dropped_when_its_queue_overflows(processes):
    bridge = processes.start(BridgeProcess(
        "--max-queue-bytes", "1000000", "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*"))
    route = bridge.route("/m2/")
    processes.start(Process(peer("m2_pyzmq_handler.py", route["send"], route["recv"])))
    wait_ready(bridge.port, "/m2/pid", ok=lambda r: r.status == 200)
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.settimeout(5)
    slow.connect(("127.0.0.1", bridge.port))
    try:
        slow.sendall(b"GET /m2/flood HTTP/1.1\r\nHost: x\r\n\r\n")   # and never read
        wait_for_metric(bridge, 'bridge_route_errors_total{route="/m2/",kind="overflow"}', deadline=10)
    finally:
        slow.close()
    end = time.monotonic() + 5
    while bridge.metrics()["bridge_open_connections"] > 1:
        assert time.monotonic() < end
        time.sleep(0.02)
    assert fetch(bridge.port, "GET", "/m2/pid").status == 200


def test_tnetstring_route_and_mongrel2_spread(processes):
    bridge = processes.start(BridgeProcess(
        "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*,protocol=tnetstring"))
    route = bridge.route("/m2/")
    for _ in range(2):
        processes.start(Process(peer("m2_ours_handler.py", route["send"], route["recv"])))
    pids = set()
    end = time.monotonic() + 15
    with Client(bridge.port, timeout=1) as c:     # keep-alive: no disconnects in the round robin
        while len(pids) < 2:
            assert time.monotonic() < end, pids
            try:
                c.request("GET", "/m2/pid")
                r = c.response()
            except (OSError, EOFError):           # a slow joiner's reply lost: reconnect
                c.close()
                c.__init__(bridge.port, timeout=1)
                continue
            if r.status == 200:
                pids.add(r.body)
    r = fetch(bridge.port, "POST", "/m2/echo?q=1", body=b"\x00\xffbin")
    headers = r.json()["headers"]
    assert headers["METHOD"] == "POST" and headers["QUERY"] == "q=1" and headers["PATTERN"] == "/m2/"


def test_client_leaving_cancels_pending_request(processes):
    endpoints = start_backends(processes, ["slow"], delay=3)
    bridge = processes.start(BridgeProcess("--route", f"/api/=req:{endpoints[0]},timeout=30"))
    wait_ready(bridge.port, "/api/x", ok=lambda r: r.status == 200)
    c = Client(bridge.port)
    c.request("GET", "/api/slow")
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    wait_for_metric(bridge, 'bridge_route_errors_total{route="/api/",kind="cancelled"}')
    assert bridge.metrics()["bridge_open_connections"] == 1   # only the metrics request


def test_client_leaving_mid_body(api):
    before = api.bridge.metrics()["bridge_connections_total"]
    c = Client(api.port)
    c.send_raw(b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
    c.close()
    wait_for_metric(api.bridge, "bridge_connections_total", before + 1)
    end = time.monotonic() + 5
    while api.bridge.metrics()["bridge_open_connections"] > 1:
        assert time.monotonic() < end
        time.sleep(0.02)
    assert fetch(api.port, "GET", "/api/x").status == 200


# ---------------------------------------------------------------- limits


def test_413_declared_body_too_large(api):
    with Client(api.port) as c:
        c.send_raw(b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n")
        r = c.response()
        assert r.status == 413
        assert c.closed_by_server()


def test_413_readable_while_client_still_sends(api):
    with Client(api.port) as c:
        c.send_raw(b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n")
        try:
            c.send_raw(b"y" * 300000)
        except OSError:
            pass
        assert c.response().status == 413


def test_413_chunked_body_too_large(api):
    with Client(api.port) as c:
        c.send_raw(b"POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        c.send_raw(b"%x\r\n%s\r\n" % (150000, b"z" * 150000))
        assert c.response().status == 413


def test_chunked_request_body(api):
    with Client(api.port) as c:
        c.send_raw(b"POST /api/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        assert c.response().json()["body"] == "hello world"


def test_expect_100_continue(api):
    with Client(api.port) as c:
        c.send_raw(b"POST /api/x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        assert c.read_until(b"\r\n\r\n").startswith(b"HTTP/1.1 100 Continue")
        c.send_raw(b"hello")
        assert c.response().json()["body"] == "hello"


def test_431_header_too_large(api):
    with Client(api.port) as c:
        c.request("GET", "/api/x", headers=[("X-Big", "b" * 20000)])
        r = c.response()
        assert r.status == 431
        assert c.closed_by_server()


def test_header_timeout(processes):
    bridge = processes.start(BridgeProcess("--header-timeout", "0.3", "--static", f"/={os.getcwd()}"))
    with Client(bridge.port) as c:
        c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n")       # and never the end of the head
        assert c.response().status == 408
        assert c.closed_by_server()


def test_bad_request_is_400(api):
    with Client(api.port) as c:
        c.send_raw(b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert c.response().status == 400


# ---------------------------------------------------------------- static files


def test_static_file_and_index(api):
    r = fetch(api.port, "GET", "/static/style.css")
    assert r.status == 200 and r.body == b"body{}"
    assert r.header("content-type").startswith("text/css")
    assert fetch(api.port, "GET", "/static/").body == b"<h1>home</h1>"
    assert fetch(api.port, "GET", "/static/sub/").body == b"sub index"
    r = fetch(api.port, "GET", "/static/sub")
    assert r.status == 301 and r.header("location") == "/static/sub/"
    assert fetch(api.port, "GET", "/static/missing.txt").status == 404


def test_static_etag_304(api):
    r = fetch(api.port, "GET", "/static/style.css")
    etag = r.header("etag")
    assert etag
    r2 = fetch(api.port, "GET", "/static/style.css", headers=[("If-None-Match", etag)])
    assert r2.status == 304 and r2.body == b""


def test_static_head(api):
    with Client(api.port) as c:
        c.request("HEAD", "/static/style.css")
        r = c.response("HEAD")
        assert r.status == 200 and r.header("content-length") == "6"
        c.request("GET", "/static/style.css")        # nothing stray on the connection
        assert c.response().body == b"body{}"


@pytest.mark.parametrize("path", [
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E%2Fsecret.txt",
    "/static/sub/../../secret.txt",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/..%5csecret.txt",
])
def test_static_traversal_refused(api, path):
    r = fetch(api.port, "GET", path)
    assert r.status in (403, 404), (path, r)
    assert b"top secret" not in r.body and b"root:" not in r.body


# ---------------------------------------------------------------- health, metrics, config


def test_health_and_metrics(api):
    health = fetch(api.port, "GET", "/_bridge/health")
    assert health.status == 200 and health.json()["status"] == "ok"
    r = fetch(api.port, "GET", "/_bridge/metrics")
    assert r.header("content-type").startswith("text/plain")
    text = r.body.decode()
    for family in ("bridge_requests_total", "bridge_request_duration_seconds_bucket",
                   "bridge_open_connections", "bridge_route_errors_total"):
        assert family in text
    assert 'bridge_requests_total{route="/api/",code="200"}' in text


def test_config_file_with_host_matching(processes, tmp_path):
    for name in ("a", "b", "default"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text(name)
    config = {
        "listen": "127.0.0.1:0",
        "routes": [
            {"prefix": "/", "target": f"static:{tmp_path / 'a'}", "host": "a.example"},
            {"prefix": "/", "target": f"static:{tmp_path / 'b'}", "host": "*.b.example"},
            f"/={'static:' + str(tmp_path / 'default')}",
        ],
    }
    path = tmp_path / "bridge.json"
    path.write_text(json.dumps(config))
    bridge = processes.start(BridgeProcess("--config", str(path)))
    assert fetch(bridge.port, "GET", "/", host="a.example:80").body == b"a"
    assert fetch(bridge.port, "GET", "/", host="www.b.example").body == b"b"
    assert fetch(bridge.port, "GET", "/", host="other").body == b"default"
