"""PGM packet codec (RFC 3208): the packet types and options OpenPGM and libzmq put on the wire.

Pure: no sockets, no gevent, no clocks. parse(datagram) turns the PGM part of one datagram (the
UDP payload for epgm://, the IP payload for pgm://) into a frozen dataclass, or None for a
well-formed packet type gzmq has no use for (POLL, POLR, ACK, NNAK). encode_*() build packets,
checksum included. Malformed input raises PGMError and nothing else.

Covered: SPM (with OPT_FIN), ODATA, RDATA, NAK and NCF (with OPT_NAK_LIST), SPMR; IPv4 and
IPv6 NLAs. Not covered: FEC/parity (OPT_PARITY*), OPT_FRAGMENT reassembly (libzmq never sends
an APDU larger than one TSDU, so it never fragments; a fragment is reported, not reassembled),
OPT_JOIN, OPT_REDIRECT, POLL/POLR, congestion-control ACKs.

Layout (network byte order), as measured against OpenPGM 5.3.128 (see README.md here):

    header   sport(2) dport(2) type(1) options(1) checksum(2) gsi(6) tsdu_length(2)
    SPM      spm_sqn(4) trail(4) lead(4) nla_afi(2) reserved(2) nla(4|16)   [options]
    ODATA    data_sqn(4) trail(4) [options] payload(tsdu_length)          (RDATA the same)
    NAK      nak_sqn(4) src_afi(2) res(2) src_nla(4|16) grp_afi(2) res(2) grp_nla(4|16) [options]
    options  OPT_LENGTH: 00 04 total(2), then options type(1, bit 7 = last) len(1) res(2) value

Downstream packets (SPM, ODATA, RDATA, NCF) carry the source's port as sport and the session
("data-destination") port as dport; upstream ones (NAK, SPMR) swap them. Each dataclass holds
`tsi` (the source's GSI and port) and `dport` (the session port) whatever the direction.
"""
import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import ip_address
from typing import NamedTuple, Optional, Tuple


class PGMError(ValueError):
    """Malformed PGM input: says what was expected and what was seen.

    `messages`: from ApduReader.feed(), the messages completed before the fault."""

    messages = ()


class PacketType(IntEnum):
    SPM = 0x00
    POLL = 0x01
    POLR = 0x02
    ODATA = 0x04
    RDATA = 0x05
    NAK = 0x08
    NNAK = 0x09
    NCF = 0x0A
    SPMR = 0x0C
    ACK = 0x0D


# The header's options byte.
OPT_PRESENT = 0x01
OPT_NETWORK = 0x02
OPT_VAR_PKTLEN = 0x40
OPT_PARITY = 0x80

# Option types (RFC 3208 9.1); bit 7 marks the last option.
OPT_LENGTH = 0x00
OPT_FRAGMENT = 0x01
OPT_NAK_LIST = 0x02
OPT_FIN = 0x0E
OPT_END = 0x80

AFI_IP = 1
AFI_IP6 = 2

HEADER = struct.Struct("!HHBBH6sH")
HEADER_SIZE = HEADER.size            # 16
DATA_HEADER_SIZE = HEADER_SIZE + 8   # PGM header + data_sqn + data_trail
MAX_NAK_LIST = 62                    # sequence numbers in one OPT_NAK_LIST (one more in the NAK)

_U32 = struct.Struct("!I")
_DATA = struct.Struct("!II")
_SPM = struct.Struct("!III")
_AFI = struct.Struct("!HH")
_MASK = 0xFFFFFFFF


class Tsi(NamedTuple):
    """Transport session identifier: a source's global source id and its source port."""
    gsi: bytes
    sport: int

    def __str__(self):
        return f"{'.'.join(str(b) for b in self.gsi)}.{self.sport}"


@dataclass(frozen=True)
class Spm:
    """Source path message: the source's window edges and its network-layer address."""
    tsi: Tsi
    dport: int
    sqn: int
    trail: int
    lead: int
    nla: str
    fin: bool = False


@dataclass(frozen=True)
class Data:
    """ODATA (repair=False) or RDATA (repair=True): one APDU of the source's stream."""
    tsi: Tsi
    dport: int
    sqn: int
    trail: int
    payload: bytes
    repair: bool = False
    fragment: Optional[Tuple[int, int, int]] = None  # OPT_FRAGMENT (first sqn, offset, length)


@dataclass(frozen=True)
class Nak:
    """NAK (a receiver asks the source for `sqns`) or NCF (ncf=True: the source confirms it)."""
    tsi: Tsi
    dport: int
    sqns: Tuple[int, ...]
    source_nla: str
    group_nla: str
    ncf: bool = False


@dataclass(frozen=True)
class Spmr:
    """SPM request: a receiver that has seen data but no SPM asks the source for one."""
    tsi: Tsi
    dport: int


# -- checksum ------------------------------------------------------------------------------------
def checksum(data):
    """RFC 3208 8: the Internet checksum of the whole packet (checksum field zeroed).

    Computed as the packet, read as one big-endian integer, modulo 0xFFFF (2**16 is 1 modulo
    0xFFFF, so that is the 16-bit one's complement sum) in C rather than a Python loop. A
    computed 0 is sent as 0xFFFF: 0 on the wire means "no checksum".
    """
    if len(data) & 1:
        data = bytes(data) + b"\0"
    n = int.from_bytes(data, "big")
    folded = n % 0xFFFF
    if folded == 0 and n:
        folded = 0xFFFF
    return (~folded & 0xFFFF) or 0xFFFF


def _seal(packet):
    """Fill in the checksum of a packet built with a zero checksum field (bytearray)."""
    struct.pack_into("!H", packet, 6, checksum(packet))
    return bytes(packet)


# -- addresses -----------------------------------------------------------------------------------
def _nla_bytes(nla):
    addr = ip_address(nla)
    return (AFI_IP if addr.version == 4 else AFI_IP6), addr.packed


def _put_nla(out, nla):
    afi, packed = _nla_bytes(nla)
    out += _AFI.pack(afi, 0)
    out += packed


def _get_nla(data, pos, what):
    if len(data) < pos + 4:
        raise PGMError(f"{what}: expected an NLA at byte {pos}, packet ends at {len(data)}")
    afi, _ = _AFI.unpack_from(data, pos)
    pos += 4
    size = 4 if afi == AFI_IP else 16 if afi == AFI_IP6 else 0
    if not size:
        raise PGMError(f"{what}: expected NLA AFI 1 (IPv4) or 2 (IPv6), got {afi}")
    if len(data) < pos + size:
        raise PGMError(f"{what}: NLA needs {size} bytes at {pos}, packet ends at {len(data)}")
    return str(ip_address(bytes(data[pos:pos + size]))), pos + size


# -- options -------------------------------------------------------------------------------------
def _options(*opts):
    """OPT_LENGTH followed by `opts` (each type, value bytes); the last gets OPT_END."""
    body = bytearray()
    for i, (kind, value) in enumerate(opts):
        last = OPT_END if i == len(opts) - 1 else 0
        body += bytes((kind | last, 4 + len(value), 0, 0))
        body += value
    return bytes((OPT_LENGTH, 4)) + struct.pack("!H", 4 + len(body)) + bytes(body)


def _parse_options(data, pos, what):
    """Returns ({type: value bytes}, position after the options)."""
    if len(data) < pos + 4:
        raise PGMError(f"{what}: OPT_PRESENT set but no OPT_LENGTH at byte {pos}")
    kind, length, total = data[pos], data[pos + 1], struct.unpack_from("!H", data, pos + 2)[0]
    if kind != OPT_LENGTH or length != 4:
        raise PGMError(f"{what}: expected OPT_LENGTH (00 04) first, got {kind:02x} {length:02x}")
    end = pos + total
    if total < 8 or end > len(data):
        raise PGMError(f"{what}: OPT_LENGTH total {total} does not fit the packet ({len(data) - pos} left)")
    found = {}
    p = pos + 4
    while True:
        if p + 4 > end:
            raise PGMError(f"{what}: option at byte {p} runs past the options ({end})")
        kind, length = data[p], data[p + 1]
        if length < 4 or p + length > end:
            raise PGMError(f"{what}: option {kind & 0x7F:#04x} has bad length {length}")
        found[kind & 0x7F] = bytes(data[p + 4:p + length])
        p += length
        if kind & OPT_END:
            break
    if p != end:
        raise PGMError(f"{what}: options end at byte {p}, OPT_LENGTH says {end}")
    return found, end


def _nak_list(value, what):
    if len(value) % 4:
        raise PGMError(f"{what}: OPT_NAK_LIST length {len(value) + 4} is not 4 + 4n")
    return struct.unpack(f"!{len(value) // 4}I", value)


# -- encoding ------------------------------------------------------------------------------------
def _header(out, sport, dport, kind, options, gsi, tsdu_length=0):
    out += HEADER.pack(sport, dport, kind, options, 0, gsi, tsdu_length)


def encode_spm(tsi, dport, sqn, trail, lead, nla, fin=False):
    """An SPM (multicast by the source): window edges, and our NLA for NAKs. fin adds OPT_FIN."""
    out = bytearray()
    _header(out, tsi.sport, dport, PacketType.SPM, OPT_PRESENT if fin else 0, tsi.gsi)
    out += _SPM.pack(sqn & _MASK, trail & _MASK, lead & _MASK)
    _put_nla(out, nla)
    if fin:
        out += _options((OPT_FIN, b""))
    return _seal(out)


def encode_data(tsi, dport, sqn, trail, payload, repair=False):
    """ODATA (or RDATA with repair=True) carrying one APDU."""
    out = bytearray(HEADER.pack(tsi.sport, dport, PacketType.RDATA if repair else PacketType.ODATA,
                                0, 0, tsi.gsi, len(payload)))
    out += _DATA.pack(sqn & _MASK, trail & _MASK)
    out += payload
    return _seal(out)


def encode_nak(tsi, dport, sqns, source_nla, group_nla, ncf=False):
    """A NAK from a receiver (unicast to the source's NLA) asking for up to 63 sequence
    numbers, or with ncf=True the source's NCF (multicast) confirming them.

    The first number goes in the NAK header, the rest in OPT_NAK_LIST, as OpenPGM does; the
    options byte then has OPT_NETWORK set too (the list matters to PGM routers).
    """
    sqns = list(sqns)
    if not 1 <= len(sqns) <= MAX_NAK_LIST + 1:
        raise ValueError(f"a NAK carries 1 to {MAX_NAK_LIST + 1} sequence numbers, not {len(sqns)}")
    out = bytearray()
    options = OPT_PRESENT | OPT_NETWORK if len(sqns) > 1 else 0
    if ncf:
        _header(out, tsi.sport, dport, PacketType.NCF, options, tsi.gsi)
    else:
        _header(out, dport, tsi.sport, PacketType.NAK, options, tsi.gsi)
    out += _U32.pack(sqns[0] & _MASK)
    _put_nla(out, source_nla)
    _put_nla(out, group_nla)
    if len(sqns) > 1:
        out += _options((OPT_NAK_LIST, struct.pack(f"!{len(sqns) - 1}I", *(s & _MASK for s in sqns[1:]))))
    return _seal(out)


def encode_spmr(tsi, dport):
    """An SPM request from a receiver to the source `tsi`."""
    out = bytearray()
    _header(out, dport, tsi.sport, PacketType.SPMR, 0, tsi.gsi)
    return _seal(out)


# -- decoding ------------------------------------------------------------------------------------
def parse(data, verify=True):
    """Decode one PGM packet. Returns Spm, Data, Nak or Spmr; None for types gzmq ignores.

    verify: check the checksum (a zero checksum field means the sender sent none).
    Raises PGMError for anything malformed.
    """
    n = len(data)
    if n < HEADER_SIZE:
        raise PGMError(f"PGM packet too short: {n} bytes, the header alone is {HEADER_SIZE}")
    sport, dport, kind, options, csum, gsi, tsdu_length = HEADER.unpack_from(data)
    if verify and csum:
        scratch = bytearray(data)
        scratch[6:8] = b"\0\0"
        if checksum(scratch) != csum:
            raise PGMError(f"PGM type {kind:#04x}: bad checksum {csum:#06x}")
    kind &= 0x0F  # the high bits are the version in RFC 3208's draft; OpenPGM sends 0
    if kind in (PacketType.ODATA, PacketType.RDATA):
        return _parse_data(data, sport, dport, kind, options, gsi, tsdu_length)
    if kind == PacketType.SPM:
        return _parse_spm(data, sport, dport, options, gsi)
    if kind in (PacketType.NAK, PacketType.NCF):
        return _parse_nak(data, sport, dport, kind, options, gsi)
    if kind == PacketType.SPMR:
        return Spmr(Tsi(gsi, dport), sport)
    if kind in (PacketType.POLL, PacketType.POLR, PacketType.NNAK, PacketType.ACK):
        return None
    raise PGMError(f"unknown PGM packet type {kind:#04x}")


def _parse_data(data, sport, dport, kind, options, gsi, tsdu_length):
    what = "ODATA" if kind == PacketType.ODATA else "RDATA"
    if len(data) < DATA_HEADER_SIZE:
        raise PGMError(f"{what}: {len(data)} bytes, the header alone is {DATA_HEADER_SIZE}")
    sqn, trail = _DATA.unpack_from(data, HEADER_SIZE)
    pos = DATA_HEADER_SIZE
    fragment = None
    if options & OPT_PRESENT:
        opts, pos = _parse_options(data, pos, what)
        frag = opts.get(OPT_FRAGMENT)
        if frag is not None:
            if len(frag) < 12:
                raise PGMError(f"{what}: OPT_FRAGMENT needs 12 bytes of value, got {len(frag)}")
            fragment = struct.unpack_from("!III", frag)
    if len(data) - pos != tsdu_length:
        raise PGMError(f"{what}: TSDU length says {tsdu_length} bytes, {len(data) - pos} follow")
    payload = bytes(data[pos:])
    return Data(Tsi(bytes(gsi), sport), dport, sqn, trail, payload, kind == PacketType.RDATA, fragment)


def _parse_spm(data, sport, dport, options, gsi):
    if len(data) < HEADER_SIZE + 12:
        raise PGMError(f"SPM: {len(data)} bytes, expected at least {HEADER_SIZE + 16}")
    sqn, trail, lead = _SPM.unpack_from(data, HEADER_SIZE)
    nla, pos = _get_nla(data, HEADER_SIZE + 12, "SPM")
    fin = False
    if options & OPT_PRESENT:
        opts, pos = _parse_options(data, pos, "SPM")
        fin = OPT_FIN in opts
    return Spm(Tsi(bytes(gsi), sport), dport, sqn, trail, lead, nla, fin)


def _parse_nak(data, sport, dport, kind, options, gsi):
    ncf = kind == PacketType.NCF
    what = "NCF" if ncf else "NAK"
    if len(data) < HEADER_SIZE + 4:
        raise PGMError(f"{what}: {len(data)} bytes, expected at least {HEADER_SIZE + 16}")
    first = _U32.unpack_from(data, HEADER_SIZE)[0]
    source_nla, pos = _get_nla(data, HEADER_SIZE + 4, what)
    group_nla, pos = _get_nla(data, pos, what)
    sqns = (first,)
    if options & OPT_PRESENT:
        opts, pos = _parse_options(data, pos, what)
        more = opts.get(OPT_NAK_LIST)
        if more is not None:
            sqns += _nak_list(more, what)
    if ncf:
        return Nak(Tsi(bytes(gsi), sport), dport, sqns, source_nla, group_nla, True)
    return Nak(Tsi(bytes(gsi), dport), sport, sqns, source_nla, group_nla, False)
