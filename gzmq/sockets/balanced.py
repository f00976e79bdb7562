"""The wiring of socket types that round-robin messages out through a LoadBalancer and
fair-queue them in through a FairQueue, with no envelope and no direct routes (CLIENT, DGRAM):
the pipe events and readiness, written once."""
from ..routing.fair_queue import FairQueue
from ..routing.load_balance import LoadBalancer


class BalancedQueues:
    def _init_routing(self):
        self._lb = LoadBalancer()
        self._fq = FairQueue()
        self._xsend = self._lb.send
        self._xrecv = self._fq.recv

    def _xattach(self, pipe):
        self._lb.attach(pipe)
        self._fq.attach(pipe)

    def _xdetach(self, pipe):
        self._lb.detach(pipe)
        self._fq.detach(pipe)

    def _xreadable(self, pipe):
        self._fq.activate(pipe)

    def _xwritable(self, pipe):
        self._lb.activate(pipe)

    def _xhas_in(self):
        return self._fq.has_in()

    def _xhas_out(self):
        return self._lb.can_send()

    def _last_pipe(self):
        return self._fq.last
