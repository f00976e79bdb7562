"""Waking a hub's connection writers lazily (the in-hub mode's request/reply fast path).

When a socket queues a message while its connection's writer greenlet sleeps, waking the
writer at once would cost a greenlet switch each way per message in request/reply. Instead
the session is noted as deferred: if a greenlet of the same hub blocks next (recv, poll: the
one wait primitive calls before_block first), it writes the queue itself, inline, with one
non-blocking send (Session.flush_inline), and the hub callback that would have woken the
writers is cancelled; if nobody blocks first, that callback wakes them on the next loop turn.
On a dedicated I/O thread the socket's messages are announced by a hub callback, which writes
them at once instead (Session.read_activated); only a greenlet there defers.
"""
import gevent

import gevent.monkey

from .wait import hub_link, set_before_block, thread_ident, yield_turn

native_sleep = gevent.monkey.get_original("time", "sleep")


class _DeferredWriters:
    """One hub's sessions whose socket queued messages while their writer slept, and whose
    writer was not woken yet (see Session._soft_kick)."""

    __slots__ = ("sessions", "callback")

    def __init__(self):
        self.sessions = []
        self.callback = None     # the hub callback that wakes them if nobody blocks first

    def add(self, session):
        self.sessions.append(session)
        if self.callback is None:
            self.callback = gevent.get_hub().loop.run_callback(self.kick_all)

    def kick_all(self):
        """Hub callback: nobody blocked meanwhile, so wake the writers."""
        self.callback = None
        sessions = self.sessions
        self.sessions = []
        for session in sessions:
            session.kick()

    def flush(self):
        """Write inline what the sessions have queued; those whose writer must still be woken
        stay for kick_all, and if none does, its callback is cancelled."""
        sessions = self.sessions
        self.sessions = []
        for session in sessions:
            if not session.flush_inline():
                self.sessions.append(session)
        if not self.sessions and self.callback is not None:
            self.callback.stop()
            self.callback = None


def deferred_writers():
    """This hub's _DeferredWriters (kept with the hub's HubLink: one per hub)."""
    link = hub_link()
    writers = link.deferred
    if writers is None:
        writers = link.deferred = _DeferredWriters()
    return writers


def flush_deferred(link=None):
    """A greenlet of this hub is about to block (gzmq.engine.wait.wait_until): write what the
    sleeping writers have queued, inline, instead of waking them (see Session.flush_inline)."""
    writers = (link or hub_link()).deferred
    if writers is not None and writers.sessions:
        writers.flush()


set_before_block(flush_deferred)


def relieve(pipes):
    """A socket found these pipes full (a publisher at SNDHWM). Their writers run on this
    hub, so a pipe may be full only because its writer has not had a turn yet, where
    libzmq's I/O thread would have drained it meanwhile: write what is deferred, and give the
    writers one turn (a yield, not a block) if any of them could make progress."""
    flush_deferred()
    waiting = [p for p in pipes if p.full() and _is_session(p.peer.sink)]
    if not any(p.peer.sink.writable_soon() for p in waiting):
        return
    here = thread_ident()
    local = [p for p in waiting if p.peer.mailbox.thread == here]
    for pipe in local:
        pipe.peer.sink.kick()
    if local:
        yield_turn()
    else:
        # Their writers run on an I/O thread, which needs the GIL for a moment: a producer in
        # a tight loop holds it for whole switch intervals.
        native_sleep(0)


def _is_session(sink):
    return hasattr(sink, "writable_soon")
