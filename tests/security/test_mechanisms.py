"""PLAIN and CURVE as sans-IO state machines: two ZMTPConnections exchange bytes in memory.

Byte layouts are checked against ../shared/ZMTP.md §8-§9 (measured on libzmq 4.3.5); the
interop tests then prove the same against real libzmq peers.
"""
import os

import pytest
from hypothesis import given, settings, strategies as st

from gzmq.error import ZMTPError
from gzmq.utils import z85
from gzmq.zmtp import Ping, Ready, ZMTPConnection
from gzmq.zmtp.events import ZapRequest
from gzmq.zmtp.mechanisms.base import HandshakeRefused
from gzmq.zmtp.mechanisms.curve import CurveClient, CurveServer, keypair
from gzmq.zmtp.mechanisms.plain import PlainClient, PlainServer

GREETING = 64


def split_frames(data):
    """Parse wire bytes into (flags, body) frames (an independent, minimal decoder)."""
    frames = []
    pos = 0
    while pos < len(data):
        flags = data[pos]
        if flags & 2:
            size = int.from_bytes(data[pos + 1:pos + 9], "big")
            start = pos + 9
        else:
            size = data[pos + 1]
            start = pos + 2
        frames.append((flags, data[start:start + size]))
        pos = start + size
    return frames


def opening(conn):
    """Everything `conn` sends to a 3.1 peer of its mechanism once that peer's greeting is in
    (its greeting goes out in stages): its 64-byte greeting and its first commands."""
    from gzmq.zmtp.greeting import build_greeting
    conn.receive_data(build_greeting(conn.mechanism.name))
    return conn.data_to_send()


class Pair:
    """A client and a server connection wired back to back; records each direction's bytes."""

    def __init__(self, client_mech, server_mech, client_type="REQ", server_type="REP"):
        self.client = ZMTPConnection(client_type, mechanism=client_mech)
        self.server = ZMTPConnection(server_type, mechanism=server_mech)
        self.up = b""      # client -> server
        self.down = b""    # server -> client
        self.client_events = []
        self.server_events = []
        # The greetings' first stages (signature, then major version: gzmq.zmtp.greeting):
        # after them each side has queued the rest of its greeting and its first commands.
        for _ in range(2):
            up, down = self.client.data_to_send(), self.server.data_to_send()
            self.up += up
            self.down += down
            self.client_events += self.client.receive_data(down)
            self.server_events += self.server.receive_data(up)

    def pump(self, zap=None):
        """Exchange bytes until both sides are quiet; answer ZapRequests with zap(request)."""
        while self.client.has_data_to_send() or self.server.has_data_to_send():
            data = self.client.data_to_send()
            self.up += data
            for ev in self.server.receive_data(data):
                self.server_events.append(ev)
                if isinstance(ev, ZapRequest):
                    self.server_events.extend(self.server.zap_reply(*zap(ev)))
            data = self.server.data_to_send()
            self.down += data
            self.client_events.extend(self.client.receive_data(data))
        return self

    def ready(self):
        return (any(isinstance(e, Ready) for e in self.client_events)
                and any(isinstance(e, Ready) for e in self.server_events))


def ok(request):
    return b"200", b"OK", b"alice", {"x-role": b"admin"}


def deny(request):
    return b"400", b"No access", b"", {}


# -- PLAIN (RFC 24) ---------------------------------------------------------------------------
def test_plain_handshake_bytes_match_libzmq():
    pair = Pair(PlainClient(b"admin", b"secret"), PlainServer()).pump(ok)
    assert pair.ready()
    up = split_frames(pair.up[GREETING:])
    down = split_frames(pair.down[GREETING:])
    # ZMTP.md §8 captures: 04 13 | 05 'HELLO' 05 'admin' 06 'secret', 04 08 | 07 'WELCOME'
    assert up[0] == (0x04, b"\x05HELLO\x05admin\x06secret")
    assert down[0] == (0x04, b"\x07WELCOME")
    assert up[1] == (0x04, b"\x08INITIATE\x0bSocket-Type\x00\x00\x00\x03REQ\x08Identity\x00\x00\x00\x00")
    assert down[1] == (0x04, b"\x05READY\x0bSocket-Type\x00\x00\x00\x03REP")
    assert pair.client.mechanism.peer_metadata["socket-type"] == b"REP"
    assert pair.server.mechanism.user_id == b"alice"
    assert pair.server.mechanism.zap_metadata == {"x-role": b"admin"}


def test_plain_server_asks_zap_with_the_credentials():
    seen = []
    Pair(PlainClient(b"u", b"p"), PlainServer()).pump(lambda r: seen.append(r) or ok(r))
    assert seen == [ZapRequest(b"PLAIN", (b"u", b"p"))]


def test_plain_greeting_roles():
    # as-server is informational (libzmq always sends 0); we set it on the server side.
    name = b"PLAIN".ljust(20, b"\0")
    assert opening(ZMTPConnection("REP", mechanism=PlainServer()))[12:33] == name + b"\x01"
    assert opening(ZMTPConnection("REQ", mechanism=PlainClient()))[12:33] == name + b"\x00"


def test_plain_refusal_sends_libzmq_error_and_client_reports_it():
    pair = Pair(PlainClient(b"admin", b"wrong"), PlainServer())
    pair.client.receive_data(pair.server.data_to_send())
    events = pair.server.receive_data(pair.client.data_to_send())
    assert isinstance(events[0], ZapRequest)
    with pytest.raises(HandshakeRefused) as server_side:
        pair.server.zap_reply(b"400", b"Invalid password", b"", {})
    assert server_side.value.status == 400
    # libzmq 4.3.x spells it 5E 'RROR' (ZMTP.md §8): 04 09 | 5E 'RROR' 03 '400'
    wire = pair.server.data_to_send()
    assert wire == b"\x04\x09\x5eRROR\x03400"
    with pytest.raises(HandshakeRefused) as client_side:
        pair.client.receive_data(wire)
    assert client_side.value.status == 400


def test_plain_client_accepts_rfc_error_too():
    pair = Pair(PlainClient(b"admin", b"x"), PlainServer())
    pair.client.receive_data(pair.server.data_to_send())
    with pytest.raises(HandshakeRefused) as exc:
        pair.client.receive_data(b"\x04\x0a\x05ERROR\x03500")
    assert exc.value.status == 500


def test_plain_zap_300_closes_without_error():
    pair = Pair(PlainClient(b"a", b"b"), PlainServer())
    pair.client.receive_data(pair.server.data_to_send())
    pair.server.receive_data(pair.client.data_to_send())
    with pytest.raises(HandshakeRefused):
        pair.server.zap_reply(b"300", b"try later", b"", {})
    assert not pair.server.has_data_to_send()


@pytest.mark.parametrize("hello", [
    b"\x05HELLO",                          # no user name length
    b"\x05HELLO\x05adm",                   # user name truncated
    b"\x05HELLO\x05admin",                 # no password length
    b"\x05HELLO\x05admin\x06secre",        # password truncated
    b"\x05HELLO\x05admin\x06secretX",      # trailing byte: libzmq refuses it too
])
def test_plain_server_rejects_malformed_hello(hello):
    server = ZMTPConnection("REP", mechanism=PlainServer())
    client_greeting = opening(ZMTPConnection("REQ", mechanism=PlainClient()))[:GREETING]
    with pytest.raises(ZMTPError):
        server.receive_data(client_greeting + bytes((4, len(hello))) + hello)


def test_plain_unexpected_command_is_a_protocol_error():
    client = ZMTPConnection("REQ", mechanism=PlainClient(b"a", b"b"))
    server_greeting = opening(ZMTPConnection("REP", mechanism=PlainServer()))
    with pytest.raises(ZMTPError):
        client.receive_data(server_greeting + b"\x04\x06\x05READY")  # READY before WELCOME


def test_plain_traffic_is_plaintext():
    pair = Pair(PlainClient(b"a", b"b"), PlainServer()).pump(ok)
    out = []
    pair.client.encode_message([b"", b"hello"], out)
    assert b"".join(out) == b"\x01\x00\x00\x05hello"


# -- CURVE (RFC 25/26) ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def keys():
    server_public, server_secret = keypair()
    client_public, client_secret = keypair()
    return server_public, server_secret, client_public, client_secret


def curve_pair(keys, server_key=None, client_type="REQ", server_type="REP"):
    spub, ssec, cpub, csec = keys
    return Pair(CurveClient(cpub, csec, server_key or spub), CurveServer(ssec),
                client_type, server_type)


def test_curve_handshake_sizes_and_layout(keys):
    pair = curve_pair(keys).pump(ok)
    assert pair.ready()
    up = split_frames(pair.up[GREETING:])
    down = split_frames(pair.down[GREETING:])
    hello, initiate = up
    welcome, ready = down
    # ZMTP.md §9.1: HELLO 200 bytes (flags 04), WELCOME 168, INITIATE >= 257 (flags 06), READY 30+M
    assert hello[0] == 0x04 and len(hello[1]) == 200
    assert hello[1][:8] == b"\x05HELLO\x01\x00" and hello[1][8:80] == b"\x00" * 72
    assert hello[1][112:120] == (1).to_bytes(8, "big")            # client nonce 1
    assert welcome[0] == 0x04 and len(welcome[1]) == 168 and welcome[1][:8] == b"\x07WELCOME"
    assert initiate[0] == 0x06 and initiate[1][:9] == b"\x08INITIATE"
    assert initiate[1][105:113] == (2).to_bytes(8, "big")         # client nonce 2
    assert len(initiate[1]) == 257 + len(b"\x0bSocket-Type\x00\x00\x00\x03REQ\x08Identity\x00\x00\x00\x00")
    assert ready[0] == 0x04 and ready[1][:6] == b"\x05READY"
    assert ready[1][6:14] == (1).to_bytes(8, "big")                # server nonce 1
    assert len(ready[1]) == 30 + len(b"\x0bSocket-Type\x00\x00\x00\x03REP")
    assert pair.client.mechanism.peer_metadata["socket-type"] == b"REP"
    assert pair.server.mechanism.peer_metadata["socket-type"] == b"REQ"
    # The greeting names CURVE; as-server set on the server side only.
    assert pair.up[12:33] == b"CURVE".ljust(20, b"\0") + b"\x00"
    assert pair.down[12:33] == b"CURVE".ljust(20, b"\0") + b"\x01"


def test_curve_zap_request_carries_the_client_long_term_key(keys):
    seen = []
    curve_pair(keys).pump(lambda r: seen.append(r) or ok(r))
    assert seen == [ZapRequest(b"CURVE", (keys[2],))]


def test_curve_messages_are_boxed_one_frame_each(keys):
    pair = curve_pair(keys).pump(ok)
    out = []
    pair.client.encode_message([b"", b"x" * 300], out)
    frames = split_frames(b"".join(out))
    # One MESSAGE per ZMQ frame, sent as message frames: outer flags 00 / 02, never MORE/COMMAND.
    assert [f for f, _ in frames] == [0x00, 0x02]
    assert all(body[:8] == b"\x07MESSAGE" for _, body in frames)
    assert [int.from_bytes(body[8:16], "big") for _, body in frames] == [3, 4]
    assert len(frames[0][1]) == 8 + 8 + 16 + 1 + 0
    assert len(frames[1][1]) == 8 + 8 + 16 + 1 + 300
    events = pair.server.receive_data(b"".join(out))
    assert events == [[b"", b"x" * 300]]


def test_curve_server_to_client_messages_and_nonces(keys):
    pair = curve_pair(keys).pump(ok)
    out = []
    pair.server.encode_message([b"", b"reply"], out)
    frames = split_frames(b"".join(out))
    assert [int.from_bytes(body[8:16], "big") for _, body in frames] == [2, 3]
    assert pair.client.receive_data(b"".join(out)) == [[b"", b"reply"]]


def test_curve_accepts_message_frames_with_command_bit(keys):
    pair = curve_pair(keys).pump(ok)
    out = []
    pair.client.encode_message([b"cmd-bit"], out)
    flags, body = split_frames(b"".join(out))[0]
    # RFC 23 says commands; libzmq sends message frames. Accept both (ZMTP.md §9.4).
    assert pair.server.receive_data(bytes((0x04, len(body))) + body) == [[b"cmd-bit"]]


def test_curve_ping_travels_boxed_with_command_flag(keys):
    pair = curve_pair(keys).pump(ok)
    ping = pair.client.ping(30)
    flags, body = split_frames(ping)[0]
    assert flags == 0x00 and body[:8] == b"\x07MESSAGE"
    assert len(body) == 40   # ZMTP.md §9.5: 8 name + 8 nonce + 16 MAC + 1 flags + 7 (04 'PING' ttl)
    events = pair.server.receive_data(ping)
    assert events == [Ping(3.0, b"")]
    pong = pair.server.data_to_send()
    assert split_frames(pong)[0][0] == 0x00 and len(split_frames(pong)[0][1]) == 38


def test_curve_subscription_boxed(keys):
    pair = curve_pair(keys, client_type="SUB", server_type="PUB").pump(ok)
    wire = pair.client.subscription(b"topic")
    events = pair.server.receive_data(wire)
    assert [type(e).__name__ for e in events] == ["Subscribe"] and events[0].topic == b"topic"


def test_curve_replayed_message_drops_the_connection(keys):
    pair = curve_pair(keys).pump(ok)
    out = []
    pair.client.encode_message([b"once"], out)
    wire = b"".join(out)
    assert pair.server.receive_data(wire) == [[b"once"]]
    with pytest.raises(ZMTPError, match="replayed or reordered"):
        pair.server.receive_data(wire)


def test_curve_reordered_messages_drop_the_connection(keys):
    pair = curve_pair(keys).pump(ok)
    first, second = [], []
    pair.client.encode_message([b"1"], first)
    pair.client.encode_message([b"2"], second)
    assert pair.server.receive_data(b"".join(second)) == [[b"2"]]
    with pytest.raises(ZMTPError, match="replayed or reordered"):
        pair.server.receive_data(b"".join(first))


def test_curve_nonce_gaps_are_allowed(keys):
    # RFC 26 only asks for increasing nonces; libzmq accepts gaps.
    pair = curve_pair(keys).pump(ok)
    out = []
    pair.client.mechanism._send_nonce += 10
    pair.client.encode_message([b"gap"], out)
    assert pair.server.receive_data(b"".join(out)) == [[b"gap"]]


def test_curve_tampered_box_drops_the_connection(keys):
    pair = curve_pair(keys).pump(ok)
    out = []
    pair.client.encode_message([b"secret"], out)
    wire = bytearray(b"".join(out))
    wire[-1] ^= 1
    with pytest.raises(ZMTPError, match="cannot open"):
        pair.server.receive_data(bytes(wire))


def test_curve_short_message_is_malformed(keys):
    pair = curve_pair(keys).pump(ok)
    with pytest.raises(ZMTPError):
        pair.server.receive_data(b"\x00\x10\x07MESSAGE" + b"\x00" * 8)


def test_curve_wrong_server_key_fails_at_hello(keys):
    other_public, _ = keypair()
    pair = curve_pair(keys, server_key=other_public)
    with pytest.raises(ZMTPError, match="HELLO"):
        pair.pump(ok)


def test_curve_refused_client_gets_error(keys):
    pair = curve_pair(keys)
    with pytest.raises(HandshakeRefused) as server_side:
        pair.pump(deny)
    assert server_side.value.status == 400
    wire = pair.server.data_to_send()
    assert wire == b"\x04\x0a\x05ERROR\x03400"   # CURVE ERROR is spelled correctly by libzmq
    with pytest.raises(HandshakeRefused) as client_side:
        pair.client.receive_data(wire)
    assert client_side.value.status == 400


def test_curve_client_rejects_forged_welcome(keys):
    spub, ssec, cpub, csec = keys
    client = ZMTPConnection("REQ", mechanism=CurveClient(cpub, csec, spub))
    server_greeting = ZMTPConnection("REP", mechanism=CurveServer(ssec)).data_to_send()
    welcome = b"\x07WELCOME" + os.urandom(160)
    with pytest.raises(ZMTPError, match="WELCOME"):
        client.receive_data(server_greeting + bytes((4, len(welcome))) + welcome)


def test_curve_server_rejects_a_cookie_from_another_handshake(keys):
    spub, ssec, cpub, csec = keys
    a = curve_pair(keys)
    # Run a handshake up to INITIATE against a second server; replay that INITIATE to ours.
    b = curve_pair(keys)
    b.server.receive_data(b.client.data_to_send())
    b.client.receive_data(b.server.data_to_send())
    foreign_initiate = split_frames(b.client.data_to_send())[-1][1]
    a.server.receive_data(a.client.data_to_send())
    with pytest.raises(ZMTPError):
        a.server.receive_data(b"\x06" + len(foreign_initiate).to_bytes(8, "big") + foreign_initiate)


def test_curve_server_rejects_other_hello_versions(keys):
    spub, ssec, cpub, csec = keys
    client = ZMTPConnection("REQ", mechanism=CurveClient(cpub, csec, spub))
    wire = bytearray(opening(client))
    wire[GREETING + 2 + 6] = 2   # HELLO version 2.0
    server = ZMTPConnection("REP", mechanism=CurveServer(ssec))
    with pytest.raises(ZMTPError, match="version"):
        server.receive_data(bytes(wire))


@settings(max_examples=30, deadline=None)
@given(frames=st.lists(st.binary(max_size=600), min_size=1, max_size=4),
       cut=st.integers(min_value=0, max_value=4000))
def test_curve_round_trip_split_anywhere(keys, frames, cut):
    pair = curve_pair(keys, client_type="DEALER", server_type="ROUTER")
    pair.pump(ok)
    out = []
    pair.client.encode_message(frames, out)
    wire = b"".join(out)
    cut = min(cut, len(wire))
    events = pair.server.receive_data(wire[:cut]) + pair.server.receive_data(wire[cut:])
    assert events == [frames]


@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=300))
def test_curve_decoder_only_raises_zmtp_error(keys, data):
    pair = curve_pair(keys).pump(ok)
    try:
        pair.server.receive_data(data)
    except ZMTPError:
        pass


def test_z85_key_helpers_round_trip():
    public, secret = keypair()
    assert z85.decode(z85.encode(public)) == public
