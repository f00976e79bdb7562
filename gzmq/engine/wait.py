"""How gzmq waits and wakes, across greenlets and OS threads.

Every OS thread that uses gzmq runs its own gevent hub. Three pieces connect them:

HubLink     one per hub: call(fn, *args) runs fn on that hub's thread, at once if the caller
            is already there, else through a gevent async watcher, the one hub primitive that
            is safe to trigger from any thread. No lock is taken and nothing busy-waits.
Signal      something greenlets wait for (a socket gaining messages or room, a context
            becoming idle). fire() wakes every waiter on its own thread: a waiter is parked
            on a gevent Waiter, which a hub callback switches to (no Event, no links).
Mailbox     a socket's commands from other threads (libzmq's mailbox_t): calls queue in
            order and run on the socket's thread (the one that used it last), when its hub
            next runs or as soon as the socket is used (process()), whichever comes first.

and one function, the only way gzmq blocks:

    wait_until(ready, timeout, signals, check)

ready() is tried, then tried again each time one of `signals` fires, until it returns
something true (returned) or `timeout` seconds pass (None is returned; the caller raises
Again or NotDone). check() raises to end the wait (ENOTSOCK, ContextTerminated). Send, recv,
poll, term, the proxy and MessageTracker.wait all wait this way. An interrupted wait
(gevent.Timeout, kill) takes nothing: ready() is what consumes, and it never runs after the
interruption.
"""
import logging
import os
import select as _select
import signal as _signal
import sys
import time
import weakref
from collections import deque

from gevent import get_hub, getcurrent, sleep
from gevent.hub import Waiter
from gevent.monkey import get_original

log = logging.getLogger("gzmq")

# The real thread id even under monkey.patch_all() (patched get_ident returns greenlet ids).
thread_ident = get_original("_thread", "get_ident")
_original_poll = get_original("select", "poll")
_RLock = get_original("_thread", "RLock")
_monotonic = time.monotonic


class HubLink:
    """Runs calls on one hub's thread (see the module docstring)."""

    __slots__ = ("thread", "hub", "loop", "deferred", "dedicated", "_calls", "_async", "_holds",
                 "__weakref__")

    def __init__(self):
        hub = get_hub()
        if not hub and getcurrent() is not hub:
            # Start the hub now, while nothing can interrupt it in practice: a KeyboardInterrupt
            # that lands on the first lines of Hub.run() kills the hub for good (every later
            # switch to it returns at once), and a program's first wait is where Ctrl-C lands.
            sleep(0)
        self.thread = thread_ident()
        self.hub = hub
        self.loop = hub.loop
        self.deferred = None     # the hub's writers waiting to be woken (gzmq.engine.deferred)
        self.dedicated = False   # an I/O thread's hub (gzmq.engine.io_thread)
        self._calls = deque()
        self._holds = 0
        watcher = self._async = self.loop.async_()
        watcher.ref = False          # referenced only while someone waits (hold())
        watcher.start(self._drain)
        if getattr(self.loop, "default", False):
            _wake_on_signals(self.loop)
        _links.add(self)

    def hold(self):
        """A greenlet of this hub waits for a wake-up that may come from another thread: keep
        the watcher referenced so the hub does not think it can never be woken (gevent would
        raise LoopExit). Pair with release()."""
        self._holds += 1
        if self._holds == 1:
            self._async.ref = True

    def release(self):
        self._holds -= 1
        if self._holds == 0:
            self._async.ref = False

    def waiting(self):
        """Is a greenlet of this hub blocked in a gzmq wait, so that its hub runs posted calls
        (not busy in the program's own code, nor blocked natively)?"""
        return self._holds > 0

    def parked(self):
        """Blocked in a gzmq wait with no call posted to wake it (at exit: it stays there)."""
        return self._holds > 0 and not self._calls

    def call(self, fn, *args):
        if thread_ident() == self.thread:
            fn(*args)
            return
        self.post(fn, *args)

    def post(self, fn, *args):
        """Run fn(*args) on this hub's thread when its hub next runs (never at once)."""
        self._calls.append((fn, args))
        try:
            self._async.send()
        except Exception:      # pragma: no cover - the hub is gone (its thread ended)
            pass

    def alive(self):
        """Does this hub's thread still exist (something may still run here)?"""
        return self.thread == thread_ident() or self.thread in sys._current_frames()

    def _drain(self):
        calls = self._calls
        try:
            while calls:
                fn, args = calls.popleft()
                try:
                    fn(*args)
                except Exception:  # pragma: no cover - a call must never kill the hub
                    log.exception("gzmq: cross-thread call failed")
        finally:
            if calls:       # a KeyboardInterrupt landed here: the rest must still run
                self._async.send()


_local = get_original("_thread", "_local")()   # per OS thread, even under patch_all
_links: "weakref.WeakSet[HubLink]" = weakref.WeakSet()     # every thread's, for the exit


def hub_links():
    """The HubLink of every thread that has run a gzmq hub (and its link is still alive)."""
    return list(_links)
_signal_wakeup: list = []    # the wake-up pipe's read end and its watcher, once made (for good)


def _wake_on_signals(loop):
    """Make a signal wake the main thread's hub at once, as asyncio's loop does.

    gevent runs Python's signal handlers (Ctrl-C's KeyboardInterrupt) just before its loop
    polls; a signal that arrives after that check and before the poll starts (a thread
    preempted in between, on a loaded machine) leaves the hub asleep, the handler unrun, until
    something else wakes it: forever for a program waiting in recv(). With a wake-up fd the
    C-level handler writes a byte that ends the poll. Only from the main thread, and only if
    the program has no wake-up fd of its own (asyncio's, say)."""
    if _signal_wakeup or os.name == "nt":
        return
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    os.set_blocking(write_end, False)
    try:
        previous = _signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    except ValueError:          # not the main thread
        previous = None
    if previous is None or previous != -1:
        if previous is not None:
            _signal.set_wakeup_fd(previous)     # the program's own: leave it in place
        os.close(read_end)
        os.close(write_end)
        return
    _signal_wakeup.append(read_end)
    watcher = loop.io(read_end, 1)
    watcher.ref = False         # never what keeps a hub running

    def drain():
        try:
            while os.read(read_end, 512):
                pass
        except OSError:         # (BlockingIOError: drained)
            pass
    watcher.start(drain)
    _signal_wakeup.append(watcher)


def hub_link():
    """This thread's HubLink (made on first use, on this thread, and again for a new hub)."""
    try:
        link = _local.link
        if link.hub is get_hub():
            return link
    except AttributeError:
        pass
    link = _local.link = HubLink()
    return link


class Signal:
    """Waiters to wake when something may have changed; fire() is safe from any thread."""

    __slots__ = ("waiters",)

    def __init__(self):
        self.waiters = []      # the _Parked greenlets in wait_until()

    def fire(self):
        here = thread_ident()
        for parked in list(self.waiters):
            if parked.link.thread == here:
                parked.wake()
            else:
                parked.link.call(parked.wake)


class _Parked:
    """A greenlet in wait_until(), as its signals see it. wake() ends its current block once.
    A wake-up that comes while the greenlet is not blocked is stored in the Waiter at once, so
    its next block returns without a switch (a greenlet about to block often fires its own
    signal: its inline flush drained a full pipe); none is lost, and one that comes after the
    wait is over is harmless. A blocked greenlet is switched to by a hub callback, never
    directly, even from the hub: a fire happens in the middle of other work (a socket
    attaching a peer), which must finish before the woken greenlet runs and looks at the
    socket."""

    __slots__ = ("waiter", "hub", "link", "fired")

    def __init__(self, hub, link):
        self.waiter = Waiter(hub)
        self.hub = hub
        self.link = link
        self.fired = False

    def wake(self):
        if self.fired:
            return
        self.fired = True
        waiter = self.waiter
        if waiter.greenlet is None:
            waiter.switch(None)     # (not blocked: only stores the wake-up)
        else:
            self.hub.loop.run_callback(waiter.switch, None)


def wait_until(ready, timeout=None, signals=(), check=None, tried=False):
    """Block cooperatively until ready() is true or `timeout` seconds pass (see the module
    docstring). Returns ready()'s result, or None on timeout.

    tried=True: the caller (a socket's recv or send) has just tried, and everything that can
    make ready() true comes as that socket's commands, which fire `signals` when they run and
    go to this thread's hub (the socket's call has just made this its thread): ready() is
    not tried again before the first block."""
    if not tried:
        if check is not None:
            check()
        result = ready()
        if result:
            return result
    if timeout is not None and timeout <= 0:
        return None
    deadline = None if timeout is None else _monotonic() + timeout
    link = hub_link()
    hub = link.hub
    parked = _Parked(hub, link)
    waiter = parked.waiter
    for signal in signals:
        signal.waiters.append(parked)
    link._holds += 1        # (link.hold(), inline: this is every blocking call's path)
    if link._holds == 1:
        link._async.ref = True
    timer = None
    try:
        while True:
            if not tried:
                waiter.clear()       # (before trying: a wake from now on is not lost)
                parked.fired = False
                result = ready()
                if result:
                    return result
            tried = False
            if check is not None:
                check()
            if deadline is not None:
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    return None
                if timer is not None:
                    timer.close()
                timer = hub.loop.timer(remaining)
                timer.start(parked.wake)
            before_block(link)
            waiter.get()
    finally:
        if timer is not None:
            timer.close()
        link._holds -= 1        # (link.release())
        if not link._holds:
            link._async.ref = False
        for signal in signals:
            try:
                signal.waiters.remove(parked)
            except ValueError:
                pass


def call_and_wait(link, fn, *args):
    """Run fn(*args) on the hub of `link` and wait (cooperatively) until it has run; returns
    its result or raises its exception. At once if that hub is this thread's. For the rare
    calls whose effect the caller must see done (unbind() and close() free the address).
    From the hub itself (a hub callback, a finalizer run there), which must never block, the
    call is only posted and None returned."""
    if link.thread == thread_ident():
        return fn(*args)
    if getcurrent() is get_hub():
        link.call(fn, *args)
        return None
    outcome = []
    done = Signal()

    def run():
        try:
            outcome.append((True, fn(*args)))
        except BaseException as exc:    # handed to the caller
            outcome.append((False, exc))
        done.fire()

    link.call(run)
    wait_until(lambda: outcome, None, (done,))
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def yield_turn():
    """Let the other greenlets of this hub run once (a yield, not a block); a no-op in the
    hub itself."""
    if getcurrent() is not get_hub():
        sleep(0)


def before_block(link):
    """Work to do before a greenlet of this hub (its HubLink: link) blocks; set by the engine
    to write what the connections of this hub have queued, instead of waking their writers."""


def set_before_block(fn):
    global before_block
    before_block = fn


class Mailbox:
    """A socket's commands from other threads (see the module docstring).

    call(fn, *args) runs fn on the socket's thread: at once if called there (after anything
    queued before it), else queued; the socket's hub is then asked to process() and the
    socket's `signals` fire, so a greenlet waiting on the socket, on any thread, looks again.

    The socket's thread is the one that used it last. pyzmq lets a program hand a socket to
    another thread (with a memory barrier, such as starting the thread or a queue); the
    socket's first call there goes through process(), which moves the mailbox to that
    thread, so that its commands run where the socket is used and nowhere else (the old
    thread may still run its hub, blocked in another socket's recv). A hub callback queued
    for the old thread finds the mailbox gone and passes the work on. `lock` is held wherever
    a command runs outside the socket's own calls (a hub callback, a call() made on the
    socket's thread), so a move waits for such a command to finish instead of overlapping it.
    """

    __slots__ = ("thread", "link", "commands", "scheduled", "signals", "fd", "lock", "__weakref__")

    def __init__(self, signals=()):
        self.link = hub_link()
        self.thread = self.link.thread
        self.commands = deque()
        self.scheduled = False
        self.signals = signals
        self.fd = None           # the socket's EventFD once someone asked for zmq.FD
        self.lock = _RLock()

    def call(self, fn, *args):
        here = thread_ident()
        if here == self.thread:
            lock = self.lock
            lock.acquire()      # (not `with`: this is every activation's path, and `with` costs 2x)
            try:
                if here == self.thread:       # (not moved away meanwhile)
                    if self.commands:
                        self._run()
                    fn(*args)
                    return
            finally:
                lock.release()
        self.commands.append((fn, args))
        if not self.scheduled:
            self.scheduled = True
            self.link.call(self._process_on_hub)
        for signal in self.signals:
            if signal.waiters:
                signal.fire()
        if self.fd is not None:
            self.fd.set()        # EVENTS may change once the commands are processed

    def process(self):
        """Run the queued commands: the socket is being used on this thread (its API calls
        this first), which becomes the socket's thread if it was not."""
        if self.thread != thread_ident():
            link = hub_link()
            # A native lock, on purpose: it is held only while one command runs on the old
            # thread, so the move waits that long, and never beside it.
            with self.lock:
                self.link = link
                self.thread = link.thread
        self._run()

    def _process_on_hub(self):
        with self.lock:
            if self.thread == thread_ident():
                self._run()
                return
            # The socket moved to another thread after this was queued: its hub runs them.
            if self.commands:
                self.scheduled = True
                self.link.post(self._process_on_hub)

    def _run(self):
        self.scheduled = False
        commands = self.commands
        try:
            while commands:
                fn, args = commands.popleft()
                try:
                    fn(*args)
                except Exception:  # pragma: no cover - a command must never kill its caller
                    log.exception("gzmq: socket command failed")
        finally:
            if commands and not self.scheduled:     # (a KeyboardInterrupt landed here)
                self.scheduled = True
                self.link.post(self._process_on_hub)


# -- file descriptors (gzmq.poll) ---------------------------------------------------------------
FD_IN = 1        # (gzmq's POLLIN / POLLOUT / POLLERR values)
FD_OUT = 2
FD_ERR = 4


def poll_fds_now(fds):
    """{fd: events} for the (fd, events wanted) pairs ready right now (never blocks)."""
    poller = _original_poll()
    for fd, wanted in fds:
        poller.register(fd, (_select.POLLIN if wanted & FD_IN else 0)
                        | (_select.POLLOUT if wanted & FD_OUT else 0))
    ready = {}
    for fd, revents in poller.poll(0):
        events = 0
        if revents & (_select.POLLIN | _select.POLLHUP):
            events |= FD_IN
        if revents & _select.POLLOUT:
            events |= FD_OUT
        if revents & _select.POLLERR:
            events |= FD_ERR
        ready[fd] = events
    return ready


class FdWatch:
    """Watch (fd, events wanted) pairs on this hub: each readiness is or-ed into `ready`
    ({fd: events}) and fires `signal`. close() when done."""

    def __init__(self, fds, signal, ready):
        loop = get_hub().loop
        self._watchers = []
        for fd, wanted in fds:
            mask = (1 if wanted & FD_IN else 0) | (2 if wanted & FD_OUT else 0)
            watcher = loop.io(fd, mask or 1)
            watcher.start(self._ready, signal, ready, fd, pass_events=True)
            self._watchers.append(watcher)

    @staticmethod
    def _ready(revents, signal, ready, fd):
        events = (FD_IN if revents & 1 else 0) | (FD_OUT if revents & 2 else 0)
        ready[fd] = ready.get(fd, 0) | events
        signal.fire()

    def close(self):
        for watcher in self._watchers:
            watcher.stop()
            watcher.close()
        self._watchers = []


class EventFD:
    """A file descriptor that is readable while something may have changed (libzmq's
    signaler_t, behind zmq.FD): set() from any thread; clear() by the one reading it, before
    it looks at what changed. Edge-triggered in effect: after clear(), the next set() makes
    it readable again, and a set() that comes between the two is seen by the look that
    follows clear()."""

    __slots__ = ("fileno", "_write_fd", "_eventfd", "pending")

    def __init__(self):
        if hasattr(os, "eventfd"):
            self.fileno = self._write_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._eventfd = True
        else:       # (Python 3.9)
            self.fileno, self._write_fd = os.pipe()
            os.set_blocking(self.fileno, False)
            os.set_blocking(self._write_fd, False)
            self._eventfd = False
        self.pending = False

    def set(self):
        if self.pending:
            return
        self.pending = True
        try:
            if self._eventfd:
                os.eventfd_write(self._write_fd, 1)
            else:
                os.write(self._write_fd, b"\x01")
        except (BlockingIOError, OSError):
            pass

    def clear(self):
        if not self.pending:
            return
        try:                    # drain first, then allow set() again (see the docstring)
            if self._eventfd:
                os.eventfd_read(self.fileno)
            else:
                while os.read(self.fileno, 4096):
                    pass
        except (BlockingIOError, OSError):
            pass
        self.pending = False

    def close(self):
        for fd in {self.fileno, self._write_fd}:
            try:
                os.close(fd)
            except OSError:
                pass
