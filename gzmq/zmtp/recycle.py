"""BodyRecycler: reuse the buffers of large received frames once the application dropped them.

Why: a stream of 1 MiB messages gets a fresh 1 MiB buffer per frame. glibc hands such blocks
back to the kernel and takes them again (its heap top is trimmed, or the block is mmap()ed),
so every page of every message is faulted in and zeroed anew: measured here, 250 page faults
per 1 MiB message and 2 s of system time per 2 GB received, 0.9 GB/s where the same stream
reaches 2.3 GB/s once the pages stay mapped. libzmq does not pay this because it frees each
message before it allocates the next; gzmq's reader runs up to RCVHWM messages ahead.

How: buffers handed out are remembered (up to `limit` bytes in all). A remembered buffer is
free again when nothing but this list refers to it: every memoryview of a bytearray, and every
slice of those views, keeps one reference to it through their shared buffer manager, so a
reference count at its floor means no frame, view or pending send can still see the bytes.
Only exact sizes are reused (a stream of messages tends to repeat its sizes), and a free
buffer is overwritten in full before it is delivered again.

Pure and single-threaded: the engine keeps one per OS thread (gevent hub) and passes it to that
thread's connections. Relies on CPython's reference counts; elsewhere it only allocates.
"""
import mmap
import sys

from ..constants import PROTOCOL_ERROR_ZMTP_UNSPECIFIED
from ..error import ZMTPError

# Large-frame buffers remembered per thread: at most this many bytes (they stay mapped while
# unused) and this many buffers (take() looks at each of them).
RECYCLE_BYTES = 64 << 20
RECYCLE_BUFFERS = 64

_getrefcount = getattr(sys, "getrefcount", None)


def _refs(buf):
    """References to buf as counted from here; always called as _refs(a_list[i])."""
    return _getrefcount(buf)


# What _refs() says of a buffer that nothing but its list refers to. Measured, not assumed:
# what a count includes (call arguments, borrowed stack references) differs between Python
# versions, and a floor set one too high would hand out a buffer still in use. Anything that
# can still see a buffer's bytes (a memoryview, through its buffer manager; the bytearray
# itself) holds a real reference, so "in use" always counts above this floor.
if _getrefcount is not None:
    _probe = [bytearray(1)]
    _FREE = _refs(_probe[0])
    del _probe


class BodyRecycler:
    __slots__ = ("_bufs", "_bytes", "limit", "max_buffers", "reused", "allocated")

    def __init__(self, limit=RECYCLE_BYTES, max_buffers=RECYCLE_BUFFERS):
        self._bufs = []       # oldest first
        self._bytes = 0
        self.limit = limit if _getrefcount is not None else 0
        self.max_buffers = max_buffers
        self.reused = 0
        self.allocated = 0

    def take(self, size):
        """A bytearray of exactly `size` bytes (old contents if reused: overwrite it all)."""
        bufs = self._bufs
        for i in range(len(bufs)):
            if len(bufs[i]) == size and _refs(bufs[i]) == _FREE:
                # Move it to the young end: the oldest entries are the likeliest to be free.
                buf = bufs.pop(i)
                bufs.append(buf)
                self.reused += 1
                return buf
        buf = bytearray(size)
        self.allocated += 1
        if size <= self.limit:
            self._make_room(size)
            if self._bytes + size <= self.limit and len(bufs) < self.max_buffers:
                bufs.append(buf)
                self._bytes += size
        return buf

    def _make_room(self, size):
        """Forget free buffers (oldest first) until `size` more bytes fit under the limit."""
        bufs = self._bufs
        i = 0
        while (self._bytes + size > self.limit or len(bufs) >= self.max_buffers) and i < len(bufs):
            if _refs(bufs[i]) == _FREE:
                self._bytes -= len(bufs.pop(i))
            else:
                i += 1

    def clear(self):
        self._bufs = []
        self._bytes = 0

    @property
    def held_bytes(self):
        return self._bytes


# Bodies up to this size get a bytearray (zero-filled at once, fast to reuse); bigger ones an
# anonymous memory map, whose pages the kernel provides only as data is written into them.
EAGER_BODY = 8 << 20


def body_buffer(size, recycler=None):
    """A writable buffer for a large frame body, as a memoryview (zero-filled, or a recycled
    one that the frame overwrites in full: BodyRecycler below).

    A peer that announces a huge frame and sends little of it so costs at most EAGER_BODY
    bytes of touched memory per connection, not the announced size (set MAXMSGSIZE to bound
    what a peer may really send).
    """
    if size <= EAGER_BODY:
        return memoryview(bytearray(size) if recycler is None else recycler.take(size))
    try:
        return memoryview(mmap.mmap(-1, size))
    except (OSError, OverflowError, ValueError, MemoryError):
        raise ZMTPError(f"cannot allocate a {size}-byte frame (set MAXMSGSIZE to refuse such frames)",
                        PROTOCOL_ERROR_ZMTP_UNSPECIFIED) from None
