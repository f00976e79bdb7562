"""Between a ZWS 2.0 connection and the ZMTP 3 byte stream a gzmq session speaks (sans-IO).

ZWS carries the same frames as ZMTP 3 (RFC 37), minus the greeting and the length fields:
the subprotocol says the mechanism, a binary message is one frame with a flag byte. So a
session (gzmq.engine.session) runs unchanged over ws://, and this module translates:

  ZmtpReader   the session's bytes -> ZWS frames: drops our 64-byte greeting, splits the
               frames; a PING command becomes a WebSocket ping (libzmq's ws_engine answers
               those, not ZMTP PINGs);
  ZmtpWriter   ZWS events -> bytes for the session: first a greeting in the peer's name
               (its mechanism from the subprotocol, its role the opposite of ours, ZMTP 3.0,
               so that subscriptions travel as the 0x01/0x00 messages every ZWS peer takes),
               then each frame with its ZMTP length; a WebSocket pong becomes a PONG command.

With the bare `ZWS2.0` subprotocol (JSZMQ) there is no security handshake: each side's first
message is its routing id. The reader then sends our READY's Identity as that message, and
the writer turns the peer's first message into the READY the session waits for (no
Socket-Type: the peer says none). A NULL peer whose first frame is a message rather than
READY is taken for a bare one (jszmq's server confirms ZWS2.0/NULL but speaks bare ZWS2.0; our
READY then serves it as our routing id). Malformed input raises ZWSError.
"""
import struct

from ..zmtp import commands
from ..zmtp.greeting import build_greeting
from .frames import COMMAND_FLAG, MORE_FLAG, Frame, Pong, ZWSError

GREETING_SIZE = 64
ZMTP_MORE, ZMTP_LONG, ZMTP_COMMAND = 0x01, 0x02, 0x04
_PING = b"\x04PING"


class PingMarker:
    """The session's heartbeat PING: send a WebSocket ping instead."""


PING = PingMarker()


def zmtp_frame(flags, body):
    """A ZMTP frame for a ZWS flag byte and body."""
    zflags = (ZMTP_MORE if flags & MORE_FLAG else 0) | (ZMTP_COMMAND if flags & COMMAND_FLAG else 0)
    n = len(body)
    if n > 255:
        return struct.pack("!BQ", zflags | ZMTP_LONG, n) + body
    return bytes((zflags, n)) + body


class ZmtpReader:
    """The session's outgoing ZMTP bytes -> [(zws_flags, body) | PING]."""

    def __init__(self, bare=False):
        self.bare = bare
        self._skip = GREETING_SIZE
        self._buf = bytearray()
        self._first_command = True

    def receive_data(self, data):
        buf = self._buf
        buf += data
        out = []
        pos = 0
        if self._skip:
            take = min(self._skip, len(buf))
            self._skip -= take
            pos = take
        n = len(buf)
        while n - pos >= 2:
            flags = buf[pos]
            if flags & ZMTP_LONG:
                if n - pos < 9:
                    break
                size = struct.unpack_from("!Q", buf, pos + 1)[0]
                head = 9
            else:
                size = buf[pos + 1]
                head = 2
            if n - pos < head + size:
                break
            body = bytes(buf[pos + head:pos + head + size])
            pos += head + size
            command = flags & ZMTP_COMMAND
            if command and self.bare and self._first_command:
                # Our READY: a bare ZWS peer expects our routing id as a message instead.
                self._first_command = False
                name, data = commands.split_command(body)
                identity = commands.parse_metadata(data).get("identity", b"") if name == b"READY" else b""
                out.append((0, identity))
                continue
            if command and body.startswith(_PING):
                out.append(PING)
                continue
            out.append(((MORE_FLAG if flags & ZMTP_MORE else 0) | (COMMAND_FLAG if command else 0), body))
        if pos:
            del buf[:pos]
        return out


class ZmtpWriter:
    """ZWS events from the peer -> ZMTP bytes for the session."""

    def __init__(self, mechanism, peer_as_server, bare=False):
        self.bare = bare
        self.mechanism = b"NULL" if bare else mechanism
        self.peer_as_server = peer_as_server
        self._routing_id_pending = bare
        self._first_frame = True

    def greeting(self):
        return build_greeting(self.mechanism, self.peer_as_server, minor=0)

    def convert(self, event):
        if type(event) is Frame:
            if self._first_frame:
                self._first_frame = False
                if self.mechanism == b"NULL" and not event.flags & COMMAND_FLAG:
                    # A NULL peer that opens with a message, not READY, speaks bare ZWS2.0
                    # whatever subprotocol it confirmed (jszmq's server, on the `ws` package,
                    # confirms the first one offered): its first message is its routing id.
                    self._routing_id_pending = True
            if self._routing_id_pending:
                if event.flags:
                    raise ZWSError("bare ZWS peer's first message is not a single routing-id frame")
                self._routing_id_pending = False
                props = [("Identity", event.body)] if event.body else []
                return commands.command(commands.READY, commands.encode_metadata(props))
            return zmtp_frame(event.flags, event.body)
        if type(event) is Pong:
            return commands.command(commands.PONG)
        return b""
