"""A minimal ZMTP 3.x message encoder and decoder (RFC 37/ZMTP, section "Framing").

Written only to measure a ceiling: how many small messages per second plain Python can frame
and unframe at all, whatever the design around it. It is deliberately independent of gzmq and
does the least a correct framer must: flags (MORE, LONG, COMMAND) and both size forms. No
greeting, no commands, no error recovery. Used by benchmarks.scenarios.reference.

    frame = flags (1 byte) + size (1 byte, or 8 bytes big-endian if LONG) + body
"""
MORE = 0x01
LONG = 0x02
COMMAND = 0x04

_SHORT_HEADERS = [bytes((0, size)) for size in range(256)]
_SHORT_MORE_HEADERS = [bytes((MORE, size)) for size in range(256)]


def encode_message(frames):
    """Return the wire bytes of one message given as a list of bytes-like frames."""
    if len(frames) == 1:
        body = frames[0]
        if len(body) < 256:
            return _SHORT_HEADERS[len(body)] + body
    parts = []
    last = len(frames) - 1
    for index, body in enumerate(frames):
        more = MORE if index < last else 0
        if len(body) < 256:
            parts.append(bytes((more, len(body))))
        else:
            parts.append(bytes((more | LONG,)) + len(body).to_bytes(8, "big"))
        parts.append(body)
    return b"".join(parts)


def decode_messages(data):
    """Split data into complete messages.

    Returns (messages, consumed): each message a list of bytes frames, and how many bytes of
    data they used (a trailing partial message is left for the next call).
    """
    messages = []
    frames = []
    consumed = pos = 0
    end = len(data)
    while end - pos >= 2:
        flags = data[pos]
        if flags & COMMAND:
            raise ValueError(f"command frame at offset {pos}: not handled by this ceiling codec")
        if flags & LONG:
            if end - pos < 9:
                break
            size = int.from_bytes(data[pos + 1:pos + 9], "big")
            start = pos + 9
        else:
            size = data[pos + 1]
            start = pos + 2
        stop = start + size
        if stop > end:
            break
        frames.append(data[start:stop])
        pos = stop
        if not flags & MORE:
            messages.append(frames)
            frames = []
            consumed = pos
    return messages, consumed
