"""DGRAM (libzmq draft): raw UDP datagrams over udp://, each message [address, body].

A received message is two frames, the sender's "IP:PORT" and the datagram; a sent message
must be the same two frames, the first naming where the datagram goes. libzmq's rules: the
first frame without SNDMORE, or a third frame, is EINVAL. DGRAM only works over udp://
(gzmq.transports.udp), which has no handshake and no peer socket type.
"""
from ..constants import Errno, Flag, SocketType
from ..error import ZMQError
from .balanced import BalancedQueues
from .base import SocketBase

SNDMORE = int(Flag.SNDMORE)


class Dgram(BalancedQueues, SocketBase):
    _type = SocketType.DGRAM
    _peer_types = frozenset()

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
