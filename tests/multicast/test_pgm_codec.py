"""gzmq.pgm, bytes in and bytes out: no sockets, no clocks, no network.

Golden vectors are packets OpenPGM 5.3.128 (Debian's libzmq 4.3.4) sent, captured with
tcpdump (see gzmq/pgm/README.md); gzmq must decode them and encode the same bytes back.
"""
import random
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gzmq.pgm import ApduReader, ApduWriter, Data, Nak, PGMError, Receiver, Source, Spm, Tsi, parse
from gzmq.pgm.framing import encode_frames
from gzmq.pgm.packets import checksum, encode_data, encode_nak, encode_spm, encode_spmr
from gzmq.pgm.receiver import serial_diff
from gzmq.pgm.source import window_sqns

GSI = bytes.fromhex("b7c6d1bc038a")

GOLDEN = {
    # SPM at start: spm_sqn 0, trail 0, lead -1 (nothing sent), NLA 127.0.0.1
    "spm": "b59b15b3000028a1b7c6d1bc038a00000000000000000000ffffffff000100007f000001",
    # SPM at close: OPT_LENGTH + OPT_FIN (8e 04 00 00)
    "spm_fin": "b59b15b300019a71b7c6d1bc038a00000000000b0000000000000013000100007f000001000400088e040000",
    # ODATA sqn 0: APDU offset 0000, v1 frame 08 00 "hello 0"
    "odata": "b59b15b3040027a6b7c6d1bc038a000b00000000000000000000080068656c6c6f2030",
    "rdata": "82ce15b305005738b7c6d1bc038a000c0000000a000000000000090068656c6c6f203130",
    # NAK, receiver 10.99.0.2 -> source NLA 10.99.0.1, group 239.192.1.1: ports swapped
    "nak": "15b382ce0800d73eb7c6d1bc038a00000000000a000100000a63000100010000efc00101",
    "ncf": "82ce15b30a00d53eb7c6d1bc038a00000000000a000100000a63000100010000efc00101",
    # NAK for 15 packets: header sqn + OPT_NAK_LIST (options byte 03: PRESENT | NETWORK)
    "nak_list": "15b3373f08039129b7c6d1bc038a0000000000e0000100000a63000100010000efc00101000400408"
                "23c0000000000e2000000e7000000e8000000eb000000f5000000fa0000010500000114000001150"
                "0000117000001190000011f0000012000000123",
}


def _reencode(pkt):
    if isinstance(pkt, Spm):
        return encode_spm(pkt.tsi, pkt.dport, pkt.sqn, pkt.trail, pkt.lead, pkt.nla, pkt.fin)
    if isinstance(pkt, Data):
        return encode_data(pkt.tsi, pkt.dport, pkt.sqn, pkt.trail, pkt.payload, pkt.repair)
    return encode_nak(pkt.tsi, pkt.dport, pkt.sqns, pkt.source_nla, pkt.group_nla, pkt.ncf)


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_openpgm_packets_decode_and_reencode_byte_for_byte(name):
    wire = bytes.fromhex(GOLDEN[name])
    assert _reencode(parse(wire)) == wire


def test_golden_fields():
    spm = parse(bytes.fromhex(GOLDEN["spm"]))
    assert spm == Spm(Tsi(GSI, 0xB59B), 5555, 0, 0, 0xFFFFFFFF, "127.0.0.1")
    assert parse(bytes.fromhex(GOLDEN["spm_fin"])).fin
    odata = parse(bytes.fromhex(GOLDEN["odata"]))
    assert (odata.sqn, odata.trail, odata.repair, odata.payload) == (0, 0, False, b"\x00\x00\x08\x00hello 0")
    nak = parse(bytes.fromhex(GOLDEN["nak"]))
    ncf = parse(bytes.fromhex(GOLDEN["ncf"]))
    # Both name the source's TSI and the session port, whatever the direction.
    assert nak.tsi == ncf.tsi == Tsi(GSI, 0x82CE) and nak.dport == ncf.dport == 5555
    assert (nak.sqns, nak.source_nla, nak.group_nla) == ((10,), "10.99.0.1", "239.192.1.1")
    assert (nak.ncf, ncf.ncf) == (False, True)
    assert parse(bytes.fromhex(GOLDEN["nak_list"])).sqns == (
        224, 226, 231, 232, 235, 245, 250, 261, 276, 277, 279, 281, 287, 288, 291)


def test_bad_checksum_is_rejected_and_zero_means_none():
    wire = bytearray(bytes.fromhex(GOLDEN["odata"]))
    wire[-1] ^= 1
    with pytest.raises(PGMError, match="checksum"):
        parse(bytes(wire))
    wire[6:8] = b"\0\0"
    assert parse(bytes(wire)).payload.endswith(b"hello 1")


def test_checksum_of_all_zero_and_odd_lengths():
    assert checksum(b"\0\0") == 0xFFFF
    assert checksum(b"\x01") == checksum(b"\x01\x00")


@pytest.mark.parametrize("wire, words", [
    (b"\x00" * 8, "too short"),
    (bytes.fromhex(GOLDEN["odata"])[:30], "TSDU length"),
    (bytes.fromhex("b59b15b30700" "0000" "b7c6d1bc038a0000"), "unknown PGM packet type"),
])
def test_malformed_packets_say_what_is_wrong(wire, words):
    with pytest.raises(PGMError, match=words):
        parse(wire, verify=False)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_parse_or_raise_pgmerror(data):
    try:
        parse(data)
    except PGMError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=16, max_size=120), st.integers(0, 15))
def test_any_bytes_after_a_valid_header_type_parse_or_raise_pgmerror(data, kind):
    data = bytearray(data)
    data[4] = kind
    data[6:8] = b"\0\0"
    try:
        parse(bytes(data))
    except PGMError:
        pass


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.binary(max_size=1500), st.booleans(),
       st.integers(1, 65535), st.integers(1, 65535))
def test_data_round_trip(sqn, trail, payload, repair, sport, dport):
    tsi = Tsi(GSI, sport)
    wire = encode_data(tsi, dport, sqn, trail, payload, repair)
    assert parse(wire) == Data(tsi, dport, sqn, trail, payload, repair)


@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=63), st.booleans())
def test_nak_round_trip(sqns, ncf):
    tsi = Tsi(GSI, 4000)
    pkt = parse(encode_nak(tsi, 5555, sqns, "10.0.0.1", "239.1.2.3", ncf))
    assert pkt == Nak(tsi, 5555, tuple(sqns), "10.0.0.1", "239.1.2.3", ncf)


def test_spmr_and_ipv6_nla_round_trip():
    tsi = Tsi(GSI, 4000)
    spmr = parse(encode_spmr(tsi, 5555))
    assert (spmr.tsi, spmr.dport) == (tsi, 5555)
    assert parse(encode_spm(tsi, 5555, 1, 2, 3, "fe80::1")).nla == "fe80::1"


def test_window_sqns_is_libzmqs_compute_sqns():
    assert window_sqns(100, 10000, 1500) == 80          # libzmq's defaults
    assert window_sqns(1, 1, 1500) == 1


def test_serial_arithmetic_wraps():
    assert serial_diff(0, 0xFFFFFFFF) == 1
    assert serial_diff(0xFFFFFFFF, 0) == -1
    assert serial_diff(5, 3) == 2


# -- framing ----------------------------------------------------------------------------------
def test_writer_matches_libzmq_apdu():
    writer = ApduWriter(1428)
    writer.add([b"hello 0"])
    assert writer.apdu() == b"\x00\x00\x08\x00hello 0"
    assert writer.apdu() is None


def test_long_frame_and_offsets_as_libzmq():
    # libzmq: 1006-byte message -> ff + 8-byte length 0x3ef (body + flags) + flags.
    out = bytearray()
    encode_frames([b"0" * 1006], out)
    assert out[:10] == b"\xff" + (1007).to_bytes(8, "big") + b"\x00"
    writer = ApduWriter(100)  # 98 stream bytes per APDU
    writer.add([b"a" * 300])  # stream bytes 0..310 (a long frame: 10 bytes of header)
    writer.add([b"b"])        # 310..313
    offsets = [int.from_bytes(apdu[:2], "big") for apdu in iter(writer.apdu, None)]
    # APDUs 2 and 3 are the middle of message 1: 0xFFFF, "no message starts here".
    assert offsets == [0, 0xFFFF, 0xFFFF, 310 - 3 * 98]


messages = st.lists(st.lists(st.binary(max_size=600), min_size=1, max_size=3), max_size=40)


@settings(max_examples=150, deadline=None)
@given(messages, st.integers(8, 400), st.integers(0, 60))
def test_framing_round_trip_and_late_join(msgs, tsdu, skip):
    writer = ApduWriter(tsdu)
    for m in msgs:
        writer.add(m)
    apdus = []
    while True:
        apdu = writer.apdu()
        if apdu is None:
            break
        assert 2 < len(apdu) <= tsdu
        apdus.append(apdu)
    reader = ApduReader()
    assert [f for a in apdus for f in reader.feed(a)] == msgs
    # A receiver joining at any APDU resumes at a message start: it gets a suffix, whole.
    late = ApduReader()
    got = [f for a in apdus[skip:] for f in late.feed(a)]
    assert got == msgs[len(msgs) - len(got):] if got else True


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=5))
def test_reader_any_bytes_decode_or_raise_pgmerror(apdus):
    reader = ApduReader(maxmsgsize=100)
    for apdu in apdus:
        try:
            reader.feed(apdu)
        except PGMError:
            assert not reader.joined


def test_reader_rejects_oversized_frames_and_rejoins():
    reader = ApduReader(maxmsgsize=4)
    with pytest.raises(PGMError, match="MAXMSGSIZE"):
        reader.feed(b"\x00\x00\x07\x00abcdef")
    assert not reader.joined
    assert reader.feed(b"\x00\x00\x03\x00ab") == [[b"ab"]]


# -- source and receiver ------------------------------------------------------------------------
def _message(i, rng):
    frames = [b"%06d" % i + rng.randbytes(rng.randrange(0, 500))]
    return frames + [rng.randbytes(4000)] if i % 500 == 7 else frames


class Lossy:
    """A simulated segment: one source, one receiver, loss both ways, 1 ms latency."""

    def __init__(self, loss, seed, window=5000, answer_naks=True):
        self.rng = random.Random(seed)
        self.loss = loss
        self.now = 0.0
        self.source = Source(Tsi(GSI, 4000), 5555, "10.0.0.1", "239.1.1.1", rate=2_000_000,
                             window=window, now=0.0)
        self.receiver = Receiver(5555, "239.1.1.1", window=window, rng=random.Random(seed))
        self.writer = ApduWriter(1428)
        self.answer_naks = answer_naks
        self.down = deque()
        self.up = deque()
        self.got = []

    def drop(self, kind=None):
        return self.rng.random() < self.loss

    def run(self, msgs, until, drop_last=False):
        queue = deque(msgs)
        sent_last = False
        for _ in range(200000):
            now = self.now
            for p in self.source.poll(now):
                self.down.append((now + 0.001, p))
            while queue or len(self.writer):
                while queue and not self.writer.full():
                    self.writer.add(queue.popleft())
                size = min(len(self.writer), self.writer.capacity) + 2
                if self.source.data_delay(size, now):
                    break
                pkt = self.source.odata(self.writer.apdu(), now)
                last = not queue and not len(self.writer)
                if not (last and drop_last and not sent_last):
                    self.down.append((now + 0.001, pkt))
                sent_last = sent_last or last
            while self.down and self.down[0][0] <= now:
                pkt = self.down.popleft()[1]
                if not self.drop():
                    self.got += self.receiver.receive(pkt, "10.0.0.1", now)
            due = self.receiver.next_wakeup()
            if due is not None and due <= now:
                self.got += self.receiver.poll(now)
            for pkt, nla in self.receiver.outgoing():
                assert nla == "10.0.0.1"
                if not self.drop():
                    self.up.append((now + 0.001, pkt))
            while self.up and self.up[0][0] <= now:
                pkt = self.up.popleft()[1]
                if self.answer_naks:
                    self.source.receive(pkt, now)
            if until(self):
                return
            self.now += 0.001
        raise AssertionError("simulation did not finish")


@pytest.mark.parametrize("seed", range(3))
def test_repair_delivers_everything_in_order_through_loss_both_ways(seed):
    rng = random.Random(seed)
    msgs = [_message(i, rng) for i in range(3000)]
    net = Lossy(0.05, seed)
    net.run(msgs, lambda n: len(n.got) >= len(msgs))
    assert net.got == msgs
    assert net.receiver.stats["repaired"] > 0 and net.receiver.stats["lost"] == 0
    assert net.source.stats["rdata"] >= net.receiver.stats["repaired"]


def test_lost_tail_is_found_by_heartbeat_spm():
    msgs = [[b"%06d" % i] for i in range(5)]
    net = Lossy(0.0, 1)
    net.run(msgs, lambda n: len(n.got) == 5, drop_last=True)
    assert net.got == msgs
    assert net.receiver.stats["repaired"] == 1


def test_unrepairable_loss_resyncs_at_a_message_start():
    # The source never answers: each lost packet is given up after the retries, and the
    # receiver resumes at the next message start: whole messages, in order, some missing.
    rng = random.Random(7)
    msgs = [_message(i, rng) for i in range(400)]
    net = Lossy(0.05, 7, answer_naks=False)
    net.receiver.nak_data_retries = net.receiver.nak_ncf_retries = 2
    net.run(msgs, lambda n: n.receiver.stats["lost"] and not any(p.gaps for p in n.receiver.peers.values())
            and n.got and n.got[-1] == msgs[-1])
    assert net.receiver.stats["lost"] > 0
    indices = [int(m[0][:6]) for m in net.got]
    assert indices == sorted(set(indices)) and len(indices) < len(msgs)
    assert all(m == msgs[i] for i, m in zip(indices, net.got))


def test_ncf_suppresses_our_own_nak():
    rcv = Receiver(5555, "239.1.1.1", window=100, rng=random.Random(1))
    tsi = Tsi(GSI, 4000)
    rcv.receive(encode_data(tsi, 5555, 0, 0, b"\x00\x00\x02\x00a"), "10.0.0.1", 0.0)
    rcv.receive(encode_data(tsi, 5555, 2, 0, b"\x00\x00\x02\x00c"), "10.0.0.1", 0.0)
    # Another receiver's NAK was confirmed before our back-off ended.
    rcv.receive(encode_nak(tsi, 5555, [1], "10.0.0.1", "239.1.1.1", ncf=True), "10.0.0.1", 0.001)
    rcv.poll(0.1)
    assert rcv.outgoing() == []
    # No RDATA within NAK_RDATA_IVL: back to back-off, then our NAK goes.
    rcv.poll(0.25)
    rcv.poll(0.4)
    (nak, nla), = rcv.outgoing()
    assert parse(nak).sqns == (1,) and nla == "10.0.0.1"


def test_simultaneous_gaps_go_out_as_one_nak_list_and_the_source_answers_each():
    src = Source(Tsi(GSI, 4000), 5555, "10.0.0.1", "239.1.1.1", rate=10**9, window=100, now=0.0)
    rcv = Receiver(5555, "239.1.1.1", window=100, rng=random.Random(1))
    src.poll(0.0)
    packets = [src.odata(b"\x00\x00\x02\x00" + bytes([65 + i]), 0.0) for i in range(8)]
    for i in (0, 7):
        rcv.receive(packets[i], "10.0.0.1", 0.0)
    rcv.poll(0.06)
    (nak, _), = rcv.outgoing()
    assert parse(nak).sqns == (1, 2, 3, 4, 5, 6)
    src.receive(nak, 0.07)
    wire = src.poll(0.07)
    out = [parse(p) for p in wire]
    assert isinstance(out[0], Nak) and out[0].ncf and out[0].sqns == (1, 2, 3, 4, 5, 6)
    assert [(p.sqn, p.repair) for p in out[1:]] == [(i, True) for i in range(1, 7)]
    got = []
    for p in wire:
        got += rcv.receive(p, "10.0.0.1", 0.07)
    assert got == [[bytes([65 + i])] for i in range(1, 8)]
    assert rcv.stats["repaired"] == 6


def test_source_paces_data_and_puts_repairs_first():
    src = Source(Tsi(GSI, 4000), 5555, "10.0.0.1", "239.1.1.1", rate=10000, window=100, now=0.0)
    src.poll(0.0)
    apdu = b"\x00\x00" + b"x" * 1000
    sent = 0
    while not src.data_delay(len(apdu), 0.0):
        src.odata(apdu, 0.0)
        sent += 1
    assert 1 <= sent <= 3
    assert src.data_delay(len(apdu), 0.0) > 0
    src.receive(encode_nak(src.tsi, 5555, [0], "10.0.0.2", "239.1.1.1"), 0.0)
    # The NCF goes at once; the RDATA waits for the rate, and new data waits behind it.
    assert [parse(p).ncf for p in src.poll(0.0)] == [True]
    later = 0.0 + src.data_delay(len(apdu), 0.0)
    repaired = [parse(p) for p in src.poll(later + 0.01)]
    assert [p.sqn for p in repaired if isinstance(p, Data) and p.repair] == [0]


def test_nak_outside_the_window_is_ignored():
    src = Source(Tsi(GSI, 4000), 5555, "10.0.0.1", "239.1.1.1", rate=10**9, window=2, now=0.0)
    src.poll(0.0)
    for _ in range(5):
        src.odata(b"\x00\x00\x02\x00a", 0.0)
    assert (src.trail, src.lead) == (3, 4)
    src.receive(encode_nak(src.tsi, 5555, [0, 1], "10.0.0.2", "239.1.1.1"), 0.0)
    assert src.poll(0.0) == []


def test_late_joiner_starts_at_the_current_data():
    rcv = Receiver(5555, "239.1.1.1", window=100, rng=random.Random(1))
    tsi = Tsi(GSI, 4000)
    # Joined mid-message: APDU with no message start (0xFFFF), then one starting at offset 2.
    assert rcv.receive(encode_data(tsi, 5555, 40, 0, b"\xff\xffxx"), "10.0.0.1", 0.0) == []
    assert rcv.receive(encode_data(tsi, 5555, 41, 0, b"\x00\x02zz\x02\x00q"), "10.0.0.1", 0.0) == [[b"q"]]
    rcv.poll(1.0)
    assert rcv.outgoing() == []  # it never asks for what came before it joined


def test_each_source_has_its_own_window_and_stream():
    """Two publishers on one group: messages come out whole and in order per source, however
    their packets interleave, and a loss in one stream does not hold up the other."""
    rcv = Receiver(5555, "239.1.1.1", window=100, rng=random.Random(1))
    sources = [Source(Tsi(bytes([i]) * 6, 4000 + i), 5555, f"10.0.0.{i}", "239.1.1.1", rate=10**9,
                      window=100, now=0.0) for i in (1, 2)]
    writers = [ApduWriter(20), ApduWriter(20)]
    packets = {1: [], 2: []}
    for i, (src, writer) in enumerate(zip(sources, writers), 1):
        for n in range(10):
            writer.add([b"src%d-msg%d" % (i, n), b"x" * 15])
        packets[i] = [src.odata(apdu, 0.0) for apdu in iter(writer.apdu, None)]
    got = []
    lost = packets[1].pop(3)
    for p1, p2 in zip(packets[1], packets[2]):
        got += rcv.receive(p1, "10.0.0.1", 0.0) + rcv.receive(p2, "10.0.0.2", 0.0)
    got += [m for p in packets[2][len(packets[1]):] for m in rcv.receive(p, "10.0.0.2", 0.0)]
    assert [m[0] for m in got if m[0].startswith(b"src2")] == [b"src2-msg%d" % n for n in range(10)]
    # Packet 3 carried the middle of messages 1 and 2: source 1 stops at message 0 until it comes.
    assert [m[0] for m in got if m[0].startswith(b"src1")] == [b"src1-msg0"]
    got += rcv.receive(lost, "10.0.0.1", 0.1)
    assert [m[0] for m in got if m[0].startswith(b"src1")] == [b"src1-msg%d" % n for n in range(10)]
