"""The sans-IO halves, bytes in and bytes out: bridge.ws.frames, bridge.ws.handshake, bridge.adapters.ops.

Each decoder case is fed whole, one byte at a time, and with trailing bytes (as h11's tests
do); Hypothesis checks that any bytes either decode or raise FrameError, and that messages
round-trip whatever the fragmentation and however the bytes are split.
"""
import base64
import json
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.adapters import ops
from bridge.http11 import Request
from bridge.ws import frames, handshake
from bridge.ws.frames import Close, FrameDecoder, FrameError, Message, Ping, Pong
from wskit import client_frame


def feed_all(data, max_message_bytes=1 << 20, split=None):
    """Decode ``data``: whole, byte by byte, or at ``split`` points. Returns the events."""
    decoder = FrameDecoder(max_message_bytes)
    events = []
    pieces = [data] if split is None else split(data)
    for piece in pieces:
        decoder.receive_data(piece)
        while True:
            event = decoder.next_event()
            if event is None:
                break
            events.append(event)
    return events


def ways(data, **kwargs):
    """The events of ``data`` fed whole and one byte at a time (they must agree)."""
    whole = feed_all(data, **kwargs)
    bytewise = feed_all(data, split=lambda d: [d[i:i + 1] for i in range(len(d))], **kwargs)
    assert whole == bytewise
    return whole


# ---------------------------------------------------------------------- RFC 6455 vectors

def test_rfc6455_masked_hello():
    # RFC 6455 section 5.7: a single-frame masked text message containing "Hello".
    data = bytes.fromhex("818537fa213d7f9f4d5158")
    assert ways(data) == [Message(frames.TEXT, b"Hello", "Hello")]


def test_rfc6455_fragmented_hello_and_ping():
    data = (client_frame(frames.TEXT, b"Hel", fin=False) + client_frame(frames.PING, b"Hello")
            + client_frame(frames.CONTINUATION, b"lo"))
    assert ways(data) == [Ping(b"Hello"), Message(frames.TEXT, b"Hello", "Hello")]


def test_lengths_7_16_and_64_bit():
    for n in (0, 125, 126, 65535, 65536, 70000):
        payload = os.urandom(n)
        assert feed_all(client_frame(frames.BINARY, payload)) == [Message(frames.BINARY, payload, None)]


def test_trailing_bytes_stay_for_the_next_event():
    decoder = FrameDecoder()
    decoder.receive_data(client_frame(frames.TEXT, b"one") + client_frame(frames.TEXT, b"two")[:3])
    assert decoder.next_event() == Message(frames.TEXT, b"one", "one")
    assert decoder.next_event() is None
    decoder.receive_data(client_frame(frames.TEXT, b"two")[3:])
    assert decoder.next_event() == Message(frames.TEXT, b"two", "two")


def test_pong_and_close_events():
    data = client_frame(frames.PONG, b"p") + client_frame(frames.CLOSE, struct.pack("!H", 1000) + "fin ☺".encode())
    assert ways(data) == [Pong(b"p"), Close(1000, "fin ☺", struct.pack("!H", 1000) + "fin ☺".encode())]
    assert ways(client_frame(frames.CLOSE, b"")) == [Close(None, "", b"")]


def test_unmask_matches_the_definition():
    for n in (0, 1, 3, 4, 5, 1000, 4097):
        payload, mask = os.urandom(n), os.urandom(4)
        assert frames.unmask(payload, mask) == bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


# ---------------------------------------------------------------------- refusals

@pytest.mark.parametrize("data, code", [
    (client_frame(frames.TEXT, b"x", mask=None), 1002),
    (client_frame(frames.TEXT, b"x", rsv=0x40), 1002),
    (client_frame(frames.TEXT, b"x", rsv=0x10), 1002),
    (client_frame(0x3, b"x"), 1002),
    (client_frame(0xB, b"x"), 1002),
    (client_frame(frames.CONTINUATION, b"x"), 1002),
    (client_frame(frames.TEXT, b"a", fin=False) + client_frame(frames.TEXT, b"b"), 1002),
    (client_frame(frames.PING, b"x", fin=False), 1002),
    (client_frame(frames.PING, b"x" * 126), 1002),
    (client_frame(frames.CLOSE, b"\x03"), 1002),
    (client_frame(frames.CLOSE, struct.pack("!H", 999)), 1002),
    (client_frame(frames.CLOSE, struct.pack("!H", 1005)), 1002),
    (client_frame(frames.CLOSE, struct.pack("!H", 1015)), 1002),
    (client_frame(frames.CLOSE, struct.pack("!H", 5000)), 1002),
    (client_frame(frames.CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007),
    (client_frame(frames.TEXT, b"\xc3\x28"), 1007),
    (client_frame(frames.TEXT, b"\xed\xa0\x80"), 1007),            # a UTF-16 surrogate
    (client_frame(frames.TEXT, b"ok \xf0\x9f", fin=True), 1007),    # truncated at the end
])
def test_refusals(data, code):
    with pytest.raises(FrameError) as e:
        ways(data)
    assert e.value.code == code


def test_close_codes_a_peer_may_send():
    for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999):
        assert ways(client_frame(frames.CLOSE, struct.pack("!H", code))) == [
            Close(code, "", struct.pack("!H", code))]


def test_invalid_utf8_fails_on_the_first_fragment():
    decoder = FrameDecoder()
    decoder.receive_data(client_frame(frames.TEXT, b"ok \xff", fin=False))
    with pytest.raises(FrameError) as e:
        decoder.next_event()
    assert e.value.code == 1007


def test_a_utf8_sequence_may_span_fragments():
    data = "é€😀".encode()
    frames_ = b"".join(client_frame(frames.TEXT if i == 0 else frames.CONTINUATION, data[i:i + 1],
                                    fin=i == len(data) - 1) for i in range(len(data)))
    assert ways(frames_) == [Message(frames.TEXT, data, "é€😀")]


def test_too_big_is_refused_from_the_head():
    decoder = FrameDecoder(max_message_bytes=1000)
    decoder.receive_data(client_frame(frames.BINARY, b"", length=1 << 62)[:14])   # the head only
    with pytest.raises(FrameError) as e:
        decoder.next_event()
    assert e.value.code == 1009
    with pytest.raises(FrameError):                   # and the decoder stays broken
        decoder.next_event()
    decoder = FrameDecoder(max_message_bytes=1000)
    decoder.receive_data(client_frame(frames.TEXT, b"a" * 600, fin=False) + client_frame(frames.CONTINUATION,
                                                                                        b"b" * 600))
    with pytest.raises(FrameError) as e:
        decoder.next_event()
    assert e.value.code == 1009
    assert feed_all(client_frame(frames.BINARY, b"x" * 1000), max_message_bytes=1000)[0].payload == b"x" * 1000


# ---------------------------------------------------------------------- properties

@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_raise_frame_error(data):
    try:
        feed_all(data, max_message_bytes=200)
    except FrameError as e:
        assert e.code in (1002, 1007, 1009)


messages = st.one_of(st.tuples(st.just(frames.TEXT), st.text(max_size=200).map(lambda t: t.encode())),
                     st.tuples(st.just(frames.BINARY), st.binary(max_size=200)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(messages, st.integers(1, 5)), max_size=6), st.data())
def test_messages_round_trip_fragmented_and_split_anywhere(items, data):
    wire = b""
    expected = []
    for (opcode, payload), pieces in items:
        cuts = sorted(data.draw(st.lists(st.integers(0, len(payload)), min_size=pieces - 1, max_size=pieces - 1)))
        parts = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)])]
        for i, part in enumerate(parts):
            mask = data.draw(st.binary(min_size=4, max_size=4))
            wire += client_frame(opcode if i == 0 else frames.CONTINUATION, part, fin=i == len(parts) - 1, mask=mask)
        expected.append(Message(opcode, payload, payload.decode() if opcode == frames.TEXT else None))
    splits = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    pieces = [wire[a:b] for a, b in zip([0, *splits], [*splits, len(wire)])]
    assert feed_all(wire, split=lambda _: pieces) == expected


# ---------------------------------------------------------------------- encoding

def test_server_frames():
    assert frames.encode_text("Hello") == b"\x81\x05Hello"
    assert frames.encode_binary(b"\x00" * 126)[:4] == b"\x82\x7e\x00\x7e"
    assert frames.encode_binary(b"\x00" * 65536)[:10] == b"\x82\x7f" + (65536).to_bytes(8, "big")
    assert frames.encode_ping(b"p") == b"\x89\x01p"
    assert frames.encode_pong(b"p") == b"\x8a\x01p"


def test_close_frames_carry_their_code():
    # gevent-websocket 0.10.1 sent only the reason (BRIDGE.md 5.2, bug 1).
    assert frames.encode_close(1000) == b"\x88\x02\x03\xe8"
    assert frames.encode_close(1009, "too big") == b"\x88\x09\x03\xf1too big"
    assert frames.encode_close(None) == b"\x88\x00"
    long = frames.encode_close(1011, "é" * 100)          # cut to 125 bytes, not mid-character
    assert len(long) == 2 + 2 + 122 and long[4:].decode("utf-8") == "é" * 61


# ---------------------------------------------------------------------- handshake

def upgrade(headers=(), method="GET", version="HTTP/1.1"):
    base = [("host", "example.com"), ("upgrade", "websocket"), ("connection", "keep-alive, Upgrade"),
            ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="), ("sec-websocket-version", "13")]
    names = {k for k, _ in headers}
    return Request(method, "/live/", version, [(k, v) for k, v in base if k not in names] + list(headers))


def test_handshake_accept_value_from_the_rfc():
    assert handshake.check(upgrade()) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert handshake.accepted("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")


@pytest.mark.parametrize("request_, status", [
    (upgrade(method="POST"), 405),
    (upgrade(version="HTTP/1.0"), 400),
    (upgrade([("sec-websocket-version", "8")]), 426),
    (upgrade([("sec-websocket-key", "short")]), 400),
    (upgrade([("sec-websocket-key", "ü")]), 400),
    (upgrade([("upgrade", "h2c")]), 426),
    (upgrade([("origin", "http://evil.example")]), 403),
])
def test_handshake_refusals(request_, status):
    with pytest.raises(handshake.HandshakeError) as e:
        handshake.check(request_, allowed_origins=["http://good.example"])
    assert e.value.status == status
    response = handshake.refusal(e.value.status, e.value.reason, e.value.headers)
    assert isinstance(response, bytes) and response.startswith(f"HTTP/1.1 {status} ".encode())


def test_origin_rules():
    assert handshake.origin_allowed("http://a.example", [])
    assert handshake.origin_allowed(None, ["http://a.example"])          # not a browser
    assert handshake.origin_allowed("HTTP://A.example/", ["http://a.example"])
    assert not handshake.origin_allowed("http://b.example", ["http://a.example"])


# ---------------------------------------------------------------------- ops

def test_parse_ops():
    assert ops.parse('{"op":"subscribe","topic":"a"}') == ops.Subscribe("a")
    assert ops.parse('{"op":"unsubscribe","topic":"a","id":3}') == ops.Unsubscribe("a", 3)
    assert ops.parse('{"op":"publish","topic":"t","data":"é"}') == ops.Publish("t", "é".encode())
    assert ops.parse('{"op":"publish","topic":"t","data":{"a":[1]}}') == ops.Publish("t", b'{"a":[1]}')
    assert ops.parse('{"op":"publish","topic":"t","data":"AP8=","data_base64":true}') == ops.Publish("t", b"\x00\xff")
    req = ops.parse('{"op":"request","id":1,"path":"/x?y","body":[1],"headers":{"X-A":"b"},"method":"PUT"}')
    assert req == ops.Request(1, "/x?y", b"[1]", "PUT", (("x-a", "b"),), "application/json")


@pytest.mark.parametrize("text", [
    "not json", "[]", '{"op":1}', '{"op":"subscribe","topic":"' + "x" * 1025 + '"}',
    '{"op":"subscribe","topic":"a","id":[1]}', '{"op":"request","id":1,"path":"/a b"}',
    '{"op":"request","id":1,"path":"/","method":"get"}', '{"op":"request","id":1,"path":"/","headers":{"a":1}}',
    '{"op":"request","id":1,"path":"/","headers":{"a":"b\\r\\nc"}}', '{"op":"subscribe","topic":"\\ud800"}',
])
def test_parse_refusals(text):
    with pytest.raises(ops.OpError):
        ops.parse(text)


def test_encode_message():
    assert json.loads(ops.encode_message("nl", b"nl goal \"x\"\n")) == {"op": "message", "topic": "nl",
                                                                          "data": 'nl goal "x"\n'}
    assert json.loads(ops.encode_message("", b"\xff", full_topic=b"t/1")) == {
        "op": "message", "topic": "", "full_topic": "t/1", "data": base64.b64encode(b"\xff").decode(),
        "data_base64": True}
    assert json.loads(ops.encode_reply(1, 200, b"\xff")) == {"op": "reply", "id": 1, "status": 200,
                                                            "body": "/w==", "body_base64": True}
