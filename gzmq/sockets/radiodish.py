"""RADIO and DISH (RFC 48, libzmq draft): group-based publish/subscribe, one frame per message.

RADIO sends each message to the DISHes that joined its group (exact match, not a prefix);
DISH join()s and leave()s groups (at most 255 bytes; joining twice or leaving a group not
joined is EINVAL, as libzmq) and receives only those groups' messages, with the group as
Frame.group (a str, as pyzmq). Joins travel to the radio in order with the messages, as Join
and Leave objects in the pipe: a session turns them into ZMTP JOIN/LEAVE commands, an inproc
radio reads them as they are, and a udp:// link has nobody to tell (the dish filters). A
message travels as two frames, [group, body], which is libzmq's wire form over ZMTP (a group
frame with MORE, then the body); the udp:// transport packs them into one datagram. A RADIO
drops a message for a DISH at SNDHWM, as PUB does.
"""
from ..constants import Errno, SocketOption, SocketType
from ..error import ZMQError, ZMTPError
from ..routing.distribute import Distributor
from ..routing.fair_queue import FairQueue
from ..zmtp.events import Join, Leave
from .base import SocketBase
from .single import GROUP_MAX_LENGTH, SinglePart, group_bytes

O = SocketOption


class Radio(SinglePart, SocketBase):
    _type = SocketType.RADIO
    _peer_types = frozenset({"DISH"})
    _can_recv = False

    def _init_routing(self):
        self._dist = Distributor()
        self._groups = {}           # group -> {pipe: joins}
        self._everything = set()    # udp:// pipes: every group goes out, the dishes filter
        self._out_group = b""

    def _xattach(self, pipe):
        self._dist.attach(pipe)
        self._read_joins(pipe)      # (an inproc dish may have joined already)

    def _xsubscribe_all(self, pipe):
        self._everything.add(pipe)

    def _xdetach(self, pipe):
        self._dist.detach(pipe)
        self._everything.discard(pipe)
        self._forget(pipe)

    def _xhiccup(self, pipe):
        self._forget(pipe)          # a reconnecting dish joins again

    def _forget(self, pipe):
        for group in list(self._groups):
            members = self._groups[group]
            members.pop(pipe, None)
            if not members:
                del self._groups[group]

    def _xreadable(self, pipe):
        self._read_joins(pipe)

    def _read_joins(self, pipe):
        while True:
            msg = pipe.read()
            if msg is None:
                return
            kind = type(msg)
            if kind is Join:
                members = self._groups.setdefault(msg.group, {})
                members[pipe] = members.get(pipe, 0) + 1
            elif kind is Leave:
                members = self._groups.get(msg.group)
                if members and pipe in members:
                    members[pipe] -= 1
                    if not members[pipe]:
                        del members[pipe]
                    if not members:
                        del self._groups[msg.group]
            # Anything else from a dish is not for us (libzmq drops it too).

    def _outgoing(self, routing_id, group):
        self._out_group = b"" if group is None else group_bytes(group)

    def _xsend(self, msg):
        group = self._out_group
        members = self._groups.get(group)
        pipes = list(members) if members else []
        pipes.extend(p for p in self._everything if p not in pipes)
        if not pipes:
            self._dropped()
            return True
        self._dist.send(pipes, [group, msg[0]])    # a dish at SNDHWM misses it
        return True

    def _xhas_out(self):
        return True


class Dish(SinglePart, SocketBase):
    _type = SocketType.DISH
    _peer_types = frozenset({"RADIO"})
    _can_send = False

    def _init_routing(self):
        self._fq = FairQueue()
        # libzmq dish_t, as xsub_t: a closing dish does not wait to send pending joins.
        self._options[O.LINGER] = 0
        self._joined = set()
        self._pipes_out = []
        self._in_group = None
        self._prefetched = None

    def _xjoin(self, group):
        group = group_bytes(group)
        if group in self._joined:
            raise ZMQError(Errno.EINVAL, f"DISH already joined group {group!r}")
        self._joined.add(group)
        for pipe in self._pipes_out:
            pipe.write_control(Join(group))

    def _xleave(self, group):
        group = group_bytes(group)
        if group not in self._joined:
            raise ZMQError(Errno.EINVAL, f"DISH has not joined group {group!r}")
        self._joined.discard(group)
        for pipe in self._pipes_out:
            pipe.write_control(Leave(group))

    def _xattach(self, pipe):
        self._fq.attach(pipe)
        self._pipes_out.append(pipe)
        self._send_joins(pipe)

    def _xhiccup(self, pipe):
        self._send_joins(pipe)      # the radio starts from a clean slate

    def _send_joins(self, pipe):
        for group in self._joined:
            pipe.write_control(Join(group))

    def _xdetach(self, pipe):
        self._fq.detach(pipe)
        if pipe in self._pipes_out:
            self._pipes_out.remove(pipe)

    def _xreadable(self, pipe):
        self._fq.activate(pipe)

    def _reply_check(self):
        return check_radio_message      # a session drops a radio that sends anything else

    def _xrecv(self):
        msg = self._prefetched
        if msg is not None:
            self._prefetched = None
        else:
            msg = self._next_joined()
            if msg is None:
                return None
        self._in_group = msg[0]
        return [msg[1]]

    def _next_joined(self):
        fq = self._fq
        while True:
            msg = fq.recv()
            if msg is None:
                return None
            if len(msg) == 2 and bytes(msg[0]) in self._joined:
                return msg
            # Not (or no longer) joined, or malformed from an inproc radio: dropped.

    def _xhas_in(self):
        if self._prefetched is None:
            self._prefetched = self._next_joined()
        return self._prefetched is not None

    def _last_pipe(self):
        return self._fq.last

    def _label(self, frame):
        group = self._in_group
        if group is not None:
            frame.group = bytes(group).decode("utf-8", "replace")


def check_radio_message(msg):
    """libzmq's dish_session: a radio's message is a group frame (with MORE) and a body."""
    if len(msg) != 2:
        raise ZMTPError(f"RADIO message of {len(msg)} frames (expected group and body)")
    if len(msg[0]) > GROUP_MAX_LENGTH:
        raise ZMTPError(f"RADIO group frame of {len(msg[0])} bytes (limit {GROUP_MAX_LENGTH})")
