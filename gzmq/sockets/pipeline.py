"""PUSH and PULL (RFC 30, the old DOWNSTREAM/UPSTREAM): a one-way pipeline.

PUSH round-robins each message to the next PULL peer with room and blocks when all are at
SNDHWM; PULL fair-queues from all PUSH peers.
"""
from ..constants import SocketType
from ..routing.fair_queue import FairQueue
from ..routing.load_balance import LoadBalancer
from .base import SocketBase
from .direct import DirectRoutes


class Push(DirectRoutes, SocketBase):
    """PUSH: round-robin to PULL peers, blocks at HWM, never receives."""

    _type = SocketType.PUSH
    _peer_types = frozenset({"PULL"})
    _can_recv = False

    def _init_routing(self):
        self._lb = LoadBalancer()
        self._route()

    def _xattach(self, pipe):
        self._lb.attach(pipe)
        self._route()

    def _xdetach(self, pipe):
        self._lb.detach(pipe)
        self._route()

    def _xhas_out(self):
        return self._lb.can_send()

    def _xwritable(self, pipe):
        self._lb.activate(pipe)
        self._route()


class Pull(DirectRoutes, SocketBase):
    """PULL: fair-queues messages from PUSH peers, never sends."""

    _type = SocketType.PULL
    _peer_types = frozenset({"PUSH"})
    _can_send = False

    def _init_routing(self):
        self._fq = FairQueue()
        self._route()

    def _xattach(self, pipe):
        self._fq.attach(pipe)
        self._route()

    def _xdetach(self, pipe):
        self._fq.detach(pipe)
        self._route()

    def _last_pipe(self):
        return self._fq.last

    def _xhas_in(self):
        return self._fq.has_in()

    def _xreadable(self, pipe):
        self._fq.activate(pipe)
        self._route()
