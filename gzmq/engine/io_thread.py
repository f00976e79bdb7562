"""I/O threads: background OS threads, each with a gevent hub of its own, that run socket
engines (libzmq's io_thread_t).

A context in I/O-thread mode runs its sockets' engines (listeners, connecters, handshakes,
heartbeats, reconnects, ZAP exchanges, linger flushing) on one of these instead of on the
hub of the thread that uses the socket, so connections keep working whatever that thread
does: time.sleep(), Thread.join(), input(), a C call. The socket and its engine meet only
through pipes and mailboxes, which cross threads by design (gzmq.engine.pipe, .wait).

While the thread waits for work it is in libev's poll, which releases the GIL; the
application's own waits stay gevent-cooperative on its own hub.

The choice between this and in-hub mode is made per context (gzmq.context, io_mode()): in-hub
when gevent has patched socket, time and threading (a gevent program: fast, no thread
hand-offs), an I/O thread otherwise; Context(io_threads=0) or GZMQ_IO_MODE=hub|thread decide
it explicitly.
"""
import logging
import os

import gevent
import gevent.monkey

from . import process
from .tasks import start_thread_without_signals
from .wait import Signal, hub_link, thread_ident, wait_until

log = logging.getLogger("gzmq")

native_lock = _allocate_lock = gevent.monkey.get_original("_thread", "allocate_lock")

HUB = "hub"
THREAD = "thread"


def io_mode(io_threads, requested=None):
    """The I/O mode for a new context (see the module docstring)."""
    mode = requested or os.environ.get("GZMQ_IO_MODE", "").strip().lower() or None
    if mode not in (None, HUB, THREAD):
        raise ValueError(f"io mode must be 'hub' or 'thread', not {mode!r}")
    if io_threads == 0:
        return HUB
    if mode is not None:
        return mode
    patched = all(gevent.monkey.is_module_patched(name) for name in ("socket", "time", "threading"))
    return HUB if patched else THREAD


class IOThread:
    """One background thread and its hub. `link` is the hub's HubLink: link.call(fn, ...)
    runs fn there. stop() lets it end once its engines are done (or at once)."""

    def __init__(self, name):
        self.name = name
        self.link = None
        self._stopping = False
        self._wake = None
        self._started = _allocate_lock()
        self._started.acquire()
        self._ended = _allocate_lock()
        self._ended.acquire()
        start_thread_without_signals(self._main, ())
        self._started.acquire()      # (a native wait, until the hub exists: microseconds)
        process.register_io_thread(self)

    def _main(self):
        try:
            self.link = link = hub_link()
            link.dedicated = True
            self._wake = Signal()
            link.hold()             # the loop never runs dry: other threads post work any time
            self._started.release()
            wait_until(lambda: self._stopping, None, (self._wake,))
        except BaseException:       # pragma: no cover - a broken I/O thread must say so
            log.exception("gzmq: I/O thread %s failed", self.name)
        finally:
            try:
                hub = gevent.get_hub()
                hub.destroy(destroy_loop=True)
            except Exception:       # pragma: no cover
                pass
            self._ended.release()

    @property
    def stopped(self):
        return self._stopping

    def idle(self, turns=3, timeout=5.0):
        """Wait until this thread's hub has been idle `turns` times: whatever was ready to
        read, write or run when asked has been handled (tests settle on it, as they do on
        gevent.idle() for the hub they run in)."""
        if self.link is None or self._stopping or thread_ident() == self.link.thread:
            return
        done = Signal()
        finished = []

        def run():
            for _ in range(turns):
                gevent.idle()
            finished.append(True)
            done.fire()

        self.link.call(gevent.spawn, run)
        wait_until(lambda: finished, timeout, (done,))

    def stop(self, wait=True, timeout=5.0):
        """End the thread (its engines must be done: Context.term() stops it after)."""
        if self.link is None or self._stopping:
            return
        self.link.call(self._stop)
        if wait and thread_ident() != self.link.thread:
            self._ended.acquire(True, timeout)

    def _stop(self):
        self._stopping = True
        self._wake.fire()
