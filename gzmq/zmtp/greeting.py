"""ZMTP 3.x greeting (RFC 23 §Greeting): build ours, parse the peer's incrementally.

Layout (64 octets): FF, 8 padding, 7F, major 3, minor 1, mechanism (20, NUL padded),
as-server (1), filler (31). libzmq sends it in stages (10, 1, 53 bytes) and puts the
identity length + 1 in the padding, so the parser never validates the padding, accepts any
minor and any major >= 3 (libzmq treats every revision but 0 and 1 as 3.x), ignores as-server
(roles come from local options) and refuses ZMTP 1.0/2.0 peers with a clear reason.
Pure; raises only ZMTPError. Used by gzmq.zmtp.connection.
"""
from ..error import ZMTPError
from ..constants import PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH, PROTOCOL_ERROR_ZMTP_UNSPECIFIED

GREETING_SIZE = 64
VERSION_MAJOR = 3
VERSION_MINOR = 1


def build_greeting(mechanism=b"NULL", as_server=False, minor=VERSION_MINOR):
    """Our 64-byte greeting announcing ZMTP 3.1."""
    if len(mechanism) > 20:
        raise ValueError(f"mechanism name too long: {mechanism!r}")
    return (
        b"\xff" + b"\x00" * 8 + b"\x7f"
        + bytes((VERSION_MAJOR, minor))
        + mechanism.ljust(20, b"\x00")
        + (b"\x01" if as_server else b"\x00")
        + b"\x00" * 31
    )


class GreetingParser:
    """Accumulates the peer's greeting; decides as soon as each stage's bytes are in.

    feed(data) returns the number of bytes of `data` it consumed; `done` turns True once the
    64 bytes are complete, after which `minor`, `mechanism` and `as_server` are set.
    """

    def __init__(self, mechanism=b"NULL"):
        self._want_mechanism = mechanism.ljust(20, b"\x00")
        self._buf = bytearray()
        self.done = False
        self.major = None
        self.minor = None
        self.mechanism = None
        self.as_server = False

    def feed(self, data):
        take = GREETING_SIZE - len(self._buf)
        chunk = data[:take]
        self._buf += chunk
        self._check()
        return len(chunk)

    def _check(self):
        buf = self._buf
        n = len(buf)
        if n >= 1 and buf[0] != 0xFF:
            raise ZMTPError(
                f"peer speaks ZMTP 1.0 (first byte {buf[0]:#04x}, not the 0xFF signature); "
                "only ZMTP 3.x is supported", PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
        if n >= 10 and not buf[9] & 1:
            raise ZMTPError(
                f"peer speaks ZMTP 1.0 (signature byte 9 is {buf[9]:#04x}, expected 0x7F); "
                "only ZMTP 3.x is supported", PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
        if n >= 11 and buf[10] in (0, 1):
            version = "1.0" if buf[10] == 0 else "2.0"
            raise ZMTPError(
                f"peer speaks ZMTP {version} (revision byte {buf[10]}); only ZMTP 3.x is supported",
                PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
        if n == GREETING_SIZE:
            self.major = buf[10]
            self.minor = buf[11] if buf[10] == 3 else VERSION_MINOR
            self.mechanism = bytes(buf[12:32])
            self.as_server = bool(buf[32])
            if self.mechanism != self._want_mechanism:
                raise ZMTPError(
                    f"security mechanism mismatch: peer offers "
                    f"{self.mechanism.rstrip(bytes(1)).decode('ascii', 'replace')!r}, we use "
                    f"{self._want_mechanism.rstrip(bytes(1)).decode('ascii', 'replace')!r}",
                    PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            self.done = True
