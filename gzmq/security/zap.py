"""The ZAP client (RFC 27): a server-side handshake asks the handler whether to admit a peer.

The handler is whatever socket the application bound at inproc://zeromq.zap.01 in the same
Context (a REP, or a ROUTER that keeps the envelope), e.g. gzmq.auth.GreenletAuthenticator.
One request per handshake, sent exactly as libzmq sends it (ZMTP.md §10):

    "" | "1.0" | "1" | domain | address | identity | mechanism | credentials...

request-id is always "1" and identity is the *server socket's own* ROUTING_ID (libzmq's
choice, which pyzmq's authenticator and libzmq's tests rely on); address is the peer's IP
for tcp and "localhost:UID:GID:PID" (its SO_PEERCRED credentials) for ipc, as libzmq sends.

libzmq gives each connection its own pipe to the handler, so replies cannot be mixed up
although every request says "1". We keep that property: the requests go out over DEALER
sockets of our own (per Context and thread, created lazily, kept in a small pool), each
carrying at most one outstanding request, so any number of handshakes may wait at once and
a ROUTER handler sees one peer per waiting handshake, as with libzmq. A request abandoned
midway (the connection died) closes its DEALER instead of returning it to the pool, so a
late reply can never be taken for another connection's answer.

No handler bound (libzmq 4.3.5): PLAIN is refused (the connection closes after HELLO), CURVE
and NULL are admitted ("Stonehouse"), unless ZAP_ENFORCE_DOMAIN is set. The reply is checked
as libzmq checks it (7 frames, version "1.0", request-id "1", status 200/300/400/500, valid
metadata); a malformed reply drops the connection with HANDSHAKE_FAILED_PROTOCOL.

zap_request() runs in the session's ZAP greenlet (Session._ask_zap) and blocks cooperatively.
"""
import errno
import logging
import socket as _stdsocket
import struct

from ..constants import (Event, PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID, PROTOCOL_ERROR_ZAP_BAD_VERSION,
                         PROTOCOL_ERROR_ZAP_INVALID_METADATA, PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE,
                         PROTOCOL_ERROR_ZAP_MALFORMED_REPLY, SocketOption, SocketType)
from ..engine.wait import thread_ident
from ..error import ZMTPError
from ..socket import Socket
from ..zmtp.commands import parse_metadata

log = logging.getLogger("gzmq")

O = SocketOption
ZAP_NAME = "zeromq.zap.01"
ZAP_ENDPOINT = "inproc://" + ZAP_NAME
VERSION = b"1.0"
REQUEST_ID = b"1"
STATUS_CODES = frozenset({b"200", b"300", b"400", b"500"})
_UCRED = struct.Struct("3i")   # struct ucred: pid, uid, gid



class ZapReplyError(ZMTPError):
    """The ZAP handler's reply broke RFC 27; `protocol_error` is libzmq's ZAP_* code."""


class _ZapSocket(Socket):
    """A DEALER carrying ZAP requests. It closes itself when its Context terminates, so
    Context.term() never waits for sockets the application did not create."""

    _zap_handler = None   # the handler socket this DEALER is connected to
    _internal = True

    def _notify_term(self):
        super()._notify_term()
        self._mailbox.call(self.close, 0)   # (term() may run on another thread)


def handler_socket(context):
    """The socket bound at inproc://zeromq.zap.01 in `context`, or None."""
    handler = context._inproc.get(ZAP_NAME)
    if handler is None or handler.closed:
        return None
    return handler


def zap_request(socket, session, request):
    """Ask the ZAP handler about one handshake; returns (status, status_text, user_id, metadata).

    socket: the server-side socket; session: the connection (its peer_address is sent);
    request: the mechanism's ZapRequest. Raises ZMTPError when there is no handler and the
    mechanism requires one, or when the reply is malformed (after emitting libzmq's monitor
    event); the caller drops the connection.
    """
    o = socket._options
    context = socket.context
    handler = handler_socket(context)
    mechanism = request.mechanism
    if handler is None:
        if mechanism == b"PLAIN" or o[O.ZAP_ENFORCE_DOMAIN]:
            socket.monitor_event(Event.HANDSHAKE_FAILED_NO_DETAIL, errno.EFAULT, session.endpoint)
            raise ZMTPError(f"{mechanism.decode()} handshake needs a ZAP handler at {ZAP_ENDPOINT}, "
                            "and none is bound")
        return b"200", b"", b"", {}
    address = (session.peer_address or _ipc_peer(session.sock)).encode("utf-8")
    frames = [b"", VERSION, REQUEST_ID, o[O.ZAP_DOMAIN], address, o[O.ROUTING_ID], mechanism]
    frames.extend(request.credentials)
    client = _checkout(context, handler)
    answered = False
    try:
        client.send_multipart(frames)
        reply = client.recv_multipart()
        answered = True
    finally:
        if answered:
            _idle_clients(context).append(client)
        else:
            client.close(linger=0)
    try:
        return parse_reply(reply)
    except ZapReplyError as exc:
        socket.monitor_event(Event.HANDSHAKE_FAILED_PROTOCOL, exc.protocol_error, session.endpoint)
        raise


def _ipc_peer(sock):
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


def _idle_clients(context):
    """This thread's idle ZAP DEALERs of `context` (sockets belong to one thread's hub)."""
    pools = getattr(context, "_zap_clients", None)
    if pools is None:
        pools = context._zap_clients = {}
    return pools.setdefault(thread_ident(), [])


def _checkout(context, handler):
    """An idle DEALER connected to the current handler (a fresh one if none is idle)."""
    idle = _idle_clients(context)
    while idle:
        client = idle.pop()
        if not client.closed and client._zap_handler is handler:
            return client
        # The handler was unbound (authenticator stopped) or replaced since: start afresh.
        client.close(linger=0)
    client = context.socket(SocketType.DEALER, socket_class=_ZapSocket)
    client.setsockopt(O.LINGER, 0)
    client._zap_handler = handler
    client.connect(ZAP_ENDPOINT)
    return client


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
