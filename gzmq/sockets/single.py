"""What the draft socket types share (libzmq 4.3's SERVER, CLIENT, RADIO, DISH, SCATTER, GATHER,
PEER, CHANNEL): a message is one frame, and a frame may carry a routing id or a group.

libzmq's rules: send() with SNDMORE is EINVAL ("... socket does not allow multipart data"), so
send_multipart() of more than one frame is EINVAL too, and nothing is queued; a received
multipart message (a peer that breaks the rule) is dropped, never delivered. pyzmq's draft API
carries the routing id (SERVER, PEER) and the group (RADIO, DISH) on the Frame:
`send(data, routing_id=..., group=...)` or a Frame with `.routing_id` / `.group` set, and
`recv(copy=False)` returns a Frame with them filled in. A socket type says what it does with
them in _outgoing(routing_id, group) (before its _xsend runs) and _label(frame) (on receipt).
"""
from ..constants import Errno, Flag
from ..error import ZMQError
from ..message import Frame

SNDMORE = int(Flag.SNDMORE)
GROUP_MAX_LENGTH = 255      # libzmq's ZMQ_GROUP_MAX_LENGTH


def group_bytes(group, what="group"):
    """A group as bytes (str is UTF-8), EINVAL beyond libzmq's 255 bytes."""
    if isinstance(group, str):
        group = group.encode("utf-8")
    elif not isinstance(group, bytes):
        group = bytes(group)
    if len(group) > GROUP_MAX_LENGTH:
        raise ZMQError(Errno.EINVAL, f"{what} {group[:20]!r}... is longer than {GROUP_MAX_LENGTH} bytes")
    return group


class SinglePart:
    """Mixed in before SocketBase by the draft socket types."""

    def send(self, data, flags=0, copy=True, track=False, routing_id=None, group=None):
        flags = int(flags)
        if flags & SNDMORE:
            self._check_open()
            raise ZMQError(Errno.EINVAL, f"{self._type_name} socket does not allow multipart data")
        if isinstance(data, Frame):
            if routing_id is None:
                routing_id = data.routing_id
            if group is None:
                group = data.group
        self._outgoing(routing_id, group)
        return super().send(data, flags, copy, track)

    def send_multipart(self, msg_parts, flags=0, copy=True, track=False, **kwargs):
        parts = list(msg_parts)
        if len(parts) != 1:
            self._check_open()
            if not parts:
                raise ValueError("send_multipart needs at least one frame")
            raise ZMQError(Errno.EINVAL, f"{self._type_name} socket does not allow multipart data")
        return self.send(parts[0], flags, copy, track, **kwargs)

    def _outgoing(self, routing_id, group):
        """The routing id / group the next _xsend is for (ignored unless the type uses them)."""

    def _make_frame(self, data, more):
        frame = super()._make_frame(data, more)
        self._label(frame)
        return frame

    def _label(self, frame):
        """Fill in what the received frame carries besides its data."""


def one_frame(recv):
    """A receive that drops multipart messages (libzmq: 'drop any messages with more flag')."""
    def _xrecv():
        while True:
            msg = recv()
            if msg is None or len(msg) == 1:
                return msg
    return _xrecv
