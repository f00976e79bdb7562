"""ZMTP greeting (RFC 23 §Greeting) and version detection (RFC 23 §Backwards Interoperability).

Layout (64 octets): FF, 8 padding, 7F, major 3, minor 1, mechanism (20, NUL padded),
as-server (1), filler (31). As libzmq (zmtp_engine.cpp), ours goes out in stages, each gated
on what the peer sent, so that peers of older ZMTP versions can be recognised before they
see anything they would misread:

    1. the 10-byte signature: FF, the identity length + 1 as a big-endian uint64, 7F (also
       the header of a ZMTP 1.0 identity frame, for a peer that speaks only 1.0);
    2. once the peer's signature is in (and is one): the major version, 3;
    3. once the peer's revision byte is in: for revision 0 (ZMTP 1.0) or 1 (2.0) our socket
       type byte (a 12-byte ZMTP 2.0 greeting), else the other 53 bytes of the 3.x greeting.

A peer whose first byte is not FF, or whose 10th byte has bit 0 clear, speaks unversioned
ZMTP 1.0 (RFC 13): those bytes are already its identity frame. Any revision other than 0 and
1 is taken as 3.x, minor 0 meaning 3.0 (libzmq does the same). The 3.x parser never
validates the padding or as-server (roles come from local options) and requires the
mechanism to match exactly.
Pure; raises only ZMTPError. Used by gzmq.zmtp.connection.
"""
from ..error import ZMTPError
from ..constants import PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH

GREETING_SIZE = 64
SIGNATURE_SIZE = 10
V2_GREETING_SIZE = 12
VERSION_MAJOR = 3
VERSION_MINOR = 1

# What the peer speaks, once known (GreetingParser.version).
ZMTP_1_0 = (1, 0)
ZMTP_2_0 = (2, 0)
ZMTP_3_0 = (3, 0)
ZMTP_3_1 = (3, 1)

# libzmq's ZMQ_* socket type numbers: the socket-type byte of the ZMTP 2.0 greeting (RFC 15).
SOCKET_TYPE_NUMBERS = {
    "PAIR": 0, "PUB": 1, "SUB": 2, "REQ": 3, "REP": 4, "DEALER": 5, "ROUTER": 6,
    "PULL": 7, "PUSH": 8, "XPUB": 9, "XSUB": 10, "STREAM": 11,
}


def signature(identity_size=0):
    """Our 10-byte signature; the padding holds identity length + 1, as libzmq's."""
    return b"\xff" + (identity_size + 1).to_bytes(8, "big") + b"\x7f"


def greeting_tail(mechanism=b"NULL", as_server=False, minor=VERSION_MINOR):
    """The 53 bytes that follow signature and major in a 3.x greeting."""
    if len(mechanism) > 20:
        raise ValueError(f"mechanism name too long: {mechanism!r}")
    return (bytes((minor,)) + mechanism.ljust(20, b"\x00")
            + (b"\x01" if as_server else b"\x00") + b"\x00" * 31)


def build_greeting(mechanism=b"NULL", as_server=False, minor=VERSION_MINOR):
    """A whole 64-byte greeting announcing ZMTP 3.1 (zero padding)."""
    return (b"\xff" + b"\x00" * 8 + b"\x7f" + bytes((VERSION_MAJOR,))
            + greeting_tail(mechanism, as_server, minor))


class GreetingParser:
    """Accumulates the peer's greeting and decides its version as soon as the bytes allow.

    feed(data) returns how many bytes of `data` it consumed (never more than the greeting).
    `signature_in` turns True once a versioned signature is complete; `revision` is set once
    byte 10 is in; `done` once the greeting is complete. Then `version` is one of ZMTP_1_0,
    ZMTP_2_0, ZMTP_3_0, ZMTP_3_1; `unversioned` says the peer sent no greeting at all (ZMTP
    1.0), and `raw` holds what it sent, which is the start of its first 1.0 frame. For 3.x,
    `minor`, `mechanism` and `as_server` are set; for 2.0 and versioned 1.0 `socket_type` is
    the peer's type byte.
    """

    def __init__(self, mechanism=b"NULL"):
        self._want_mechanism = mechanism.ljust(20, b"\x00")
        self._buf = bytearray()
        self._size = V2_GREETING_SIZE    # grows to 64 once the peer turns out to speak 3.x
        self.done = False
        self.signature_in = False
        self.revision = None
        self.unversioned = False
        self.version = None
        self.major = None
        self.minor = None
        self.mechanism = None
        self.as_server = False
        self.socket_type = None

    @property
    def raw(self):
        return bytes(self._buf)

    def feed(self, data):
        consumed = 0
        buf = self._buf
        while not self.done and consumed < len(data):
            # Take only as far as the next decision point: a 1.0 peer's bytes after its
            # first byte (or its 10th) belong to its frames, not to a greeting.
            if not buf:
                want = 1
            elif len(buf) < SIGNATURE_SIZE:
                want = SIGNATURE_SIZE - len(buf)
            else:
                want = self._size - len(buf)
            chunk = data[consumed:consumed + want]
            buf += chunk
            consumed += len(chunk)
            self._check()
        return consumed

    def _check(self):
        buf = self._buf
        n = len(buf)
        if buf[0] != 0xFF or (n >= SIGNATURE_SIZE and not buf[9] & 1):
            self.unversioned = True
            self.version = ZMTP_1_0
            self.done = True
            return
        if n >= SIGNATURE_SIZE:
            self.signature_in = True
        if n > SIGNATURE_SIZE and self.revision is None:
            self.revision = buf[10]
            if self.revision not in (0, 1):
                self._size = GREETING_SIZE
        if n < self._size:
            return
        if self._size == V2_GREETING_SIZE:
            self.version = ZMTP_1_0 if self.revision == 0 else ZMTP_2_0
            self.socket_type = buf[11]
            self.done = True
            return
        self.major = buf[10]
        self.minor = buf[11] if buf[10] == 3 else VERSION_MINOR
        self.version = ZMTP_3_0 if self.minor == 0 else ZMTP_3_1
        self.mechanism = bytes(buf[12:32])
        self.as_server = bool(buf[32])
        if self.mechanism != self._want_mechanism:
            raise ZMTPError(
                f"security mechanism mismatch: peer offers "
                f"{self.mechanism.rstrip(bytes(1)).decode('ascii', 'replace')!r}, we use "
                f"{self._want_mechanism.rstrip(bytes(1)).decode('ascii', 'replace')!r}",
                PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        self.done = True
