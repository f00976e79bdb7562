"""Latch: a set of outstanding items that is "done" when empty, waitable from any thread.

MessageTracker uses one per tracked send (an item per buffer the engine still holds, released
by a weakref callback on whichever thread drops the buffer last), and the devices in
gzmq.devices use one to let any thread join() a device running in a greenlet, an OS thread or
a process. Items are added and discarded with list operations, which are atomic under the
GIL; discard() may run on any thread, inside a hub callback or a finalizer, and never
blocks: the last one fires the latch's Signal, which wakes each waiter on its own thread.
"""
from .wait import Signal, wait_until


class Latch:
    __slots__ = ("_items", "_done", "__weakref__")

    def __init__(self):
        self._items = []
        self._done = Signal()

    def add(self, item):
        self._items.append(item)

    def discard(self, item):
        """Drop one item (any thread); wakes the waiters when none is left."""
        try:
            self._items.remove(item)
        except ValueError:
            return
        if not self._items:
            self._done.fire()

    def is_done(self):
        return not self._items

    def wait(self, timeout=None):
        """Block cooperatively until done or `timeout` seconds (None: forever); returns done."""
        return bool(wait_until(self.is_done, timeout, (self._done,)))
