"""A session's ZAP exchange (RFC 27), as libzmq's session does it: a pipe of its own to the
handler socket bound at inproc://zeromq.zap.01 in the socket's Context.

The request and the checks on the reply are gzmq.security.zap (sans-IO). Here the session's
ZAP greenlet joins a fresh pipe pair to the handler (the handler takes its end on its own
thread, through its mailbox, like an inproc peer called DEALER), writes the request, waits
for the reply on its end and lets the pipe go. The handshake timer (HANDSHAKE_IVL) bounds the
wait: a handler that never answers costs that one connection.
"""
from gevent.event import Event

from ..constants import Errno, Event as MonitorEvent
from ..error import ZMTPError
from ..security import zap
from .pipe import pipe_pair

HANDLER_METADATA = {"socket-type": b"DEALER", "identity": b"", "peer-address": b""}


class ZapExchange:
    """Our end's sink: woken when the reply (or the handler's end of the pipe) goes."""

    def __init__(self):
        self.changed = Event()
        self.gone = False

    def read_activated(self, end):
        self.changed.set()

    def write_activated(self, end):
        pass

    def hiccuped(self, end):
        pass

    def pipe_terminated(self, end):
        self.gone = True
        self.changed.set()


def ask(session, request):
    """Ask the handler about one handshake; returns (status, status text, user id, metadata).

    Raises ZMTPError when no handler is bound and the mechanism needs one, when the handler
    goes away, or when its reply is malformed (after reporting libzmq's monitor event); the
    caller drops the connection."""
    host = session.host
    options = session.options
    handler = host.context._inproc_socket(zap.ZAP_NAME)
    if handler is None:
        if zap.needs_handler(options, request.mechanism):
            host.monitor_event(MonitorEvent.HANDSHAKE_FAILED_NO_DETAIL, Errno.EFAULT, session.endpoint)
            raise ZMTPError(f"{request.mechanism.decode()} handshake needs a ZAP handler at "
                            f"{zap.ZAP_ENDPOINT}, and none is bound")
        return zap.ADMITTED
    address = session.peer_address or zap.ipc_peer(session.sock)
    exchange = ZapExchange()
    ours, theirs = pipe_pair(exchange, host.io, handler, handler.mailbox, 0, 0, zap.ZAP_ENDPOINT)
    theirs.metadata = dict(HANDLER_METADATA)
    theirs.inproc_peer = ours
    handler.mailbox.call(_take, handler, theirs)
    try:
        ours.write(zap.request_frames(options, address, request))
        while True:
            exchange.changed.clear()
            reply = ours.read()
            if reply is not None:
                break
            if exchange.gone:
                raise ZMTPError("the ZAP handler went away before it answered")
            exchange.changed.wait()
    finally:
        ours.terminate()        # the handler's end leaves it
    try:
        return zap.parse_reply(reply)
    except zap.ZapReplyError as exc:
        host.monitor_event(MonitorEvent.HANDSHAKE_FAILED_PROTOCOL, exc.protocol_error, session.endpoint)
        raise


def _take(handler, pipe):
    handler.attach_pipe(pipe)
    handler.pipe_ready(pipe)
