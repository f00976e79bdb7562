"""A scripted raw-socket ZMTP peer, for tests that need a peer which does exactly what it is told.

Everything on the wire is built here by hand (RFC 23/37 byte layouts), independently of
gzmq.zmtp, so a bug in gzmq's codec cannot hide itself by being mirrored in the test peer.

Building blocks (pure functions, bytes out):
    greeting(), frame(), command(), metadata(), ready(), message(), subscribe(), cancel(), ping()
    zmtp2_greeting(), zmtp1_identity()      old-protocol openings, for "refuse cleanly" tests

RawPeer wraps one stream connection (tcp or ipc, as a gevent socket, so it cooperates with the
hub patched or not) and reads the peer's bytes incrementally:
    RawPeer.connect(endpoint)                       dial a bound socket
    RawListener(endpoint) ... .accept()             let a socket dial us
    peer.handshake("DEALER", identity=b"x")         greeting + READY both ways (NULL)
    peer.send_message([b"a", b"b"]); peer.recv_message()
    peer.read_greeting(), peer.read_frame(), peer.is_closed(timeout)

It answers nothing on its own (not even PING) unless a method says so; recv_message() skips
commands and records them in `peer.commands`. Not thread-safe; one greenlet per peer.
"""
import os
import socket as _stdsocket
import struct

import gevent
from gevent import socket as gsocket

MORE = 0x01
LONG = 0x02
COMMAND = 0x04

SOCKET_TYPE_NUMBERS = {  # libzmq's numeric ZMQ_* values, used by the ZMTP 2.0 greeting
    "PAIR": 0, "PUB": 1, "SUB": 2, "REQ": 3, "REP": 4, "DEALER": 5, "ROUTER": 6,
    "PULL": 7, "PUSH": 8, "XPUB": 9, "XSUB": 10,
}


# -- wire building blocks --------------------------------------------------------------------
def greeting(major=3, minor=1, mechanism=b"NULL", as_server=False, padding=b"\x00" * 8,
             signature_end=0x7F):
    """A 64-byte ZMTP 3.x greeting; every field can be bent to test a peer's tolerance."""
    assert len(padding) == 8 and len(mechanism) <= 20
    return (b"\xff" + padding + bytes((signature_end, major, minor)) + mechanism.ljust(20, b"\x00")
            + (b"\x01" if as_server else b"\x00") + b"\x00" * 31)


def frame(body, more=False, command=False, long=None):
    """One frame. long=None picks the short form up to 255 bytes (as libzmq); True/False force it."""
    body = bytes(body)
    flags = (MORE if more else 0) | (COMMAND if command else 0)
    if long is None:
        long = len(body) > 255
    if long:
        return bytes((flags | LONG,)) + struct.pack(">Q", len(body)) + body
    assert len(body) <= 255, "short frame bodies are at most 255 bytes"
    return bytes((flags, len(body))) + body


def frame_header(size, more=False, command=False):
    """Only the header of a frame that announces `size` body bytes (for oversized-frame tests)."""
    flags = (MORE if more else 0) | (COMMAND if command else 0)
    if size > 255:
        return bytes((flags | LONG,)) + struct.pack(">Q", size)
    return bytes((flags, size))


def command(name, data=b""):
    """A command frame: name-length, name, data (RFC 23 §Commands)."""
    if isinstance(name, str):
        name = name.encode("ascii")
    return frame(bytes((len(name),)) + name + data, command=True)


def metadata(properties):
    """Encode [(name, value)] as ZMTP metadata: name-len(1) name value-len(4, BE) value."""
    out = b""
    for name, value in properties:
        if isinstance(name, str):
            name = name.encode("ascii")
        if isinstance(value, str):
            value = value.encode("utf-8")
        out += bytes((len(name),)) + name + struct.pack(">I", len(value)) + value
    return out


def ready(socket_type, identity=None, extra=()):
    """A NULL-mechanism READY command with Socket-Type (and Identity if not None)."""
    props = [("Socket-Type", socket_type)]
    if identity is not None:
        props.append(("Identity", identity))
    props.extend(extra)
    return command(b"READY", metadata(props))


def message(frames):
    """Wire bytes for one multipart message."""
    frames = list(frames)
    last = len(frames) - 1
    return b"".join(frame(f, more=i < last) for i, f in enumerate(frames))


def subscribe(topic):
    return command(b"SUBSCRIBE", topic)


def cancel(topic):
    return command(b"CANCEL", topic)


def ping(ttl_deciseconds=0, context=b""):
    return command(b"PING", struct.pack(">H", ttl_deciseconds) + context)


def zmtp2_greeting(socket_type="DEALER", identity=b""):
    """What a ZMTP 2.0 (RFC 15) peer sends: signature, revision 1, socket type, identity frame."""
    return (b"\xff" + struct.pack(">Q", len(identity) + 1) + b"\x7f" + b"\x01"
            + bytes((SOCKET_TYPE_NUMBERS[socket_type],)) + b"\x00" + bytes((len(identity),)) + identity)


def zmtp1_identity(identity=b""):
    """What a ZMTP 1.0 (RFC 13) peer sends first: its identity as a 1.0 frame."""
    return bytes((len(identity) + 1, 0)) + identity


def parse_metadata(data):
    """Decode ZMTP metadata into a dict with lower-case names; raises ValueError if malformed."""
    props = {}
    pos = 0
    while pos < len(data):
        n = data[pos]
        name = data[pos + 1:pos + 1 + n]
        pos += 1 + n
        if len(name) != n or pos + 4 > len(data):
            raise ValueError(f"truncated metadata at byte {pos}")
        (size,) = struct.unpack(">I", data[pos:pos + 4])
        pos += 4
        value = data[pos:pos + size]
        if len(value) != size:
            raise ValueError(f"truncated metadata value for {name!r}")
        pos += size
        props[name.decode("ascii").lower()] = value
    return props


def split_command(body):
    n = body[0]
    return body[1:1 + n], body[1 + n:]


class PeerGreeting:
    """The fields of a received 64-byte greeting."""

    def __init__(self, raw):
        self.raw = raw
        self.signature_ok = raw[0] == 0xFF and raw[9] & 1 == 1
        self.major = raw[10]
        self.minor = raw[11]
        self.mechanism = raw[12:32].rstrip(b"\x00")
        self.as_server = raw[32]

    def __repr__(self):
        return f"<PeerGreeting {self.major}.{self.minor} {self.mechanism!r}>"


# -- endpoints -----------------------------------------------------------------------------
def _sockaddr(endpoint):
    if isinstance(endpoint, bytes):
        endpoint = endpoint.decode()
    scheme, _, address = endpoint.partition("://")
    if scheme == "tcp":
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        family = _stdsocket.AF_INET6 if ":" in host else _stdsocket.AF_INET
        return family, (host, int(port))
    if scheme == "ipc":
        return _stdsocket.AF_UNIX, ("\0" + address[1:] if address.startswith("@") else address)
    raise ValueError(f"RawPeer speaks tcp:// and ipc:// only, not {endpoint!r}")


class ConnectionClosed(Exception):
    """The other side closed (or reset) the connection while we waited for bytes."""


class RawPeer:
    """One scripted ZMTP connection. See the module docstring."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.greeting = None     # the peer's PeerGreeting once read
        self.metadata = None     # the peer's READY metadata once read
        self.commands = []       # (name, data) of commands recv_message() skipped

    @classmethod
    def connect(cls, endpoint, timeout=5):
        family, addr = _sockaddr(endpoint)
        sock = gsocket.socket(family, _stdsocket.SOCK_STREAM)
        sock.settimeout(timeout)
        sock.connect(addr)
        sock.settimeout(None)
        if family != _stdsocket.AF_UNIX:
            sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
        return cls(sock)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- raw bytes ---------------------------------------------------------------------
    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ConnectionClosed(str(exc)) from None
        if not data:
            raise ConnectionClosed("peer closed the connection")
        self.buf += data

    def recv_exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def is_closed(self, timeout=5):
        """True if the other side closes the connection within `timeout` seconds (bytes it sends
        meanwhile are kept in self.buf); False if it is still open then."""
        timer = gevent.Timeout(timeout)
        try:
            with timer:
                while True:
                    self._fill()
        except ConnectionClosed:
            return True
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            return False

    # -- ZMTP --------------------------------------------------------------------------
    def read_greeting(self):
        self.greeting = PeerGreeting(self.recv_exactly(64))
        return self.greeting

    def read_frame(self):
        """The next frame as (flags, body)."""
        flags = self.recv_exactly(1)[0]
        if flags & LONG:
            (size,) = struct.unpack(">Q", self.recv_exactly(8))
        else:
            size = self.recv_exactly(1)[0]
        return flags, self.recv_exactly(size)

    def read_command(self):
        """The next frame, which must be a command: (name, data)."""
        flags, body = self.read_frame()
        if not flags & COMMAND:
            raise AssertionError(f"expected a command frame, got flags {flags:#04x} body {body[:40]!r}")
        return split_command(body)

    def read_ready(self):
        name, data = self.read_command()
        if name != b"READY":
            raise AssertionError(f"expected READY, got {name!r} {data!r}")
        self.metadata = parse_metadata(data)
        return self.metadata

    def handshake(self, socket_type, identity=None, extra=(), minor=1):
        """Full NULL handshake: send greeting + READY at once, then read the peer's.

        Returns the peer's READY metadata (names lower-cased)."""
        self.send(greeting(minor=minor) + ready(socket_type, identity, extra))
        g = self.read_greeting()
        if not g.signature_ok or g.major != 3 or g.mechanism != b"NULL":
            raise AssertionError(f"unexpected greeting from peer: {g.raw!r}")
        return self.read_ready()

    def send_message(self, frames):
        self.send(message(frames))

    def recv_message(self):
        """The next whole message (list of bytes), skipping and recording commands."""
        parts = []
        while True:
            flags, body = self.read_frame()
            if flags & COMMAND:
                self.commands.append(split_command(body))
                continue
            parts.append(body)
            if not flags & MORE:
                return parts


class RawListener:
    """A listening tcp/ipc socket for gzmq to connect to; accept() gives RawPeers.

    endpoint: 'tcp://127.0.0.1:0' (a free port is chosen; see .endpoint) or 'ipc:///path'."""

    def __init__(self, endpoint="tcp://127.0.0.1:0"):
        family, addr = _sockaddr(endpoint)
        self.path = None
        sock = gsocket.socket(family, _stdsocket.SOCK_STREAM)
        if family == _stdsocket.AF_UNIX:
            self.path = None if addr.startswith("\0") else addr
        else:
            sock.setsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(16)
        self.sock = sock
        if family == _stdsocket.AF_UNIX:
            self.endpoint = endpoint
        else:
            host, port = sock.getsockname()[:2]
            self.endpoint = f"tcp://[{host}]:{port}" if family == _stdsocket.AF_INET6 else f"tcp://{host}:{port}"

    def accept(self, timeout=5):
        with gevent.Timeout(timeout, AssertionError(f"nobody connected to {self.endpoint} within {timeout}s")):
            conn, _ = self.sock.accept()
        return RawPeer(conn)

    def close(self):
        self.sock.close()
        if self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
