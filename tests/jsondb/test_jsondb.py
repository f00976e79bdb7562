"""examples/jsondb: the JSON key-value database over ROUTER, its client library and CLI.

The server runs in-process (a greenlet); clients are the gzmq client library, raw gzmq and
libzmq sockets, the command-line client and a plain pyzmq program in another process.
"""
import json
import os
import socket
import sys
import textwrap

import gevent
import pytest
from gevent import subprocess   # cooperative pipes: the in-process server keeps serving

import gzmq
from examples.jsondb.client import JsonDBClient, JsonDBError
from examples.jsondb.server import MAX_REQUEST, JsonDBServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "examples", "jsondb", "cli.py")
SERVER = os.path.join(ROOT, "examples", "jsondb", "server.py")


@pytest.fixture
def server(ctx):
    srv = JsonDBServer("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", context=ctx)
    runner = gevent.spawn(srv.serve_forever)
    yield srv
    runner.kill()
    srv.close()


@pytest.fixture
def db(server, ctx):
    client = JsonDBClient(server.endpoint, context=ctx)
    yield client
    client.close()


def raw_request(sock, *frames):
    """Send frames on a REQ/DEALER socket; return the JSON reply."""
    sock.send_multipart(list(frames))
    assert sock.poll(5000), "no reply"
    return json.loads(sock.recv_multipart()[-1])


def test_get_set_delete_versions(db, deadline):
    with deadline(10):
        assert db.set("user:1", {"name": "Ada", "langs": ["en", "fr"]}) == 1
        assert db.get("user:1") == {"name": "Ada", "langs": ["en", "fr"]}
        assert db.set("user:1", {"name": "Ada L."}) == 2
        assert db.get_versioned("user:1") == ({"name": "Ada L."}, 2)
        with pytest.raises(KeyError):
            db.get("user:2")
        assert db.get("user:2", None) is None
        assert db.delete("user:1") is True
        assert db.delete("user:1") is False
        with pytest.raises(KeyError):
            db.get("user:1")
        for value in (None, 0, -1.5, "ünïcode ✓", [], {}, True):
            db.set("v", value)
            assert db.get("v") == value


def test_compare_and_set(db, deadline):
    with deadline(10):
        assert db.set("k", 1, if_version=0) == 1            # only if absent
        with pytest.raises(JsonDBError) as info:
            db.set("k", 2, if_version=0)
        assert info.value.code == "conflict"
        assert db.set("k", 2, if_version=1) == 2


def test_scan_by_prefix_in_key_order_with_paging(db, deadline):
    with deadline(10):
        for n in (3, 1, 10, 2):
            db.set(f"user:{n:03d}", n)
        db.set("userx", "not under 'user:'")
        db.set("a", 0)
        assert db.scan("user:") == [("user:001", 1), ("user:002", 2), ("user:003", 3), ("user:010", 10)]
        assert db.scan("user:", limit=2) == [("user:001", 1), ("user:002", 2)]
        assert db.scan("user:", page=1) == db.scan("user:")
        assert [k for k, _ in db.scan()] == ["a", "user:001", "user:002", "user:003", "user:010", "userx"]
        assert db.scan("nothing") == []
        info = db.info()
        assert info["keys"] == 6 and info["watch"].startswith("tcp://127.0.0.1:")


def test_watch_gets_changes_under_its_prefix_only(db, deadline):
    with deadline(10):
        with db.watch("user:") as changes:
            db.set("user:1", "a")
            db.set("other", "b")
            db.set("user:1", "c")
            db.delete("user:1")
            db.set("other", "d")
            db.set("user:end", "e")
            events = [changes.next_event(5) for _ in range(4)]
    assert [(e["op"], e["key"], e.get("value")) for e in events] == [
        ("set", "user:1", "a"), ("set", "user:1", "c"), ("delete", "user:1", None),
        ("set", "user:end", "e")]
    assert [e["seq"] for e in events] == [1, 3, 4, 6]     # 2 and 5 were "other": not ours


def test_concurrent_clients(server, ctx, pyzmq, deadline):
    """Ten gzmq clients and two libzmq ones at once: no reply crosses to the wrong client,
    and compare-and-set increments of one shared counter lose nothing."""
    import zmq.green as green
    lctx = green.Context()
    increments = 15

    def bump(db, name):
        for _ in range(increments):
            while True:
                try:
                    value, version = db.get_versioned("counter")
                except KeyError:
                    value, version = 0, 0
                try:
                    db.set("counter", value + 1, if_version=version)
                    break
                except JsonDBError as exc:
                    assert exc.code == "conflict"
            db.set(f"client:{name}", {"name": name})
            assert db.get(f"client:{name}") == {"name": name}

    def gzmq_client(n):
        with JsonDBClient(server.endpoint, context=ctx) as db:
            bump(db, f"g{n}")

    def libzmq_client(n):
        sock = lctx.socket(green.REQ)
        sock.connect(server.endpoint)
        for i in range(increments):
            reply = raw_request(sock, json.dumps({"op": "set", "key": f"lib:{n}:{i}", "value": i}).encode())
            assert reply == {"ok": True, "key": f"lib:{n}:{i}", "version": 1}
        sock.close(linger=0)

    try:
        with deadline(60):
            jobs = [gevent.spawn(gzmq_client, n) for n in range(10)]
            jobs += [gevent.spawn(libzmq_client, n) for n in range(2)]
            gevent.joinall(jobs, raise_error=True)
            with JsonDBClient(server.endpoint, context=ctx) as db:
                assert db.get("counter") == 10 * increments
                assert len(db.scan("client:")) == 10
                assert len(db.scan("lib:")) == 2 * increments
    finally:
        lctx.destroy(linger=0)


BAD_REQUESTS = [
    (b"{not json", "bad_json"),
    (b"\xff\xfe\x00garbage", "bad_json"),
    (b'{"op": "set", "key": "k", "value": NaN}', "bad_json"),
    (b"[1, 2, 3]", "bad_request"),
    (b'"just a string"', "bad_request"),
    (b'{"op": "fly"}', "unknown_op"),
    (b'{"key": "k"}', "unknown_op"),
    (b'{"op": 7}', "unknown_op"),
    (b'{"op": "get"}', "bad_request"),
    (b'{"op": "get", "key": 5}', "bad_request"),
    (b'{"op": "get", "key": ""}', "bad_request"),
    (b'{"op": "set", "key": "k"}', "bad_request"),
    (b'{"op": "set", "key": "k", "value": 1, "if_version": true}', "bad_request"),
    (b'{"op": "scan", "limit": 0}', "bad_request"),
    (b'{"op": "get", "key": "missing"}', "not_found"),
    (b"", "bad_json"),
    (b"[" * 100000 + b"]" * 100000, "bad_json"),          # too deep for the parser
]


@pytest.mark.parametrize("kind", ["REQ", "DEALER"])
def test_bad_requests_get_json_errors_and_the_server_survives(kind, server, ctx, deadline):
    sock = ctx.socket(getattr(gzmq, kind))
    sock.connect(server.endpoint)
    prefix = [b""] if kind == "DEALER" else []
    with deadline(20):
        for body, code in BAD_REQUESTS:
            reply = raw_request(sock, *prefix, body)
            assert reply["ok"] is False and reply["error"]["code"] == code, (body[:40], reply)
            assert reply["error"]["message"]
        # Several frames where one is expected, and a request id echoed on errors too.
        reply = raw_request(sock, *prefix, b'{"op": "info"}', b"extra")
        assert reply["error"]["code"] == "bad_request"
        reply = raw_request(sock, *prefix, b'{"op": "nope", "id": "abc"}')
        assert reply["id"] == "abc" and reply["error"]["code"] == "unknown_op"
        # Still serving, correctly.
        assert raw_request(sock, *prefix, b'{"op": "set", "key": "after", "value": 1}')["ok"]
        assert raw_request(sock, *prefix, b'{"op": "get", "key": "after"}')["value"] == 1


def test_dealer_without_delimiter_and_oversized_request(server, ctx, deadline):
    dealer = ctx.socket(gzmq.DEALER)
    dealer.connect(server.endpoint)
    hog = ctx.socket(gzmq.DEALER)
    hog.connect(server.endpoint)
    with deadline(20):
        # A bare DEALER (no empty frame) gets a bare reply.
        assert raw_request(dealer, b'{"op": "info"}')["ok"]
        # Bigger than MAXMSGSIZE: that connection is dropped, nobody else notices.
        hog.send(b"x" * (MAX_REQUEST + 1))
        assert raw_request(dealer, b'{"op": "set", "key": "k", "value": "v"}')["ok"]
        assert raw_request(dealer, b'{"op": "get", "key": "k"}')["value"] == "v"


PYZMQ_CLIENT = textwrap.dedent("""
    import json, sys
    import zmq                     # plain pyzmq (libzmq): no gzmq, no gevent

    sock = zmq.Context().socket(zmq.REQ)
    sock.RCVTIMEO = 5000
    sock.connect(sys.argv[1])
    for request in ({"op": "set", "key": "py:1", "value": {"from": "pyzmq"}},
                    {"op": "set", "key": "py:2", "value": [1, 2]},
                    {"op": "get", "key": "py:1"},
                    {"op": "scan", "prefix": "py:"},
                    {"op": "teleport"}):
        sock.send_json(request)
        print(json.dumps(sock.recv_json()), flush=True)
    sock.send(b"{oops")
    print(json.dumps(sock.recv_json()), flush=True)
""")


def test_plain_pyzmq_client_in_another_process(server, db, pyzmq, deadline):
    with deadline(30):
        done = subprocess.run([sys.executable, "-c", PYZMQ_CLIENT, server.endpoint],
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        replies = [json.loads(line) for line in done.stdout.splitlines()]
        assert replies[0] == {"ok": True, "key": "py:1", "version": 1}
        assert replies[2]["value"] == {"from": "pyzmq"}
        assert [item["key"] for item in replies[3]["items"]] == ["py:1", "py:2"]
        assert replies[4]["error"]["code"] == "unknown_op"
        assert replies[5]["error"]["code"] == "bad_json"
        assert db.get("py:2") == [1, 2]      # and the gzmq client sees what pyzmq wrote


def cli(endpoint, *args):
    done = subprocess.run([sys.executable, CLI, "--connect", endpoint, *args], capture_output=True,
                          text=True, timeout=30, cwd=ROOT)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines()], done.stderr


def test_command_line_client(server, deadline):
    ep = server.endpoint
    with deadline(60):
        assert cli(ep, "set", "user:1", '{"name": "Ada"}') == (0, [{"key": "user:1", "version": 1}], "")
        assert cli(ep, "set", "user:2", "hello", "--string")[0] == 0
        assert cli(ep, "get", "user:1")[1] == [{"key": "user:1", "value": {"name": "Ada"}, "version": 1}]
        assert cli(ep, "scan", "user:")[1] == [{"key": "user:1", "value": {"name": "Ada"}},
                                               {"key": "user:2", "value": "hello"}]
        rc, _, err = cli(ep, "get", "nobody")
        assert rc == 1 and "not found" in err
        rc, _, err = cli(ep, "set", "k", '"v"', "--if-version", "3")
        assert rc == 1 and "conflict" in err
        rc, _, err = cli(ep, "set", "k", "not json")
        assert rc == 2 and "--string" in err
        assert cli(ep, "delete", "user:2")[1] == [{"key": "user:2", "deleted": True}]
        assert cli(ep, "info")[1][0]["keys"] == 1

        watcher = subprocess.Popen([sys.executable, CLI, "--connect", ep, "watch", "user:", "--count", "2"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert "watching" in watcher.stderr.readline()     # its subscription is live
            cli(ep, "set", "user:3", "3")
            cli(ep, "delete", "user:3")
            out, _ = watcher.communicate(timeout=20)
        finally:
            if watcher.poll() is None:
                watcher.kill()
        assert [(e["op"], e["key"]) for e in map(json.loads, out.splitlines())] == [
            ("set", "user:3"), ("delete", "user:3")]


def free_endpoint():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"tcp://127.0.0.1:{port}"


def test_server_script(ctx, deadline):
    requests, watch = free_endpoint(), free_endpoint()
    proc = subprocess.Popen([sys.executable, SERVER, "--bind", requests, "--watch", watch],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        with deadline(30):
            assert proc.stdout.readline().strip() == f"jsondb: requests on {requests}, changes on {watch}"
            with JsonDBClient(requests, context=ctx) as db:
                db.set("from-test", {"ok": 1})
                assert db.scan("from-") == [("from-test", {"ok": 1})]
                assert db.info()["watch"] == watch
    finally:
        proc.kill()
        proc.wait(10)
