"""CLIENT and SERVER (RFC 41), PEER and CHANNEL (libzmq draft): single-frame messaging.

CLIENT round-robins each message to its SERVER peers and fair-queues replies, like a DEALER
that only takes one frame. SERVER gives every peer a 32-bit routing id (libzmq: a counter
that starts at a random value and skips 0) which recv(copy=False) reports as
Frame.routing_id and send(..., routing_id=) uses to pick the peer: an unknown id is
EHOSTUNREACH, a peer at SNDHWM blocks (or Again). PEER is SERVER towards other PEERs, and
connect_peer(endpoint) returns the routing id of the peer it connects to. CHANNEL is PAIR with
single-frame messages. Multipart rules: gzmq.sockets.single.
"""
import random

from ..constants import Errno, SocketOption, SocketType
from ..error import ZMQError
from ..routing.fair_queue import FairQueue
from .balanced import BalancedQueues
from .base import SocketBase
from .single import SinglePart, one_frame

O = SocketOption


class Server(SinglePart, SocketBase):
    """SERVER: replies to whichever CLIENT the routing id names."""

    _type = SocketType.SERVER
    _peer_types = frozenset({"CLIENT"})

    def _init_routing(self):
        self._fq = FairQueue()
        self._by_id = {}
        self._next_id = random.getrandbits(32)
        self._out_rid = None
        self._in_rid = None
        self._xrecv = one_frame(self._fq.recv)

    def _new_id(self):
        while True:
            rid = self._next_id
            self._next_id = (rid + 1) & 0xFFFFFFFF
            if rid and rid not in self._by_id:
                return rid

    def _xattach(self, pipe):
        pipe.routing_id = rid = self._new_id()
        self._by_id[rid] = pipe
        self._fq.attach(pipe)

    def _xdetach(self, pipe):
        self._fq.detach(pipe)
        if self._by_id.get(pipe.routing_id) is pipe:
            del self._by_id[pipe.routing_id]

    def _xreadable(self, pipe):
        self._fq.activate(pipe)

    def _outgoing(self, routing_id, group):
        self._out_rid = routing_id

    def _xsend(self, msg):
        rid = self._out_rid
        pipe = self._by_id.get(rid) if rid is not None else None
        if pipe is None or not pipe.alive:
            raise ZMQError(Errno.EHOSTUNREACH, f"{self._type_name}: no peer with routing id {rid!r}")
        return pipe.write(msg)      # False at SNDHWM: send() waits, or raises Again

    def _xhas_in(self):
        return self._fq.has_in()

    def _xhas_out(self):
        return True

    def _last_pipe(self):
        return self._fq.last

    def _label(self, frame):
        pipe = self._fq.last
        if pipe is not None:
            frame.routing_id = pipe.routing_id


class Peer(Server):
    """PEER: a SERVER whose peers are PEERs; connect_peer() says which routing id it got."""

    _type = SocketType.PEER
    _peer_types = frozenset({"PEER"})

    def connect_peer(self, addr):
        """Connect to `addr` and return the new peer's routing id (libzmq zmq_connect_peer).
        IMMEDIATE would leave no pipe to name yet: EFAULT, as libzmq."""
        if self._options[O.IMMEDIATE]:
            raise ZMQError(Errno.EFAULT, "connect_peer cannot be used with IMMEDIATE")
        before = set(self._by_id)
        self.connect(addr)
        fresh = [rid for rid in self._by_id if rid not in before]
        if not fresh:
            raise ZMQError(Errno.EFAULT, f"{addr}: connect_peer made no pipe")
        return fresh[-1]


class Client(SinglePart, BalancedQueues, SocketBase):
    """CLIENT: round-robin out, fair-queued in, one frame per message."""

    _type = SocketType.CLIENT
    _peer_types = frozenset({"SERVER"})

    def _init_routing(self):
        super()._init_routing()
        self._xrecv = one_frame(self._fq.recv)


class Channel(Client):
    """CHANNEL: PAIR's exclusive peer with CLIENT's single-frame rules."""

    _type = SocketType.CHANNEL
    _peer_types = frozenset({"CHANNEL"})

    def _init_routing(self):
        super()._init_routing()
        self._pair = None

    def _xattach(self, pipe):
        if self._pair is None:
            self._pair = pipe
            super()._xattach(pipe)

    def _xready(self, pipe):
        if self._pair is None:
            self._xattach(pipe)
        return pipe is self._pair

    def _xdetach(self, pipe):
        if pipe is self._pair:
            self._pair = None
            super()._xdetach(pipe)

    def _xreadable(self, pipe):
        if pipe is self._pair:
            super()._xreadable(pipe)

    def _xwritable(self, pipe):
        if pipe is self._pair:
            super()._xwritable(pipe)
