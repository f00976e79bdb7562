"""Pipes: the HWM-bounded queues between a socket and one of its peers (libzmq's pipe_t).

A pipe pair has two ends. Each end reads one Queue and writes the other, so what one end
writes the other reads, in order. A socket holds one end per peer; the other end belongs to
whatever carries the messages: a tcp/ipc Session, a multicast link, or, over inproc, another
socket (then a message crosses as the list of frames that was sent: no encoding, no copy).

The pipe owns flow control. Nothing outside this module compares a queue with its HWM or
touches the wake-up flags; users ask the pipe:

    write(msg) -> bool      append a whole message, False (nothing written) at the HWM
    check_write() -> bool   would write() succeed?
    read() -> msg | None    the oldest message, None if there is none
    check_read() -> bool    is there a message?
    write_all(msgs)         a batch from a connection, over the HWM if need be (the reader
                            of a socket stops reading once check_write() says full)

A message is always a whole list of frames, so a write is atomic and libzmq's flush() and
rollback(), which exist for messages written frame by frame, have no counterpart here.

When read() finds the queue empty or write() finds it full, the pipe remembers that its end
is waiting, and the other end's next write (or the read that drains the queue to its
low-water mark, half the HWM) tells the waiting end's owner, its *sink*, once:

    sink.read_activated(pipe)     messages again after read() found none
    sink.write_activated(pipe)    room again after write() found none
    sink.hiccuped(pipe)           the connection behind the pipe was lost; the pipe stays
    sink.pipe_terminated(pipe)    the other end is gone; what it wrote stays readable

(libzmq's i_pipe_events.) The calls reach the sink through the end's mailbox, on the sink's
own thread: both ends may run on different OS threads. Queue appends and pops are atomic
under the GIL; each side sets its waiting flag *before* re-checking the queue, and the other
side checks the flag *after* touching the queue, so a wake-up is never lost and no lock is
taken.
"""
from collections import deque


class Queue(deque):
    """One direction of a pipe pair: messages in order, a high-water mark, who waits."""

    __slots__ = ("hwm", "lwm", "reader_waits", "writer_waits", "reader", "writer")

    def __init__(self, hwm=1000, conflate=False):
        super().__init__((), 1 if conflate else None)
        self.set_hwm(0 if conflate else hwm)
        self.reader_waits = False
        self.writer_waits = False
        self.reader = None     # the Pipe end that reads this queue
        self.writer = None     # the Pipe end that writes it

    def set_hwm(self, hwm):
        # hwm 0 means no limit (libzmq). The low-water mark is where a writer that found the
        # queue full is woken again: half way, so it writes a batch before it waits again.
        self.hwm = hwm if hwm and hwm > 0 else 0
        self.lwm = (self.hwm + 1) // 2 if self.hwm else 0


class Pipe:
    """One end of a pipe pair: reads `inq`, writes `outq`, tells `sink` through `mailbox`.

    The fields after the queues describe the peer as the socket sees it: endpoint (the
    address it came from or went to), metadata (its handshake properties, lower-case names,
    plus peer-address), routing_id (ROUTER), connect_side (made by connect()), ready (its
    handshake is done), alive (attached to its socket), the two strategy flags in_active and
    out_active (this pipe is in a fair queue / load balancer), and user, scratch for a socket
    type.
    """

    __slots__ = ("inq", "outq", "peer", "sink", "mailbox", "endpoint", "metadata", "routing_id",
                 "connect_side", "ready", "alive", "in_active", "out_active", "peer_minor",
                 "terminated", "inproc_peer", "user", "__weakref__")

    def __init__(self, inq, outq, sink=None, mailbox=None, endpoint=None):
        self.inq = inq
        self.outq = outq
        inq.reader = self
        outq.writer = self
        self.peer = None
        self.sink = sink
        self.mailbox = mailbox
        self.endpoint = endpoint
        self.metadata = {}
        self.routing_id = None
        self.connect_side = False
        self.ready = False
        self.alive = True
        self.in_active = False
        self.out_active = False
        self.peer_minor = 1
        self.terminated = False
        self.inproc_peer = None
        self.user = None

    def __repr__(self):
        return f"<Pipe {self.endpoint} id={self.routing_id!r}>"

    # -- writing ---------------------------------------------------------------------------
    def check_write(self):
        """Room for one more message? If not, the sink hears write_activated when there is."""
        q = self.outq
        hwm = q.hwm
        if hwm and len(q) >= hwm:
            q.writer_waits = True
            if len(q) >= hwm:
                return False
            q.writer_waits = False     # drained on another thread in between
        return True

    def write(self, msg):
        """Append a whole message; False, writing nothing, if the queue is at its HWM."""
        q = self.outq
        hwm = q.hwm
        if hwm and len(q) >= hwm:
            q.writer_waits = True
            if len(q) >= hwm:
                return False
            q.writer_waits = False
        q.append(msg)
        if q.reader_waits:
            q.reader_waits = False
            q.reader.activate_read()
        return True

    def write_all(self, msgs):
        """Append a batch decoded from one read of a connection, whatever the HWM. Returns
        False if the queue is now at its HWM: the caller stops reading, and asks check_write()
        to be told when there is room."""
        q = self.outq
        q.extend(msgs)
        if q.reader_waits:
            q.reader_waits = False
            q.reader.activate_read()
        return not q.hwm or len(q) < q.hwm

    def write_control(self, msg):
        """Append a message that must not be lost to the HWM (a subscription change)."""
        q = self.outq
        q.append(msg)
        if q.reader_waits:
            q.reader_waits = False
            q.reader.activate_read()

    def full(self):
        """At the HWM now (no side effects: use check_write() to be told when it is not)."""
        q = self.outq
        return 0 < q.hwm <= len(q)

    # -- reading ---------------------------------------------------------------------------
    def check_read(self):
        """A message to read? If not, the sink hears read_activated when one comes."""
        q = self.inq
        if q:
            return True
        q.reader_waits = True
        if q:
            q.reader_waits = False
            return True
        return False

    def read(self):
        """The oldest message, or None (then the sink hears read_activated with the next)."""
        q = self.inq
        if q:
            msg = q.popleft()
            if q.writer_waits and len(q) <= q.lwm:
                q.writer_waits = False
                q.writer.activate_write()
            return msg
        q.reader_waits = True
        if q:                          # a writer on another thread appended in between
            q.reader_waits = False
            return self.read()
        return None

    def drop_inbound(self):
        """Discard every unread message (disconnect(): RFC 28 drops the peer's queues)."""
        q = self.inq
        q.clear()
        if q.writer_waits:
            q.writer_waits = False
            q.writer.activate_write()

    def drop_outbound(self):
        """Discard every unsent message (LINGER 0, a peer that broke the protocol)."""
        self.outq.clear()

    def pending_in(self):
        return len(self.inq)

    def pending_out(self):
        return len(self.outq)

    # -- the peer's calls, delivered to this end's sink on its own thread ------------------
    def activate_read(self):
        try:
            self.mailbox.call(self.sink.read_activated, self)
        except ReferenceError:
            pass    # the owner was collected (a socket knows its pipes weakly)

    def activate_write(self):
        try:
            self.mailbox.call(self.sink.write_activated, self)
        except ReferenceError:
            pass

    def conflate_inbound(self):
        """CONFLATE on the reading socket: keep only the newest unread message. Taken while
        nothing is queued yet (when the pipe joins the socket), as libzmq decides at attach."""
        old = self.inq
        if old:
            return
        q = Queue(0, conflate=True)
        q.reader, q.writer = self, old.writer
        self.inq = q
        if self.peer is not None:
            self.peer.outq = q

    def terminate(self):
        """This end is done for good: the other end's sink hears pipe_terminated, once. What
        this end wrote stays readable over there."""
        if self.terminated:
            return
        self.terminated = True
        peer = self.peer
        if peer is not None and peer.sink is not None:
            try:
                peer.mailbox.call(peer.sink.pipe_terminated, peer)
            except ReferenceError:
                pass

    def hiccup(self):
        """The connection behind this end was lost and will be made again: the other end's
        sink hears hiccuped (a connect()ed peer's pipe outlives its connections)."""
        peer = self.peer
        if peer is not None and peer.sink is not None:
            try:
                peer.mailbox.call(peer.sink.hiccuped, peer)
            except ReferenceError:
                pass

    def set_sndhwm(self, hwm):
        self.outq.set_hwm(hwm)

    def set_rcvhwm(self, hwm):
        self.inq.set_hwm(hwm)


def write_each(pipes, msg):
    """write(msg) to each of `pipes` in one call (a publisher's fan-out); returns the pipes
    that were at their HWM and got nothing, or None."""
    full = None
    for pipe in pipes:
        q = pipe.outq
        hwm = q.hwm
        if hwm and len(q) >= hwm:
            q.writer_waits = True
            if len(q) >= hwm:
                if full is None:
                    full = []
                full.append(pipe)
                continue
            q.writer_waits = False
        q.append(msg)
        if q.reader_waits:
            q.reader_waits = False
            q.reader.activate_read()
    return full


def pipe_pair(sink_a, mailbox_a, sink_b, mailbox_b, hwm_ab=1000, hwm_ba=1000, endpoint=None,
              conflate_ab=False, conflate_ba=False):
    """Two joined ends: a writes what b reads (HWM hwm_ab) and b writes what a reads."""
    ab = Queue(hwm_ab, conflate_ab)
    ba = Queue(hwm_ba, conflate_ba)
    a = Pipe(ba, ab, sink_a, mailbox_a, endpoint)
    b = Pipe(ab, ba, sink_b, mailbox_b, endpoint)
    a.peer = b
    b.peer = a
    return a, b


def join(end, sink, mailbox, endpoint=None):
    """The peer end for an existing end (inproc: the binder joins a connect()ed pipe)."""
    other = Pipe(end.outq, end.inq, sink, mailbox, endpoint)
    end.peer = other
    other.peer = end
    return other
