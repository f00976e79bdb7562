"""Thread-aware wake-ups.

A socket belongs to the hub of the OS thread that created it. Everything that wakes it from
its own thread (a session greenlet, an inproc peer on the same hub) calls straight in. An
inproc peer on another thread cannot touch that hub's greenlets or events, so it queues the
call and pokes the hub through a gevent async watcher, the one hub primitive that is safe to
trigger from any thread. No threading lock is taken on the hub and nothing busy-waits.
"""
from collections import deque

from gevent import get_hub
from gevent.monkey import get_original

# The real thread id even under monkey.patch_all() (patched get_ident returns greenlet ids).
thread_ident = get_original("_thread", "get_ident")


class Wakeup:
    """Calls fn(*args) on the owning thread's hub: at once if already there, else via async."""

    __slots__ = ("thread", "_calls", "_async", "_holds", "__weakref__")

    def __init__(self):
        self.thread = thread_ident()
        self._calls = deque()
        self._async = None
        self._holds = 0

    def hold(self):
        """Someone on this hub is about to wait for a wake-up that may come from another
        thread: keep the watcher referenced so the hub does not think it can never be woken
        (gevent would raise LoopExit). Pair with release()."""
        self._holds += 1
        watcher = self._async
        if watcher is not None and self._holds == 1:
            watcher.ref = True

    def release(self):
        self._holds -= 1
        watcher = self._async
        if watcher is not None and self._holds == 0:
            watcher.ref = False

    def arm(self):
        """Create the async watcher; must run on the owning thread (inproc bind/connect)."""
        if self._async is None and thread_ident() == self.thread:
            watcher = get_hub().loop.async_()
            watcher.ref = self._holds > 0  # referenced only while someone waits (hold())
            watcher.start(self._drain)
            self._async = watcher

    def call(self, fn, *args):
        if thread_ident() == self.thread:
            fn(*args)
            return
        self._calls.append((fn, args))
        watcher = self._async
        if watcher is not None:
            watcher.send()

    def wrap(self, fn, *args):
        """A zero-argument callable that runs fn(*args) on the owning thread."""
        if not args:
            return lambda: self.call(fn)
        return lambda: self.call(fn, *args)

    def _drain(self):
        calls = self._calls
        while calls:
            fn, args = calls.popleft()
            try:
                fn(*args)
            except Exception:  # pragma: no cover - a hook must never kill the hub
                import logging

                logging.getLogger("gzmq").exception("cross-thread wake-up failed")

    def close(self):
        watcher = self._async
        self._async = None
        if watcher is not None:
            try:
                watcher.stop()
                watcher.close()
            except Exception:  # pragma: no cover
                pass
