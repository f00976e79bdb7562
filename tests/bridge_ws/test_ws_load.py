"""Slow browsers and many browsers: the send-queue policies, bounded memory, and fan-out in order.

websocket-client in threads plays the browsers (each thread owns its client); a pyzmq XPUB is
the publisher. Waits are on observable things (acks, subscription events, metrics), bounded
by the deadline fixture and socket timeouts.
"""
import json
import socket
import threading
import time

import pytest

from wskit import recv_json, send_json


def subscribe(ws, topic, id):
    send_json(ws, {"op": "subscribe", "topic": topic, "id": id})
    assert recv_json(ws) == {"op": "reply", "id": id, "status": 200, "body": ""}


def wait_metric(bridge, key, predicate, seconds=30.0):
    end = time.monotonic() + seconds
    while True:
        value = bridge.metrics().get(key, 0.0)
        if predicate(value):
            return value
        if time.monotonic() > end:
            raise AssertionError(f"{key} = {value} never satisfied the condition")
        time.sleep(0.05)


def stalled_client(bridge, path):
    """A WebSocket client whose socket receive buffer is tiny and which will not read."""
    return bridge.ws(path, sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])


@pytest.mark.slow
def test_slow_reader_is_disconnected_under_the_close_policy(pubsub, deadline):
    bridge = pubsub.start("--stream-queue-messages", "1000")
    with deadline(60):
        slow = stalled_client(bridge, "/live/")
        subscribe(slow, "flood", 1)
        fast = bridge.ws("/live/")
        subscribe(fast, "flood", 2)
        assert pubsub.publisher.subscription() == (True, b"flood")
        got, total = [], 12000

        def read_fast():
            while len(got) < total:
                got.append(recv_json(fast)["data"][:11])

        reader = threading.Thread(target=read_fast, daemon=True)
        reader.start()
        payload = b"x" * 1024
        for i in range(total):
            if i % 250 == 0:                            # keep the fast reader within 500 messages
                while len(got) < i - 250 and reader.is_alive():
                    time.sleep(0.001)
            pubsub.publisher.send(b"flood %05d " % i + payload)
        # The reader that keeps up gets everything, in order...
        reader.join(50)
        assert got == ["flood %05d" % i for i in range(total)]
        # ...the one that does not is dropped once 1000 messages wait for it.
        wait_metric(bridge, 'bridge_stream_overflows_total{route="/live/",policy="close"}', lambda v: v == 1)
        wait_metric(bridge, 'bridge_stream_open{route="/live/",kind="websocket"}', lambda v: v == 1)
        slow.settimeout(10)
        with pytest.raises(Exception):                  # what it had, then the end of the stream
            while True:
                slow.recv()
        assert bridge.metrics()["bridge_stream_queued_bytes"] == 0
        fast.close()
        assert pubsub.publisher.subscription() == (False, b"flood")


@pytest.mark.slow
def test_slow_reader_memory_stays_bounded_under_drop_oldest(pubsub, deadline):
    bridge = pubsub.start("--slow-browser", "drop-oldest", "--stream-queue-messages", "1000")
    with deadline(120):
        slow = stalled_client(bridge, "/live/")
        subscribe(slow, "flood", 1)
        assert pubsub.publisher.subscription() == (True, b"flood")
        rss_before = bridge.rss_kib()
        payload = b"y" * 4096
        count = 25000                                  # 100 MiB published, nobody reading
        for i in range(count):
            pubsub.publisher.send(b"flood %05d " % i + payload)
        wait_metric(bridge, 'bridge_pubsub_messages_total{route="/live/",kind="in"}', lambda v: v == count, 90)
        metrics = bridge.metrics()
        # At most 1000 messages wait in the queue (each is about 4 KiB framed)...
        assert metrics["bridge_stream_queued_bytes"] <= 1000 * 4200
        # ...the rest was dropped (minus what the socket buffers took) and counted...
        dropped = metrics['bridge_stream_dropped_messages_total{route="/live/"}']
        assert count - 1000 - 1000 < dropped < count - 1000
        assert metrics['bridge_stream_overflows_total{route="/live/",policy="drop-oldest"}'] == dropped
        # ...and the bridge did not keep the 100 MiB: its memory grew by well under half of it.
        assert bridge.rss_kib() - rss_before < 50 * 1024
        # The browser is still connected: it now reads an in-order tail, then live messages.
        last = -1
        slow.settimeout(10)
        while True:
            n = int(recv_json(slow)["data"].split()[1])
            assert n > last
            last = n
            if n == count - 1:
                break
        pubsub.publisher.send(b"flood live")
        assert recv_json(slow)["data"] == "flood live"
        slow.close()


@pytest.mark.slow
def test_200_clients_each_receive_1000_messages_in_order(pubsub, deadline):
    bridge = pubsub.start()
    clients, total = 200, 1000
    results = {}
    subscribed = threading.Barrier(clients + 1, timeout=60)
    errors = []

    def browser(n):
        try:
            ws = bridge.ws("/live/", timeout=60)
            subscribe(ws, "tick", n)
            subscribed.wait()
            got = []
            while len(got) < total:
                got.append(recv_json(ws)["data"])
            results[n] = got
            ws.close()
        except Exception as e:                          # reported by the main thread
            errors.append((n, repr(e)))
            subscribed.abort()

    threads = [threading.Thread(target=browser, args=(n,), daemon=True) for n in range(clients)]
    with deadline(150):
        for t in threads:
            t.start()
        assert pubsub.publisher.subscription(timeout=60) == (True, b"tick")
        subscribed.wait()                               # every browser has its ack
        for i in range(total):
            pubsub.publisher.send(b"tick %04d" % i)
        for t in threads:
            t.join(120)
    assert not errors, errors[:5]
    expected = ["tick %04d" % i for i in range(total)]
    assert len(results) == clients
    assert all(got == expected for got in results.values())
    metrics = bridge.metrics()
    assert metrics['bridge_stream_messages_total{route="/live/",direction="out"}'] == clients * total
    assert metrics.get('bridge_stream_overflows_total{route="/live/",policy="close"}', 0) == 0
    assert json.loads(json.dumps(metrics)) is not None
