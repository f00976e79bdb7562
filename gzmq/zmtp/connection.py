"""ZMTPConnection: one ZMTP stream, sans-IO (RFC 23, RFC 37; RFC 15 and RFC 13 for old peers).

The greeting goes out in stages and decides the peer's version (gzmq.zmtp.greeting); a ZMTP
2.0 or 1.0 peer gets libzmq's downgrade: no security handshake and no commands, each side's
identity as its first frame (then a Ready event), 2.0's framing (3.x message frames) or 1.0's
own (encode_v1_message, _decode_v1), and subscriptions as 0x01/0x00 messages.

Feed received bytes to receive_data() and get back a list of events: a received message is a
plain list of frames (bytes; a large body that spanned reads is a memoryview of its own
buffer, which the engine may fill directly: receive_buffer/received_into); commands are
gzmq.zmtp.events dataclasses (Ready, Subscribe, Cancel, Ping, Pong, ZapRequest). Bytes the
protocol itself must send (greeting, handshake, PONG replies) accumulate in an outbox drained
with data_to_send(); messages are encoded with encode_message(frames, out), which appends to
the caller's batch list.

Pure: no sockets, no gevent, no clocks (heartbeat timing belongs to the engine). Malformed
input raises ZMTPError and nothing else; after that the connection is unusable.
Driven by gzmq.engine.session.
"""
from enum import Enum

from ..constants import (PROTOCOL_ERROR_ZMTP_INVALID_METADATA,
                         PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED,
                         PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND, PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
from ..error import ZMTPError
from . import commands
from .events import Cancel, Join, Leave, Ping, Pong, Ready, Subscribe
from .frames import (COMMAND, MORE, encode_message, encode_v1_message, parse_frame_header,
                     parse_v1_frame_header)
from .greeting import (SOCKET_TYPE_NUMBERS, ZMTP_1_0, ZMTP_2_0, GreetingParser, greeting_tail,
                       signature)
from .mechanisms.base import HandshakeRefused
from .mechanisms.null import NullMechanism
from .recycle import EAGER_BODY, body_buffer  # noqa: F401  (EAGER_BODY: tests read it here)

# A frame at least this large that is still incomplete gets its final buffer at once; the
# rest of it is copied in as it arrives (never re-concatenating the tail: quadratic), or read
# straight into it by the engine (receive_buffer / received_into: no copy in between).
LARGE_FRAME = 64 * 1024
# Handshake commands are small; a peer declaring more than this before READY is hostile.
MAX_HANDSHAKE_FRAME = 1 << 20
# Frame sizes are 63-bit on the wire (libzmq rejects the top bit too).
MAX_FRAME = (1 << 63) - 1
# Frames in one message. libzmq has no limit, so a peer that sends MORE frames forever grows
# the unfinished message until memory runs out (RCVHWM counts whole messages, MAXMSGSIZE one
# frame). gzmq drops such a peer: a message may have at most this many frames, which bounds
# an unfinished message to MAX_MESSAGE_FRAMES * MAXMSGSIZE bytes (and 65 536 tiny frames
# cost about 3 MB). Real messages have a handful of frames.
MAX_MESSAGE_FRAMES = 1 << 16
# How libzmq >= 4.3.0 PLAIN servers spell ERROR (C's "\x05ERROR" is 0x5E 'RROR', ZMTP.md §8).
LIBZMQ_PLAIN_ERROR = b"\x5eRROR"

# libzmq sends Identity only from these socket types (mechanism.cpp add_basic_properties).
_SENDS_IDENTITY = frozenset({"REQ", "DEALER", "ROUTER"})


class State(Enum):
    GREETING = 1
    HANDSHAKE = 2
    TRAFFIC = 3
    CLOSED = 4


class ZMTPConnection:
    """One side of a ZMTP 3.x connection.

    socket_type: our type name ("DEALER"); peer_types: names we accept from the peer (None:
    accept any); identity: our routing id (sent by REQ/DEALER/ROUTER as libzmq does);
    mechanism: a Mechanism (default NULL); maxmsgsize: reject frames larger than this (-1: no
    limit); max_frames: reject messages of more frames than this; properties: extra (name,
    value) metadata, e.g. ("X-Hello", b"1"); recycler: a gzmq.zmtp.recycle.BodyRecycler that
    large frame bodies are taken from (None: a new buffer each).
    """

    def __init__(self, socket_type, *, peer_types=None, identity=b"", mechanism=None,
                 maxmsgsize=-1, properties=(), max_frames=MAX_MESSAGE_FRAMES, recycler=None):
        self.socket_type = socket_type
        self.peer_types = peer_types
        self.mechanism = mechanism if mechanism is not None else NullMechanism()
        props = [("Socket-Type", socket_type.encode("ascii"))]
        if socket_type in _SENDS_IDENTITY:
            props.append(("Identity", identity))
        props.extend(properties)
        self.mechanism.set_properties(props)
        self.state = State.GREETING
        self.peer_minor = None
        self.peer_metadata = {}
        self.version = None          # the peer's ZMTP version, once known (greeting.ZMTP_*)
        self._identity = identity
        self._greeting = GreetingParser(self.mechanism.name)
        # The greeting goes out in stages (gzmq.zmtp.greeting): the signature now, the rest
        # as the peer's bytes tell us which protocol version it speaks.
        self._out = [signature(len(identity))]
        self._sent_major = False
        self._sent_rest = False
        self._early_events = []
        self._encode = encode_message
        self._traffic_decode = self._decode
        self._legacy_identity = False  # a 1.0/2.0 peer's first frame (its identity) is due
        self._maxmsgsize = maxmsgsize if maxmsgsize is not None and maxmsgsize >= 0 else -1
        self._max_more = max_frames - 1   # frames with MORE set that one message may have
        self._encrypts = self.mechanism.encrypts
        self._buf = b""
        self._parts = []
        self._recycler = recycler   # where large frame bodies come from (gzmq.zmtp.recycle)
        self._pending = None  # the buffer of an incomplete large frame (see recycle.body_buffer)
        self._pending_len = 0
        self._pending_size = 0
        self._pending_flags = 0

    # -- output -------------------------------------------------------------------------
    def data_to_send(self):
        """Protocol bytes queued by the codec (greeting, handshake, PONG); clears the outbox."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out = []
        return data

    def has_data_to_send(self):
        return bool(self._out)

    def encode_message(self, frames, out):
        """Append one message's wire bytes to list `out`; returns the byte count."""
        if self._encrypts:
            return self._encode_encrypted(frames, out)
        return self._encode(frames, out)

    def message_encoder(self):
        """The function the writer should call per message: encode(frames, out) -> nbytes.

        For unencrypted mechanisms this is the plain module function (no method dispatch on
        the hot path): ZMTP 3.x and 2.0 frame messages alike, 1.0 has its own framing."""
        return self._encode_encrypted if self._encrypts else self._encode

    def _encode_encrypted(self, frames, out):
        total = 0
        last = len(frames) - 1
        for i, body in enumerate(frames):
            wire = self.mechanism.encrypt_frame(MORE if i < last else 0, bytes(body))
            # libzmq sends MESSAGE boxes as message frames (no COMMAND bit, no MORE bit).
            total += encode_message((wire,), out)
        return total

    def command(self, name, data=b""):
        """Wire bytes for a traffic-phase command (encrypted when the mechanism encrypts)."""
        if self._encrypts:
            wire = self.mechanism.encrypt_frame(0x02, commands.command_body(name, data))
            out = []
            encode_message((wire,), out)
            return b"".join(out)
        return commands.command(name, data)

    def subscription(self, topic, subscribe=True):
        """Wire bytes telling the peer (a PUB/XPUB) to add or drop a subscription.

        ZMTP 3.1 peers get SUBSCRIBE/CANCEL commands; 3.0 peers (JeroMQ, NetMQ, libzmq <= 4.3.2)
        only understand the old form, a message whose first byte is 1 or 0 (RFC 23).
        """
        if self.peer_minor is not None and self.peer_minor >= 1:
            return self.command(commands.SUBSCRIBE if subscribe else commands.CANCEL, topic)
        out = []
        self.encode_message(((b"\x01" if subscribe else b"\x00") + topic,), out)
        return b"".join(out)

    def control(self, ev):
        """Wire bytes for a control object a socket queued: Subscribe/Cancel (see
        subscription()) or a DISH's Join/Leave (JOIN/LEAVE commands, RFC 48)."""
        kind = type(ev)
        if kind is Join:
            return self.command(commands.JOIN, ev.group)
        if kind is Leave:
            return self.command(commands.LEAVE, ev.group)
        return self.subscription(ev.topic, kind is Subscribe)

    def ping(self, ttl_deciseconds=0, context=b""):
        return self.command(commands.PING, min(max(int(ttl_deciseconds), 0), 0xFFFF).to_bytes(2, "big")
                            + context[:16])

    # -- input --------------------------------------------------------------------------
    def receive_data(self, data):
        """Consume received bytes; return the list of events they complete.

        Raises ZMTPError if the peer broke the protocol.
        """
        events = []
        if self._pending is not None:
            data = self._continue_large(data, events)
            if data is None:
                return events
        elif self._buf:
            data = self._buf + data
            self._buf = b""
        if self.state is not State.TRAFFIC:
            if self.state is State.CLOSED:
                raise ZMTPError("connection already failed")
            try:
                pos = self._receive_handshake(data, events)
            except ZMTPError:
                self.state = State.CLOSED
                raise
            if self.state is not State.TRAFFIC:
                if pos < len(data):
                    self._buf = data[pos:]
                return events
            data = data[pos:]
            if self._legacy_identity and self._greeting.unversioned:
                data = self._greeting.raw + data   # a 1.0 peer's first bytes were its frame
        try:
            if self._encrypts:
                self._decode_encrypted(data, events)
            else:
                self._traffic_decode(data, events)
        except ZMTPError:
            self.state = State.CLOSED
            raise
        return events

    def _decode(self, data, events):
        # The hot loop: one pass over the buffer, plain ints, no per-frame method calls for
        # message frames (parse_frame_header() is inlined here on purpose: the call costs about
        # 10% per 16-byte frame, measured). Commands (rare in traffic) go to _on_command.
        parts = self._parts
        maxsize = self._maxmsgsize
        limit = maxsize if maxsize >= 0 else MAX_FRAME
        max_more = self._max_more
        short_fits = limit >= 255
        n = len(data)
        pos = 0
        while pos + 2 <= n:
            flags = data[pos]
            if flags < 2 and short_fits:
                # A short message frame (flags 0 or MORE), the common case: no header to
                # decode and no size to check.
                start = pos + 2
                end = start + data[pos + 1]
                if end > n:
                    break
            else:
                if flags & 2:
                    if pos + 9 > n:
                        break
                    size = int.from_bytes(data[pos + 1:pos + 9], "big")
                    start = pos + 9
                else:
                    size = data[pos + 1]
                    start = pos + 2
                if size > limit:
                    raise ZMTPError(f"frame of {size} bytes exceeds MAXMSGSIZE ({maxsize})",
                                    PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
                end = start + size
                if end > n:
                    if size >= LARGE_FRAME:
                        self._parts = parts
                        self._begin_large(flags, size, memoryview(data)[start:])
                        return
                    break
                if flags & COMMAND:
                    self._parts = parts
                    self._on_command(data[start:end], events)
                    parts = self._parts
                    pos = end
                    continue
            if flags & MORE:
                if len(parts) >= max_more:
                    self._too_many_frames()
                parts.append(data[start:end])
            elif parts:
                parts.append(data[start:end])
                events.append(parts)
                parts = []
            else:
                events.append([data[start:end]])
            pos = end
        self._parts = parts
        if pos < n:
            self._buf = data[pos:]

    def _begin_large(self, flags, size, first):
        body = body_buffer(size, self._recycler)
        n = len(first)
        body[:n] = first
        self._pending = body
        self._pending_len = n
        self._pending_size = size
        self._pending_flags = flags

    def _continue_large(self, data, events):
        """Fill an incomplete large frame; returns the bytes after it, or None if still short."""
        pos = self._pending_len
        need = self._pending_size - pos
        if len(data) < need:
            self._pending[pos:pos + len(data)] = data
            self._pending_len += len(data)
            return None
        self._pending[pos:] = memoryview(data)[:need]
        body = self._pending
        self._pending = None
        rest = data[need:]
        self._deliver_frame(self._pending_flags, body, events)
        return rest

    def receive_buffer(self):
        """Where the rest of an incomplete large frame goes, or None.

        A writable memoryview: the engine may fill (part of) it with sock.recv_into() and
        report that with received_into(n) instead of calling receive_data(), so a big body
        goes from the kernel into its final buffer without an intermediate copy.
        """
        if self._pending is None:
            return None
        return self._pending[self._pending_len:]

    def received_into(self, n):
        """n bytes were written at the start of receive_buffer(); returns the events completed."""
        self._pending_len += n
        if self._pending_len < self._pending_size:
            return []
        body = self._pending
        self._pending = None
        events = []
        try:
            self._deliver_frame(self._pending_flags, body, events)
        except ZMTPError:
            self.state = State.CLOSED
            raise
        return events

    def _deliver_frame(self, flags, body, events):
        """Hand one complete frame (outside the hot loop) to the message or command path."""
        if self._encrypts and self.state is State.TRAFFIC:
            flags, body = self._decrypt(body)
            if flags & 0x02:
                self._on_command(body, events)
                return
        if flags & COMMAND:
            self._on_command(bytes(body), events)   # a (rare) large command: plain bytes
        elif flags & MORE:
            if len(self._parts) >= self._max_more:
                self._too_many_frames()
            self._parts.append(body)
        else:
            parts = self._parts
            parts.append(body)
            events.append(parts)
            self._parts = []

    def _too_many_frames(self):
        raise ZMTPError(f"message of more than {self._max_more + 1} frames (the peer never ends it?)",
                        PROTOCOL_ERROR_ZMTP_UNSPECIFIED)

    def _decode_encrypted(self, data, events):
        # Every traffic frame is a MESSAGE box (libzmq sends them with or without the COMMAND
        # bit); the plaintext's first byte carries MORE (bit 0) and COMMAND (bit 1).
        maxsize = self._maxmsgsize
        n = len(data)
        pos = 0
        while True:
            header = parse_frame_header(data, pos, n)
            if header is None:
                break
            flags, size, start = header
            if (maxsize >= 0 and size > maxsize + 64) or size > MAX_FRAME:
                raise ZMTPError(f"frame of {size} bytes exceeds MAXMSGSIZE ({maxsize})")
            end = start + size
            if end > n:
                if size >= LARGE_FRAME:
                    self._begin_large(flags, size, memoryview(data)[start:])
                    return
                break
            self._deliver_frame(flags, data[start:end], events)
            pos = end
        if pos < n:
            self._buf = data[pos:]

    def _decrypt(self, body):
        return self.mechanism.decrypt_frame(body)

    def _on_command(self, body, events):
        name, data = commands.split_command(body)
        if name == commands.PING:
            if len(data) < 2:
                raise ZMTPError("malformed PING: no TTL", PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED)
            context = data[2:18]
            # Answer at once, echoing at most 16 context bytes (RFC 37, as libzmq).
            self._out.append(self.command(commands.PONG, context))
            events.append(Ping(int.from_bytes(data[:2], "big") / 10.0, context))
        elif name == commands.PONG:
            events.append(Pong(data))
        elif name == commands.SUBSCRIBE:
            events.append(Subscribe(data))
        elif name == commands.CANCEL:
            events.append(Cancel(data))
        elif name == commands.JOIN:
            events.append(Join(data))
        elif name == commands.LEAVE:
            events.append(Leave(data))
        elif name == commands.ERROR:
            raise HandshakeRefused(f"peer sent ERROR after the handshake: {data[1:]!r}", data[1:])
        # Unknown commands after the handshake are ignored, as libzmq does.

    def _receive_greeting(self, data, events):
        """Feed the peer's greeting; send each stage of ours as its bytes allow. Returns the
        bytes consumed, or, once a ZMTP 1.0/2.0 peer is known, the bytes that remain as its
        traffic (negative: see receive_data)."""
        g = self._greeting
        try:
            pos = g.feed(data)
        except ZMTPError:
            # (a mechanism mismatch) Our greeting still goes out, as libzmq's does: its rest
            # tells the peer our mechanism, and so why the connection ends.
            self._send_greeting_stages(g, handshake=False)
            raise
        self._send_greeting_stages(g)
        if not g.done:
            return pos
        self.version = g.version
        if g.version in (ZMTP_1_0, ZMTP_2_0):
            self._downgrade(g)
            return pos
        self.peer_minor = g.minor
        self.state = State.HANDSHAKE
        if self._early_events:
            events.extend(self._early_events)
            self._early_events = []
        return pos

    def _send_greeting_stages(self, g, handshake=True):
        """Queue each stage of our greeting that the peer's greeting so far calls for (and,
        after a 3.x greeting, the mechanism's first command unless `handshake` is False)."""
        if g.signature_in and not self._sent_major:
            self._sent_major = True
            self._out.append(b"\x03")
        if g.revision is not None and not self._sent_rest:
            self._sent_rest = True
            if g.revision in (0, 1):
                # ZMTP 1.0 (versioned) and 2.0 peers get a 2.0 greeting: our socket type byte.
                self._out.append(bytes((SOCKET_TYPE_NUMBERS.get(self.socket_type, 0),)))
            else:
                mech = self.mechanism
                self._out.append(greeting_tail(mech.name, mech.as_server))
                if not handshake:
                    return
                self._out.extend(mech.start())
                self._early_events = list(getattr(mech, "zap_request", lambda: [])())

    def _downgrade(self, g):
        """Speak ZMTP 1.0 or 2.0 with this peer (libzmq's handshake_v1_0*/v2_0): no security
        handshake, no commands, no metadata; each side's first message is its identity, and
        subscriptions travel as 0x01/0x00 messages (peer_minor 0)."""
        version = "1.0" if g.version == ZMTP_1_0 else "2.0"
        if self.mechanism.zap_enabled:
            raise ZMTPError(f"peer speaks ZMTP {version}, which cannot authenticate: refused "
                            f"because this socket uses {self.mechanism.name.decode()}"
                            + (" with a ZAP domain" if self.mechanism.name == b"NULL" else ""),
                            PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
        self.peer_minor = 0
        identity = self._identity
        if g.version == ZMTP_2_0:
            encode_message((identity,), self._out)
        else:
            self._encode = encode_v1_message
            self._traffic_decode = self._decode_v1
            if g.unversioned:
                # Our signature was already the header of our 1.0 identity frame (its length
                # field counts the 0x7F flags byte): only the body follows.
                self._out.append(identity)
            else:
                encode_v1_message((identity,), self._out)
        self._legacy_identity = True
        self._frame_decode = self._traffic_decode
        self._traffic_decode = self._decode_identity
        self.state = State.TRAFFIC

    def _decode_identity(self, data, events):
        """A ZMTP 1.0/2.0 peer's first frame is its identity (libzmq's process_routing_id_msg:
        whatever its flags say). With it the connection is ready; the rest is traffic."""
        n = len(data)
        if self.version == ZMTP_2_0:
            header = parse_frame_header(data, 0, n)
        else:
            header = parse_v1_frame_header(data, 0, n)
        if header is None:
            self._buf = data
            return
        flags, size, start = header
        if self.version == ZMTP_1_0 and flags not in (0, MORE, 0x7F):
            # RFC 13 reserves bits 1-7 (libzmq >= 3 sends 0x7F: its signature doubles as the
            # header). Anything else is no ZMTP peer at all: an HTTP request reads as a 1.0
            # frame of length 'G' with flags 'E'.
            raise ZMTPError(f"peer sent no ZMTP greeting (first bytes {bytes(data[:4])!r})",
                            PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
        if size > MAX_HANDSHAKE_FRAME:
            raise ZMTPError(f"identity frame of {size} bytes is too large (limit {MAX_HANDSHAKE_FRAME})",
                            PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
        end = start + size
        if end > n:
            self._buf = data
            return
        identity = bytes(data[start:end])
        self._legacy_identity = False
        self._traffic_decode = self._frame_decode
        self.peer_metadata = {"identity": identity} if identity else {}
        events.append(Ready(dict(self.peer_metadata), 0, b"NULL"))
        if self._greeting.unversioned and self.socket_type in ("PUB", "XPUB"):
            # A 1.0 peer never subscribes: libzmq injects a subscription to everything.
            events.append(Subscribe(b""))
        if end < n:
            self._traffic_decode(data[end:], events)

    def _decode_v1(self, data, events):
        """ZMTP 1.0 frames (RFC 13): length (1 octet, or FF + 8) counting the flags byte,
        flags (bit 0 MORE), body. Not the hot path: 1.0 peers are rare."""
        parts = self._parts
        maxsize = self._maxmsgsize
        n = len(data)
        pos = 0
        while True:
            header = parse_v1_frame_header(data, pos, n)
            if header is None:
                break
            flags, size, start = header
            if size > maxsize >= 0 or size > MAX_FRAME:
                raise ZMTPError(f"frame of {size} bytes exceeds MAXMSGSIZE ({maxsize})",
                                PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
            if flags & ~MORE:
                raise ZMTPError(f"ZMTP 1.0 frame with reserved flag bits set ({flags:#04x})",
                                PROTOCOL_ERROR_ZMTP_UNSPECIFIED)
            end = start + size
            if end > n:
                if size >= LARGE_FRAME:
                    self._parts = parts
                    self._begin_large(flags, size, memoryview(data)[start:])
                    return
                break
            if flags:
                if len(parts) >= self._max_more:
                    self._too_many_frames()
                parts.append(data[start:end])
            else:
                parts.append(data[start:end])
                events.append(parts)
                parts = []
            pos = end
        self._parts = parts
        if pos < n:
            self._buf = data[pos:]

    def _receive_handshake(self, data, events):
        pos = 0
        if self.state is State.GREETING:
            pos = self._receive_greeting(data, events)
            if self.state is not State.HANDSHAKE:
                return pos
        n = len(data)
        limit = MAX_HANDSHAKE_FRAME
        while self.state is State.HANDSHAKE:
            header = parse_frame_header(data, pos, n)
            if header is None:
                break
            flags, size, start = header
            if not flags & COMMAND:
                raise ZMTPError("peer sent a message frame before the handshake completed",
                                PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND)
            if size > limit:
                raise ZMTPError(f"handshake command of {size} bytes is too large (limit {limit})",
                                PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED)
            end = start + size
            if end > n:
                break
            body = data[start:end]
            if body[:5] == LIBZMQ_PLAIN_ERROR:
                # libzmq >= 4.3.0 PLAIN servers send ERROR as `5E 'RROR'` (ZMTP.md §8).
                name, cdata = commands.ERROR, bytes(body[5:])
            else:
                name, cdata = commands.split_command(body)
            pos = end
            out, evs = self.mechanism.receive_command(name, cdata)
            self._out.extend(out)
            events.extend(evs)
            self._check_done(events)
        return pos

    def zap_reply(self, status, status_text=b"", user_id=b"", metadata=None):
        """Give the mechanism the ZAP handler's answer. Returns the events it completes.

        Raises HandshakeRefused (after queueing an ERROR where the spec has one) on refusal.
        """
        out, evs = self.mechanism.zap_reply(status, status_text, user_id, metadata)
        self._out.extend(out)
        for ev in evs:
            if isinstance(ev, Exception):
                self.state = State.CLOSED
                raise ev
        events = list(evs)
        self._check_done(events)
        return events

    def _check_done(self, events):
        mech = self.mechanism
        if not mech.done or self.state is State.TRAFFIC:
            return
        meta = mech.peer_metadata
        if self.peer_types is not None and "socket-type" in meta:
            peer_type = meta["socket-type"].decode("ascii", "replace")
            if peer_type not in self.peer_types:
                raise ZMTPError(f"peer socket type {peer_type} cannot talk to our {self.socket_type}",
                                PROTOCOL_ERROR_ZMTP_INVALID_METADATA)
        self.peer_metadata = meta
        self.state = State.TRAFFIC
        events.append(Ready(meta, self.peer_minor, mech.name))
