"""permessage-deflate (RFC 7692), server side: the offer negotiation and the per-message codec.

Pure: no sockets, no gevent, no clocks; zlib from the standard library does the deflating.
``negotiate(header_values)`` reads the client's ``Sec-WebSocket-Extensions`` offers and returns
``(PerMessageDeflate, response header value)`` for the first acceptable permessage-deflate
offer, or ``(None, None)``. ``PerMessageDeflate.compress(payload)`` gives the payload of one
compressed message (RSV1 set on its first frame); a ``Decompressor`` inflates the fragments
of one received message with a bound on the inflated size (``DeflateError`` with close code
1009 past it, 1007 for data that is not deflate). Used by bridge.ws.frames (decoding),
bridge.ws.session (encoding) and bridge.ws.handshake (the 101).

Choices, and why:
  - The server's own window: at most ``SERVER_WINDOW_BITS`` (12, 4 KiB of history) with a small
    memLevel, so an idle compressed WebSocket holds about 20 KiB of zlib state instead of 256 KiB
    (websockets makes the same trade). A smaller window than announced is always legal: the
    window only bounds back-reference distances.
  - ``server_max_window_bits=8``: zlib refuses raw deflate with an 8-bit window (madler/zlib#171),
    so those messages are Huffman-coded only (Z_HUFFMAN_ONLY, no back-references at all), which
    any window decodes.
  - Received messages are inflated with the client's announced window (15 unless it asked for
    less), one fragment at a time, never producing more than the limit allows plus one byte:
    a deflate bomb costs at most the limit in memory.
"""
import zlib

__all__ = ["DeflateError", "PerMessageDeflate", "Decompressor", "negotiate", "parse_extensions",
           "SERVER_WINDOW_BITS"]

NAME = "permessage-deflate"
SERVER_WINDOW_BITS = 12
_MEM_LEVEL = 5
_TAIL = b"\x00\x00\xff\xff"          # RFC 7692 7.2.1: removed after compressing, added before inflating
_PARAMS = ("server_no_context_takeover", "client_no_context_takeover", "server_max_window_bits",
           "client_max_window_bits")


class DeflateError(Exception):
    """A compressed message that cannot be accepted; ``code`` is the close code (1007, 1009)."""

    def __init__(self, code, reason):
        super().__init__(f"{code} {reason}")
        self.code = code
        self.reason = reason


def parse_extensions(values):
    """``Sec-WebSocket-Extensions`` header values -> [(name, {param: value or None})] in order.

    A malformed element is skipped (and with it that offer), never an error: the client then
    simply gets no extension.
    """
    offers = []
    for value in values:
        for element in _split(value, ","):
            parts = _split(element, ";")
            if not parts or not parts[0]:
                continue
            params, ok = {}, True
            for part in parts[1:]:
                key, eq, arg = part.partition("=")
                key, arg = key.strip().lower(), arg.strip()
                if arg.startswith('"') and arg.endswith('"') and len(arg) >= 2:
                    arg = arg[1:-1]
                if not key or key in params or (eq and not arg):
                    ok = False
                    break
                params[key] = arg if eq else None
            if ok:
                offers.append((parts[0].strip().lower(), params))
    return offers


def _split(text, sep):
    """Split on ``sep`` outside double quotes, stripping each part."""
    out, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            out.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    out.append("".join(current).strip())
    return [part for part in out if part]


def _window_bits(value):
    if value is None or not value.isdigit() or len(value) > 2:
        return None
    bits = int(value)
    return bits if 8 <= bits <= 15 else None


def negotiate(header_values):
    """Accept the first valid permessage-deflate offer: ``(PerMessageDeflate, response)`` or
    ``(None, None)``. RFC 7692 section 7.1: an offer with an unknown or repeated parameter or
    a bad window size is declined, and the next offer is tried."""
    for name, params in parse_extensions(header_values):
        if name != NAME or set(params) - set(_PARAMS):
            continue
        if params.get("server_no_context_takeover") or params.get("client_no_context_takeover"):
            continue                        # these take no value
        server_bits = 15
        if "server_max_window_bits" in params:
            server_bits = _window_bits(params["server_max_window_bits"])
            if server_bits is None:
                continue
        client_bits = 15
        if "client_max_window_bits" in params and params["client_max_window_bits"] is not None:
            client_bits = _window_bits(params["client_max_window_bits"])
            if client_bits is None:
                continue
        response = [NAME]
        server_no_takeover = "server_no_context_takeover" in params
        client_no_takeover = "client_no_context_takeover" in params
        if server_no_takeover:
            response.append("server_no_context_takeover")
        if client_no_takeover:
            response.append("client_no_context_takeover")
        if "server_max_window_bits" in params:
            # The response must carry it, with the same or a smaller value (7.1.2.1).
            response.append(f"server_max_window_bits={server_bits}")
        if params.get("client_max_window_bits") is not None:
            response.append(f"client_max_window_bits={client_bits}")
        codec = PerMessageDeflate(server_no_takeover, client_no_takeover, server_bits, client_bits)
        return codec, "; ".join(response)
    return None, None


class PerMessageDeflate:
    """The negotiated parameters and the server's compressor for one connection."""

    def __init__(self, server_no_context_takeover=False, client_no_context_takeover=False,
                 server_max_window_bits=15, client_max_window_bits=15, level=6):
        self.server_no_context_takeover = server_no_context_takeover
        self.client_no_context_takeover = client_no_context_takeover
        self.server_max_window_bits = server_max_window_bits
        self.client_max_window_bits = client_max_window_bits
        self.level = level
        self._compressor = None

    def _new_compressor(self):
        bits = self.server_max_window_bits
        if bits == 8:                       # zlib cannot: no back-references at all instead
            return zlib.compressobj(self.level, zlib.DEFLATED, -9, _MEM_LEVEL, zlib.Z_HUFFMAN_ONLY)
        return zlib.compressobj(self.level, zlib.DEFLATED, -min(bits, SERVER_WINDOW_BITS), _MEM_LEVEL)

    def compress(self, payload):
        """The compressed payload of one whole message (the caller sets RSV1)."""
        compressor = self._compressor
        if compressor is None:
            compressor = self._new_compressor()
            if not self.server_no_context_takeover:
                self._compressor = compressor
        data = compressor.compress(payload) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if data.endswith(_TAIL):
            data = data[:-4]
        return data or b"\x00"              # 7.2.3.6: an empty message compresses to one 0x00 byte

    def decompressor(self, max_bytes):
        """A Decompressor for received messages, at most ``max_bytes`` inflated per message."""
        return Decompressor(self.client_max_window_bits, self.client_no_context_takeover, max_bytes)


class Decompressor:
    """Inflates received compressed messages, fragment by fragment, with a size bound."""

    def __init__(self, window_bits=15, no_context_takeover=False, max_bytes=1 << 20):
        self.window_bits = max(9, window_bits)   # a larger window decodes a smaller one's stream
        self.no_context_takeover = no_context_takeover
        self.max_bytes = max_bytes
        self._inflater = None
        self._size = 0

    def _inflate(self, data):
        if self._inflater is None:
            self._inflater = zlib.decompressobj(-self.window_bits)
        room = self.max_bytes - self._size
        try:
            out = self._inflater.decompress(data, room + 1)
        except zlib.error as e:
            raise DeflateError(1007, f"compressed message is not valid deflate data ({e})") from None
        self._size += len(out)
        if self._size > self.max_bytes or self._inflater.unconsumed_tail:
            raise DeflateError(1009, f"message inflates past the limit of {self.max_bytes} bytes")
        return out

    def feed(self, fragment):
        """Inflated bytes of one fragment of the current message (maybe b"")."""
        return self._inflate(fragment) if fragment else b""

    def finish(self):
        """The rest of the current message, after its last fragment was fed."""
        out = self._inflate(_TAIL)
        self._size = 0
        if self.no_context_takeover or self._inflater.eof:   # eof: the peer ended its stream
            self._inflater = None
        return out
