"""Latch: a set of outstanding items that is "done" when empty, waitable from any thread.

MessageTracker uses one per tracked send (an item per buffer the engine still holds, released
by a weakref callback on whichever thread drops the buffer last), and the devices in
gzmq.devices use one to let any thread join() a device running in a greenlet, an OS thread or
a process. Items are added and discarded with list operations, which are atomic under the
GIL; a waiter sleeps on a gevent Event of its own hub, woken directly from its own thread or
through an async watcher from any other, so discard() may run on any thread, inside a hub
callback or a finalizer, and never blocks. The watcher keeps the waiter's hub alive while it
waits (unlike the sockets' Wakeup, which must not): it is waiting for another thread.
"""
from gevent import get_hub
from gevent.event import Event

from .wakeup import thread_ident


class Latch:
    __slots__ = ("_items", "_waiters", "__weakref__")

    def __init__(self):
        self._items = []
        self._waiters = []    # (thread id, async watcher, Event) of greenlets in wait()

    def add(self, item):
        self._items.append(item)

    def discard(self, item):
        """Drop one item (any thread); wakes the waiters when none is left."""
        try:
            self._items.remove(item)
        except ValueError:
            return
        if not self._items:
            here = thread_ident()
            for ident, watcher, event in list(self._waiters):
                if ident == here:
                    event.set()
                else:
                    watcher.send()

    def is_done(self):
        return not self._items

    def wait(self, timeout=None):
        """Block cooperatively until done or `timeout` seconds (None: forever); returns done."""
        if not self._items:
            return True
        event = Event()
        watcher = get_hub().loop.async_()
        watcher.start(event.set)
        entry = (thread_ident(), watcher, event)
        self._waiters.append(entry)
        try:
            # Registered before the re-check, so a discard() in between still wakes us.
            if self._items:
                event.wait(timeout)
            return not self._items
        finally:
            self._waiters.remove(entry)
            # Stopped, not closed: another thread may still hold it from its snapshot of
            # _waiters, and send() on a stopped watcher is harmless. It is freed with its
            # last reference.
            watcher.stop()
