"""ZAP (RFC 27), sans-IO: the request a server-side handshake sends to the ZAP handler, and
the checks its reply must pass.

The handler is whatever socket the application bound at inproc://zeromq.zap.01 in the same
Context (a REP, or a ROUTER that keeps the envelope), e.g. gzmq.auth.GreenletAuthenticator.
One request per handshake, sent exactly as libzmq sends it (ZMTP.md §10):

    "" | "1.0" | "1" | domain | address | identity | mechanism | credentials...

request-id is always "1" and identity is the *server socket's own* ROUTING_ID (libzmq's
choice, which pyzmq's authenticator and libzmq's tests rely on); address is the peer's IP
for tcp and "localhost:UID:GID:PID" (its SO_PEERCRED credentials) for ipc, as libzmq sends.

The exchange itself is the engine's (gzmq.engine.zap): like libzmq's session, each
handshake opens a pipe of its own to the handler socket, so replies cannot be mixed up
although every request says "1", and a ROUTER handler sees one peer per waiting handshake.

No handler bound (libzmq 4.3.5): PLAIN is refused (the connection closes after HELLO), CURVE
and NULL are admitted ("Stonehouse"), unless ZAP_ENFORCE_DOMAIN is set. The reply is checked
as libzmq checks it (7 frames, version "1.0", request-id "1", status 200/300/400/500, valid
metadata); a malformed reply drops the connection with HANDSHAKE_FAILED_PROTOCOL.
"""
import socket as _stdsocket
import struct

from ..constants import (PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID, PROTOCOL_ERROR_ZAP_BAD_VERSION,
                         PROTOCOL_ERROR_ZAP_INVALID_METADATA, PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE,
                         PROTOCOL_ERROR_ZAP_MALFORMED_REPLY, SocketOption)
from ..error import ZMTPError
from ..zmtp.commands import parse_metadata

O = SocketOption
ZAP_NAME = "zeromq.zap.01"
ZAP_ENDPOINT = "inproc://" + ZAP_NAME
VERSION = b"1.0"
REQUEST_ID = b"1"
STATUS_CODES = frozenset({b"200", b"300", b"400", b"500"})
_UCRED = struct.Struct("3i")   # struct ucred: pid, uid, gid
ADMITTED: "tuple[bytes, bytes, bytes, dict[str, bytes]]" = (b"200", b"", b"", {})


class ZapReplyError(ZMTPError):
    """The ZAP handler's reply broke RFC 27; `protocol_error` is libzmq's ZAP_* code."""


def needs_handler(options, mechanism):
    """With no handler bound: must the handshake fail (PLAIN, or ZAP_ENFORCE_DOMAIN), or is
    the peer admitted (libzmq 4.3.5)?"""
    return mechanism == b"PLAIN" or bool(options.values[O.ZAP_ENFORCE_DOMAIN])


def request_frames(options, address, request):
    """The request for one handshake: options are the server socket's (EngineOptions),
    address the peer's (see module docstring), request the mechanism's ZapRequest."""
    o = options.values
    frames = [b"", VERSION, REQUEST_ID, o[O.ZAP_DOMAIN], address.encode("utf-8"),
              o[O.ROUTING_ID], request.mechanism]
    frames.extend(request.credentials)
    return frames


def ipc_peer(sock):
    """libzmq's ZAP address for an ipc peer: "localhost:UID:GID:PID" from SO_PEERCRED (Linux;
    measured on libzmq 4.3.5). "" where the credentials are not available."""
    try:
        if sock.family != _stdsocket.AF_UNIX:
            return ""
        creds = sock.getsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_PEERCRED, _UCRED.size)
    except (AttributeError, OSError):
        return ""
    pid, uid, gid = _UCRED.unpack(creds)
    return f"localhost:{uid}:{gid}:{pid}"


def parse_reply(reply):
    """Check a ZAP reply (with its empty delimiter) as libzmq does; return its 4 useful parts."""
    if len(reply) != 7 or reply[0]:
        raise ZapReplyError(f"malformed ZAP reply: {len(reply)} frames, expected 7 starting with an "
                            "empty delimiter", PROTOCOL_ERROR_ZAP_MALFORMED_REPLY)
    _, version, request_id, status, status_text, user_id, metadata = (bytes(f) for f in reply)
    if version != VERSION:
        raise ZapReplyError(f"ZAP reply version {version!r}, expected b'1.0'", PROTOCOL_ERROR_ZAP_BAD_VERSION)
    if request_id != REQUEST_ID:
        raise ZapReplyError(f"ZAP reply request-id {request_id!r}, expected b'1'",
                            PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID)
    if status not in STATUS_CODES:
        raise ZapReplyError(f"ZAP reply status {status!r} is not 200, 300, 400 or 500",
                            PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE)
    try:
        props = parse_metadata(metadata)
    except ZMTPError as exc:
        raise ZapReplyError(f"ZAP reply metadata: {exc}", PROTOCOL_ERROR_ZAP_INVALID_METADATA) from None
    return status, status_text, user_id, props
