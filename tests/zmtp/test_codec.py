"""ZMTP codec: golden vectors (bytes measured against libzmq 4.3.5, ../shared/ZMTP.md) fed
whole, one byte at a time, and with trailing bytes; plus Hypothesis properties."""
import pytest
from hypothesis import given, settings, strategies as st

from gzmq.error import ZMTPError
from gzmq.zmtp import Cancel, Ping, Pong, Ready, Subscribe, ZMTPConnection
from gzmq.zmtp.commands import encode_metadata, parse_metadata
from gzmq.zmtp.connection import State
from gzmq.zmtp.frames import encode_message, frame_header
from gzmq.zmtp.greeting import build_greeting

LIBZMQ_GREETING = b"\xff" + b"\x00" * 7 + b"\x01\x7f" + b"\x03\x01" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32
ROUTER_READY = (b"\x04\x29\x05READY\x0bSocket-Type\x00\x00\x00\x06ROUTER"
                b"\x08Identity\x00\x00\x00\x00")
DEALER_ABC_READY = (b"\x04\x2c\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER"
                    b"\x08Identity\x00\x00\x00\x03ABC")
SUB_READY = b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03SUB"


def feed(conn, data, mode):
    """Feed `data` whole, byte by byte, or in two halves; collect all events."""
    events = []
    if mode == "whole":
        events += conn.receive_data(data)
    elif mode == "bytewise":
        for i in range(len(data)):
            events += conn.receive_data(data[i:i + 1])
    else:
        half = len(data) // 2
        events += conn.receive_data(data[:half])
        events += conn.receive_data(data[half:])
    return events


MODES = ["whole", "bytewise", "halves"]


def ready_conn(socket_type="DEALER", peer=ROUTER_READY, mode="whole", **kw):
    conn = ZMTPConnection(socket_type, **kw)
    events = feed(conn, LIBZMQ_GREETING + peer, mode)
    assert isinstance(events[-1], Ready)
    return conn, events


# RFC 23: greeting = signature(10) version(2) mechanism(20) as-server(1) filler(31)
def test_our_greeting_bytes():
    g = build_greeting()
    assert len(g) == 64
    assert g[:10] == b"\xff" + b"\x00" * 8 + b"\x7f"
    assert g[10:12] == b"\x03\x01"  # we announce 3.1
    assert g[12:32] == b"NULL" + b"\x00" * 16
    assert g[32:] == b"\x00" * 32


def sent_after_greeting(conn, peer_greeting=LIBZMQ_GREETING):
    """What `conn` sends once a 3.1 peer's greeting is in: its whole greeting, then READY."""
    conn.receive_data(peer_greeting)
    return conn.data_to_send()


def test_our_ready_golden():
    conn = ZMTPConnection("DEALER", identity=b"ABC")
    assert sent_after_greeting(conn)[64:] == DEALER_ABC_READY


def test_router_sends_empty_identity_and_sub_none():
    assert sent_after_greeting(ZMTPConnection("ROUTER"))[64:] == ROUTER_READY
    assert sent_after_greeting(ZMTPConnection("SUB"))[64:] == SUB_READY


# RFC 23 §Backwards Interoperability, as libzmq's zmtp_engine.cpp: the greeting goes out in
# stages, so that an older peer is recognised before it sees bytes it would misread.
def test_greeting_is_staged_like_libzmq():
    conn = ZMTPConnection("DEALER", identity=b"ABC")
    # 1. the signature only; its padding is identity length + 1 (a 1.0 identity header)
    assert conn.data_to_send() == b"\xff" + (4).to_bytes(8, "big") + b"\x7f"
    conn.receive_data(LIBZMQ_GREETING[:9])
    assert conn.data_to_send() == b""
    # 2. the peer's signature is in: the major version
    conn.receive_data(LIBZMQ_GREETING[9:10])
    assert conn.data_to_send() == b"\x03"
    # 3. its revision says 3.x: the rest of the greeting (minor 1) and READY
    conn.receive_data(LIBZMQ_GREETING[10:11])
    rest = conn.data_to_send()
    assert rest[:21] == b"\x01" + b"NULL".ljust(20, b"\x00") and rest[53:] == DEALER_ABC_READY
    events = conn.receive_data(LIBZMQ_GREETING[11:] + ROUTER_READY)
    assert isinstance(events[-1], Ready) and conn.version == (3, 1)


@pytest.mark.parametrize("mode", MODES)
def test_zmtp20_peer_downgrade(mode):
    """A ZMTP 2.0 peer (libzmq 3.x, JeroMQ 0.3): we answer with a 2.0 greeting (our type
    byte after major 3, as libzmq), then our identity frame; its identity frame makes the
    connection ready; then 2.0 frames (3.x message framing, no commands) both ways."""
    conn = ZMTPConnection("DEALER", identity=b"me", peer_types={"ROUTER"})
    peer = b"\xff" + (4).to_bytes(8, "big") + b"\x7f" + b"\x01\x06" + b"\x00\x03old"
    events = feed(conn, peer + b"\x01\x00\x00\x02hi", mode)
    assert conn.version == (2, 0)
    ready = events[0]
    assert isinstance(ready, Ready) and ready.identity == b"old" and ready.minor == 0
    assert events[1:] == [[b"", b"hi"]]
    out = conn.data_to_send()
    assert out == b"\xff" + (3).to_bytes(8, "big") + b"\x7f" + b"\x03\x05" + b"\x00\x02me"
    wire = []
    conn.encode_message([b"", b"x" * 300], wire)
    assert b"".join(wire) == b"\x01\x00" + b"\x02" + (300).to_bytes(8, "big") + b"x" * 300
    # subscriptions to a 2.0 publisher are messages
    assert conn.subscription(b"t") == b"\x00\x02\x01t"


@pytest.mark.parametrize("mode", MODES)
def test_zmtp10_unversioned_peer(mode):
    """A ZMTP 1.0 peer (RFC 13) sends its identity frame at once. Our signature already was
    the header of our 1.0 identity frame (length id+1 counting the 0x7F flags): the body
    follows, then 1.0 frames both ways."""
    conn = ZMTPConnection("SUB", identity=b"ab")
    events = feed(conn, b"\x04\x00old" + b"\x03\x01\x00x" + b"\x02\x00y", mode)
    assert conn.version == (1, 0)
    assert isinstance(events[0], Ready) and events[0].identity == b"old"
    assert events[1:] == [[b"\x00x", b"y"]]
    assert conn.data_to_send() == b"\xff" + (3).to_bytes(8, "big") + b"\x7f" + b"ab"
    wire = []
    conn.encode_message([b"a", b"b" * 300], wire)
    assert b"".join(wire) == b"\x02\x01a" + b"\xff" + (301).to_bytes(8, "big") + b"\x00" + b"b" * 300


def test_zmtp10_publisher_gets_phantom_subscription():
    """1.0 subscribers never subscribe: a PUB injects a subscription to everything (libzmq)."""
    conn = ZMTPConnection("PUB")
    events = conn.receive_data(b"\x01\x00")
    assert isinstance(events[0], Ready) and events[1] == Subscribe(b"")


def test_zmtp10_versioned_peer():
    """Revision 0 after a signature: a 2.0-style greeting, then 1.0 framing."""
    conn = ZMTPConnection("PULL")
    events = conn.receive_data(b"\xff" + b"\x00" * 7 + b"\x01\x7f\x00\x08" + b"\x01\x00" + b"\x03\x00hi")
    assert conn.version == (1, 0) and isinstance(events[0], Ready) and events[1:] == [[b"hi"]]
    assert conn.data_to_send()[10:] == b"\x03\x07" + b"\x01\x00"


@pytest.mark.parametrize("data, reason", [
    (b"\x00\x00", "length 0"),                                          # 1.0 length must count flags
    (b"\xff" + b"\x00" * 7 + b"\x01\x7f\x01\x05" + b"\x02" + (1 << 62).to_bytes(8, "big"),
     "too large"),                                                  # absurd 2.0 identity
    (b"\x01\x00" + b"\xff" + (1 << 63).to_bytes(8, "big") + b"\x00", "cannot allocate"),  # absurd 1.0 frame
])
def test_old_peer_hostile_input_is_bounded(data, reason):
    conn = ZMTPConnection("DEALER")
    with pytest.raises(ZMTPError, match=reason):
        conn.receive_data(data)


def test_old_peer_frame_above_maxmsgsize():
    conn = ZMTPConnection("DEALER", maxmsgsize=10)
    with pytest.raises(ZMTPError, match="MAXMSGSIZE"):
        conn.receive_data(b"\x01\x00" + b"\xff" + (1001).to_bytes(8, "big") + b"\x00")


@pytest.mark.parametrize("mechanism", ["zap", "plain"])
def test_old_peers_refused_when_authenticating(mechanism):
    """libzmq refuses a 1.0/2.0 downgrade when ZAP is enabled: they cannot authenticate."""
    from gzmq.zmtp.mechanisms import NullMechanism
    from gzmq.zmtp.mechanisms.plain import PlainClient
    mech = NullMechanism(zap=True) if mechanism == "zap" else PlainClient(b"u", b"p")
    conn = ZMTPConnection("DEALER", mechanism=mech)
    with pytest.raises(ZMTPError, match="cannot authenticate"):
        conn.receive_data(b"\xff" + b"\x00" * 7 + b"\x01\x7f\x01\x05")


@pytest.mark.parametrize("mode", MODES)
def test_handshake_with_libzmq_bytes(mode):
    conn, events = ready_conn("DEALER", ROUTER_READY, mode, peer_types={"ROUTER", "REP", "DEALER"})
    ready = events[-1]
    assert ready.socket_type == "ROUTER"
    assert ready.identity == b""
    assert ready.minor == 1
    assert conn.state is State.TRAFFIC


@pytest.mark.parametrize("mode", MODES)
def test_messages_short_long_multipart(mode):
    conn, _ = ready_conn(mode=mode)
    wire = (b"\x01\x00" + b"\x00\x03abc"                      # [b"", b"abc"]
            + b"\x02" + (300).to_bytes(8, "big") + b"x" * 300   # long single frame
            + b"\x03" + (256).to_bytes(8, "big") + b"y" * 256 + b"\x00\x01z")
    events = feed(conn, wire, mode)
    assert events == [[b"", b"abc"], [b"x" * 300], [b"y" * 256, b"z"]]


def test_long_encoding_of_short_body_accepted():
    conn, _ = ready_conn()
    assert conn.receive_data(b"\x02" + (3).to_bytes(8, "big") + b"abc") == [[b"abc"]]


def test_reserved_flag_bits_ignored():
    conn, _ = ready_conn()
    assert conn.receive_data(b"\xf0\x02hi") == [[b"hi"]]


@pytest.mark.parametrize("mode", MODES)
def test_ping_answered_with_pong_golden(mode):
    conn, _ = ready_conn(mode=mode)
    conn.data_to_send()
    events = feed(conn, b"\x04\x0f\x04PING\x00\x1ectx-1234", mode)
    assert events == [Ping(3.0, b"ctx-1234")]
    assert conn.data_to_send() == b"\x04\x0d\x04PONGctx-1234"


def test_pong_truncates_context_to_16():
    conn, _ = ready_conn()
    conn.data_to_send()
    conn.receive_data(b"\x04\x1b\x04PING\x00\x00" + b"c" * 20)
    assert conn.data_to_send() == b"\x04\x15\x04PONG" + b"c" * 16


def test_subscribe_cancel_commands():
    conn, _ = ready_conn("PUB", SUB_READY)
    events = conn.receive_data(b"\x04\x0f\x09SUBSCRIBEtopic" + b"\x04\x0a\x09SUBSCRIBE"
                               + b"\x04\x0c\x06CANCELtopic" + b"\x04\x05\x04PONG")
    assert events == [Subscribe(b"topic"), Subscribe(b""), Cancel(b"topic"), Pong(b"")]


def test_subscription_encoding_follows_peer_minor():
    conn31, _ = ready_conn("SUB", b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03PUB")
    assert conn31.subscription(b"topic") == b"\x04\x0f\x09SUBSCRIBEtopic"
    assert conn31.subscription(b"topic", False) == b"\x04\x0c\x06CANCELtopic"
    conn30 = ZMTPConnection("SUB")
    greeting30 = LIBZMQ_GREETING[:11] + b"\x00" + LIBZMQ_GREETING[12:]
    conn30.receive_data(greeting30 + b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x03PUB")
    assert conn30.peer_minor == 0
    assert conn30.subscription(b"T") == b"\x00\x02\x01T"
    assert conn30.subscription(b"T", False) == b"\x00\x02\x00T"
    # the 255-byte topic that libzmq >= 4.3.3 mis-encodes for 3.0 peers: we use the long form
    assert conn30.subscription(b"t" * 255)[:9] == b"\x02" + (256).to_bytes(8, "big")


def test_unknown_command_after_handshake_ignored():
    conn, _ = ready_conn()
    assert conn.receive_data(b"\x04\x06\x05HELLO" + b"\x00\x01a") == [[b"a"]]


def test_encode_message_golden():
    out = []
    n = encode_message([b"", b"abc", b"z" * 256], out)
    wire = b"".join(out)
    assert wire == b"\x01\x00\x01\x03abc\x02" + (256).to_bytes(8, "big") + b"z" * 256
    assert n == len(wire)
    assert frame_header(255, False) == b"\x00\xff"
    assert frame_header(256, True) == b"\x03" + (256).to_bytes(8, "big")


def test_metadata_roundtrip_and_case_insensitive():
    data = encode_metadata([("Socket-Type", b"REQ"), ("X-Hello", b"w" * 300)])
    props = parse_metadata(data)
    assert props == {"socket-type": b"REQ", "x-hello": b"w" * 300}
    assert parse_metadata(b"\x0bsocket-type\x00\x00\x00\x04PUSH") == {"socket-type": b"PUSH"}


# --- refusals: each raises ZMTPError with a reason ------------------------------------------------
@pytest.mark.parametrize("data, reason", [
    (LIBZMQ_GREETING[:12] + b"PLAIN".ljust(20, b"\x00") + b"\x00" * 32, "mechanism mismatch"),
    (LIBZMQ_GREETING + b"\x00\x03abc", "before the handshake"),        # message before READY
    (LIBZMQ_GREETING + b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH", "PUSH cannot talk"),
    (LIBZMQ_GREETING + b"\x04\x1b\x05READY\x0bSocket-Type\x00\x00\x00\x06ROUTE", "truncated"),
    (LIBZMQ_GREETING + ROUTER_READY[:1] + bytes([ROUTER_READY[1] + 1]) + ROUTER_READY[2:] + b"\x00",
     "truncated"),                                                    # trailing metadata byte
    (LIBZMQ_GREETING + b"\x04\x06\x05HELLO", "unexpected command"),
])
def test_refused(data, reason):
    conn = ZMTPConnection("DEALER", peer_types={"ROUTER", "REP", "DEALER"})
    with pytest.raises(ZMTPError, match=reason):
        conn.receive_data(data)


def test_a_mechanism_mismatch_still_sends_our_whole_greeting():
    # libzmq sends the rest of its greeting before it checks the peer's mechanism, so the
    # peer learns ours and reports the mismatch (HANDSHAKE_FAILED_PROTOCOL). The peer's whole
    # greeting may come in one read, its mechanism with the byte that calls for our rest.
    from gzmq.zmtp.mechanisms.plain import PlainClient
    conn = ZMTPConnection("REQ", mechanism=PlainClient(b"a", b"b"))
    ours = conn.data_to_send()
    with pytest.raises(ZMTPError, match="mechanism mismatch"):
        conn.receive_data(LIBZMQ_GREETING[:12] + b"CURVE".ljust(20, b"\x00") + b"\x00" * 32)
    ours += conn.data_to_send()
    assert len(ours) == 64 and ours[10:12] == b"\x03\x01" and ours[12:32] == b"PLAIN".ljust(20, b"\x00")


def test_accepts_libzmq_quirks():
    # non-zero padding, minor 7, as-server 1: all accepted (libzmq does)
    g = b"\xff\x01\x02\x03\x04\x05\x06\x07\x08\x7f\x03\x07" + b"NULL".ljust(20, b"\x00") + b"\x01" + b"\x00" * 31
    conn = ZMTPConnection("DEALER")
    events = conn.receive_data(g + ROUTER_READY)
    assert isinstance(events[-1], Ready) and events[-1].minor == 7


def test_maxmsgsize_checked_before_body_arrives():
    conn, _ = ready_conn(maxmsgsize=100)
    with pytest.raises(ZMTPError, match="MAXMSGSIZE"):
        conn.receive_data(b"\x02" + (1 << 40).to_bytes(8, "big"))
    conn2, _ = ready_conn(maxmsgsize=100)
    assert conn2.receive_data(b"\x00\x64" + b"a" * 100) == [[b"a" * 100]]


def test_broken_after_error():
    conn = ZMTPConnection("DEALER")
    with pytest.raises(ZMTPError):
        conn.receive_data(LIBZMQ_GREETING[:12] + b"PLAIN".ljust(20, b"\x00") + b"\x00" * 32)
    with pytest.raises(ZMTPError):
        conn.receive_data(LIBZMQ_GREETING)


def test_large_frame_gathered_in_chunks():
    conn, _ = ready_conn()
    body = bytes(range(256)) * 4096  # 1 MiB
    wire = b"\x02" + len(body).to_bytes(8, "big") + body + b"\x00\x01!"
    events = []
    for i in range(0, len(wire), 65536):
        events += conn.receive_data(wire[i:i + 65536])
    assert len(events) == 2 and events[0][0] == body and events[1] == [b"!"]


def test_two_codecs_talk():
    a = ZMTPConnection("DEALER", identity=b"A", peer_types={"ROUTER"})
    b = ZMTPConnection("ROUTER", peer_types={"DEALER"})
    ev_a, ev_b = [], []
    while a.has_data_to_send() or b.has_data_to_send():   # the staged greetings, then READY
        ev_b += b.receive_data(a.data_to_send())
        ev_a += a.receive_data(b.data_to_send())
    assert ev_b[-1].identity == b"A" and ev_a[-1].socket_type == "ROUTER"
    out = []
    a.encode_message([b"x", b"y" * 1000], out)
    assert b.receive_data(b"".join(out)) == [[b"x", b"y" * 1000]]


# --- properties ------------------------------------------------------------------------------------
@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_any_bytes_decode_or_raise_protocol_error(data, chunk):
    conn = ZMTPConnection("DEALER", peer_types={"ROUTER", "REP", "DEALER"}, maxmsgsize=1 << 20)
    try:
        for i in range(0, len(data), chunk):
            conn.receive_data(data[i:i + chunk])
    except ZMTPError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_any_traffic_bytes_decode_or_raise(data, chunk):
    conn, _ = ready_conn(maxmsgsize=1 << 20)
    try:
        for i in range(0, len(data), chunk):
            events = conn.receive_data(data[i:i + chunk])
            for ev in events:
                assert isinstance(ev, (list, Ping, Pong, Subscribe, Cancel))
    except ZMTPError:
        pass


messages = st.lists(st.lists(st.binary(max_size=600), min_size=1, max_size=4), min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(messages, st.data())
def test_roundtrip_split_anywhere(msgs, data):
    out = []
    for m in msgs:
        encode_message(m, out)
    wire = b"".join(out)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=6)))
    conn, _ = ready_conn()
    events = []
    prev = 0
    for cut in cuts + [len(wire)]:
        events += conn.receive_data(wire[prev:cut])
        prev = cut
    assert events == msgs
