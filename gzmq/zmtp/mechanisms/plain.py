"""PLAIN security mechanism (RFC 24): a user name and password in clear text.

    C -> S  HELLO     = 05 'HELLO' username-size(1) username password-size(1) password
    S -> C  WELCOME   = 07 'WELCOME'                       (after the ZAP handler said 200)
    C -> S  INITIATE  = 08 'INITIATE' metadata
    S -> C  READY     = 05 'READY' metadata                 (or ERROR with the ZAP status)

Roles come from the local options (PLAIN_SERVER on the server, PLAIN_USERNAME/PASSWORD on
the client), never from the peer's as-server bit. The server asks ZAP (RFC 27) about every
HELLO by emitting a ZapRequest(b"PLAIN", (username, password)) and goes on in zap_reply().

libzmq >= 4.3.0 spells the ERROR command `5E 'RROR'` (a C hex-escape slip in plain_common.hpp:
"\\x05ERROR" is 0x5E 'RROR'), and its PLAIN client recognises only that form. We send that
form too, so a libzmq client reports an authentication failure (HANDSHAKE_FAILED_AUTH with
the status code) rather than a protocol error; any other peer drops the connection either
way. The codec maps a received `5E 'RROR'` to ERROR (see ZMTPConnection).

Sans-IO like every mechanism; raises ZMTPError (HandshakeRefused for refusals) only.
"""
from enum import Enum

from ...constants import (PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO,
                          PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY,
                          PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME,
                          PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND)
from ...error import ZMTPError
from ..commands import (ERROR, HELLO, INITIATE, READY, WELCOME, command, encode_metadata,
                        parse_metadata)
from ..events import ZapRequest
from ..frames import encode_command_frame
from .base import HandshakeRefused, Mechanism, parse_error_command

# What libzmq 4.3.x PLAIN servers send as the ERROR command name (see the module docstring).
LIBZMQ_ERROR_PREFIX = b"\x5eRROR"


def libzmq_plain_error(status):
    """The ERROR command frame as a libzmq 4.3.x PLAIN server sends it: 5E 'RROR' len reason."""
    status = bytes(status)[:255]
    return encode_command_frame(LIBZMQ_ERROR_PREFIX + bytes((len(status),)) + status)


class State(Enum):
    SEND_HELLO = 1        # client: HELLO not yet produced
    EXPECT_WELCOME = 2
    EXPECT_READY = 3
    EXPECT_HELLO = 4      # server
    WAIT_ZAP = 5
    EXPECT_INITIATE = 6
    DONE = 7


def _unexpected(name, state):
    return ZMTPError(f"unexpected command {name!r} during the PLAIN handshake (state {state.name})",
                     PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND)


def _refused(data):
    reason = parse_error_command(data)
    return HandshakeRefused(f"PLAIN server refused the credentials: ERROR {reason!r}", reason)


class PlainClient(Mechanism):
    """The PLAIN client: sends HELLO with the credentials, then INITIATE after WELCOME."""

    name = b"PLAIN"
    as_server = False

    def __init__(self, username=b"", password=b""):
        super().__init__()
        if len(username) > 255 or len(password) > 255:
            raise ValueError("PLAIN user name and password are at most 255 bytes each")
        self.username = bytes(username)
        self.password = bytes(password)
        self.state = State.SEND_HELLO

    def start(self):
        self.state = State.EXPECT_WELCOME
        u, p = self.username, self.password
        return [command(HELLO, bytes((len(u),)) + u + bytes((len(p),)) + p)]

    def receive_command(self, name, data):
        if name == ERROR and self.state in (State.EXPECT_WELCOME, State.EXPECT_READY):
            raise _refused(data)
        if name == WELCOME and self.state is State.EXPECT_WELCOME:
            if data:
                raise ZMTPError(f"malformed WELCOME: {len(data)} unexpected bytes",
                                PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME)
            self.state = State.EXPECT_READY
            return [command(INITIATE, encode_metadata(self.properties))], []
        if name == READY and self.state is State.EXPECT_READY:
            try:
                self.peer_metadata = parse_metadata(data)
            except ZMTPError as exc:
                raise ZMTPError(f"malformed READY: {exc}", PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY)
            self.state = State.DONE
            self.done = True
            return [], []
        raise _unexpected(name, self.state)


class PlainServer(Mechanism):
    """The PLAIN server: checks HELLO's credentials with the ZAP handler, then completes."""

    name = b"PLAIN"
    as_server = True

    def __init__(self):
        super().__init__()
        self.state = State.EXPECT_HELLO
        self.username = b""

    def start(self):
        return []

    def receive_command(self, name, data):
        if name == HELLO and self.state is State.EXPECT_HELLO:
            username, password = _parse_hello(data)
            self.username = username
            self.state = State.WAIT_ZAP
            return [], [ZapRequest(b"PLAIN", (username, password))]
        if name == INITIATE and self.state is State.EXPECT_INITIATE:
            try:
                self.peer_metadata = parse_metadata(data)
            except ZMTPError as exc:
                raise ZMTPError(f"malformed INITIATE: {exc}", exc.protocol_error)
            self.state = State.DONE
            self.done = True
            return [command(READY, encode_metadata(self.properties))], []
        raise _unexpected(name, self.state)

    def zap_reply(self, status, status_text=b"", user_id=b"", metadata=None):
        if self.state is not State.WAIT_ZAP:
            raise ZMTPError("ZAP reply without a pending PLAIN request")
        if status == b"200":
            self.user_id = user_id
            self.zap_metadata = metadata or {}
            self.state = State.EXPECT_INITIATE
            return [command(WELCOME)], []
        if status == b"300":
            # Temporary failure: libzmq just closes, without ERROR.
            raise HandshakeRefused("ZAP handler answered 300 (temporary failure)", status)
        return ([libzmq_plain_error(status)],
                [HandshakeRefused(f"ZAP handler refused PLAIN user {self.username!r}: "
                                  f"{status.decode('ascii', 'replace')} "
                                  f"{bytes(status_text).decode('utf-8', 'replace')}", status)])


def _parse_hello(data):
    """HELLO data = username-size username password-size password, nothing after."""
    n = len(data)
    if n < 1 or n < 1 + data[0] + 1:
        raise ZMTPError("malformed HELLO: user name truncated", PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO)
    ulen = data[0]
    username = bytes(data[1:1 + ulen])
    pos = 1 + ulen
    plen = data[pos]
    pos += 1
    if pos + plen != n:
        raise ZMTPError(f"malformed HELLO: password of {plen} bytes declared, {n - pos} present",
                        PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO)
    return username, bytes(data[pos:])
