"""The fallbacks for clients without WebSocket: Server-Sent Events, long-poll, POST PREFIX/send.

Raw HTTP (tests/bridge/httpkit.Client) so the exact stream is visible; pyzmq peers as backends.
"""
import json

from wskit import Client, fetch, recv_json, send_json


def sse_events(client, count):
    """Read ``count`` events (comments skipped); each as {field: value}."""
    events = []
    while len(events) < count:
        block = client.read_until(b"\n\n").decode()
        fields = {}
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        if "data" in fields:
            events.append(fields)
    return events


def open_sse(bridge, query, headers=()):
    client = Client(bridge.port, timeout=10)
    client.request("GET", f"/live/events?{query}", headers=headers)
    status, head = client.read_head()
    assert status == 200
    assert dict(head)["content-type"] == "text/event-stream; charset=utf-8"
    assert dict(head)["cache-control"] == "no-cache"
    assert client.read_until(b"\n\n") == b"retry: 2000"
    assert client.read_until(b"\n\n") == b": ok"
    return client


def test_sse_streams_subscribed_topics(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        client = open_sse(bridge, "topic=spain&topic=brazil")
        assert {pubsub.publisher.subscription(), pubsub.publisher.subscription()} == {
            (True, b"spain"), (True, b"brazil")}
        pubsub.publisher.send(b"spain goal")
        pubsub.publisher.send(b"brazil corner")
        events = sse_events(client, 2)
        assert [json.loads(e["data"]) for e in events] == [
            {"op": "message", "topic": "spain", "data": "spain goal"},
            {"op": "message", "topic": "brazil", "data": "brazil corner"}]
        epoch, seq = events[0]["id"].split("-")
        assert events[1]["id"] == f"{epoch}-{int(seq) + 1}"
        client.close()
        # The stream's end unsubscribes.
        assert {pubsub.publisher.subscription(), pubsub.publisher.subscription()} == {
            (False, b"spain"), (False, b"brazil")}


def test_sse_keepalive_comments(pubsub, deadline):
    bridge = pubsub.start("--sse-keepalive", "0.2")
    with deadline(20):
        client = open_sse(bridge, "topic=quiet")
        assert client.read_until(b"\n\n") == b": keep-alive"
        assert client.read_until(b"\n\n") == b": keep-alive"
        client.close()


def test_sse_resumes_after_last_event_id(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        first = open_sse(bridge, "topic=italy")
        assert pubsub.publisher.subscription() == (True, b"italy")
        for n in range(3):
            pubsub.publisher.send(b"italy event %d" % n)
        events = sse_events(first, 3)
        # A browser that saw only the first event reconnects with its id: it gets the rest from
        # the route's history, then live events.
        again = open_sse(bridge, "topic=italy", headers=[("Last-Event-ID", events[0]["id"])])
        replayed = sse_events(again, 2)
        assert [json.loads(e["data"])["data"] for e in replayed] == ["italy event 1", "italy event 2"]
        assert [e["id"] for e in replayed] == [events[1]["id"], events[2]["id"]]
        pubsub.publisher.send(b"italy event 3")
        assert json.loads(sse_events(again, 1)[0]["data"])["data"] == "italy event 3"
        # The same through the query (for clients that cannot set the header), and an id from
        # another bridge run (unknown epoch) replays nothing.
        third = open_sse(bridge, f"topic=italy&last_event_id={events[1]['id']}")
        assert json.loads(sse_events(third, 1)[0]["data"])["data"] == "italy event 2"
        stale = open_sse(bridge, "topic=italy&last_event_id=zzzzzz-1")
        pubsub.publisher.send(b"italy event 4")
        assert json.loads(sse_events(stale, 1)[0]["data"])["data"] == "italy event 4"
        for c in (first, again, third, stale):
            c.close()


def poll(client, query):
    client.request("GET", f"/live/poll?{query}")
    resp = client.response()
    assert resp.status == 200 and resp.header("content-type") == "application/json"
    return resp.json()


def test_long_poll_session(pubsub, deadline):
    bridge = pubsub.start("--poll-timeout", "0.5")
    with deadline(30):
        client = Client(bridge.port, timeout=10)
        # The first poll answers at once with a session id (and subscribes).
        first = poll(client, "topic=france")
        assert first["messages"] == [] and first["reset"] is False
        session = first["session"]
        assert pubsub.publisher.subscription() == (True, b"france")
        # Messages that arrive between polls wait in the session.
        pubsub.publisher.send(b"france goal")
        pubsub.publisher.send(b"france corner")
        got = []
        while len(got) < 2:
            got += poll(client, f"session={session}")["messages"]
        assert got == [{"op": "message", "topic": "france", "data": "france goal"},
                       {"op": "message", "topic": "france", "data": "france corner"}]
        # A poll with nothing to say is held, then answered empty at the timeout (keep-alive:
        # the same connection serves every poll).
        assert poll(client, f"session={session}")["messages"] == []
        # A held poll is answered when a message comes.
        client.request("GET", f"/live/poll?session={session}&timeout=0.5")
        pubsub.publisher.send(b"france offside")
        messages = client.response().json()["messages"]
        while not messages:
            messages = poll(client, f"session={session}")["messages"]
        assert messages == [{"op": "message", "topic": "france", "data": "france offside"}]
        # topic= on a poll sets the session's topics.
        poll(client, f"session={session}&topic=england")
        assert {pubsub.publisher.subscription(), pubsub.publisher.subscription()} == {
            (True, b"england"), (False, b"france")}
        # An unknown session starts over, and says so.
        reset = poll(client, "session=nope&topic=england")
        assert reset["reset"] is True and reset["session"] != session
        client.close()
        # Sessions nobody polls end (after 2 * poll_timeout + 1 s) and unsubscribe.
        assert pubsub.publisher.subscription() == (False, b"england")


def test_send_publish_and_request(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(30):
        ws = bridge.ws("/live/")
        pubsub.sink.ready(ws)
        ws.close()
        op = {"op": "publish", "topic": "chat/x", "data": {"text": "hi"}}
        resp = fetch(bridge.port, "POST", "/live/send", body=json.dumps(op).encode())
        assert resp.status == 204
        assert pubsub.sink.recv() == [b"chat/x", b'{"text":"hi"}']
        resp = fetch(bridge.port, "POST", "/live/send", body=json.dumps({**op, "id": 3}).encode())
        assert resp.status == 200 and resp.json() == {"op": "reply", "id": 3, "status": 200, "body": ""}
        pubsub.sink.recv()
        for attempt in range(200):                      # until the req route's DEALER has connected
            resp = fetch(bridge.port, "POST", "/live/send",
                         body=json.dumps({"op": "request", "id": attempt, "path": "/api/q"}).encode())
            if resp.json()["status"] != 503:
                break
        reply = resp.json()
        assert reply["op"] == "reply" and reply["status"] == 200
        assert json.loads(reply["body"])["path"] == "/api/q"
        resp = fetch(bridge.port, "POST", "/live/send", body=b'{"op": "subscribe", "topic": "x"}')
        assert resp.status == 400 and resp.json()["op"] == "error"
        resp = fetch(bridge.port, "POST", "/live/send", body=b"\xff")
        assert resp.status == 400


def test_ws_and_sse_browsers_share_subscriptions(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        ws = bridge.ws("/live/")
        send_json(ws, {"op": "subscribe", "topic": "argentina", "id": 1})
        recv_json(ws)
        assert pubsub.publisher.subscription() == (True, b"argentina")
        sse = open_sse(bridge, "topic=argentina")
        pubsub.publisher.send(b"argentina goal")
        assert recv_json(ws)["data"] == "argentina goal"
        assert json.loads(sse_events(sse, 1)[0]["data"])["data"] == "argentina goal"
        ws.close()
        assert pubsub.publisher.no_subscription_event(0.3)   # the SSE stream still wants it
        sse.close()
        assert pubsub.publisher.subscription() == (False, b"argentina")
