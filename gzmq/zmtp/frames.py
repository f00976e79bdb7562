"""ZMTP 3.x frame encoding (RFC 23 §Framing).

    frame = flags(1) size(1 | 8, big-endian) body
    flags: bit0 MORE, bit1 LONG (8-byte size), bit2 COMMAND; bits 3-7 reserved (sent as 0)

Bodies up to 255 bytes use the short form, longer ones the long form, as libzmq does.
Encoders append to a caller's list instead of concatenating, so the engine joins a whole
batch once (or hands large bodies to sendmsg untouched). The hot decoding loop lives in
gzmq.zmtp.connection, where it runs in one pass over each received buffer; the header parsers
below serve the slower paths (handshakes, encrypted traffic, ZMTP 1.0/2.0 peers).
"""
from ..constants import PROTOCOL_ERROR_ZMTP_UNSPECIFIED
from ..error import ZMTPError

MORE = 0x01
LONG = 0x02
COMMAND = 0x04

# Pre-built 2-byte headers: one lookup instead of a bytes() construction per frame.
SHORT_LAST = tuple(bytes((0, n)) for n in range(256))
SHORT_MORE = tuple(bytes((MORE, n)) for n in range(256))
_LONG_LAST = b"\x02"
_LONG_MORE = b"\x03"


def frame_header(size, more):
    """The flags+size header for a message frame of `size` bytes."""
    if size < 256:
        return SHORT_MORE[size] if more else SHORT_LAST[size]
    return (_LONG_MORE if more else _LONG_LAST) + size.to_bytes(8, "big")


class Encoded(list):
    """A message (list of frames) that also carries its NULL-mechanism wire form, computed
    once by a publisher for all of its subscribers (fan-out encodes once, not N times)."""

    __slots__ = ("wire",)

    def __init__(self, frames):
        super().__init__(frames)
        out = []
        encode_message(frames, out)
        self.wire = b"".join(out)


def encode_message(frames, out):
    """Append the wire form of one message (a sequence of bytes-like frames) to list `out`.

    Returns the number of bytes appended. Bodies are appended as given (never copied).
    """
    if type(frames) is Encoded:
        wire = frames.wire
        out.append(wire)
        return len(wire)
    total = 0
    last = len(frames) - 1
    for i, body in enumerate(frames):
        n = len(body)
        if n < 256:
            out.append(SHORT_MORE[n] if i < last else SHORT_LAST[n])
            total += n + 2
        else:
            out.append((_LONG_MORE if i < last else _LONG_LAST) + n.to_bytes(8, "big"))
            total += n + 9
        out.append(body)
    return total


def encode_command_frame(body):
    """Frame a complete command body (name_len, name, data) as a COMMAND frame."""
    n = len(body)
    if n < 256:
        return bytes((COMMAND, n)) + body
    return bytes((COMMAND | LONG,)) + n.to_bytes(8, "big") + body


def encode_v1_message(frames, out):
    """ZMTP 1.0 framing (RFC 13), for peers that speak only that: per frame a length that
    counts the flags byte too (one octet, or FF and 8 octets from 255 up), the flags (bit 0
    MORE), then the body. Appends to `out` like encode_message; returns the byte count."""
    total = 0
    last = len(frames) - 1
    for i, body in enumerate(frames):
        n = len(body) + 1
        flags = MORE if i < last else 0
        header = bytes((n, flags)) if n < 255 else b"\xff" + n.to_bytes(8, "big") + bytes((flags,))
        out.append(header)
        out.append(body)
        total += len(header) + n - 1
    return total


def parse_frame_header(data, pos, n):
    """(flags, size, body start) of the frame at data[pos], or None if its header is not all in.

    Used outside the hot loop (handshake, encrypted traffic); _decode inlines the same steps."""
    if pos + 2 > n:
        return None
    flags = data[pos]
    if flags & 2:
        if pos + 9 > n:
            return None
        return flags, int.from_bytes(data[pos + 1:pos + 9], "big"), pos + 9
    return flags, data[pos + 1], pos + 2


def parse_v1_frame_header(data, pos, n):
    """(flags, body size, body start) of the ZMTP 1.0 frame at data[pos], or None if its
    header is not all in. Raises ZMTPError for a length of 0 (it must count the flags)."""
    if pos + 2 > n:
        return None
    length = data[pos]
    if length == 0xFF:
        if pos + 10 > n:
            return None
        length = int.from_bytes(data[pos + 1:pos + 9], "big")
        start = pos + 10
    else:
        start = pos + 2
    if length == 0:
        raise ZMTPError("ZMTP 1.0 frame of length 0 (the length counts the flags byte)",
                        PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
    return data[start - 1], length - 1, start
