"""One fuzz input -> one ZMTP byte stream for a chosen socket type and mechanism, and the oracle.

A fuzz input is three header bytes and a payload:

    byte 0   socket type (low 4 bits, mod 11); what goes before the payload (bits 4-5:
             nothing, a valid greeting, greeting + a valid READY/HELLO/WELCOME, the same
             again); MAXMSGSIZE (bits 6-7: none, 0, 255, 70 000)
    byte 1   mechanism (mod 7: NULL, NULL asking ZAP, PLAIN server, PLAIN client, CURVE
             server, CURVE client, CURVE traffic); bit 3: the ZAP handler says 400, not 200
    byte 2   how the stream is cut into reads (a seed)

so a coverage-guided fuzzer quickly gets past the greeting and the handshake and spends its
time on frames, commands, metadata and the mechanisms' state machines. "CURVE traffic" runs a
real CURVE handshake first and lets the payload choose (flags, body) records that a real
client encrypts: the server's decoder then sees well-formed boxes with hostile contents.

``check_codec(data)`` is the oracle for the sans-IO codec (gzmq.zmtp.connection): feeding
the stream whole, and cut into pieces (partly through receive_buffer/received_into), must
either raise ZMTPError both times or produce the same events both times. Anything else (another
exception, or a difference) is a bug and propagates. ``stream_for(data)`` gives the bytes a
raw socket should send to a live gzmq socket of that type (reliability.engine_fuzz).
"""
import copy
import random

from gzmq.error import ZMTPError
from gzmq.zmtp import commands
from gzmq.zmtp.connection import ZMTPConnection
from gzmq.zmtp.events import ZapRequest
from gzmq.zmtp.frames import encode_message
from gzmq.zmtp.greeting import build_greeting

SOCKET_TYPES = ("PAIR", "PUB", "SUB", "REQ", "REP", "DEALER", "ROUTER", "PULL", "PUSH", "XPUB", "XSUB")
VALID_PEER = {"PAIR": "PAIR", "PUB": "SUB", "SUB": "PUB", "REQ": "REP", "REP": "REQ",
              "DEALER": "ROUTER", "ROUTER": "DEALER", "PULL": "PUSH", "PUSH": "PULL",
              "XPUB": "XSUB", "XSUB": "XPUB"}
PEER_TYPES = {"PAIR": {"PAIR"}, "PUB": {"SUB", "XSUB"}, "SUB": {"PUB", "XPUB"},
              "REQ": {"REP", "ROUTER"}, "REP": {"REQ", "DEALER"},
              "DEALER": {"REP", "DEALER", "ROUTER"}, "ROUTER": {"REQ", "DEALER", "ROUTER"},
              "PULL": {"PUSH"}, "PUSH": {"PULL"}, "XPUB": {"SUB", "XSUB"}, "XSUB": {"PUB", "XPUB"}}
MAXMSGSIZES = (-1, 0, 255, 70000)
MECHANISMS = ("NULL", "NULL-ZAP", "PLAIN-SERVER", "PLAIN-CLIENT", "CURVE-SERVER", "CURVE-CLIENT",
              "CURVE-TRAFFIC")

def has_curve():
    try:
        import nacl.public  # noqa: F401
    except ImportError:
        return False
    return True


# Fixed CURVE keys (a fuzz run must be reproducible); generated once with PyNaCl.
_CURVE = None


def _curve_keys():
    global _CURVE
    if _CURVE is None:
        from nacl.public import PrivateKey
        server = PrivateKey(bytes(range(1, 33)))
        client = PrivateKey(bytes(range(33, 65)))
        _CURVE = (bytes(server), bytes(server.public_key), bytes(client), bytes(client.public_key))
    return _CURVE


class Case:
    __slots__ = ("socket_type", "prefix_mode", "maxmsgsize", "mechanism", "zap_status", "seed",
                 "payload")

    def __init__(self, data):
        data = bytes(data)
        b0 = data[0] if len(data) > 0 else 0
        b1 = data[1] if len(data) > 1 else 0
        self.socket_type = SOCKET_TYPES[(b0 & 0x0F) % len(SOCKET_TYPES)]
        self.prefix_mode = (b0 >> 4) & 3
        self.maxmsgsize = MAXMSGSIZES[b0 >> 6]
        self.mechanism = MECHANISMS[(b1 & 0x07) % len(MECHANISMS)]
        self.zap_status = b"400" if b1 & 0x08 else b"200"
        self.seed = data[2] if len(data) > 2 else 0
        self.payload = data[3:]

    def __repr__(self):
        return (f"<Case {self.socket_type} {self.mechanism} prefix={self.prefix_mode} "
                f"maxmsgsize={self.maxmsgsize} seed={self.seed} payload={len(self.payload)}B>")


def make_connection(case):
    """The gzmq side: a ZMTPConnection as a gzmq socket of case.socket_type would build it."""
    mech = case.mechanism
    if mech == "NULL":
        mechanism = None
    elif mech == "NULL-ZAP":
        from gzmq.zmtp.mechanisms.null import NullMechanism
        mechanism = NullMechanism(zap=True)
    elif mech == "PLAIN-SERVER":
        from gzmq.zmtp.mechanisms.plain import PlainServer
        mechanism = PlainServer()
    elif mech == "PLAIN-CLIENT":
        from gzmq.zmtp.mechanisms.plain import PlainClient
        mechanism = PlainClient(b"user", b"pass")
    else:
        from gzmq.zmtp.mechanisms.curve import CurveClient, CurveServer
        server_secret, server_public, client_secret, client_public = _curve_keys()
        if mech == "CURVE-CLIENT":
            mechanism = CurveClient(client_public, client_secret, server_public)
        else:
            mechanism = CurveServer(server_secret)
    return ZMTPConnection(case.socket_type, peer_types=PEER_TYPES[case.socket_type],
                          identity=b"fuzz", mechanism=mechanism, maxmsgsize=case.maxmsgsize)


def _prefix(case):
    """Bytes a well-behaved peer would send before the payload, per prefix_mode."""
    mech = case.mechanism
    if case.prefix_mode == 0 or mech == "CURVE-TRAFFIC":
        return b""
    name = mech.split("-")[0].encode()
    out = build_greeting(name, as_server=mech == "PLAIN-CLIENT" or mech == "CURVE-CLIENT")
    if case.prefix_mode >= 2:
        peer = VALID_PEER[case.socket_type].encode()
        meta = commands.encode_metadata([("Socket-Type", peer), ("Identity", b"peer")])
        if mech.startswith("NULL"):
            out += commands.command(commands.READY, meta)
        elif mech == "PLAIN-SERVER":
            out += commands.command(commands.HELLO, b"\x04user\x04pass")
        elif mech == "PLAIN-CLIENT":
            out += commands.command(commands.WELCOME)
    return out


def _answer_zap(conn, events, status):
    """Answer any ZapRequest among events as a ZAP handler would; returns the new events."""
    more = []
    for ev in events:
        if isinstance(ev, ZapRequest):
            more.extend(conn.zap_reply(status, b"fuzz", b"fuzz-user" if status == b"200" else b""))
    return more


def _normal(events):
    out = []
    for ev in events:
        if type(ev) is list:
            out.append(tuple(bytes(f) for f in ev))
        else:
            out.append("ZAP" if isinstance(ev, ZapRequest) else repr(ev))
    return out


class _CurveTraffic:
    """A CURVE client and server past their handshake; the client encrypts fuzz records.

    The handshake (about a millisecond of crypto) is done once per socket type and
    MAXMSGSIZE; every input gets a deep copy of that pair (nonces and keys included)."""

    _done = {}

    @classmethod
    def get(cls, case):
        key = (case.socket_type, case.maxmsgsize)
        pair = cls._done.get(key)
        if pair is None:
            pair = cls._done[key] = cls()
            pair._handshake(case)
        return copy.deepcopy(pair)

    def _handshake(self, case):
        from gzmq.zmtp.mechanisms.curve import CurveClient, CurveServer
        server_secret, server_public, client_secret, client_public = _curve_keys()
        self.server = ZMTPConnection(case.socket_type, peer_types=None, mechanism=CurveServer(server_secret),
                                     maxmsgsize=case.maxmsgsize)
        self.client = ZMTPConnection(VALID_PEER[case.socket_type],
                                     mechanism=CurveClient(client_public, client_secret, server_public))
        for _ in range(8):
            to_server = self.client.data_to_send()
            to_client = self.server.data_to_send()
            if not to_server and not to_client:
                break
            if to_server:
                evs = self.server.receive_data(to_server)
                _answer_zap(self.server, evs, b"200")
            if to_client:
                self.client.receive_data(to_client)

    def records(self, payload):
        """Payload -> wire bytes of encrypted frames: flags byte, length byte, body."""
        out = []
        pos = 0
        while pos + 2 <= len(payload):
            flags = payload[pos] & 0x03   # MORE and COMMAND inside the box
            n = payload[pos + 1]
            body = payload[pos + 2:pos + 2 + n]
            pos += 2 + n
            wire = self.client.mechanism.encrypt_frame(flags, bytes(body))
            encode_message((wire,), out)
        return b"".join(bytes(c) for c in out)


def stream_for(data):
    """(case, bytes a peer sends) for one fuzz input, without the CURVE-traffic mode's
    client (the live engine harness runs NULL, PLAIN and CURVE servers only)."""
    case = Case(data)
    return case, _prefix(case) + case.payload


def _cuts(seed, n):
    """Positions to cut a stream of n bytes at, from a seed: 0 -> one piece per byte for
    short streams, otherwise random piece sizes of up to 1..300 bytes."""
    if n == 0:
        return []
    if seed == 0 and n <= 512:
        return list(range(1, n))
    rng = random.Random(seed)
    top = 1 + seed % 300
    cuts, pos = [], 0
    while True:
        pos += rng.randint(1, top)
        if pos >= n:
            return cuts
        cuts.append(pos)


def _feed(conn, pieces, zap_status, use_buffer):
    events = []
    for piece in pieces:
        while piece:
            buf = conn.receive_buffer() if use_buffer else None
            if buf is not None:
                n = min(len(buf), len(piece))
                buf[:n] = piece[:n]
                got = conn.received_into(n)
                piece = piece[n:]
            else:
                got = conn.receive_data(piece)
                piece = b""
            events.extend(got)
            events.extend(_answer_zap(conn, got, zap_status))
    conn.data_to_send()
    return events


def _run(case, pieces, use_buffer, traffic=None):
    conn = traffic.server if traffic is not None else make_connection(case)
    try:
        return _normal(_feed(conn, pieces, case.zap_status, use_buffer)), None
    except ZMTPError as exc:
        return None, exc


def _pieces(stream, seed):
    bounds = [0] + _cuts(seed, len(stream)) + [len(stream)]
    return [stream[a:b] for a, b in zip(bounds, bounds[1:])]


def check_codec(data):
    """The codec oracle (see the module docstring). Returns the number of events decoded."""
    case = Case(data)
    if case.mechanism == "CURVE-TRAFFIC":
        # Two independent handshakes (fresh ephemeral keys each): each server gets the
        # payload's records as its own client encrypted them.
        whole_traffic, cut_traffic = _CurveTraffic.get(case), _CurveTraffic.get(case)
        whole_stream = whole_traffic.records(case.payload)
        cut_stream = cut_traffic.records(case.payload)
    else:
        whole_traffic = cut_traffic = None
        whole_stream = cut_stream = _prefix(case) + case.payload
    whole, whole_err = _run(case, [whole_stream], False, whole_traffic)
    cut, cut_err = _run(case, _pieces(cut_stream, case.seed), True, cut_traffic)
    zap = any(r and "ZAP" in r for r in (whole, cut))
    if (whole_err is None) != (cut_err is None) and not zap:
        raise AssertionError(f"{case}: whole feed {'raised ' + repr(whole_err) if whole_err else 'passed'}, "
                             f"cut feed {'raised ' + repr(cut_err) if cut_err else 'passed'}")
    # With a ZAP request in the stream the answer's position depends on the cuts (a verdict
    # given between two reads admits bytes that the same verdict after one read refuses), so
    # then only the absence of foreign exceptions counts.
    if whole_err is None and whole != cut and not zap:
        raise AssertionError(f"{case}: whole and cut feeds decoded differently: {whole[:5]!r} vs {cut[:5]!r}")
    return len(whole or ())
