"""Fair-queued receiving (libzmq fq_t): take whole messages from peers in turn.

Only pipes that may hold messages are in `active`. A pipe that has none leaves it; the pipe
then tells its socket (read_activated) with the next message, and the socket puts it back
with activate(). After each message the queue rotates, so a peer that floods cannot starve
the others. O(1) per message whatever the number of peers.
"""
from collections import deque


class FairQueue:
    __slots__ = ("active", "last")

    def __init__(self):
        self.active = deque()
        self.last = None  # the pipe the last message came from (ROUTER, REP, REQ need it)

    def attach(self, pipe):
        if pipe.check_read():
            self.activate(pipe)

    def activate(self, pipe):
        if not pipe.in_active:
            pipe.in_active = True
            self.active.append(pipe)

    def detach(self, pipe):
        """The peer is gone. Messages it already delivered stay readable: a pipe with queued
        messages stays in `active` and leaves once drained (libzmq delivers them too)."""
        if pipe.pending_in():
            self.activate(pipe)
            return
        if pipe.in_active:
            pipe.in_active = False
            try:
                self.active.remove(pipe)
            except ValueError:
                pass

    def has_in(self):
        """True if some peer has a message. Pipes found empty leave `active`, exactly as in
        recv(), so a poller waiting after this is woken by the next message."""
        active = self.active
        while active:
            pipe = active[0]
            if pipe.check_read():
                return True
            active.popleft()
            pipe.in_active = False
        return False

    def recv(self):
        """The next message, or None when no peer has one."""
        active = self.active
        while active:
            pipe = active[0]
            msg = pipe.read()
            if msg is not None:
                if len(active) > 1:
                    active.rotate(-1)
                self.last = pipe
                return msg
            active.popleft()
            pipe.in_active = False
        return None
