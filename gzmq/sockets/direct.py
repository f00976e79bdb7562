"""Direct routes: socket types whose sending is their LoadBalancer's send() and whose
receiving is their FairQueue's recv() bind those as _xsend/_xrecv themselves (an instance
attribute: one Python call less per message), and with one peer, the common case, bind that
peer's pipe.write()/pipe.read() instead (one more call less). _route() chooses again after
every attach, detach and activation, which is when the choice can change.

A type whose _xsend/_xrecv add envelope rules (REQ, ROUTER...) does not use this.
"""


class DirectRoutes:
    _lb = None      # the type's LoadBalancer, if it sends
    _fq = None      # its FairQueue, if it receives
    _direct = True  # (a subclass that adds envelope rules turns the routes off)

    def _route(self):
        lb = self._lb
        if lb is not None:
            active = lb.active
            self._xsend = active[0].write if len(active) == 1 else lb.send
        fq = self._fq
        if fq is not None:
            if len(fq.active) == 1:
                fq.last = fq.active[0]
                self._xrecv = fq.last.read
            else:
                self._xrecv = fq.recv
