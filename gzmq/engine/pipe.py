"""Pipes: the HWM-bounded queues between a socket and one of its peers (libzmq's pipe_t).

A Pipe is the socket's view of one peer: `inq` holds messages received from the peer (the
socket consumes them), `outq` messages for the peer (the socket produces them). Each is a
HalfPipe, a deque with a high-water mark and two wake-up hooks:

- data_wake / kick_consumer: the consumer found the queue empty and went to sleep; the
  producer kicks it after its next append (once, not per message).
- space_wake / kick_producer: the producer found the queue full; the consumer kicks it when
  the queue has drained to its low-water mark (half the HWM), so wake-ups come per batch.

Over tcp/ipc the other end of each HalfPipe is a Session's reader or writer greenlet. Over
inproc there is no session: two sockets' pipes share HalfPipe objects crosswise (A.outq is
B.inq), so messages pass as Python objects with no encoding and no copy.

Both ends may live on different OS threads (inproc between hubs): deque append/popleft are
atomic under the GIL, and each side sets its wake flag *before* re-checking the queue, while
the other side checks the flag *after* touching the queue, so a wake-up is never lost.
Kick callbacks themselves are made thread-safe by gzmq.engine.wakeup.
"""
from collections import deque


def _noop():
    pass


class HalfPipe(deque):
    """One direction of a pipe: a deque of messages (lists of frames) with an HWM."""

    __slots__ = ("hwm", "lwm", "data_wake", "space_wake", "kick_consumer", "kick_producer")

    def __init__(self, hwm=1000, maxlen=None):
        super().__init__((), maxlen)
        self.set_hwm(hwm)
        self.data_wake = False
        self.space_wake = False
        self.kick_consumer = _noop
        self.kick_producer = _noop

    def set_hwm(self, hwm):
        # hwm 0 means no limit (libzmq); the low-water mark is where a full queue's producer
        # is woken again: half way, so it writes a batch before sleeping again.
        self.hwm = hwm if hwm and hwm > 0 else 0
        self.lwm = (self.hwm + 1) // 2 if self.hwm else 0

    def full(self):
        return 0 < self.hwm <= len(self)

    def push(self, msg):
        """Producer side: append and wake a sleeping consumer."""
        self.append(msg)
        if self.data_wake:
            self.data_wake = False
            self.kick_consumer()

    def take(self):
        """Consumer side: take the oldest message (None if empty) and wake a blocked producer."""
        if not self:
            return None
        msg = self.popleft()
        if self.space_wake and len(self) <= self.lwm:
            self.space_wake = False
            self.kick_producer()
        return msg

    def wait_drained(self, event, stopped):
        """Producer side: wait until the consumer has drained this queue to its low-water mark.

        `event` is the producer's own gevent Event, which must be this queue's kick_producer
        target; `stopped()` ends the wait early (the connection died). Back-pressure for
        readers (tcp/ipc sessions, multicast receivers): they stop reading while they wait."""
        while len(self) > self.lwm and not stopped():
            event.clear()
            self.space_wake = True
            if len(self) <= self.lwm:
                self.space_wake = False
                break
            event.wait()

    def drained(self):
        """Consumer side, after taking a batch with popleft(): wake a blocked producer."""
        if self.space_wake and len(self) <= self.lwm:
            self.space_wake = False
            self.kick_producer()


class Pipe:
    """A socket's link to one peer: its queues, identity and metadata.

    owner: the socket; endpoint: the address it came from or went to; routing_id: the id a
    ROUTER knows it by; metadata: the peer's handshake properties (lower-case names) plus
    Peer-Address; session: the tcp/ipc Session carrying it, or None (inproc / not connected).
    """

    __slots__ = ("owner", "inq", "outq", "endpoint", "routing_id", "metadata", "session",
                 "in_active", "out_active", "alive", "ready", "peer_minor", "subscriptions",
                 "connect_side", "inproc_peer", "user", "__weakref__")

    def __init__(self, owner, endpoint, sndhwm=1000, rcvhwm=1000, inq=None, outq=None):
        self.owner = owner
        self.endpoint = endpoint
        self.inq = inq if inq is not None else HalfPipe(rcvhwm)
        self.outq = outq if outq is not None else HalfPipe(sndhwm)
        self.routing_id = None
        self.metadata = {}
        self.session = None
        self.in_active = False
        self.out_active = False
        self.alive = True
        self.ready = False
        self.peer_minor = 1
        self.subscriptions = None
        self.connect_side = False
        self.inproc_peer = None
        self.user = None  # per-socket-type scratch (e.g. a pub/sub filter)

    def __repr__(self):
        return f"<Pipe {self.endpoint} id={self.routing_id!r}>"
