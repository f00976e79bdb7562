"""The engine's part in the life of the process: the end of the program, fork(), and the lock
that guards Context.instance().

At exit, libzmq's I/O thread goes on writing while Python shuts down, so a message sent just
before the program ends usually still leaves. Engines that run on an application thread's
hub need that thread to turn its hub for them, which is what the two exit hooks do.
After fork(), the child must not run the parent's connections (libzmq's I/O threads do not
survive a fork either).
"""
import threading
import time
import weakref
from contextlib import contextmanager

import gevent
import gevent.hub
import gevent.monkey
from gevent._hub_local import get_hub_if_exists
from gevent.lock import Semaphore

from .tasks import start_thread_without_signals
from .wait import Signal, hub_links, thread_ident, wait_until

EXIT_FLUSH_SECONDS = 1.0
EXIT_THREADS_SECONDS = 0.5
EXIT_GRACE_SECONDS = 0.05

_engines: "weakref.WeakSet[object]" = weakref.WeakSet()     # every SocketEngine alive
_io_threads: "weakref.WeakSet[object]" = weakref.WeakSet()  # every I/O thread running (gzmq.engine.io_thread)


def register(engine):
    _engines.add(engine)


def register_io_thread(thread):
    _io_threads.add(thread)


def io_threads():
    """Every I/O thread running in this process."""
    return [thread for thread in list(_io_threads) if not thread.stopped]


def at_exit():
    """The interpreter exits: flush, then stop the I/O threads, so that none of them runs
    while Python tears itself down (a gevent loop freed under a running thread crashes)."""
    flush_at_exit()
    for thread in list(_io_threads):
        try:
            thread.stop(timeout=1.0)
        except Exception:   # pragma: no cover - never let exit-time cleanup raise
            pass
    let_hub_threads_end()


def let_hub_threads_end(seconds=EXIT_THREADS_SECONDS):
    """Give the program's daemon threads that ran a gzmq hub a bounded moment to end.

    A daemon thread that term() or destroy() woke just before the program ended (a device
    thread whose sockets were closed, say) is still unwinding when Python finalizes. Its end
    then destroys its greenlets, a switch into each, while finalization stops threads with
    pthread_exit: that crashes the process (a segfault at exit, 1 run in 30 to 60 on CPython
    3.9 and 3.11 with greenlet 3). So such a thread is joined first. One parked in a gzmq wait
    with no wake-up posted to it costs only EXIT_GRACE_SECONDS (nothing else will wake it now
    that the I/O threads are stopped); one blocked in something else, at most `seconds`."""
    try:
        me = thread_ident()
        links = {link.thread: link for link in hub_links() if not link.dedicated and link.thread != me}
        threads = [t for t in threading.enumerate() if t.ident in links]
        start = time.monotonic()
        while time.monotonic() < start + seconds:
            # A wake-up on its way to a parked thread may already have left its queue of
            # calls: a parked thread gets EXIT_GRACE_SECONDS to show it is not staying.
            grace = time.monotonic() < start + EXIT_GRACE_SECONDS
            threads = [t for t in threads if t.is_alive() and (grace or not links[t.ident].parked())]
            if not threads:
                return
            threads[0].join(0.005)    # native, on purpose: at exit this thread's hub has nothing left to run
    except Exception:   # pragma: no cover - never let exit-time cleanup raise
        pass


def _engines_here():
    me = thread_ident()
    return [engine for engine in list(_engines) if engine.io.thread == me]


def _engines_to_flush():
    """This thread's engines (they need its hub to turn) and the I/O threads' (they go on by
    themselves: we only wait for them). Engines on other application threads' hubs cannot be
    helped from here."""
    me = thread_ident()
    return [engine for engine in list(_engines)
            if engine.io.thread == me or engine.io.dedicated]


def flush_at_exit():
    """Give the connected writers a last turn when the interpreter exits.

    libzmq's I/O thread goes on writing while Python shuts down; so do gzmq's I/O threads, and
    this waits for them, as it runs this thread's hub for engines that live there. We wait
    until every *connected* peer's queue is written, as long as the peers keep reading: a writer behind a full kernel buffer still counts while the queues shrink, and we
    give up after EXIT_FLUSH_SECONDS without progress. That is libzmq's practical behaviour (a
    peer that reads gets everything, as with pyzmq's default infinite LINGER), without
    Context.term()'s unbounded wait for peers that are not there or do not read.
    """
    deadline = time.monotonic() + EXIT_FLUSH_SECONDS
    least = None
    try:
        while True:
            pending = False
            queued = 0
            for engine in _engines_to_flush():
                busy, count = engine.unflushed()
                if busy:
                    pending = True
                    queued += count
            if not pending:
                return
            # Judged after each turn, however long the writers kept the hub busy.
            if least is None or queued < least:  # progress: the peers are reading
                least = queued
                deadline = time.monotonic() + EXIT_FLUSH_SECONDS
            elif time.monotonic() >= deadline:
                return
            gevent.sleep(0.001)  # bounded, exit-time only: lets the writers run (and the GIL go)
    except Exception:  # pragma: no cover - never let exit-time flushing raise
        pass


def serve_until_threads_end():
    """Keep this thread's sockets working while the interpreter waits for other threads.

    When the main thread's code ends, Python joins the non-daemon threads before anything else
    (threading._shutdown, before atexit). With libzmq the I/O thread goes on meanwhile, so a
    worker thread still receives what the main thread sent last and can still talk to the main
    thread's sockets. If this thread's hub runs engines of open sockets, a native join would
    freeze them: we join the other non-daemon threads from a helper thread and keep the hub
    running meanwhile. Under patch_all the join is cooperative already and nothing needs doing.
    """
    try:
        if gevent.monkey.is_module_patched("threading"):
            return
        if not any(not engine.closing for engine in _engines_here()):
            return
        current = threading.current_thread()
        others = [t for t in threading.enumerate()
                  if t is not current and not t.daemon and t.is_alive()]
        if others:
            # A plain native thread joins them (no pool: nothing may be imported or registered
            # with threading this late) and wakes this hub when they have ended.
            joined = []
            done = Signal()

            def join_all():
                try:
                    for t in others:
                        t.join()
                finally:
                    joined.append(True)
                    done.fire()

            try:
                start_thread_without_signals(join_all, ())
            except RuntimeError:
                # CPython 3.12.0-3.12.2 (gh-113964) refuse to start a thread once shutdown has
                # begun, in this very hook ("can't create new thread at interpreter shutdown").
                # Wait for the others on this hub instead, looking every few milliseconds
                # (exit-time only, and only on those versions).
                while any(t.is_alive() for t in others):
                    gevent.sleep(0.005)
            else:
                wait_until(lambda: joined, None, (done,))
        flush_at_exit()
    except Exception:  # pragma: no cover - never let exit-time serving raise
        pass


def forget_after_fork():
    """In a fork()ed child: if this thread's hub ran engines, drop the hub and its loop, so
    that none of the parent's greenlets, watchers or timers ever runs here (gevent's loop
    re-arms its watchers after a fork: the parent's listeners would accept connections meant
    for the parent, its readers would take bytes from the parent's streams). The child's next
    gevent call starts a fresh hub."""
    ours = bool(_engines_here())
    _engines.clear()
    _io_threads.clear()      # (they did not survive the fork: there is nothing to stop)
    hub = get_hub_if_exists()
    if hub is None or gevent.getcurrent() is hub:
        return
    if ours:
        hub.destroy(destroy_loop=True)
    else:
        # The hub stays (the child's gzmq waits on it), but libev shares its wake-up pipe
        # with the parent's copy until the loop is re-initialised: a wake-up from the child's
        # own I/O thread could reach the parent. (gevent does this itself only for
        # gevent.os.fork or a monkey-patched os.)
        gevent.hub.reinit(hub)


# Guard the creation of the shared Context.instance(). A subclass's __init__ may switch
# greenlets (time.sleep under patch_all, I/O) while the native lock is held; a second greenlet
# of the same OS thread blocking on that lock would then freeze the hub for good. So greenlets
# of one thread queue on a gevent Semaphore (that thread's gate) first, and only one of them
# at a time contends for the native lock with other OS threads.
_instance_lock = gevent.monkey.get_original("_thread", "allocate_lock")()
_instance_gates = gevent.monkey.get_original("_thread", "_local")()


@contextmanager
def instance_lock():
    gate = getattr(_instance_gates, "gate", None)
    if gate is None:
        gate = _instance_gates.gate = Semaphore()
    with gate, _instance_lock:
        yield
