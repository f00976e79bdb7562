"""Frame and MessageTracker, shaped like pyzmq's zmq.Frame and zmq.MessageTracker.

A Frame wraps one message part without copying it: `.buffer` is a memoryview of the data,
`.bytes` the bytes (copied only if the frame holds another buffer type), `.more` whether
parts follow, and `.get(name)` the peer's metadata ("Socket-Type", "Identity",
"Peer-Address", "User-Id", ...), as libzmq's zmq_msg_gets.
"""
from gevent.event import Event

from .constants import MessageOption
from .error import NotDone, ZMQError


class MessageTracker:
    """Completes when the tracked message has been handed to the kernel (or, for inproc, to
    the peer). `done` polls, `wait(timeout)` blocks cooperatively and raises NotDone."""

    def __init__(self, *towatch):
        self._event = Event()
        self._pending = 0
        self.peers = set()
        for obj in towatch:
            if isinstance(obj, MessageTracker):
                self._pending += 1
                obj._event.rawlink(lambda _e: self._one_done())
                self.peers.add(obj)

    def _one_done(self):
        self._pending -= 1
        if self._pending <= 0:
            self._event.set()

    def _set_done(self):
        self._event.set()

    @property
    def done(self):
        return self._event.is_set()

    def wait(self, timeout=-1):
        """Wait until done. timeout in seconds (-1 or None: forever); NotDone if it expires."""
        if timeout is not None and timeout < 0:
            timeout = None
        if not self._event.wait(timeout):
            raise NotDone()


class Frame:
    """One message part (pyzmq's zmq.Frame)."""

    __slots__ = ("_data", "more", "tracker", "_props", "routing_id", "group", "__weakref__")

    def __init__(self, data=b"", track=False, copy=None, copy_threshold=None):
        if isinstance(data, str):
            raise TypeError("Str objects not allowed. Only: bytes, buffer interfaces.")
        if isinstance(data, Frame):
            data = data._data
        if copy and not isinstance(data, bytes):
            data = bytes(data)
        elif not isinstance(data, (bytes, memoryview)):
            data = memoryview(data)
        if isinstance(data, memoryview) and (data.ndim != 1 or data.itemsize != 1):
            data = data.cast("B")
        self._data = data
        self.more = False
        self.tracker = MessageTracker() if track else None
        self._props = None
        self.routing_id = None
        self.group = None

    @property
    def bytes(self):
        data = self._data
        return data if type(data) is bytes else bytes(data)

    @property
    def buffer(self):
        return memoryview(self._data)

    def __len__(self):
        return len(self._data)

    def __bytes__(self):
        return self.bytes

    def __buffer__(self, flags):
        return memoryview(self._data)

    def __eq__(self, other):
        if isinstance(other, Frame):
            return self.bytes == other.bytes
        if isinstance(other, (bytes, bytearray, memoryview)):
            return self.bytes == bytes(other)
        return NotImplemented

    def __hash__(self):
        return hash(self.bytes)

    def __repr__(self):
        data = self.bytes
        shown = data if len(data) <= 32 else data[:29] + b"..."
        return f"<gzmq.Frame({shown!r}{' more' if self.more else ''})>"

    def __copy__(self):
        frame = Frame(self._data)
        frame.more = self.more
        return frame

    fast_copy = __copy__

    def get(self, option):
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

    def set(self, option, value):
        if option == MessageOption.MORE:
            self.more = bool(value)
            return
        raise ZMQError(22, f"Frame.set: unsupported option {option}")


Message = Frame
