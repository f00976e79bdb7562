"""Round-robin sending (libzmq lb_t): each message to the next peer that has room.

Peers whose queue is at SNDHWM leave `active` and arm space_wake; their consumer (the
session writer, or the inproc peer) re-activates them once the queue drains to half, so a
slow peer is skipped rather than blocking the others. A whole message goes to one peer.
"""
from collections import deque


class LoadBalancer:
    __slots__ = ("active",)

    def __init__(self):
        self.active = deque()

    def attach(self, pipe):
        self.activate(pipe)

    def activate(self, pipe):
        if not pipe.out_active and pipe.alive:
            pipe.out_active = True
            pipe.outq.space_wake = False
            self.active.append(pipe)

    def detach(self, pipe):
        if pipe.out_active:
            pipe.out_active = False
            try:
                self.active.remove(pipe)
            except ValueError:
                pass

    def can_send(self):
        """True if some peer has room. Full pipes leave `active` and arm their wake-up, as in
        send(), so a poller waiting for POLLOUT after this is woken when one drains."""
        active = self.active
        for _ in range(len(active)):
            pipe = active[0]
            q = pipe.outq
            if not 0 < q.hwm <= len(q):
                return True
            active.popleft()
            pipe.out_active = False
            q.space_wake = True
            if not 0 < q.hwm <= len(q):
                q.space_wake = False
                pipe.out_active = True
                active.append(pipe)
                return True
        return False

    def send(self, msg):
        """Queue msg on the next peer with room; returns that pipe, or None if all are full."""
        active = self.active
        while active:
            pipe = active[0]
            q = pipe.outq
            if not 0 < q.hwm <= len(q):
                q.append(msg)
                if q.data_wake:
                    q.data_wake = False
                    q.kick_consumer()
                if len(active) > 1:
                    active.rotate(-1)
                return pipe
            active.popleft()
            pipe.out_active = False
            q.space_wake = True
            if not 0 < q.hwm <= len(q):  # drained on another thread in between
                q.space_wake = False
                pipe.out_active = True
                active.append(pipe)
        return None
