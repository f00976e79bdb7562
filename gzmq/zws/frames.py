"""RFC 6455 frames as ZWS 2.0 uses them (RFC 45), for both ends: bytes in, events out.

Pure: no sockets, no gevent, no clocks. A ZWS peer sends each ZMTP frame as one binary
message whose first byte holds the frame's flags (0x01 MORE, 0x02 COMMAND), and pings,
pongs and closes as control frames. As libzmq's ws_decoder: fragmented messages, text
messages, reserved opcodes and RSV bits are refused, and a binary message must carry at least
its flag byte; a server requires masked frames and a client refuses them. A frame larger than
`max_payload` is refused from its head, before anything is buffered.

FrameDecoder(require_mask, max_payload).receive_data(bytes) -> [events]; encode_*() return the
bytes of one frame (masked when `mask` is given: a client must mask). Malformed input raises
ZWSError (with the close code to answer) and nothing else. Driven by gzmq.transports.ws.
"""
import os
import struct
from dataclasses import dataclass

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MORE_FLAG, COMMAND_FLAG = 0x01, 0x02      # the ZWS flag byte

NORMAL, PROTOCOL_ERROR, UNSUPPORTED_DATA, MESSAGE_TOO_BIG = 1000, 1002, 1003, 1009


class ZWSError(Exception):
    """The peer broke RFC 6455 or RFC 45; `code` is the close code to answer with."""

    def __init__(self, reason, code=PROTOCOL_ERROR):
        super().__init__(reason)
        self.code = code


@dataclass(frozen=True)
class Frame:
    """One ZMTP frame from a binary message: its ZWS flags and body."""

    flags: int
    body: bytes


@dataclass(frozen=True)
class Ping:
    payload: bytes


@dataclass(frozen=True)
class Pong:
    payload: bytes


@dataclass(frozen=True)
class Close:
    code: int
    reason: bytes


def unmask(payload, mask):
    """XOR payload with the 4-byte mask, in one big-integer operation."""
    n = len(payload)
    if not n:
        return b""
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


class FrameDecoder:
    def __init__(self, require_mask, max_payload=-1):
        self.require_mask = require_mask
        self.max_payload = max_payload   # -1: no limit (libzmq's MAXMSGSIZE -1)
        self._buf = bytearray()

    def receive_data(self, data):
        buf = self._buf
        buf += data
        events = []
        pos = 0
        n = len(buf)
        while True:
            if n - pos < 2:
                break
            b0, b1 = buf[pos], buf[pos + 1]
            head = 2
            size = b1 & 0x7F
            if size == 126:
                head = 4
                if n - pos < head:
                    break
                size = struct.unpack_from("!H", buf, pos + 2)[0]
            elif size == 127:
                head = 10
                if n - pos < head:
                    break
                size = struct.unpack_from("!Q", buf, pos + 2)[0]
            self._check_head(b0, b1, size)
            masked = b1 & 0x80
            if masked:
                head += 4
            if n - pos < head + size:
                break
            payload = bytes(buf[pos + head:pos + head + size])
            if masked:
                payload = unmask(payload, bytes(buf[pos + head - 4:pos + head]))
            pos += head + size
            events.append(self._event(b0 & 0x0F, payload))
        if pos:
            del buf[:pos]
        return events

    def _check_head(self, b0, b1, size):
        if not b0 & 0x80:
            raise ZWSError("fragmented WebSocket message (ZWS sends one frame per message)")
        if b0 & 0x70:
            raise ZWSError("WebSocket frame with RSV bits set (no extension was negotiated)")
        opcode = b0 & 0x0F
        if opcode not in (BINARY, CLOSE, PING, PONG):
            raise ZWSError(f"WebSocket opcode {opcode:#x} (ZWS carries binary messages only)",
                           UNSUPPORTED_DATA if opcode == TEXT else PROTOCOL_ERROR)
        if bool(b1 & 0x80) != self.require_mask:
            raise ZWSError("unmasked frame from a client" if self.require_mask
                           else "masked frame from a server")
        if opcode >= CLOSE and size > 125:
            raise ZWSError(f"control frame of {size} bytes (limit 125)")
        if opcode == BINARY:
            if size == 0:
                raise ZWSError("binary message without its ZWS flag byte")
            if self.max_payload >= 0 and size - 1 > self.max_payload:
                raise ZWSError(f"frame of {size - 1} bytes is larger than MAXMSGSIZE "
                               f"({self.max_payload})", MESSAGE_TOO_BIG)

    @staticmethod
    def _event(opcode, payload):
        if opcode == BINARY:
            flags = payload[0]
            if flags & ~(MORE_FLAG | COMMAND_FLAG):
                raise ZWSError(f"ZWS flag byte {flags:#04x} has reserved bits set")
            return Frame(flags, payload[1:])
        if opcode == PING:
            return Ping(payload)
        if opcode == PONG:
            return Pong(payload)
        if len(payload) == 1:
            raise ZWSError("close frame with a 1-byte payload")
        code = struct.unpack("!H", payload[:2])[0] if payload else 1005
        return Close(code, payload[2:])


def encode_frame(opcode, payload, mask=None):
    """One final frame; `mask` (4 bytes) masks it, as a client must."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    if mask is None:
        return head + payload
    head = bytes((head[0], head[1] | 0x80)) + head[2:] + mask
    return head + unmask(payload, mask)


def new_mask():
    return os.urandom(4)


def encode_zmtp_frame(flags, body, mask=None):
    """A ZMTP frame as a ZWS binary message: the flag byte, then the body."""
    return encode_frame(BINARY, bytes((flags,)) + bytes(body), mask)


def encode_close(code=NORMAL, reason=b"", mask=None):
    return encode_frame(CLOSE, struct.pack("!H", code) + reason[:123], mask)
