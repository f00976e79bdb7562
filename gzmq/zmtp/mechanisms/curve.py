"""CURVE security mechanism (RFC 25) running the CurveZMQ handshake (RFC 26), as libzmq does.

Keys: C/c client long-term public/secret, S/s server long-term, C'/c' and S'/s' transient
(fresh per connection), K the server's cookie key (fresh per connection). Box = NaCl
crypto_box (Curve25519, XSalsa20, Poly1305); a box of N bytes is 16 (MAC) + N bytes.

    C -> S  HELLO     01 00, 72 zero bytes, C', nonce(8), box[64 zeros](c' -> S)
    S -> C  WELCOME   nonce(16), box[S' + cookie](s -> C')
                      cookie = nonce(16) + secretbox_K[C' + s']
    C -> S  INITIATE  cookie, nonce(8), box[C + vouch-nonce(16) + vouch + metadata](c' -> S')
                      vouch = box[C' + S](c -> S')
    S -> C  READY     nonce(8), box[metadata](s' -> C')      (or ERROR: ZAP said 400/500)
    both    MESSAGE   07 'MESSAGE' nonce(8) box[flags(1) + payload](between C' and S')

The server asks ZAP about C (a ZapRequest(b"CURVE", (C,))) once INITIATE checks out.
Short nonces are per-direction counters starting at 1 (client: HELLO 1, INITIATE 2, then
messages; server: READY 1, then messages) and every received one must be strictly greater
than the last: a replayed or reordered box drops the connection (ZMTP.md §9.3).

Traffic: one MESSAGE per ZMQ frame; MORE travels inside the box (plaintext flags bit 0),
and libzmq's extension bit 1 marks a boxed command (PING, PONG, SUBSCRIBE, CANCEL).
encrypt_frame()/decrypt_frame() make and open those bodies; ZMTPConnection frames them.
The shared key for traffic is computed once per connection (crypto_box_beforenm).

Needs PyNaCl (the `curve` extra); importing this module without it raises ImportError
with the install hint. Sans-IO; raises ZMTPError (HandshakeRefused for refusals) only.
"""
import os
from enum import Enum
from hmac import compare_digest

try:
    from nacl import bindings as _nacl
    from nacl.exceptions import CryptoError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("gzmq's CURVE security needs PyNaCl: pip install 'gzmq[curve]'") from exc

from ...constants import (PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE,
                          PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE,
                          PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO,
                          PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE,
                          PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE,
                          PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY,
                          PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME,
                          PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND)
from ...error import ZMTPError
from ..commands import (ERROR, HELLO, INITIATE, READY, WELCOME, command, encode_metadata, error,
                        parse_metadata)
from ..events import ZapRequest
from .base import HandshakeRefused, Mechanism, parse_error_command

KEY_SIZE = 32
MAC_SIZE = 16

# PyNaCl >= 1.5 has the *_easy variants; the classic ones return the same MAC + ciphertext.
_box = getattr(_nacl, "crypto_box_easy_afternm", None) or _nacl.crypto_box_afternm
_box_open = getattr(_nacl, "crypto_box_open_easy_afternm", None) or _nacl.crypto_box_open_afternm
_beforenm = _nacl.crypto_box_beforenm
_keypair = _nacl.crypto_box_keypair
_secretbox = _nacl.crypto_secretbox
_secretbox_open = _nacl.crypto_secretbox_open

HELLO_NONCE = b"CurveZMQHELLO---"
WELCOME_NONCE = b"WELCOME-"
COOKIE_NONCE = b"COOKIE--"
VOUCH_NONCE = b"VOUCH---"
INITIATE_NONCE = b"CurveZMQINITIATE"
READY_NONCE = b"CurveZMQREADY---"
# RFC 26's ABNF says "CurveZMQMESSAGE-"; its prose and libzmq use a C or S for the direction.
MESSAGE_NONCE_C = b"CurveZMQMESSAGEC"   # client -> server
MESSAGE_NONCE_S = b"CurveZMQMESSAGES"   # server -> client

MESSAGE_PREFIX = b"\x07MESSAGE"
MESSAGE_MIN = len(MESSAGE_PREFIX) + 8 + MAC_SIZE + 1        # 33 bytes
HELLO_SIZE = 2 + 72 + KEY_SIZE + 8 + MAC_SIZE + 64          # 194 bytes after the name
WELCOME_SIZE = 16 + MAC_SIZE + KEY_SIZE + 96                # 160 bytes after the name
COOKIE_SIZE = 16 + MAC_SIZE + 2 * KEY_SIZE                  # 96
INITIATE_MIN = COOKIE_SIZE + 8 + MAC_SIZE + KEY_SIZE + 16 + MAC_SIZE + 2 * KEY_SIZE  # 248


def public_from_secret(secret):
    """The Curve25519 public key of a 32-byte secret key."""
    return _nacl.crypto_scalarmult_base(bytes(secret))


def keypair():
    """A fresh (public, secret) pair of 32-byte keys."""
    return _keypair()


class State(Enum):
    EXPECT_WELCOME = 1    # client
    EXPECT_READY = 2
    EXPECT_HELLO = 3      # server
    EXPECT_INITIATE = 4
    WAIT_ZAP = 5
    DONE = 6


def _check_key(what, key):
    key = bytes(key)
    if len(key) != KEY_SIZE:
        raise ValueError(f"{what} must be {KEY_SIZE} bytes, not {len(key)}")
    return key


def _crypto(what):
    return ZMTPError(f"CURVE: cannot open the {what} box (wrong key or forged data)",
                     PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)


class _Curve(Mechanism):
    """What client and server share: nonce counters and the boxed traffic."""

    name = b"CURVE"
    encrypts = True
    _send_prefix = b""
    _recv_prefix = b""

    def __init__(self):
        super().__init__()
        self._send_nonce = 0      # last short nonce we used
        self._recv_nonce = 0      # last short nonce the peer used
        self._key = None          # precomputed shared key of the transient pair

    def _next_nonce(self):
        self._send_nonce += 1
        return self._send_nonce.to_bytes(8, "big")

    def _take_nonce(self, n8, what):
        n = int.from_bytes(n8, "big")
        if n <= self._recv_nonce:
            raise ZMTPError(f"CURVE: {what} nonce {n} is not above the last one ({self._recv_nonce}): "
                            "replayed or reordered", PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE)
        self._recv_nonce = n

    def encrypt_frame(self, flags, body):
        """MESSAGE command body boxing one frame: 07 'MESSAGE' nonce(8) box[flags + body]."""
        n8 = self._next_nonce()
        return MESSAGE_PREFIX + n8 + _box(bytes((flags,)) + body, self._send_prefix + n8, self._key)

    def decrypt_frame(self, body):
        """Open one MESSAGE body. Returns (flags, payload); flags keep bits 0 (MORE) and 1 (COMMAND)."""
        if len(body) < MESSAGE_MIN:
            raise ZMTPError(f"CURVE: MESSAGE of {len(body)} bytes is shorter than {MESSAGE_MIN}",
                            PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE)
        if body[:8] != MESSAGE_PREFIX:
            raise ZMTPError(f"CURVE: expected a MESSAGE, got {bytes(body[:9])!r}...",
                            PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND)
        n8 = bytes(body[8:16])
        self._take_nonce(n8, "MESSAGE")
        try:
            plain = _box_open(bytes(body[16:]), self._recv_prefix + n8, self._key)
        except CryptoError:
            raise _crypto("MESSAGE") from None
        return plain[0] & 0x03, plain[1:]

    def _unexpected(self, name):
        return ZMTPError(f"unexpected command {name!r} during the CURVE handshake "
                         f"(state {self.state.name})", PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND)


class CurveClient(_Curve):
    """The CURVE client: knows the server's long-term public key S and has its own C/c."""

    as_server = False
    _send_prefix = MESSAGE_NONCE_C
    _recv_prefix = MESSAGE_NONCE_S

    def __init__(self, public_key, secret_key, server_key):
        super().__init__()
        self._public = _check_key("CURVE_PUBLICKEY", public_key)
        self._secret = _check_key("CURVE_SECRETKEY", secret_key)
        self._server = _check_key("CURVE_SERVERKEY", server_key)
        self._cn_public, self._cn_secret = _keypair()
        self._hello_key = _beforenm(self._server, self._cn_secret)   # c' <-> S
        self._cookie = b""
        self.state = State.EXPECT_WELCOME

    def start(self):
        n8 = self._next_nonce()
        signature = _box(b"\x00" * 64, HELLO_NONCE + n8, self._hello_key)
        return [command(HELLO, b"\x01\x00" + b"\x00" * 72 + self._cn_public + n8 + signature)]

    def receive_command(self, name, data):
        state = self.state
        if name == WELCOME and state is State.EXPECT_WELCOME:
            return self._on_welcome(data), []
        if name == READY and state is State.EXPECT_READY:
            self._on_ready(data)
            return [], []
        if name == ERROR and state in (State.EXPECT_WELCOME, State.EXPECT_READY):
            reason = parse_error_command(data)
            raise HandshakeRefused(f"CURVE server refused us: ERROR {reason!r}", reason)
        raise self._unexpected(name)

    def _on_welcome(self, data):
        if len(data) != WELCOME_SIZE:
            raise ZMTPError(f"CURVE: WELCOME of {len(data) + 8} bytes, expected 168",
                            PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME)
        try:
            plain = _box_open(bytes(data[16:]), WELCOME_NONCE + bytes(data[:16]), self._hello_key)
        except CryptoError:
            # Most often: CURVE_SERVERKEY is not the server's public key.
            raise _crypto("WELCOME (is CURVE_SERVERKEY the server's public key?)") from None
        server_transient = plain[:KEY_SIZE]
        self._cookie = plain[KEY_SIZE:]
        self._key = _beforenm(server_transient, self._cn_secret)     # c' <-> S'
        vouch_nonce = os.urandom(16)
        vouch = _box(self._cn_public + self._server, VOUCH_NONCE + vouch_nonce,
                     _beforenm(server_transient, self._secret))      # c -> S'
        n8 = self._next_nonce()
        inner = self._public + vouch_nonce + vouch + encode_metadata(self.properties)
        self.state = State.EXPECT_READY
        return [command(INITIATE, self._cookie + n8 + _box(inner, INITIATE_NONCE + n8, self._key))]

    def _on_ready(self, data):
        if len(data) < 8 + MAC_SIZE:
            raise ZMTPError(f"CURVE: READY of {len(data) + 6} bytes is too short",
                            PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY)
        n8 = bytes(data[:8])
        self._take_nonce(n8, "READY")
        try:
            plain = _box_open(bytes(data[8:]), READY_NONCE + n8, self._key)
        except CryptoError:
            raise _crypto("READY") from None
        try:
            self.peer_metadata = parse_metadata(plain)
        except ZMTPError as exc:
            raise ZMTPError(f"malformed READY metadata: {exc}", exc.protocol_error)
        self._hello_key = None
        self.state = State.DONE
        self.done = True


class CurveServer(_Curve):
    """The CURVE server: has the long-term S/s; clients know S beforehand."""

    as_server = True
    _send_prefix = MESSAGE_NONCE_S
    _recv_prefix = MESSAGE_NONCE_C

    def __init__(self, secret_key):
        super().__init__()
        self._secret = _check_key("CURVE_SECRETKEY", secret_key)
        # S is what the client proved it knows (it boxed HELLO to it): derive it from s
        # rather than trust CURVE_PUBLICKEY, which libzmq's server never reads either.
        self._public = public_from_secret(self._secret)
        self._cookie_key = None
        self._client_transient = b""
        self._sn_secret = b""
        self._client_key = b""
        self.state = State.EXPECT_HELLO

    def start(self):
        return []

    def receive_command(self, name, data):
        state = self.state
        if name == HELLO and state is State.EXPECT_HELLO:
            return self._on_hello(data), []
        if name == INITIATE and state is State.EXPECT_INITIATE:
            self._on_initiate(data)
            self.state = State.WAIT_ZAP
            return [], [ZapRequest(b"CURVE", (self._client_key,))]
        raise self._unexpected(name)

    def _on_hello(self, data):
        if len(data) != HELLO_SIZE:
            raise ZMTPError(f"CURVE: HELLO of {len(data) + 6} bytes, expected 200",
                            PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO)
        if data[:2] != b"\x01\x00":
            raise ZMTPError(f"CURVE: HELLO version {data[0]}.{data[1]}, only 1.0 is supported",
                            PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO)
        client_transient = bytes(data[74:106])
        n8 = bytes(data[106:114])
        hello_key = _beforenm(client_transient, self._secret)          # s <-> C'
        try:
            _box_open(bytes(data[114:]), HELLO_NONCE + n8, hello_key)
        except CryptoError:
            # The client does not know our public key (its CURVE_SERVERKEY is wrong).
            raise _crypto("HELLO (the client's CURVE_SERVERKEY is not our public key)") from None
        self._take_nonce(n8, "HELLO")
        self._client_transient = client_transient
        sn_public, self._sn_secret = _keypair()
        self._cookie_key = os.urandom(32)
        cookie_nonce = os.urandom(16)
        cookie = cookie_nonce + _secretbox(client_transient + self._sn_secret,
                                           COOKIE_NONCE + cookie_nonce, self._cookie_key)
        welcome_nonce = os.urandom(16)
        box = _box(sn_public + cookie, WELCOME_NONCE + welcome_nonce, hello_key)
        self._key = _beforenm(client_transient, self._sn_secret)        # s' <-> C'
        self.state = State.EXPECT_INITIATE
        return [command(WELCOME, welcome_nonce + box)]

    def _on_initiate(self, data):
        if len(data) < INITIATE_MIN:
            raise ZMTPError(f"CURVE: INITIATE of {len(data) + 9} bytes is shorter than 257",
                            PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE)
        cookie = bytes(data[:COOKIE_SIZE])
        try:
            contents = _secretbox_open(cookie[16:], COOKIE_NONCE + cookie[:16], self._cookie_key)
        except CryptoError:
            raise _crypto("cookie") from None
        if not (compare_digest(contents[:KEY_SIZE], self._client_transient)
                and compare_digest(contents[KEY_SIZE:], self._sn_secret)):
            raise ZMTPError("CURVE: INITIATE carries a cookie from another handshake",
                            PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE)
        n8 = bytes(data[COOKIE_SIZE:COOKIE_SIZE + 8])
        self._take_nonce(n8, "INITIATE")
        try:
            plain = _box_open(bytes(data[COOKIE_SIZE + 8:]), INITIATE_NONCE + n8, self._key)
        except CryptoError:
            raise _crypto("INITIATE") from None
        client_key = plain[:KEY_SIZE]
        vouch_nonce = plain[KEY_SIZE:KEY_SIZE + 16]
        vouch = plain[KEY_SIZE + 16:KEY_SIZE + 16 + MAC_SIZE + 64]
        try:
            vouched = _box_open(vouch, VOUCH_NONCE + vouch_nonce, _beforenm(client_key, self._sn_secret))
        except CryptoError:
            raise _crypto("vouch") from None
        # The client proves it holds c for C and that this handshake (C') is meant for us (S).
        if not (compare_digest(vouched[:KEY_SIZE], self._client_transient)
                and compare_digest(vouched[KEY_SIZE:], self._public)):
            raise ZMTPError("CURVE: the vouch does not match this handshake",
                            PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE)
        try:
            self.peer_metadata = parse_metadata(plain[KEY_SIZE + 16 + MAC_SIZE + 64:])
        except ZMTPError as exc:
            raise ZMTPError(f"malformed INITIATE metadata: {exc}", exc.protocol_error)
        self._client_key = client_key
        self._cookie_key = None
        self._sn_secret = b""

    def zap_reply(self, status, status_text=b"", user_id=b"", metadata=None):
        if self.state is not State.WAIT_ZAP:
            raise ZMTPError("ZAP reply without a pending CURVE request")
        if status == b"200":
            self.user_id = user_id
            self.zap_metadata = metadata or {}
            n8 = self._next_nonce()
            box = _box(encode_metadata(self.properties), READY_NONCE + n8, self._key)
            self.state = State.DONE
            self.done = True
            return [command(READY, n8 + box)], []
        if status == b"300":
            raise HandshakeRefused("ZAP handler answered 300 (temporary failure)", status)
        return [error(status)], [HandshakeRefused(
            f"ZAP handler refused CURVE client key {self._client_key.hex()}: "
            f"{status.decode('ascii', 'replace')} {bytes(status_text).decode('utf-8', 'replace')}",
            status)]
