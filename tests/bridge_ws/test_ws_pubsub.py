"""pubsub routes over WebSocket, end to end: the bridge as a process, pyzmq peers, websocket-client.

One test per op and rule of issue 8 (the ops are documented in bridge/adapters/ops.py): on-demand
subscriptions seen by an XPUB publisher, single- and two-frame messages, prefix matching,
unsubscribe, publish encodings, request routing, errors that keep the connection open, and the
WebSocket rules (close codes, sizes, UTF-8, ping, idle timeout, origin, abrupt disconnects).
"""
import base64
import json
import socket
import struct

import pytest
import websocket

from wskit import client_frame, fetch, free_port, raw_upgrade, read_server_frame, recv_json, send_json


def subscribe(ws, topic, id):
    send_json(ws, {"op": "subscribe", "topic": topic, "id": id})
    assert recv_json(ws) == {"op": "reply", "id": id, "status": 200, "body": ""}


# ---------------------------------------------------------------------- subscribe and messages

def test_subscribe_is_on_demand_and_shared(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        a, b = bridge.ws("/live/"), bridge.ws("/live/")
        subscribe(a, "netherlands", 1)
        # The bridge's SUB socket subscribes when the first browser asks (an XPUB sees it)...
        assert pubsub.publisher.subscription() == (True, b"netherlands")
        subscribe(b, "netherlands", 2)
        subscribe(b, "germany", 3)
        # ...once per topic, however many browsers share it.
        assert pubsub.publisher.subscription() == (True, b"germany")
        pubsub.publisher.send(b"netherlands goal by Robben (12')")
        pubsub.publisher.send(b"germany corner (13')")
        assert recv_json(a) == {"op": "message", "topic": "netherlands", "data": "netherlands goal by Robben (12')"}
        assert recv_json(b) == {"op": "message", "topic": "netherlands", "data": "netherlands goal by Robben (12')"}
        assert recv_json(b) == {"op": "message", "topic": "germany", "data": "germany corner (13')"}
        # a never asked for germany: the next thing it gets is the next netherlands event.
        pubsub.publisher.send(b"netherlands free kick (14')")
        assert recv_json(a)["data"] == "netherlands free kick (14')"
        a.close()
        b.close()


def test_two_frame_messages_and_prefix_matching(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        ws = bridge.ws("/live/")
        subscribe(ws, "score/", 1)
        subscribe(ws, "score/nl", 2)
        assert pubsub.publisher.subscription() == (True, b"score/")
        assert pubsub.publisher.subscription() == (True, b"score/nl")
        pubsub.publisher.send(b"score/nl-de", b"2-1")
        # Delivered once per subscribed prefix, each under the topic the browser asked for.
        got = [recv_json(ws), recv_json(ws)]
        assert sorted(got, key=lambda m: m["topic"]) == [
            {"op": "message", "topic": "score/", "full_topic": "score/nl-de", "data": "2-1"},
            {"op": "message", "topic": "score/nl", "full_topic": "score/nl-de", "data": "2-1"}]
        pubsub.publisher.send(b"score/es", b"\xff\x00binary")
        assert recv_json(ws) == {"op": "message", "topic": "score/", "full_topic": "score/es",
                                 "data": base64.b64encode(b"\xff\x00binary").decode(), "data_base64": True}
        ws.close()


def test_empty_topic_is_everything(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        ws = bridge.ws("/live/")
        subscribe(ws, "", 1)
        assert pubsub.publisher.subscription() == (True, b"")
        pubsub.publisher.send(b"anything at all")
        assert recv_json(ws) == {"op": "message", "topic": "", "data": "anything at all"}
        ws.close()


def test_unsubscribe_takes_effect_at_once_and_last_one_out_cancels(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        a, b = bridge.ws("/live/"), bridge.ws("/live/")
        subscribe(a, "spain", 1)
        subscribe(a, "italy", 2)
        subscribe(b, "spain", 3)
        assert pubsub.publisher.subscription() == (True, b"spain")
        assert pubsub.publisher.subscription() == (True, b"italy")
        send_json(a, {"op": "unsubscribe", "topic": "spain", "id": 4})
        assert recv_json(a) == {"op": "reply", "id": 4, "status": 200, "body": ""}
        # b still wants spain: the SUB socket keeps the subscription.
        assert pubsub.publisher.no_subscription_event(0.3)
        # Effective at once: the ack came first, so what is published after it never reaches a,
        # while a message published later on a topic a still follows does.
        pubsub.publisher.send(b"spain offside")
        pubsub.publisher.send(b"italy corner")
        assert recv_json(a) == {"op": "message", "topic": "italy", "data": "italy corner"}
        assert recv_json(b)["data"] == "spain offside"
        send_json(b, {"op": "unsubscribe", "topic": "spain"})      # no id: no ack
        assert pubsub.publisher.subscription() == (False, b"spain")
        a.close()
        b.close()


# ---------------------------------------------------------------------- publish

def test_publish_encodings(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(30):
        ws = bridge.ws("/live/")
        pubsub.sink.ready(ws)
        send_json(ws, {"op": "publish", "topic": "chat/lobby", "data": "héllo \"world\"", "id": 1})
        assert recv_json(ws) == {"op": "reply", "id": 1, "status": 200, "body": ""}
        # A string leaves as its UTF-8 bytes, not JSON-quoted, as [topic, data].
        assert pubsub.sink.recv() == [b"chat/lobby", 'héllo "world"'.encode()]
        send_json(ws, {"op": "publish", "topic": "chat/lobby", "data": {"nick": "ann", "n": [1, 2]}})
        assert pubsub.sink.recv() == [b"chat/lobby", b'{"nick":"ann","n":[1,2]}']
        send_json(ws, {"op": "publish", "topic": "raw", "data": base64.b64encode(b"\x00\xff").decode(),
                       "data_base64": True})
        assert pubsub.sink.recv() == [b"raw", b"\x00\xff"]
        send_json(ws, {"op": "publish", "topic": "n", "data": 42})
        assert pubsub.sink.recv() == [b"n", b"42"]
        send_json(ws, {"op": "publish", "topic": "empty"})
        assert pubsub.sink.recv() == [b"empty", b""]
        ws.close()


def test_publish_without_pub_endpoint_is_an_error(pyzmq, zctx, bridge_factory, deadline):
    from wskit import Publisher

    publisher = Publisher(pyzmq, zctx)
    bridge = bridge_factory("--route", f"/ro/=pubsub:{publisher.endpoint}")
    with deadline(20):
        ws = bridge.ws("/ro/")
        send_json(ws, {"op": "publish", "topic": "t", "data": "x", "id": 9})
        msg = recv_json(ws)
        assert msg["op"] == "error" and msg["id"] == 9 and "PUB" in msg["error"]
        subscribe(ws, "t", 10)                           # still open
        ws.close()
    publisher.close()


# ---------------------------------------------------------------------- request

def request_when_connected(ws, op):
    """Send a request op until the route's DEALER has connected (503 until then)."""
    for attempt in range(200):
        send_json(ws, {**op, "id": f"{op['id']}-{attempt}"})
        reply = recv_json(ws)
        if reply.get("status") != 503:
            return reply
    raise AssertionError("the backend never connected")


def test_request_routed_like_http(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        ws = bridge.ws("/live/")
        reply = request_when_connected(ws, {"op": "request", "id": 1, "path": "/api/items?x=1"})
        reply["id"] = int(reply["id"].split("-")[0])
        assert reply["op"] == "reply" and reply["id"] == 1 and reply["status"] == 200
        assert json.loads(reply["body"]) == {"method": "GET", "path": "/api/items", "query": "x=1", "body": "",
                                             "content_type": None}
        send_json(ws, {"op": "request", "id": "two", "path": "/api/items", "body": {"name": "x"}})
        reply = recv_json(ws)
        assert reply["status"] == 201 and reply["id"] == "two"
        assert json.loads(reply["body"]) == {"method": "POST", "path": "/api/items", "query": "",
                                             "body": '{"name":"x"}', "content_type": "application/json"}
        send_json(ws, {"op": "request", "id": 3, "path": "/api/x", "body": "plain", "method": "PUT"})
        assert json.loads(recv_json(ws)["body"])["body"] == "plain"
        send_json(ws, {"op": "request", "id": 4, "path": "/nowhere"})
        assert recv_json(ws) == {"op": "reply", "id": 4, "status": 404, "body": "Not Found\n"}
        send_json(ws, {"op": "request", "id": 5, "path": "/_bridge/health"})
        health = recv_json(ws)
        assert health["status"] == 200 and json.loads(health["body"])["status"] == "ok"
        ws.close()


def test_request_without_backend_is_503(pubsub, deadline):
    dead = f"tcp://127.0.0.1:{free_port()}"
    bridge = pubsub.start("--route", f"/dead/=req:{dead},timeout=2")
    with deadline(20):
        ws = bridge.ws("/live/")
        send_json(ws, {"op": "request", "id": 1, "path": "/dead/x"})
        assert recv_json(ws)["status"] == 503
        ws.close()


# ---------------------------------------------------------------------- errors keep the connection

@pytest.mark.parametrize("message, expect", [
    ({"op": "shout", "topic": "x"}, "unknown op 'shout'"),
    ({"topic": "x"}, 'needs "op"'),
    ({"op": "subscribe"}, '"topic" must be a string'),
    ({"op": "subscribe", "topic": 5}, '"topic" must be a string'),
    ({"op": "request", "path": "/api/"}, 'needs an "id"'),
    ({"op": "request", "id": 1, "path": "api"}, '"path"'),
    ({"op": "publish", "topic": "t", "data": "%%%", "data_base64": True}, "base64"),
    ([1, 2], "JSON object"),
])
def test_bad_ops_get_an_error_and_the_connection_stays(pubsub, deadline, message, expect):
    bridge = pubsub.start()
    with deadline(20):
        ws = bridge.ws("/live/")
        send_json(ws, message)
        msg = recv_json(ws)
        assert msg["op"] == "error" and expect in msg["error"], msg
        subscribe(ws, "still-open", 7)
        ws.close()


def test_not_json_and_binary_frames_get_errors(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        ws = bridge.ws("/live/")
        ws.send("{not json")
        assert recv_json(ws)["error"].startswith("not JSON")
        ws.send_binary(b'{"op":"subscribe","topic":"x"}')
        assert "binary frames are not ops" in recv_json(ws)["error"]
        subscribe(ws, "x", 1)
        ws.close()


# ---------------------------------------------------------------------- WebSocket rules

def test_client_close_is_echoed_with_its_code(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        sock, rest = raw_upgrade(bridge.port, "/live/")
        sock.sendall(client_frame(0x8, struct.pack("!H", 4001) + "bye ☺".encode()))
        opcode, payload, _ = read_server_frame(sock, rest)
        assert opcode == 0x8 and payload == struct.pack("!H", 4001)
        assert sock.recv(10) == b""                    # then the server closes TCP
        sock.close()


def test_oversized_message_closes_1009_before_the_payload(pubsub, deadline):
    bridge = pubsub.start("--ws-max-message-bytes", "65536")
    with deadline(20):
        sock, rest = raw_upgrade(bridge.port, "/live/")
        # A head announcing 1 GiB: refused from the head alone, nothing is buffered.
        sock.sendall(client_frame(0x2, b"", length=1 << 30))
        opcode, payload, _ = read_server_frame(sock, rest)
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1009
        sock.close()
        # Fragments count together.
        sock, rest = raw_upgrade(bridge.port, "/live/")
        sock.sendall(client_frame(0x1, b"a" * 40000, fin=False) + client_frame(0x0, b"b" * 40000))
        opcode, payload, _ = read_server_frame(sock, rest)
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1009
        sock.close()
        assert bridge.metrics()['bridge_ws_closes_total{route="/live/",code="1009"}'] == 2


def test_invalid_utf8_closes_1007_at_the_first_bad_fragment(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        sock, rest = raw_upgrade(bridge.port, "/live/")
        # The message is never finished: the bad first fragment is enough.
        sock.sendall(client_frame(0x1, b'{"op": "\xc3\x28', fin=False))
        opcode, payload, _ = read_server_frame(sock, rest)
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1007
        sock.close()


@pytest.mark.parametrize("frame, why", [
    (client_frame(0x1, b"hi", mask=None), "unmasked"),
    (client_frame(0x1, b"hi", rsv=0x40), "RSV1 without an extension"),
    (client_frame(0x3, b"hi"), "reserved opcode"),
    (client_frame(0x0, b"hi"), "continuation of nothing"),
    (client_frame(0x9, b"p", fin=False), "fragmented ping"),
    (client_frame(0x9, b"p" * 126), "control frame over 125 bytes"),
    (client_frame(0x8, b"\x03"), "1-byte close payload"),
    (client_frame(0x8, struct.pack("!H", 1005)), "close code 1005 on the wire"),
])
def test_protocol_errors_close_1002(pubsub, deadline, frame, why):
    bridge = pubsub.start()
    with deadline(20):
        sock, rest = raw_upgrade(bridge.port, "/live/")
        sock.sendall(frame)
        opcode, payload, _ = read_server_frame(sock, rest)
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1002, why
        sock.close()


def test_ping_is_answered_with_its_payload_between_fragments(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        sock, rest = raw_upgrade(bridge.port, "/live/")
        op = json.dumps({"op": "subscribe", "topic": "frag", "id": 1}).encode()
        sock.sendall(client_frame(0x1, op[:10], fin=False) + client_frame(0x9, b"are you there")
                     + client_frame(0x0, op[10:]))
        opcode, payload, rest = read_server_frame(sock, rest)
        assert (opcode, payload) == (0xA, b"are you there")
        opcode, payload, rest = read_server_frame(sock, rest)
        assert opcode == 0x1 and json.loads(payload) == {"op": "reply", "id": 1, "status": 200, "body": ""}
        sock.close()


def test_server_pings_then_closes_an_idle_connection(pubsub, deadline):
    bridge = pubsub.start("--ws-ping-interval", "0.2", "--ws-idle-timeout", "1", "--ws-close-timeout", "1")
    with deadline(20):
        sock, rest = raw_upgrade(bridge.port, "/live/")
        seen = []
        while True:                                  # never answer: pings, then close 1001
            opcode, payload, rest = read_server_frame(sock, rest)
            seen.append(opcode)
            if opcode == 0x8:
                break
        assert 0x9 in seen
        assert struct.unpack("!H", payload[:2]) == (1001,) and payload[2:] == b"idle timeout"
        sock.close()


def test_pongs_keep_a_quiet_connection_alive(pubsub, deadline):
    bridge = pubsub.start("--ws-ping-interval", "0.2", "--ws-idle-timeout", "1")
    with deadline(20):
        ws = bridge.ws("/live/")                     # websocket-client answers pings
        pings = 0
        while pings < 8:                             # 8 pings take longer than the idle timeout
            opcode, _ = ws.recv_data(control_frame=True)
            assert opcode == websocket.ABNF.OPCODE_PING
            pings += 1
        subscribe(ws, "alive", 1)
        ws.close()


def test_origin_check(pubsub, deadline):
    bridge = pubsub.start("--ws-origins", "http://good.example, https://also.example")
    with deadline(20):
        with pytest.raises(websocket.WebSocketBadStatusException) as e:
            bridge.ws("/live/", origin="http://evil.example")
        assert e.value.status_code == 403
        ws = bridge.ws("/live/", origin="https://also.example")
        subscribe(ws, "ok", 1)
        ws.close()
        assert fetch(bridge.port, "GET", "/live/events?topic=x", headers=[("Origin", "http://evil.example")]
                     ).status == 403


@pytest.mark.parametrize("headers, status", [
    ([("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "8"),
      ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")], 426),
    ([("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
      ("Sec-WebSocket-Key", "not base64!")], 400),
    ([("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
      ("Sec-WebSocket-Key", "c2hvcnQ=")], 400),
    ([], 426),
])
def test_bad_handshakes_get_http_errors(pubsub, deadline, headers, status):
    bridge = pubsub.start()
    with deadline(20):
        resp = fetch(bridge.port, "GET", "/live/", headers=headers)
        assert resp.status == status, resp
        if status == 426 and headers:
            assert resp.header("sec-websocket-version") == "13"
        # The bridge is fine afterwards.
        assert fetch(bridge.port, "GET", "/_bridge/health").status == 200


def test_other_paths_under_a_pubsub_route_are_404(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        assert fetch(bridge.port, "GET", "/live/other").status == 404
        assert fetch(bridge.port, "POST", "/live/events", body=b"x").status == 405


# ---------------------------------------------------------------------- browsers that vanish

def test_abrupt_disconnect_cleans_up_and_unsubscribes(pubsub, deadline):
    bridge = pubsub.start()
    with deadline(20):
        sock, rest = raw_upgrade(bridge.port, "/live/")
        sock.sendall(client_frame(0x1, json.dumps({"op": "subscribe", "topic": "gone", "id": 1}).encode()))
        read_server_frame(sock, rest)
        assert pubsub.publisher.subscription() == (True, b"gone")
        # No close frame: a reset (SO_LINGER 0), as when a browser's process dies.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        assert pubsub.publisher.subscription() == (False, b"gone")
        metrics = bridge.metrics()
        assert metrics['bridge_stream_open{route="/live/",kind="websocket"}'] == 0
        assert metrics['bridge_ws_closes_total{route="/live/",code="1006"}'] == 1
        assert metrics['bridge_pubsub_topics{route="/live/"}'] == 0


def test_shutdown_closes_websockets_with_1001(pubsub, deadline):
    import signal

    bridge = pubsub.start()
    with deadline(20):
        ws = bridge.ws("/live/")
        subscribe(ws, "bye", 1)
        bridge.proc.send_signal(signal.SIGTERM)
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_CLOSE
        assert struct.unpack("!H", data[:2]) == (1001,) and data[2:] == b"server shutting down"
        assert bridge.proc.wait(10) == 0


def test_pushed_message_too_big_becomes_a_dropped_op(pubsub, deadline):
    # 700 KB of \x01 is a 4.2 MB op once JSON-escaped; a browser (or a websockets client, 1 MiB
    # by default) would fail the connection. It gets a dropped op instead and stays connected.
    bridge = pubsub.start("--ws-max-send-bytes", "1048576")
    with deadline(30):
        ws = bridge.ws("/live/")
        subscribe(ws, "t", 1)
        assert pubsub.publisher.subscription() == (True, b"t")
        pubsub.publisher.send(b"t", b"\x01" * 700_000)
        pubsub.publisher.send(b"t", b"small")
        dropped = recv_json(ws)
        assert dropped == {"op": "dropped", "topic": "t", "bytes": dropped["bytes"], "limit": 1048576}
        assert dropped["bytes"] > 4_000_000
        assert recv_json(ws)["data"] == "small"
        assert bridge.metrics()['bridge_stream_dropped_messages_total{route="/live/"}'] == 1
        ws.close()


def _compressed_frame(sock, buf):
    """(RSV1 set?, opcode, payload, rest) of one server frame."""
    while len(buf) < 2:
        buf += sock.recv(65536)
    rsv1 = bool(buf[0] & 0x40)
    opcode, payload, rest = read_server_frame(sock, buf)
    return rsv1, opcode, payload, rest


def test_permessage_deflate_on_the_wire(pubsub, deadline):
    import zlib

    bridge = pubsub.start()
    with deadline(20):
        sock, rest = raw_upgrade(bridge.port, "/live/", extra=["Sec-WebSocket-Extensions: permessage-deflate; "
                                                                "client_max_window_bits"])
        compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        inflater = zlib.decompressobj(-15)

        def send(doc):
            data = compressor.compress(json.dumps(doc).encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
            sock.sendall(client_frame(0x1, data[:-4], rsv=0x40))

        def receive():
            nonlocal rest
            rsv1, opcode, payload, rest = _compressed_frame(sock, rest)
            assert rsv1 and opcode == 0x1
            return json.loads(inflater.decompress(payload + b"\x00\x00\xff\xff"))

        send({"op": "subscribe", "topic": "t", "id": 1})
        assert receive() == {"op": "reply", "id": 1, "status": 200, "body": ""}
        assert pubsub.publisher.subscription() == (True, b"t")
        for n in range(3):
            pubsub.publisher.send(b"t", b"the same text again and again %d" % n)
            assert receive()["data"] == "the same text again and again %d" % n
        # A deflate bomb: 1009, before it is inflated whole.
        bomb = compressor.compress(b"\x00" * (8 << 20)) + compressor.flush(zlib.Z_SYNC_FLUSH)
        sock.sendall(client_frame(0x2, bomb[:-4], rsv=0x40))
        rsv1, opcode, payload, rest = _compressed_frame(sock, rest)
        assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1009
        sock.close()
    # Turned off: the offer is declined and frames go uncompressed.
    bridge.stop()
    bridge = pubsub.start("--ws-compression", "no")
    with deadline(20):
        sock, rest = raw_upgrade(bridge.port, "/live/", extra=["Sec-WebSocket-Extensions: permessage-deflate"])
        sock.sendall(client_frame(0x1, json.dumps({"op": "subscribe", "topic": "u", "id": 2}).encode()))
        rsv1, opcode, payload, rest = _compressed_frame(sock, rest)
        assert not rsv1 and json.loads(payload)["id"] == 2
        sock.close()
