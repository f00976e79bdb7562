"""DGRAM (libzmq draft): raw UDP datagrams over udp://, each message [address, body].

A received message is two frames, the sender's "IP:PORT" and the datagram; a sent message
must be the same two frames, the first naming where the datagram goes. libzmq's rules: the
first frame without SNDMORE, or a third frame, is EINVAL. DGRAM only works over udp://
(gzmq.transports.udp), which has no handshake and no peer socket type.
"""
from ..constants import Errno, Flag, SocketType
from ..error import ZMQError
from ..routing.fair_queue import FairQueue
from ..routing.load_balance import LoadBalancer
from .base import SocketBase

SNDMORE = int(Flag.SNDMORE)


class Dgram(SocketBase):
    _type = SocketType.DGRAM
    _peer_types = frozenset()

    def _init_routing(self):
        self._lb = LoadBalancer()
        self._fq = FairQueue()
        self._xsend = self._lb.send
        self._xrecv = self._fq.recv

    def send(self, data, flags=0, copy=True, track=False, routing_id=None, group=None):
        flags = int(flags)
        if not self._snd_parts and not flags & SNDMORE:
            self._check_open()
            raise ZMQError(Errno.EINVAL, "DGRAM message must start with an address frame sent with SNDMORE")
        if self._snd_parts and flags & SNDMORE:
            self._check_open()
            raise ZMQError(Errno.EINVAL, "DGRAM messages are two frames: address and body")
        return super().send(data, flags, copy, track)

    def send_multipart(self, msg_parts, flags=0, copy=True, track=False, **kwargs):
        parts = list(msg_parts)
        if len(parts) != 2:
            self._check_open()
            raise ZMQError(Errno.EINVAL, "DGRAM messages are two frames: address and body")
        return super().send_multipart(parts, flags, copy, track)

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
