"""What a socket type overrides: the routing hooks SocketBase calls (libzmq's socket_base_t
virtuals xattach_pipe, xsend, xrecv, xhas_in, xhas_out, xread_activated, xwrite_activated,
xpipe_terminated, xhiccuped). The defaults here are those of a socket that neither sends nor
receives; a socket type (gzmq/sockets/pipeline.py, reqrep.py, ...) binds a routing strategy
(gzmq.routing) to the ones it needs, or gzmq.sockets.direct does it for the simple ones.

    _init_routing()         set up LoadBalancer / FairQueue / routing ids
    _xattach(pipe)          a pipe joined (at connect time, on accept after the handshake)
    _xready(pipe) -> bool   the peer's handshake finished (metadata known); False refuses it
    _xdetach(pipe)          the pipe is gone
    _xsend(msg) -> bool     queue one whole message (list of frames) or return False if it
                            would block; raise ZMQError for errors (EFSM, EHOSTUNREACH...)
    _xrecv() -> msg|None    take one whole message, or None if none is ready
    _xhas_in(), _xhas_out() for POLLIN / POLLOUT
    _xreadable(pipe), _xwritable(pipe)   a pipe got messages / room again
    _xhiccup(pipe)          a connect()ed peer's connection was lost (the pipe stays)
    _xsubscribe_all(pipe)   a multicast pipe that takes every message (PUB/XPUB)
"""
from ..constants import Errno
from ..error import ZMQError


class RoutingHooks:
    def _init_routing(self):
        pass

    def _xattach(self, pipe):
        pass

    def _xready(self, pipe):
        return True

    def _xdetach(self, pipe):
        pass

    def _xsend(self, msg):
        raise ZMQError(Errno.ENOTSUP, f"{self._type_name} socket cannot send")

    def _xrecv(self):
        self._check_open()          # a closed socket is ENOTSOCK whatever its type
        raise ZMQError(Errno.ENOTSUP, f"{self._type_name} socket cannot recv")

    def _xhas_in(self):
        return False

    def _xhas_out(self):
        return False

    def _xreadable(self, pipe):
        pass

    def _xwritable(self, pipe):
        pass

    def _xhiccup(self, pipe):
        pass

    def _xsubscribe_all(self, pipe):
        pass

    def _reply_check(self):
        """A check a session applies to each message it receives, raising ZMTPError for one
        that must drop the peer (REQ: replies without an envelope), or None."""
        return None
