"""What a socket type overrides: the routing hooks SocketBase calls (libzmq's socket_base_t
virtuals xattach_pipe, xsend, xrecv, xhas_in, xhas_out, xread_activated, xwrite_activated,
xpipe_terminated, xhiccuped). The defaults here are those of a socket that neither sends nor
receives; a socket type (gzmq/sockets/pipeline.py, reqrep.py, ...) binds a routing strategy
(gzmq.routing) to the ones it needs, or gzmq.sockets.direct does it for the simple ones.
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
