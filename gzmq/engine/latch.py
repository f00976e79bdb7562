"""Latch: a set of outstanding items that is "done" when empty, waitable from any thread.

MessageTracker uses one per tracked send (an item per buffer the engine still holds, released
by a weakref callback on whichever thread drops the buffer last), and the devices in
gzmq.devices use one to let any thread join() a device running in a greenlet, an OS thread or
a process. Items are added and discarded with list operations, which are atomic under the
GIL; a waiter sleeps on a gevent Event of its own hub and is woken through a Wakeup, so
release() may run on any thread, inside a hub callback or a finalizer, and never blocks.
"""
from gevent.event import Event

from .wakeup import Wakeup


class Latch:
    __slots__ = ("_items", "_waiters", "__weakref__")

    def __init__(self):
        self._items = []
        self._waiters = []    # (Wakeup, Event) of greenlets blocked in wait()

    def add(self, item):
        self._items.append(item)

    def discard(self, item):
        """Drop one item (any thread); wakes the waiters when none is left."""
        try:
            self._items.remove(item)
        except ValueError:
            return
        if not self._items:
            for wakeup, event in list(self._waiters):
                wakeup.call(event.set)

    def is_done(self):
        return not self._items

    def wait(self, timeout=None):
        """Block cooperatively until done or `timeout` seconds (None: forever); returns done."""
        if not self._items:
            return True
        wakeup = Wakeup()
        wakeup.arm()
        event = Event()
        entry = (wakeup, event)
        self._waiters.append(entry)
        try:
            # Registered before the re-check, so a discard() in between still wakes us.
            if self._items:
                event.wait(timeout)
            return not self._items
        finally:
            self._waiters.remove(entry)
            wakeup.close()
