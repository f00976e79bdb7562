"""Round-robin sending (libzmq lb_t): each message to the next peer that has room.

Peers whose pipe is at SNDHWM leave `active`; the pipe tells the socket (write_activated)
once it has drained to half, and the socket puts it back with activate(), so a slow peer is
skipped rather than blocking the others. A whole message goes to one peer.
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
            self.active.append(pipe)

    def detach(self, pipe):
        if pipe.out_active:
            pipe.out_active = False
            try:
                self.active.remove(pipe)
            except ValueError:
                pass

    def can_send(self):
        """True if some peer has room. Full pipes leave `active`, as in send(), so a poller
        waiting for POLLOUT after this is woken when one drains."""
        active = self.active
        while active:
            pipe = active[0]
            if pipe.check_write():
                return True
            active.popleft()
            pipe.out_active = False
        return False

    def send(self, msg):
        """Queue msg on the next peer with room; returns that pipe, or None if all are full."""
        active = self.active
        while active:
            pipe = active[0]
            if pipe.write(msg):
                if len(active) > 1:
                    active.rotate(-1)
                return pipe
            active.popleft()
            pipe.out_active = False
        return None
