"""permessage-deflate (RFC 7692), bytes in and bytes out: bridge.ws.deflate and its use by
bridge.ws.frames. The peer's side is zlib driven directly, as RFC 7692 section 7.2 describes it
(raw deflate, sync flush, the 00 00 ff ff tail removed), so nothing here trusts our encoder to
check our decoder."""
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.ws import deflate, frames
from bridge.ws.deflate import Decompressor, PerMessageDeflate, negotiate, parse_extensions
from bridge.ws.frames import FrameDecoder, FrameError, Message
from wskit import client_frame

RSV1 = 0x40


class Peer:
    """A client's compressor and decompressor, straight from zlib."""

    def __init__(self, wbits=15, server_wbits=15):
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, -wbits)
        self.decompressor = zlib.decompressobj(-server_wbits)

    def compress(self, data):
        out = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        assert out.endswith(b"\x00\x00\xff\xff")
        return out[:-4]

    def inflate(self, data):
        return self.decompressor.decompress(data + b"\x00\x00\xff\xff")


def decoder(limit=1 << 20, **params):
    return FrameDecoder(limit, decompressor=PerMessageDeflate(**params).decompressor(limit))


def decode(dec, data):
    dec.receive_data(data)
    out = []
    while (event := dec.next_event()) is not None:
        out.append(event)
    return out


# ---------------------------------------------------------------------- negotiation

@pytest.mark.parametrize("offer, response", [
    ("permessage-deflate", "permessage-deflate"),
    ("permessage-deflate; client_max_window_bits", "permessage-deflate"),   # a hint we need not take
    ("permessage-deflate; server_no_context_takeover; client_no_context_takeover",
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    ("permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10"),
    ('permessage-deflate; server_max_window_bits="8"', "permessage-deflate; server_max_window_bits=8"),
    ("permessage-deflate; client_max_window_bits=9", "permessage-deflate; client_max_window_bits=9"),
    # RFC 7692 5: declined offers are skipped and the next one is taken.
    ("permessage-deflate; server_max_window_bits=7, permessage-deflate", "permessage-deflate"),
    ("permessage-deflate; x-unknown=1, permessage-deflate; server_no_context_takeover",
     "permessage-deflate; server_no_context_takeover"),
    ("x-webkit-deflate-frame, permessage-deflate", "permessage-deflate"),
])
def test_accepted_offers(offer, response):
    codec, header = negotiate([offer])
    assert header == response and codec is not None


@pytest.mark.parametrize("offer", [
    "x-webkit-deflate-frame", "permessage-deflate; server_max_window_bits", "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; client_max_window_bits=abc", "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover", "permessage-deflate; a=",
    "",
])
def test_declined_offers(offer):
    assert negotiate([offer]) == (None, None)


def test_browser_offer_as_chromium_sends_it():
    codec, header = negotiate(["permessage-deflate; client_max_window_bits"])
    assert header == "permessage-deflate"
    assert not codec.server_no_context_takeover and codec.client_max_window_bits == 15


def test_parse_extensions_keeps_quoted_commas_together():
    assert parse_extensions(['a; p="x,y", b']) == [("a", {"p": "x,y"}), ("b", {})]


# ---------------------------------------------------------------------- received messages

def test_compressed_messages_with_context_takeover():
    peer = Peer()
    dec = decoder()
    wire = b"".join(client_frame(frames.TEXT, peer.compress(b"hello hello hello"), rsv=RSV1) for _ in range(3))
    assert decode(dec, wire) == [Message(frames.TEXT, b"hello hello hello", "hello hello hello")] * 3


def test_compressed_message_in_fragments_rsv1_on_the_first_only():
    peer = Peer()
    data = peer.compress("héllo wörld ".encode() * 50)
    wire = (client_frame(frames.TEXT, data[:7], fin=False, rsv=RSV1)
            + client_frame(frames.CONTINUATION, data[7:20], fin=False)
            + client_frame(frames.CONTINUATION, data[20:]))
    for split in (None, 1):
        dec = decoder()
        pieces = [wire] if split is None else [wire[i:i + 1] for i in range(len(wire))]
        events = [e for piece in pieces for e in decode(dec, piece)]
        assert events == [Message(frames.TEXT, "héllo wörld ".encode() * 50, "héllo wörld " * 50)]


def test_uncompressed_messages_pass_beside_compressed_ones():
    peer = Peer()
    dec = decoder()
    wire = client_frame(frames.BINARY, b"plain") + client_frame(frames.BINARY, peer.compress(b"packed"), rsv=RSV1)
    assert [e.payload for e in decode(dec, wire)] == [b"plain", b"packed"]


def test_client_no_context_takeover_resets_between_messages():
    dec = decoder(client_no_context_takeover=True)
    for _ in range(3):              # each message from a fresh compressor
        assert decode(dec, client_frame(frames.BINARY, Peer().compress(b"abcabcabc"), rsv=RSV1))[0].payload == b"abcabcabc"


@pytest.mark.parametrize("negotiated, data", [
    (False, client_frame(frames.TEXT, b"x", rsv=RSV1)),
    (True, client_frame(frames.PING, b"", rsv=RSV1)),                                # control frames never
    (True, client_frame(frames.TEXT, b"a", fin=False) + client_frame(frames.CONTINUATION, b"b", rsv=RSV1)),
    (True, client_frame(frames.TEXT, b"a", rsv=0x20)),                               # RSV2: nothing uses it
])
def test_rsv_refusals(negotiated, data):
    with pytest.raises(FrameError) as e:
        decode(decoder() if negotiated else FrameDecoder(), data)
    assert e.value.code == 1002


def test_deflate_bomb_closes_with_1009_without_inflating_it_all():
    bomb = Peer().compress(b"\x00" * (64 << 20))        # 64 MiB of zeros: about 64 KiB on the wire
    assert len(bomb) < 100_000
    dec = decoder(limit=1 << 20)
    with pytest.raises(FrameError) as e:
        decode(dec, client_frame(frames.BINARY, bomb, rsv=RSV1))
    assert e.value.code == 1009


def test_bad_deflate_data_is_1007():
    with pytest.raises(FrameError) as e:
        decode(decoder(), client_frame(frames.BINARY, b"\xff\xff\xff\xff", rsv=RSV1))
    assert e.value.code == 1007


def test_compressed_text_must_inflate_to_utf8():
    with pytest.raises(FrameError) as e:
        decode(decoder(), client_frame(frames.TEXT, Peer().compress(b"ok \xff"), rsv=RSV1))
    assert e.value.code == 1007


# ---------------------------------------------------------------------- sent messages

def test_server_messages_inflate_with_plain_zlib_and_keep_context():
    codec, _ = negotiate(["permessage-deflate"])
    peer = Peer()
    sizes = []
    for _ in range(3):
        frame = frames.encode_message(frames.TEXT, b'{"op":"message","topic":"t","data":"same"}', codec)
        assert frame[0] == 0x80 | RSV1 | frames.TEXT
        payload = frame[2:]
        sizes.append(len(payload))
        assert peer.inflate(payload) == b'{"op":"message","topic":"t","data":"same"}'
    assert sizes[1] < sizes[0]                          # the second one refers to the first


def test_server_no_context_takeover_makes_each_message_stand_alone():
    codec, _ = negotiate(["permessage-deflate; server_no_context_takeover"])
    first = frames.encode_message(frames.BINARY, b"abcabcabc", codec)
    assert frames.encode_message(frames.BINARY, b"abcabcabc", codec) == first
    assert Peer().inflate(first[2:]) == b"abcabcabc"


def test_window_bits_8_uses_no_back_references():
    # zlib cannot make an 8-bit-window raw stream; a Huffman-only one decodes with any window.
    codec, header = negotiate(["permessage-deflate; server_max_window_bits=8"])
    assert header.endswith("server_max_window_bits=8")
    peer = Peer(server_wbits=8)
    for _ in range(3):
        data = bytes(range(256)) * 8
        assert peer.inflate(frames.encode_message(frames.BINARY, data, codec)[4:]) == data


def test_empty_message_compresses_to_one_zero_byte_or_a_valid_block():
    codec = PerMessageDeflate()
    assert Peer().inflate(codec.compress(b"")) == b""


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=3000), max_size=8), st.sampled_from([
    "permessage-deflate", "permessage-deflate; server_no_context_takeover",
    "permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_max_window_bits=8"]))
def test_round_trip_through_our_own_decoder(messages, offer):
    server, _ = negotiate([offer])
    client = PerMessageDeflate()            # the receiving side's parameters mirror the server's
    inflater = Decompressor(server.server_max_window_bits, server.server_no_context_takeover, 1 << 20)
    for payload in messages:
        data = server.compress(payload)
        assert inflater.feed(data) + inflater.finish() == payload
    assert client is not None


def test_module_exports():
    assert deflate.SERVER_WINDOW_BITS <= 15
