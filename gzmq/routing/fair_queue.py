"""Fair-queued receiving (libzmq fq_t): take whole messages from peers in turn.

Only pipes that may hold messages are in `active`; a pipe found empty is dropped from it and
arms its data_wake flag, so its producer re-activates it (through the owning socket) with the
next message. After each message the queue rotates, so a peer that floods cannot starve the
others. O(1) per message whatever the number of peers.
"""
from collections import deque


class FairQueue:
    __slots__ = ("active", "last")

    def __init__(self):
        self.active = deque()
        self.last = None  # the pipe the last message came from (ROUTER, REP, REQ need it)

    def attach(self, pipe):
        pipe.inq.data_wake = True
        if pipe.inq:
            self.activate(pipe)

    def activate(self, pipe):
        if not pipe.in_active:
            pipe.in_active = True
            pipe.inq.data_wake = False
            self.active.append(pipe)

    def detach(self, pipe):
        """The peer is gone. Messages it already delivered stay readable: a pipe with queued
        messages stays in `active` and leaves once drained (libzmq delivers them too)."""
        if pipe.inq:
            if not pipe.in_active:
                pipe.in_active = True
                self.active.append(pipe)
            return
        if pipe.in_active:
            pipe.in_active = False
            try:
                self.active.remove(pipe)
            except ValueError:
                pass

    def has_in(self):
        """True if some peer has a message. Pipes found empty leave `active` and arm their
        wake-up, exactly as in recv(), so a poller waiting after this is woken by the next
        message."""
        active = self.active
        while active:
            pipe = active[0]
            q = pipe.inq
            if q:
                return True
            active.popleft()
            pipe.in_active = False
            q.data_wake = True
            if q:
                q.data_wake = False
                pipe.in_active = True
                active.append(pipe)
                return True
        return False

    def recv(self):
        """The next message, or None when no peer has one."""
        active = self.active
        while active:
            pipe = active[0]
            q = pipe.inq
            if q:
                msg = q.popleft()
                if q.space_wake and len(q) <= q.lwm:
                    q.space_wake = False
                    q.kick_producer()
                if len(active) > 1:
                    active.rotate(-1)
                self.last = pipe
                return msg
            active.popleft()
            pipe.in_active = False
            q.data_wake = True
            if q:  # a producer on another thread appended in between: keep it
                q.data_wake = False
                pipe.in_active = True
                active.append(pipe)
        return None
