"""``make demo`` (``python -m bridge.demo``): one command starts the bridge and the example
backends, prints the URLs, every demo answers, and Ctrl-C stops everything it started."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

import gzmq

from wskit import fetch, recv_json, send_json

pytestmark = pytest.mark.slow


def children_of(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop_demo(demo, kids):
    """After a failed step: the children have sessions of their own, so they were found first;
    the demo stops them (SIGTERM) before anything is killed."""
    kids = kids or children_of(demo.pid)
    if demo.poll() is None:
        demo.send_signal(signal.SIGTERM)
        try:
            demo.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(10)
    for pid in kids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    demo.stdout.close()


def test_demo_starts_everything_and_ctrl_c_stops_it(deadline, tmp_path):
    import websocket

    # From another directory, with the package installed (make setup): the example pages
    # (BigPipe, jsondb) must still be found.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    demo = subprocess.Popen([sys.executable, "-m", "bridge.demo", "--listen", "127.0.0.1:0"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, start_new_session=True)
    lines, kids = [], []
    try:
        with deadline(90):
            while not any(line.startswith("Ctrl-C stops everything") for line in lines):
                line = demo.stdout.readline()
                assert line, "".join(lines)
                lines.append(line)
            text = "".join(lines)
            base = re.search(r"gzmq bridge demo: (http://127\.0\.0\.1:\d+)/", text).group(1)
            port = int(base.rsplit(":", 1)[1])
            for name in ("soccer.html", "chat.html", "/echo/", "zmq.html", "/_bridge/metrics"):
                assert name in text, text
            assert "BigPipe page" in text and "jsondb over HTTP" in text
            assert "not available" not in text, text
            kids = children_of(demo.pid)
            assert len(kids) >= 4, kids                 # soccer, chat, echo, bridge (+ BigPipe)
            # The pages and bridge.js are served, the echo service answers over HTTP...
            assert fetch(port, "GET", "/soccer.html").status == 200
            assert fetch(port, "GET", "/_bridge/bridge.js").body.startswith(b"/*")
            end = time.monotonic() + 20
            while (echo := fetch(port, "GET", "/echo/hello?x=1")).status == 503:
                assert time.monotonic() < end
            assert echo.status == 200 and echo.json()["query"] == "x=1"
            # ...soccer events stream to a browser that subscribes...
            ws = websocket.create_connection(f"ws://127.0.0.1:{port}/live/", timeout=20)
            send_json(ws, {"op": "subscribe", "topic": "", "id": 1})
            assert recv_json(ws)["status"] == 200
            msg = recv_json(ws)
            assert msg["op"] == "message" and msg["data"].split()[0] in (
                "netherlands", "germany", "spain", "brazil", "argentina", "italy", "france", "england")
            # ...and the echo service answers a request op too.
            send_json(ws, {"op": "request", "id": 2, "path": "/echo/ws", "body": "hi"})
            reply, _ = next((m, None) for m in iter(lambda: recv_json(ws), None) if m.get("id") == 2)
            assert reply["status"] == 200 and json.loads(reply["body"])["body"] == "hi"
            ws.close()
            # ...the zws: routes make a ZeroMQ peer of whoever speaks ZWS (zmq.html's page; here
            # gzmq's ws:// client): a SUB of the soccer publisher, a REQ of the echo service...
            assert fetch(port, "GET", "/zmq.html").status == 200
            zctx = gzmq.Context()
            try:
                sub = zctx.socket(gzmq.SUB)
                sub.subscribe(b"")
                sub.connect(f"ws://127.0.0.1:{port}/zmq/soccer")
                assert sub.poll(20000) and sub.recv().split()[0].decode() in (
                    "netherlands", "germany", "spain", "brazil", "argentina", "italy", "france", "england")
                req = zctx.socket(gzmq.REQ)
                req.connect(f"ws://127.0.0.1:{port}/zmq/echo")
                req.send(json.dumps({"method": "POST", "path": "/zmq/echo", "body": "zws"}).encode())
                assert req.poll(20000) and json.loads(req.recv())["body"]["body"] == "zws"
            finally:
                zctx.destroy(linger=0)
            # ...and jsondb answers over HTTP through its req-envelope adapter.
            while (put := fetch(port, "PUT", "/jsondb/demo:1", b'{"n": 1}')).status == 503:
                assert time.monotonic() < end
            assert put.status == 200, put.body
            assert fetch(port, "GET", "/jsondb/demo:1").json() == {"n": 1}
            assert fetch(port, "GET", "/jsondb/nothing-here").status == 404
            demo.send_signal(signal.SIGINT)             # what Ctrl-C sends
            assert demo.wait(30) == 0
            for pid in kids:
                end = time.monotonic() + 10
                while alive(pid):
                    assert time.monotonic() < end, f"child {pid} still running"
                    time.sleep(0.05)
    finally:
        stop_demo(demo, kids)


def ignore_int_and_term():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_demo_stops_on_a_signal_its_parent_ignored(deadline, tmp_path, signum):
    # As under `make test &`, nohup or a CI wrapper: the demo inherits SIGINT (and here SIGTERM)
    # ignored, and must stop on them all the same, with every process it started.
    demo = subprocess.Popen([sys.executable, "-m", "bridge.demo", "--listen", "127.0.0.1:0"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=ignore_int_and_term)
    lines, kids = [], []
    try:
        with deadline(90):
            while not any(line.startswith("Ctrl-C stops everything") for line in lines):
                line = demo.stdout.readline()
                assert line, "".join(lines)
                lines.append(line)
            kids = children_of(demo.pid)
            assert len(kids) >= 4, kids
            demo.send_signal(signum)
            assert demo.wait(30) == 0, "".join(lines)
            for pid in kids:
                end = time.monotonic() + 10
                while alive(pid):
                    assert time.monotonic() < end, f"child {pid} still running"
                    time.sleep(0.05)
    finally:
        stop_demo(demo, kids)
