"""SCATTER and GATHER (libzmq draft): PUSH and PULL with single-frame messages.

SCATTER round-robins each message to the next GATHER with room and blocks at SNDHWM; GATHER
fair-queues from its SCATTERs and drops multipart messages. Multipart rules:
gzmq.sockets.single.
"""
from ..constants import SocketType
from ..routing.fair_queue import FairQueue
from ..routing.load_balance import LoadBalancer
from .base import SocketBase
from .single import SinglePart, one_frame


class Scatter(SinglePart, SocketBase):
    _type = SocketType.SCATTER
    _peer_types = frozenset({"GATHER"})
    _can_recv = False

    def _init_routing(self):
        self._lb = LoadBalancer()
        self._xsend = self._lb.send

    def _xattach(self, pipe):
        self._lb.attach(pipe)

    def _xdetach(self, pipe):
        self._lb.detach(pipe)

    def _xwritable(self, pipe):
        self._lb.activate(pipe)

    def _xhas_out(self):
        return self._lb.can_send()


class Gather(SinglePart, SocketBase):
    _type = SocketType.GATHER
    _peer_types = frozenset({"SCATTER"})
    _can_send = False

    def _init_routing(self):
        self._fq = FairQueue()
        self._xrecv = one_frame(self._fq.recv)

    def _xattach(self, pipe):
        self._fq.attach(pipe)

    def _xdetach(self, pipe):
        self._fq.detach(pipe)

    def _xreadable(self, pipe):
        self._fq.activate(pipe)

    def _xhas_in(self):
        return self._fq.has_in()

    def _last_pipe(self):
        return self._fq.last
