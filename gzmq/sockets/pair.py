"""PAIR (RFC 31): exclusive pair; one peer at a time, both directions."""
from ..constants import SocketType
from ..routing.fair_queue import FairQueue
from ..routing.load_balance import LoadBalancer
from .base import SocketBase
from .direct import DirectRoutes


class Pair(DirectRoutes, SocketBase):
    _type = SocketType.PAIR
    _peer_types = frozenset({"PAIR"})

    def _init_routing(self):
        self._lb = LoadBalancer()
        self._fq = FairQueue()
        self._pair = None
        self._route()

    def _xattach(self, pipe):
        # libzmq terminates any pipe beyond the first; a connect-side pipe claims the slot early.
        if self._pair is None:
            self._pair = pipe
            self._lb.attach(pipe)
            self._fq.attach(pipe)
            self._route()

    def _xready(self, pipe):
        if self._pair is None:
            self._xattach(pipe)
        return pipe is self._pair

    def _xdetach(self, pipe):
        if pipe is self._pair:
            self._pair = None
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
        if pipe is self._pair:
            self._fq.activate(pipe)
            self._route()

    def _xwritable(self, pipe):
        if pipe is self._pair:
            self._lb.activate(pipe)
            self._route()
