"""ZWS 2.0 sans-IO pieces, bytes in and bytes out: gzmq.zws.frames, .handshake, .translate."""
import pytest

from gzmq.zmtp import commands
from gzmq.zws import frames, handshake, translate
from gzmq.zws.frames import Close, Frame, FrameDecoder, Ping, ZWSError


def feed(decoder, data):
    """Whole, then one byte at a time: the same events."""
    whole = FrameDecoder(decoder.require_mask, decoder.max_payload).receive_data(data)
    bytewise = []
    for i in range(len(data)):
        bytewise += decoder.receive_data(data[i:i + 1])
    assert whole == bytewise
    return whole


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536])
@pytest.mark.parametrize("masked", [False, True])
def test_zmtp_frames_round_trip(size, masked):
    body = bytes(range(256)) * (size // 256) + bytes(size % 256)
    mask = b"\x01\x02\x03\x04" if masked else None
    wire = frames.encode_zmtp_frame(frames.MORE_FLAG, body, mask)
    decoder = FrameDecoder(require_mask=masked)
    events = decoder.receive_data(wire) if size > 200 else feed(decoder, wire)
    assert events == [Frame(frames.MORE_FLAG, body)]


def test_rfc6455_rules():
    server = FrameDecoder(require_mask=True)
    with pytest.raises(ZWSError, match="unmasked"):
        server.receive_data(frames.encode_zmtp_frame(0, b"x"))
    client = FrameDecoder(require_mask=False)
    with pytest.raises(ZWSError, match="masked frame"):
        client.receive_data(frames.encode_zmtp_frame(0, b"x", b"abcd"))
    with pytest.raises(ZWSError, match="fragmented"):
        FrameDecoder(False).receive_data(b"\x02\x02\x00a")         # FIN clear
    with pytest.raises(ZWSError) as info:
        FrameDecoder(False).receive_data(frames.encode_frame(frames.TEXT, b"hi"))
    assert info.value.code == frames.UNSUPPORTED_DATA
    with pytest.raises(ZWSError, match="flag byte"):
        FrameDecoder(False).receive_data(frames.encode_frame(frames.BINARY, b""))
    with pytest.raises(ZWSError, match="reserved bits"):
        FrameDecoder(False).receive_data(frames.encode_frame(frames.BINARY, b"\x08x"))
    with pytest.raises(ZWSError, match="RSV"):
        FrameDecoder(False).receive_data(b"\xc2\x02\x00a")
    with pytest.raises(ZWSError, match="control frame"):
        FrameDecoder(False).receive_data(b"\x89\x7e\x00\x80" + b"x" * 128)


def test_maxmsgsize_is_checked_from_the_head():
    decoder = FrameDecoder(require_mask=False, max_payload=10)
    assert decoder.receive_data(frames.encode_zmtp_frame(0, b"x" * 10)) == [Frame(0, b"x" * 10)]
    with pytest.raises(ZWSError) as info:
        decoder.receive_data(b"\x82\x7f" + (1 << 40).to_bytes(8, "big"))   # 1 TiB declared
    assert info.value.code == frames.MESSAGE_TOO_BIG


def test_control_frames():
    decoder = FrameDecoder(require_mask=True)
    events = decoder.receive_data(frames.encode_frame(frames.PING, b"p", b"abcd")
                                  + frames.encode_close(1000, b"bye", b"wxyz"))
    assert events == [Ping(b"p"), Close(1000, b"bye")]


def test_handshake_both_ends():
    client = handshake.ClientHandshake("127.0.0.1:5555", "/zmq", b"NULL")
    request = client.request()
    assert b"Sec-WebSocket-Protocol: ZWS2.0/NULL,ZWS2.0\r\n" in request
    server = handshake.ServerHandshake(b"NULL")
    assert server.receive_data(request[:20]) is None
    req = server.receive_data(request[20:] + b"\x82")
    assert req.path == "/zmq" and server.protocol == "ZWS2.0/NULL" and server.rest == b"\x82"
    assert client.receive_data(server.response() + b"tail") == "ZWS2.0/NULL"
    assert client.rest == b"tail"


@pytest.mark.parametrize("request_bytes, status", [
    (b"POST / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 426),
    (b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
     b"Sec-WebSocket-Key: short\r\nSec-WebSocket-Protocol: ZWS2.0\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
     b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Protocol: ZWS2.0/PLAIN\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nX: " + b"y" * 9000, 431),
])
def test_server_refusals(request_bytes, status):
    with pytest.raises(handshake.HandshakeError) as info:
        handshake.ServerHandshake(b"NULL").receive_data(request_bytes)
    assert info.value.status == status
    assert handshake.refusal(info.value).startswith(b"HTTP/1.1 %d " % status)


def test_origin_allow_list():
    client = handshake.ClientHandshake("h", "/", b"NULL", origin="http://evil.example")
    with pytest.raises(handshake.HandshakeError) as info:
        handshake.ServerHandshake(b"NULL", ["http://good.example"]).receive_data(client.request())
    assert info.value.status == 403
    good = handshake.ClientHandshake("h", "/", b"NULL", origin="http://good.example")
    assert handshake.ServerHandshake(b"NULL", ["http://good.example"]).receive_data(good.request())


def test_translation_drops_the_greeting_and_keeps_frames():
    reader = translate.ZmtpReader()
    greeting = b"\xff" + b"\x00" * 8 + b"\x7f\x03\x01NULL" + b"\x00" * 48
    ready = commands.command(commands.READY, commands.encode_metadata([("Socket-Type", "REQ")]))
    stream = greeting + ready + b"\x01\x00" + b"\x02" + (300).to_bytes(8, "big") + b"z" * 300
    out = []
    for i in range(len(stream)):
        out += reader.receive_data(stream[i:i + 1])
    assert out[0] == (frames.COMMAND_FLAG, ready[2:])
    assert out[1:] == [(frames.MORE_FLAG, b""), (0, b"z" * 300)]
    writer = translate.ZmtpWriter(b"NULL", peer_as_server=True)
    assert writer.greeting()[10:12] == b"\x03\x00"      # ZMTP 3.0: 0x01/0x00 subscriptions
    assert writer.convert(Frame(frames.COMMAND_FLAG, ready[2:])) == ready
    assert writer.convert(Frame(0, b"z" * 300)) == b"\x02" + (300).to_bytes(8, "big") + b"z" * 300


def test_bare_zws_swaps_ready_for_routing_ids():
    reader = translate.ZmtpReader(bare=True)
    ready = commands.command(commands.READY, commands.encode_metadata([("Socket-Type", "DEALER"),
                                                                         ("Identity", "me")]))
    assert reader.receive_data(b"\x00" * 64 + ready) == [(0, b"me")]
    writer = translate.ZmtpWriter(b"NULL", False, bare=True)
    assert writer.convert(Frame(0, b"peer")) == commands.command(
        commands.READY, commands.encode_metadata([("Identity", b"peer")]))
    # A NULL peer that opens with a message is taken for a bare one (jszmq's server).
    writer = translate.ZmtpWriter(b"NULL", False)
    assert writer.convert(Frame(0, b"")) == commands.command(commands.READY, b"")
    assert writer.convert(Frame(0, b"hi")) == b"\x00\x02hi"
