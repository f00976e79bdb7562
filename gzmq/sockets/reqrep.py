"""REQ, REP, DEALER, ROUTER (RFC 28): request-reply and its asynchronous building blocks.

Envelopes follow libzmq: REQ prefixes an empty delimiter frame (and, with REQ_CORRELATE, a
4-byte request id before it); REP strips everything up to and including the first empty
frame, keeps it, and puts it back in front of the reply; ROUTER prefixes each received
message with the sending peer's routing id and uses the first frame of each sent message to
pick the peer.
"""
import random

from ..constants import Errno, SocketOption, SocketType
from ..error import ZMQError, ZMTPError
from ..message import Frame
from ..routing.fair_queue import FairQueue
from ..routing.identity import RoutingIds
from ..routing.load_balance import LoadBalancer
from .base import SNDMORE, SocketBase
from .direct import DirectRoutes

O = SocketOption

# Options read per message are module constants: an enum member looked up on its class
# costs about 0.1 us each time (CPython 3.11), more than the rest of the check.
REQ_CORRELATE = O.REQ_CORRELATE
REQ_RELAXED = O.REQ_RELAXED
ROUTER_MANDATORY = O.ROUTER_MANDATORY


class Dealer(DirectRoutes, SocketBase):
    """DEALER: round-robin sending, fair-queued receiving, no envelope changes."""

    _type = SocketType.DEALER
    _peer_types = frozenset({"REP", "DEALER", "ROUTER"})

    def _init_routing(self):
        self._lb = LoadBalancer()
        self._fq = FairQueue()
        self._route()

    def _xattach(self, pipe):
        self._lb.attach(pipe)
        self._fq.attach(pipe)
        self._route()

    def _xready(self, pipe):
        if self._options[O.PROBE_ROUTER]:
            pipe.write_control([b""])
        return True

    def _xdetach(self, pipe):
        self._lb.detach(pipe)
        self._fq.detach(pipe)
        self._route()

    def _last_pipe(self):
        return self._fq.last

    def _xhas_in(self):
        return self._fq.has_in()

    def _xhas_out(self):
        return self._lb.can_send()

    def _xreadable(self, pipe):
        self._fq.activate(pipe)
        if self._direct:
            self._route()

    def _xwritable(self, pipe):
        self._lb.activate(pipe)
        if self._direct:
            self._route()


class Req(Dealer):
    """REQ: strict send/recv alternation (EFSM otherwise), one outstanding request, and only
    the reply from the peer the request went to is accepted."""

    _type = SocketType.REQ
    _peer_types = frozenset({"REP", "ROUTER"})

    _direct = False     # REQ's send and recv add the envelope: no direct routes

    def _route(self):
        pass

    def _init_routing(self):
        super()._init_routing()
        self._expect_reply = False
        self._reply_pipe = None
        self._request_id = random.getrandbits(32)

    def _xready(self, pipe):
        return True

    def _reply_check(self):
        # Applied by the session as each reply arrives (libzmq's req_session_t).
        return _check_correlated_reply if self._options[REQ_CORRELATE] else _check_reply

    def _xsend(self, msg):
        if self._expect_reply:
            if not self._options[REQ_RELAXED]:
                raise ZMQError(Errno.EFSM, "REQ socket must recv the reply before sending again")
            # Relaxed: a new request supersedes the old one; its reply will be discarded.
            self._expect_reply = False
            self._reply_pipe = None
        if self._options[REQ_CORRELATE]:
            self._request_id = (self._request_id + 1) & 0xFFFFFFFF
            frames = [self._request_id.to_bytes(4, "little"), b""]
        else:
            frames = [b""]
        frames.extend(msg)
        pipe = self._lb.send(frames)
        if pipe is None:
            return False
        # Eat every reply already queued (libzmq req_t::xsend): a stale answer to an earlier
        # request, or an unsolicited one, must not pass for the reply to this one.
        fq = self._fq
        while fq.recv() is not None:
            pass
        self._reply_pipe = pipe
        self._expect_reply = True
        return True

    def _xrecv(self):
        if not self._expect_reply:
            raise ZMQError(Errno.EFSM, "REQ socket must send a request before receiving")
        fq = self._fq
        correlate = self._options[REQ_CORRELATE]
        while True:
            msg = fq.recv()
            if msg is None:
                return None
            pipe = fq.last
            if pipe is not self._reply_pipe:
                continue  # a stale reply from a peer we no longer wait for
            if correlate:
                if len(msg) < 3 or msg[1] != b"" or msg[0] != self._request_id.to_bytes(4, "little"):
                    continue
                body = msg[2:]
            else:
                if len(msg) < 2 or msg[0] != b"":
                    continue  # (tcp/ipc sessions already dropped such peers; inproc lands here)
                body = msg[1:]
            self._expect_reply = False
            self._reply_pipe = None
            return body

    def _xhas_in(self):
        return self._expect_reply and self._fq.has_in()

    def _xhas_out(self):
        return (not self._expect_reply or bool(self._options[REQ_RELAXED])) and self._lb.can_send()

    def _xhiccup(self, pipe):
        # The request in flight on a dropped connection cannot be answered any more; libzmq
        # lets the app wait (lazy pirate), REQ_RELAXED lets it send a new request.
        pass


def _check_reply(msg):
    """A reply without the empty delimiter is a protocol error that drops the connection,
    with no reconnect (libzmq's req_session_t)."""
    if len(msg) < 2 or msg[0] != b"":
        raise ZMTPError("REQ: reply without an empty delimiter frame")


def _check_correlated_reply(msg):
    """REQ_CORRELATE: the 4-byte request id, then the empty delimiter."""
    if len(msg) < 3 or len(msg[0]) != 4 or msg[1] != b"":
        raise ZMTPError("REQ: reply without request id and empty delimiter frames")


class Rep(SocketBase):
    """REP: receive a request (envelope saved), then send exactly one reply to its sender."""

    _type = SocketType.REP
    _peer_types = frozenset({"REQ", "DEALER"})

    def _init_routing(self):
        self._fq = FairQueue()
        self._sending = False
        self._envelope = None
        self._reply_pipe = None

    def _xattach(self, pipe):
        self._fq.attach(pipe)

    def _xdetach(self, pipe):
        self._fq.detach(pipe)
        if pipe is self._reply_pipe:
            self._reply_pipe = None

    def _xreadable(self, pipe):
        self._fq.activate(pipe)

    def _xrecv(self):
        if self._sending:
            raise ZMQError(Errno.EFSM, "REP socket must send the reply before receiving again")
        fq = self._fq
        while True:
            msg = fq.recv()
            if msg is None:
                return None
            for i, frame in enumerate(msg):
                if not len(frame):
                    break
            else:
                continue  # no delimiter: libzmq drops the request, the connection stays
            body = msg[i + 1:]
            if not body:
                continue
            self._envelope = msg[:i + 1]
            self._reply_pipe = fq.last
            self._sending = True
            return body

    def _last_pipe(self):
        return self._fq.last

    def _xsend(self, msg):
        if not self._sending:
            raise ZMQError(Errno.EFSM, "REP socket must recv a request before sending")
        pipe = self._reply_pipe
        reply = self._envelope + msg
        self._sending = False
        self._envelope = None
        self._reply_pipe = None
        if pipe is not None and pipe.alive:
            pipe.write(reply)      # a full peer loses the reply, as in libzmq
        return True

    def _xhas_in(self):
        return not self._sending and self._fq.has_in()

    def _xhas_out(self):
        return self._sending


class Router(SocketBase):
    """ROUTER: every message in and out carries the peer's routing id as its first frame."""

    _type = SocketType.ROUTER
    _peer_types = frozenset({"REQ", "DEALER", "ROUTER"})

    def _init_routing(self):
        self._fq = FairQueue()
        self._ids = RoutingIds()

    def _xattach(self, pipe):
        if pipe.connect_side and pipe.routing_id is None:
            rid = self._options[O.CONNECT_ROUTING_ID]
            if rid:
                # CONNECT_ROUTING_ID names the next outgoing connection only (libzmq).
                self._options[O.CONNECT_ROUTING_ID] = b""
                if self._ids.get(rid) is not None:
                    raise ZMQError(Errno.EINVAL, f"CONNECT_ROUTING_ID {rid!r} is already in use")
                pipe.routing_id = rid
                self._ids.add(rid, pipe)
        self._fq.attach(pipe)

    def _xready(self, pipe):
        if pipe.routing_id is None:
            rid = pipe.metadata.get("identity", b"")
            if rid:
                other = self._ids.get(rid)
                if other is not None and other is not pipe:
                    if not self._options[O.ROUTER_HANDOVER]:
                        # libzmq keeps the newcomer but ignores it: its messages vanish.
                        self._fq.detach(pipe)
                        pipe.user = "duplicate-id"
                        return True
                    # Handover: the new connection takes the id, the old one is dropped.
                    self._ids.remove(other)
                    other.routing_id = None
                    self._drop_pipe(other)
            else:
                rid = self._ids.auto_id()
            pipe.routing_id = rid
            self._ids.add(rid, pipe)
        if self._options[O.PROBE_ROUTER]:
            pipe.write_control([b""])
        return True

    def _xdetach(self, pipe):
        self._fq.detach(pipe)
        self._ids.remove(pipe)

    def _xreadable(self, pipe):
        if pipe.user != "duplicate-id":
            self._fq.activate(pipe)

    def _xrecv(self):
        fq = self._fq
        msg = fq.recv()
        if msg is None:
            return None
        rid = fq.last.routing_id
        if rid is None:
            # A message before the handshake named the peer cannot happen over ZMTP; over
            # inproc ids are set at attach. Defensive: give it an id now.
            rid = fq.last.routing_id = self._ids.auto_id()
            self._ids.add(rid, fq.last)
        return [rid] + msg

    def _last_pipe(self):
        return self._fq.last

    def _xsend(self, msg):
        if len(msg) < 2:
            return True  # only a routing id: nothing to deliver
        pipe = self._ids.by_id.get(msg[0] if type(msg[0]) is bytes else bytes(msg[0]))
        if pipe is None or not pipe.alive or not pipe.ready:
            if self._options[ROUTER_MANDATORY]:
                raise ZMQError(Errno.EHOSTUNREACH, f"ROUTER: no peer with routing id {bytes(msg[0])!r}")
            return True  # unroutable: dropped silently, as libzmq
        if pipe.write(msg[1:]):
            return True
        # Full: ROUTER_MANDATORY waits (the pipe wakes us when it drains), otherwise dropped.
        return not self._options[ROUTER_MANDATORY]

    def _xhas_in(self):
        return self._fq.has_in()

    def _xhas_out(self):
        if not self._options[ROUTER_MANDATORY]:
            return True
        return any(p.check_write() for p in list(self._ids.by_id.values()))

    def send(self, data, flags=0, copy=True, track=False, routing_id=None, group=None):
        # libzmq checks the routing id frame as it is sent: with ROUTER_MANDATORY an unknown
        # peer is EHOSTUNREACH right there, not at the last frame (nor a wait for POLLOUT).
        if flags & SNDMORE and not self._snd_parts and self._options[ROUTER_MANDATORY]:
            self._check_open()
            rid = data.bytes if isinstance(data, Frame) else bytes(data)
            pipe = self._ids.by_id.get(rid)
            if pipe is None or not pipe.alive or not pipe.ready:
                raise ZMQError(Errno.EHOSTUNREACH, f"ROUTER: no peer with routing id {rid!r}")
        return super().send(data, flags, copy, track, routing_id, group)

    def _wait_writable_start(self, flags):
        # The id frame never waits: whether the message can go depends on which peer it names,
        # so a full peer blocks (or raises Again) when the last frame is sent, as in libzmq.
        pass
