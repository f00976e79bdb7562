"""libzmq's framing of ZeroMQ messages inside PGM data (pgm_sender.cpp / pgm_receiver.cpp).

Pure: no sockets, no gevent, no clocks. A PGM source sends one byte stream: messages encoded
with libzmq's v1 (ZMTP 1.0) encoder, cut into APDUs of at most one TSDU each. Every APDU starts
with a 2-byte big-endian offset: where, in the rest of the APDU, the first message that starts
in it begins; 0xFFFF if none does (the middle of a long message). A receiver that joins late,
or that lost data it could not repair, skips APDUs until it finds an offset and decodes from
there, so it always resumes at a message boundary (libzmq's "joined" state per source).

v1 frame: length(1) or 0xFF + length(8, big-endian), where length counts the flags byte and
the body; flags(1) with bit 0 = MORE; body. A message is its frames up to one without MORE.

ApduWriter is the sending half (fill it from the socket's queue, cut APDUs);
ApduReader the receiving half for one source (feed APDUs in sequence order, get messages).
ApduReader raises PGMError on malformed input after resetting itself (it rejoins at the next
message start), with the messages completed before the fault in its `messages` attribute;
libzmq too keeps those, drops the rest of that APDU and rejoins.
"""
from collections import deque

from .packets import PGMError

NO_MESSAGE_START = 0xFFFF


def encode_frames(frames, out):
    """Append the v1 encoding of one message (a sequence of bytes-like frames) to bytearray out."""
    last = len(frames) - 1
    for i, body in enumerate(frames):
        size = len(body) + 1
        more = 1 if i < last else 0
        if size < 0xFF:
            out.append(size)
        else:
            out.append(0xFF)
            out += size.to_bytes(8, "big")
        out.append(more)
        out += body


class ApduWriter:
    """Packs messages into APDUs of at most `max_tsdu` bytes, as libzmq's pgm_sender does:
    as many queued messages as fit, a message may straddle APDUs, and an APDU is cut as soon
    as nothing more is queued (never held back waiting for more).

    Usage: while not writer.full() and queue: writer.add(queue.popleft()); apdu = writer.apdu()
    """

    __slots__ = ("capacity", "_buf", "_starts", "_base")

    def __init__(self, max_tsdu):
        if max_tsdu < 3:
            raise ValueError(f"an APDU needs room for the offset and one byte, not {max_tsdu}")
        self.capacity = max_tsdu - 2
        self._buf = bytearray()
        self._starts = deque()   # absolute stream positions where messages start
        self._base = 0           # absolute stream position of _buf[0]

    def __len__(self):
        return len(self._buf)

    def full(self):
        """True once a whole APDU's worth of bytes is waiting."""
        return len(self._buf) >= self.capacity

    def add(self, frames):
        """Queue one message (a list of frames)."""
        self._starts.append(self._base + len(self._buf))
        encode_frames(frames, self._buf)

    def apdu(self):
        """Cut the next APDU (offset + up to capacity bytes), or None if nothing is waiting."""
        buf = self._buf
        if not buf:
            return None
        size = min(len(buf), self.capacity)
        start = self._base
        end = start + size
        starts = self._starts
        offset = NO_MESSAGE_START
        while starts and starts[0] < end:
            first = starts.popleft()
            if offset == NO_MESSAGE_START:
                offset = first - start
        chunk = bytes(buf[:size])
        del buf[:size]   # CPython trims a bytearray's head in O(1)
        self._base = end
        return offset.to_bytes(2, "big") + chunk


_HEADER, _LONG_SIZE, _FLAGS, _BODY = range(4)


class ApduReader:
    """Decodes one source's APDUs (in sequence order, no gaps) back into messages.

    joined is False until an APDU with a message start arrives; reset() (after unrecoverable
    loss) makes it skip to the next message start again. maxmsgsize (bytes, < 0: no limit)
    applies to each frame, as libzmq's v1 decoder does.
    """

    __slots__ = ("joined", "maxmsgsize", "_state", "_size", "_sizebuf", "_flags", "_parts",
                 "_remaining", "_frames")

    def __init__(self, maxmsgsize=-1):
        self.maxmsgsize = maxmsgsize
        self.reset()

    def reset(self):
        """Forget any partial message and wait for the next message start."""
        self.joined = False
        self._state = _HEADER
        self._sizebuf = bytearray()
        self._parts = []
        self._frames = []
        self._size = 0
        self._flags = 0
        self._remaining = 0

    def feed(self, apdu):
        """Decode one APDU; returns the messages (lists of frames) completed by it."""
        if len(apdu) < 2:
            self.reset()
            raise PGMError(f"APDU of {len(apdu)} bytes: expected at least the 2-byte offset")
        pos = 2
        if not self.joined:
            offset = int.from_bytes(apdu[:2], "big")
            if offset == NO_MESSAGE_START:
                return []
            if offset > len(apdu) - 2:
                raise PGMError(f"APDU offset {offset} points past its {len(apdu) - 2} data bytes")
            pos += offset
            self.joined = True
        out = []
        try:
            self._decode(apdu, pos, out)
        except PGMError as exc:
            # Like libzmq: what was decoded stands, the rest of this APDU is dropped, and
            # decoding resumes at the next message start. exc.messages carries the former.
            self.reset()
            exc.messages = out
            raise
        return out

    def _frame_size(self, size):
        if size == 0:
            raise PGMError("v1 frame length 0: expected at least 1 (the flags byte)")
        if 0 <= self.maxmsgsize < size - 1:
            raise PGMError(f"frame of {size - 1} bytes exceeds MAXMSGSIZE {self.maxmsgsize}")
        return size

    def _decode(self, data, pos, out):
        n = len(data)
        frames = self._frames
        while pos < n:
            state = self._state
            if state == _HEADER:
                size = data[pos]
                # Fast path: a short frame wholly inside this APDU.
                if size != 0xFF and pos + 1 + size <= n:
                    self._frame_size(size)
                    flags = data[pos + 1]
                    frames.append(data[pos + 2:pos + 1 + size])
                    pos += 1 + size
                    if not flags & 1:
                        out.append(frames)
                        frames = self._frames = []
                    continue
                pos += 1
                if size == 0xFF:
                    self._sizebuf = bytearray()
                    self._state = _LONG_SIZE
                else:
                    self._size = self._frame_size(size)
                    self._state = _FLAGS
            elif state == _LONG_SIZE:
                take = min(8 - len(self._sizebuf), n - pos)
                self._sizebuf += data[pos:pos + take]
                pos += take
                if len(self._sizebuf) == 8:
                    self._size = self._frame_size(int.from_bytes(self._sizebuf, "big"))
                    self._state = _FLAGS
            elif state == _FLAGS:
                self._flags = data[pos]
                pos += 1
                self._remaining = self._size - 1
                self._parts = []
                if self._remaining == 0:
                    self._finish(b"", out)
                    frames = self._frames
                else:
                    self._state = _BODY
            else:  # _BODY
                take = min(self._remaining, n - pos)
                self._parts.append(data[pos:pos + take])
                pos += take
                self._remaining -= take
                if not self._remaining:
                    parts = self._parts
                    self._parts = []
                    self._finish(parts[0] if len(parts) == 1 else b"".join(parts), out)
                    frames = self._frames

    def _finish(self, body, out):
        self._frames.append(body)
        self._state = _HEADER
        if not self._flags & 1:
            out.append(self._frames)
            self._frames = []
