"""``gzmq-bridge --workers N``: port sharing, the supervisor, metrics, Mongrel2 and pub/sub
across workers (bridge/workers.py). Real processes and pyzmq peers; every wait is bounded and
waits for something observable (a worker's answer, a new pid in /_bridge/health)."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from bridge.workers import label_metrics, shift_endpoint
from wskit import REPO, Client, fetch, recv_close, recv_until, send_json


def health(bridge):
    return fetch(bridge.port, "GET", "/_bridge/health").json()


def until(predicate, what, seconds=20.0):
    """Poll ``predicate()`` (each call a real exchange with the bridge) until it is truthy."""
    end = time.monotonic() + seconds
    last = None
    while time.monotonic() < end:
        try:
            last = predicate()
        except (OSError, EOFError) as e:        # e.g. reset: queued at a worker as it died
            last = e
            continue
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {seconds}s (last: {last!r})")


def one_per_worker(make, worker_of, count=2, attempts=200):
    """Make connections (``make()``) until one reached each worker; close the others."""
    found = {}
    for _ in range(attempts):
        conn = make()
        index = worker_of(conn)
        if index in found:
            getattr(conn, "close", lambda: None)()
        else:
            found[index] = conn
        if len(found) == count:
            return found
    raise AssertionError(f"{attempts} connections reached only workers {sorted(found)}")


def run_bridge(*flags, timeout=30):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "bridge", "--listen", "127.0.0.1:0", *flags], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)


# ---------------------------------------------------------------------- pure parts

def test_shift_endpoint():
    assert shift_endpoint("tcp://127.0.0.1:9997", 0) == "tcp://127.0.0.1:9997"
    assert shift_endpoint("tcp://127.0.0.1:9997", 2) == "tcp://127.0.0.1:10197"
    assert shift_endpoint("tcp://127.0.0.1:*", 3) == "tcp://127.0.0.1:*"
    assert shift_endpoint("ipc:///tmp/m2-send", 1) == "ipc:///tmp/m2-send.1"


def test_label_metrics_groups_families_and_marks_missing_workers():
    text = ("# HELP a_total A.\n# TYPE a_total counter\na_total{route=\"/x/\"} 3\n"
            "# HELP b B.\n# TYPE b gauge\nb 1\n")
    merged = label_metrics({0: text, 1: text.replace(" 3", " 4"), 2: None})
    lines = merged.splitlines()
    assert 'bridge_worker_up{worker="2"} 0' in lines and 'bridge_worker_up{worker="1"} 1' in lines
    assert lines.count("# TYPE a_total counter") == 1
    at = lines.index("# TYPE a_total counter")
    assert lines[at + 1:at + 3] == ['a_total{worker="0",route="/x/"} 3', 'a_total{worker="1",route="/x/"} 4']
    assert 'b{worker="1"} 1' in lines


@pytest.mark.parametrize("flags, message", [
    (["--workers", "0"], "workers '0' must be auto or a number"),
    (["--workers", "many"], "workers 'many' must be auto or a number"),
    (["--workers", "2", "--route", "/m/=mongrel2:tcp://127.0.0.1:9997,tcp://127.0.0.1:9996,recv_ident="],
     "recv_ident cannot be used with several workers"),
    (["--workers", "2", "--route", "/a/=mongrel2:tcp://127.0.0.1:9997,tcp://127.0.0.1:9996",
      "--route", "/b/=mongrel2:tcp://127.0.0.1:10097,tcp://127.0.0.1:10096"], "bound by worker 0"),
])
def test_bad_worker_settings_are_refused(flags, message):
    done = run_bridge(*flags)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_port_in_use_is_refused_with_workers():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = run_bridge("--workers", "2", "--listen", f"127.0.0.1:{port}")
        assert done.returncode == 2 and f"127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
        # A Mongrel2 endpoint in use: the worker says so and the command exits 2 (so does one process).
        for workers in ("1", "2"):
            done = run_bridge("--workers", workers, "--route", f"/m/=mongrel2:tcp://127.0.0.1:{port},tcp://127.0.0.1:*")
            assert done.returncode == 2, done.stderr
            assert f"tcp://127.0.0.1:{port}: address already in use" in done.stderr and "Traceback" not in done.stderr


# ---------------------------------------------------------------------- sharing the port

@pytest.mark.parametrize("mode", ["reuseport", "inherit"])
def test_workers_share_the_port_and_metrics_are_labelled(bridges, mode, tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    bridge = bridges("--workers", "2", "--worker-socket", mode, "--static", f"/s/={tmp_path}",
                     "--admin", "127.0.0.1:0")
    admin = int(bridge.info["admin"].rsplit(":", 1)[1])
    assert bridge.info["socket"] == mode and [w["worker"] for w in bridge.info["workers"]] == [0, 1]
    pids = {w["pid"] for w in bridge.info["workers"]}
    assert len(pids) == 2 and bridge.proc.pid not in pids

    def admin_metrics():
        values = {}
        for line in fetch(admin, "GET", "/_bridge/metrics").body.decode().splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                values[key] = float(value)
        return values

    def served():
        metrics = admin_metrics()
        return [metrics.get(f'bridge_requests_total{{worker="{i}",route="/s/",code="200"}}', 0) for i in (0, 1)]

    requests = 0
    for _ in range(20):                         # fresh connections until both workers took some
        for _ in range(20):
            assert fetch(bridge.port, "GET", "/s/a.txt").body == b"hello"
            requests += 1
        if all(served()):
            break
    seen = set()
    for _ in range(200):                        # the admin port is shared the same way
        doc = fetch(admin, "GET", "/_bridge/health").json()
        seen.add(doc["worker"])
        if seen == {0, 1}:
            break
    assert seen == {0, 1}
    assert doc["status"] == "ok" and {w["pid"] for w in doc["workers"]} == pids
    metrics = admin_metrics()
    assert metrics['bridge_worker_up{worker="0"}'] == metrics['bridge_worker_up{worker="1"}'] == 1
    counts = served()
    assert sum(counts) == requests and all(counts), counts


def test_a_crashed_worker_is_restarted(bridges, tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    bridge = bridges("--workers", "2", "--static", f"/s/={tmp_path}")
    victim = bridge.info["workers"][1]["pid"]
    os.kill(victim, signal.SIGKILL)
    doc = until(lambda: (lambda d: d if d["status"] == "ok" and d["workers"][1]["pid"] not in (None, victim)
                         else None)(health(bridge)), "worker 1 back with a new pid")
    assert doc["workers"][0]["pid"] == bridge.info["workers"][0]["pid"]
    for _ in range(20):
        assert fetch(bridge.port, "GET", "/s/a.txt").body == b"hello"
    assert "worker 1 (pid %d) was killed by signal 9" % victim in bridge.log()


def test_sighup_reloads_every_worker(bridges, tmp_path):
    (tmp_path / "a.txt").write_text("hello")
    config = tmp_path / "bridge.json"
    config.write_text(json.dumps({"routes": [f"/s/=static:{tmp_path}"]}))
    bridge = bridges("--workers", "2", "--config", str(config))
    config.write_text(json.dumps({"routes": [f"/s/=static:{tmp_path}", f"/t/=static:{tmp_path}"]}))
    os.kill(bridge.proc.pid, signal.SIGHUP)
    until(lambda: all(w["routes"] == ["/s/", "/t/"] for w in health(bridge)["workers"]),
          "both workers serving /t/")
    for _ in range(20):
        assert fetch(bridge.port, "GET", "/t/a.txt").body == b"hello"


def test_sigterm_closes_websockets_on_every_worker_and_stops(bridges, pyzmq, zctx):
    from wskit import Publisher
    publisher = Publisher(pyzmq, zctx)
    bridge = bridges("--workers", "2", "--route", f"/live/=pubsub:{publisher.endpoint}")
    sockets = one_per_worker(lambda: bridge.ws("/live/"), lambda ws: worker_of_ws(ws))
    pids = [w["pid"] for w in bridge.info["workers"]]
    os.kill(bridge.proc.pid, signal.SIGTERM)
    for ws in sockets.values():
        assert recv_close(ws)[0] == 1001
    assert bridge.proc.wait(15) == 0
    for pid in pids:
        until(lambda: not os.path.exists(f"/proc/{pid}") or "Z" in open(f"/proc/{pid}/stat").read().split()[2],
              f"worker pid {pid} gone", 10)
    publisher.close()


def test_workers_stop_when_the_supervisor_is_killed(bridges, tmp_path):
    bridge = bridges("--workers", "2", "--static", f"/s/={tmp_path}")
    pids = [w["pid"] for w in bridge.info["workers"]]
    os.kill(bridge.proc.pid, signal.SIGKILL)
    bridge.proc.wait(5)

    def gone(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True
    until(lambda: all(gone(pid) for pid in pids), "workers gone after their supervisor", 15)


# ---------------------------------------------------------------------- pub/sub and Mongrel2 across workers

def worker_of_ws(ws, n=[0]):
    n[0] += 1
    send_json(ws, {"op": "request", "id": f"h{n[0]}", "path": "/_bridge/health"})
    reply, _ = recv_until(ws, lambda m: m.get("id") == f"h{n[0]}")
    return json.loads(reply["body"])["worker"]


def test_pubsub_across_workers(bridges, pyzmq, zctx):
    from wskit import Publisher, Sink
    publisher, sink = Publisher(pyzmq, zctx), Sink(pyzmq, zctx)
    publisher.sock.setsockopt(pyzmq.XPUB_VERBOSE, 1)    # pass on every subscriber's subscribe
    bridge = bridges("--workers", "2", "--route", f"/live/=pubsub:{publisher.endpoint},{sink.endpoint}")
    sockets = one_per_worker(lambda: bridge.ws("/live/"), worker_of_ws)
    # Each worker subscribes its own SUB on demand: the XPUB sees the interest twice.
    for index, ws in sockets.items():
        send_json(ws, {"op": "subscribe", "topic": "scores", "id": f"s{index}"})
        recv_until(ws, lambda m: m.get("id") == f"s{index}")
        assert publisher.subscription() == (True, b"scores")
    publisher.send(b"scores", b"1-0")
    for ws in sockets.values():
        msg, _ = recv_until(ws, lambda m: m.get("op") == "message")
        assert (msg["topic"], msg["data"]) == ("scores", "1-0")
    # A browser's publish leaves through its own worker's PUB only: once.
    sink.ready(sockets[0])
    send_json(sockets[1], {"op": "publish", "topic": "chat", "data": "first", "id": "p1"})
    send_json(sockets[1], {"op": "publish", "topic": "chat", "data": "second", "id": "p2"})
    assert sink.recv() == [b"chat", b"first"]
    assert sink.recv() == [b"chat", b"second"]
    for ws in sockets.values():
        ws.close()
    publisher.close()
    sink.close()


class MultiHandler:
    """A Mongrel2 handler on pyzmq connected to every worker's PUSH and SUB (as to several
    Mongrel2 servers), answering each request with the sender and connection id it saw.

    Its PUB is an XPUB so that it can wait for every worker's subscription before it takes
    requests: a PUB drops an answer sent before the worker's SUB has subscribed, and the
    request would then wait for an answer that never comes."""

    def __init__(self, zmq, ctx, routes):
        self.pull, self.pub = ctx.socket(zmq.PULL), ctx.socket(zmq.XPUB)
        for sock in (self.pull, self.pub):
            sock.setsockopt(zmq.LINGER, 0)
        for route in routes:
            self.pub.connect(route["recv"])
        subscribed = set()
        while len(subscribed) < len(routes):
            assert self.pub.poll(10000), f"worker subscriptions: only {sorted(subscribed)} within 10 s"
            message = self.pub.recv()
            if message[:1] == b"\x01":
                subscribed.add(message[1:])
        for route in routes:
            self.pull.connect(route["send"])
        self.seen = []
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            if not self.pull.poll(50):
                continue
            sender, conn_id, path, rest = self.pull.recv().split(b" ", 3)
            if path == b"@*":
                continue
            self.seen.append((sender, int(conn_id)))
            body = json.dumps({"sender": sender.decode(), "conn_id": int(conn_id)}).encode()
            self.pub.send(sender + b" %d:%s, " % (len(conn_id), conn_id) +
                          b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    def close(self):
        self.stopping = True
        self.thread.join(5)


def test_mongrel2_route_has_a_sender_per_worker(bridges, pyzmq, zctx):
    bridge = bridges("--workers", "2", "--uuid", "bridge-a",
                     "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*")
    routes = [w["routes"][0] for w in bridge.info["workers"]]
    assert [r["uuid"] for r in routes] == ["bridge-a", "bridge-a-1"]
    assert len({r["send"] for r in routes}) == 2
    handler = MultiHandler(pyzmq, zctx, routes)
    try:
        answers = {}
        for _ in range(200):
            resp = fetch(bridge.port, "GET", "/m2/x", timeout=10)
            if resp.status == 503:              # a handler still connecting to that worker
                continue
            doc = resp.json()
            answers.setdefault(doc["sender"], set()).add(doc["conn_id"])
            if len(answers) == 2 and all(len(v) >= 3 for v in answers.values()):
                break
        assert set(answers) == {"bridge-a", "bridge-a-1"}
        # Connection ids are disjoint across workers (worker i of 2: i+1, i+3, ...).
        assert all(c % 2 == 1 for c in answers["bridge-a"]) and all(c % 2 == 0 for c in answers["bridge-a-1"])
    finally:
        handler.close()


def test_bridge_handler_connects_to_every_worker(bridges):
    """bridge.handler.Connection with comma-separated specs serves both workers."""
    from httpkit import Process, peer
    bridge = bridges("--workers", "2", "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*")
    routes = [w["routes"][0] for w in bridge.info["workers"]]
    handler = Process(peer("m2_ours_handler.py", ",".join(r["send"] for r in routes),
                           ",".join(r["recv"] for r in routes)))
    try:
        served = set()
        end = time.monotonic() + 60
        while served != {0, 1} and time.monotonic() < end:
            with Client(bridge.port, timeout=5) as c:   # health and the handler on one worker
                c.request("GET", "/_bridge/health")
                worker = c.response().json()["worker"]
                c.request("GET", "/m2/pid")
                try:
                    if c.response().status == 200:
                        served.add(worker)
                except socket.timeout:
                    # Mongrel2's slow joiner: the request reached a handler whose reply socket
                    # (PUB) had not yet heard this worker's subscription, so the reply was
                    # dropped, as Mongrel2 itself would drop it. Ask again.
                    continue
        assert served == {0, 1}
    finally:
        handler.stop()


def test_bigpipe_pages_on_every_worker(bridges, pyzmq, zctx, tmp_path):
    """page: routes are unaffected: each worker asks the pagelet backend itself."""
    router = zctx.socket(pyzmq.ROUTER)
    router.setsockopt(pyzmq.LINGER, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            if router.poll(50):
                peer_id, request_id, empty, payload = router.recv_multipart()
                body = json.dumps({"body": "<p>pagelet for %s</p>" % json.loads(payload)["path"]})
                router.send_multipart([peer_id, request_id, empty, body.encode()])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    (tmp_path / "page.html").write_text('<html><head></head><body><div data-pagelet="p"></div></body></html>')
    (tmp_path / "page.json").write_text(json.dumps({"template": "page.html", "pagelets": [
        {"id": "p", "endpoints": [f"tcp://127.0.0.1:{port}"], "timeout": 5}]}))
    try:
        bridge = bridges("--workers", "2", "--route", f"/page/=page:{tmp_path / 'page.json'}")
        served = set()
        end = time.monotonic() + 30
        while served != {0, 1} and time.monotonic() < end:
            with Client(bridge.port) as c:
                c.request("GET", "/_bridge/health")
                worker = c.response().json()["worker"]
                c.request("GET", "/page/?nojs=1")
                resp = c.response()
                # Until a worker's DEALER has connected, the pagelet is its (empty) fallback.
                if resp.status == 200 and b"<p>pagelet for /page/</p>" in resp.body:
                    served.add(worker)
        assert served == {0, 1}
    finally:
        stop.set()
        thread.join(5)
        router.close()
