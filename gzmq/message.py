"""Frame and MessageTracker, shaped like pyzmq's zmq.Frame and zmq.MessageTracker.

A Frame wraps one message part without copying it: `.buffer` is a memoryview of the data,
`.bytes` the bytes (copied only if the frame holds another buffer type), `.more` whether
parts follow, and `.get(name)` the peer's metadata ("Socket-Type", "Identity",
"Peer-Address", "User-Id", ...), as libzmq's zmq_msg_gets.

A MessageTracker follows the buffers of a zero-copy send (copy=False, track=True): the socket
hands the engine a fresh memoryview per frame, and the tracker holds a weak reference to each.
The engine drops its last reference when it is done with the data: over tcp/ipc once the
session writer has handed the bytes to the kernel, over inproc once the receiving side has
let go of the frame (recv() copied it, or the Frame it returned was dropped), and at once
for a message that was dropped (HWM, no route, LINGER 0). Until then the caller must not
modify the buffer. Completion may happen on another thread (inproc across threads); wait()
is cooperative on the caller's hub whichever thread it is.
"""
from __future__ import annotations

import builtins
import time
import weakref
from typing import Any, Optional, Tuple, Union

from .constants import MessageOption
from .engine.latch import Latch
from .error import NotDone, ZMQError


class MessageTracker:
    """Done when the engine has finished with every tracked buffer (see the module docstring).

    ``MessageTracker(*towatch)`` combines other trackers, tracked Frames and gevent Events, as
    pyzmq's does. `done` polls; `wait(timeout)` blocks cooperatively and raises NotDone.
    """

    def __init__(self, *towatch: Any) -> None:
        self._latch = Latch()
        self.peers: set[MessageTracker] = set()
        self.events: set[Any] = set()
        for obj in towatch:
            if isinstance(obj, MessageTracker):
                self.peers.add(obj)
            elif isinstance(obj, Frame):
                if obj.tracker is None:
                    raise ValueError("Not a tracked message")
                self.peers.add(obj.tracker)
            elif hasattr(obj, "is_set") and hasattr(obj, "wait"):
                self.events.add(obj)      # an Event (gevent's or threading's)
            else:
                raise TypeError(f"Require Events or Message Frames, not {type(obj)}")

    def _watch(self, view: Any) -> None:
        """Track a memoryview the engine is about to hold (done once it is released)."""
        self._latch.add(weakref.ref(view, self._latch.discard))

    _watch_frame = _watch   # a tracked Frame holds its data too: not done while it lives (pyzmq)

    @property
    def done(self) -> bool:
        return (self._latch.is_done() and all(p.done for p in self.peers)
                and all(e.is_set() for e in self.events))

    def wait(self, timeout: Optional[float] = -1) -> None:
        """Wait until done. timeout in seconds (-1 or None: forever); NotDone if it expires."""
        if timeout is None or timeout is False or timeout < 0:
            timeout = None
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._latch.wait(timeout):
            raise NotDone()
        for waitable in list(self.peers) + list(self.events):
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if isinstance(waitable, MessageTracker):
                waitable.wait(remaining)
            elif not waitable.wait(remaining):
                raise NotDone()


_FINISHED_TRACKER = MessageTracker()


class Frame:
    """One message part (pyzmq's zmq.Frame)."""

    __slots__ = ("_data", "_view", "_received", "more", "tracker", "_props", "routing_id", "group",
                 "__weakref__")
    _data: Any                   # bytes, bytearray or a memoryview

    def __init__(self, data: Any = b"", track: bool = False, copy: Optional[bool] = None,
                 copy_threshold: Optional[int] = None) -> None:
        if isinstance(data, str):
            raise TypeError("Str objects not allowed. Only: bytes, buffer interfaces.")
        if isinstance(data, Frame):
            data = data._data
        if copy and not isinstance(data, bytes):
            data = bytes(data)
        elif not isinstance(data, (bytes, memoryview)):
            data = memoryview(data)
        if isinstance(data, memoryview):
            if not data.c_contiguous:
                raise BufferError("Frame needs a contiguous buffer")
            if data.ndim != 1 or data.itemsize != 1:
                data = data.cast("B")
        self._data = data
        self._view: Optional[memoryview] = None
        self._received = False   # set by recv(copy=False): its buffer must be writable
        self.more = False
        # As pyzmq's: a tracked Frame's tracker is done once the Frame itself is gone and every
        # copy=False send of it has been released by the engine.
        self.tracker: Optional[MessageTracker] = None
        if track:
            self.tracker = MessageTracker()
            self.tracker._watch_frame(self)
        self._props: Optional[dict[str, Any]] = None
        self.routing_id: Optional[int] = None
        self.group: Optional[str] = None

    @property
    def bytes(self) -> builtins.bytes:
        data = self._data
        return data if type(data) is bytes else bytes(data)

    @property
    def buffer(self) -> memoryview:
        """A memoryview of the data (the same object every time, as pyzmq's)."""
        view = self._view
        if view is None:
            data = self._data
            if self._received and (type(data) is bytes or data.readonly):
                # pyzmq's received frames are writable (libzmq's message memory), so code may
                # modify them in place (numpy.frombuffer(frame) += 1). A frame that arrived as
                # immutable bytes gets memory of its own, once, when its buffer is first used.
                data = self._data = bytearray(data)
            view = self._view = memoryview(data)
        return view

    def __len__(self) -> int:
        return len(self._data)

    def __bytes__(self) -> builtins.bytes:
        return self.bytes

    def __buffer__(self, flags: int) -> memoryview:
        return memoryview(self.buffer)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Frame):
            return self.bytes == other.bytes
        if isinstance(other, (bytes, bytearray, memoryview)):
            return self.bytes == bytes(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.bytes)

    def __repr__(self) -> str:
        data = self.bytes
        shown = data if len(data) <= 32 else data[:29] + b"..."
        return f"<gzmq.Frame({shown!r}{' more' if self.more else ''})>"

    def __copy__(self) -> Frame:
        """A Frame of the same data (no copy), sharing the tracker, as pyzmq's fast_copy."""
        frame = Frame(self._data)
        frame.more = self.more
        if self.tracker is not None:
            frame.tracker = self.tracker
            self.tracker._watch_frame(frame)
        return frame

    fast_copy = __copy__

    def get(self, option: Union[int, str]) -> Union[int, str]:
        """MORE (int) or a metadata property by name (str), as zmq_msg_get/zmq_msg_gets."""
        if isinstance(option, int):
            if option == MessageOption.MORE:
                return int(self.more)
            raise ZMQError(22, f"Frame.get: unsupported option {option}")
        props = self._props or {}
        key = option.lower()
        if key in props:
            value = props[key]
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        raise ZMQError(22, f"Frame.get: no such property {option!r}")

    def __getitem__(self, key: Union[int, str]) -> Union[int, str]:
        """frame["User-Id"] is frame.get("User-Id"), as in pyzmq."""
        return self.get(key)

    # Not iterable: without this, __getitem__ would make bytearray(frame) on Python < 3.12
    # (no __buffer__ there) iterate frame[0], frame[1]... and fail with a ZMQError.
    __iter__ = None

    def set(self, option: int, value: Any) -> None:
        if option == MessageOption.MORE:
            self.more = bool(value)
            return
        raise ZMQError(22, f"Frame.set: unsupported option {option}")


Message = Frame

# Frames smaller than this are copied even with copy=False (pyzmq's zmq.COPY_THRESHOLD).
COPY_THRESHOLD = 65536


def frame_data(data: Any, copy: bool, threshold: int = COPY_THRESHOLD) -> Union[bytes, memoryview]:
    """What a socket queues for one frame sent: bytes (copied), or a memoryview the engine
    holds until it has written it (copy=False, `threshold` bytes or more)."""
    if isinstance(data, Frame):
        # A fresh view, never the Frame's own .buffer: trackers follow the engine's views.
        return data.bytes if copy else memoryview(data._data)
    if isinstance(data, str):
        raise TypeError("unicode not allowed, use send_string")
    if copy:
        try:
            return bytes(memoryview(data).cast("B")) if not isinstance(data, (bytearray,)) else bytes(data)
        except TypeError:
            raise TypeError(f"{type(data).__name__} does not support the buffer interface") from None
    view = memoryview(data)
    if view.nbytes < threshold:
        return bytes(view)
    return view if view.ndim == 1 and view.itemsize == 1 else view.cast("B")


def tracked_frame(data: Any, copy: bool, tracker: Optional[MessageTracker],
                  threshold: int = COPY_THRESHOLD) -> Tuple[Any, MessageTracker]:
    """send(track=True): (frame data, tracker). A frame sent without copying is a fresh
    memoryview that only the engine references, so the tracker can follow its release; a
    copied frame needs no tracking. A tracked Frame brings its own tracker."""
    fresh = False
    if tracker is None:
        if isinstance(data, Frame):
            if data.tracker is None:
                raise ValueError("Not a tracked message")   # pyzmq: track=True needs a tracked Frame
            tracker = data.tracker
        else:
            tracker = MessageTracker()
            fresh = True
    if type(data) is bytes:
        if not copy and len(data) >= threshold:
            data = memoryview(data)
    else:
        data = frame_data(data, copy, threshold)
    if type(data) is memoryview:
        tracker._watch(data)
    elif fresh:
        tracker = _FINISHED_TRACKER   # copied: nothing to wait for (pyzmq's shared tracker)
    return data, tracker
