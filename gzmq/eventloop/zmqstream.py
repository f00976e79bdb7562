"""ZMQStream: a gzmq socket driven by tornado's IOLoop, with pyzmq's API.

    stream = ZMQStream(socket)
    stream.on_recv(lambda frames: ...)         # called with each whole message
    stream.send_multipart([b"a", b"b"])        # queued, sent when the socket has room
    IOLoop.current().start()

The stream registers the socket's zmq.FD with the loop. That descriptor says only that the
socket's EVENTS may have changed (libzmq's edge-triggered contract), so each time it fires
the stream reads EVENTS and handles one message in and the queued sends out, and asks the
loop to come back at once while EVENTS still shows work it wants: a busy socket cannot
starve the loop's other handlers, and nothing waits for an edge that already passed.
"""
import json
import pickle
import warnings
from collections import deque

from tornado.gen import convert_yielded
from tornado.log import gen_log

from ..asyncio import Socket as AsyncSocket
from ..constants import Flag, PollEvent
from ..error import Again, ZMQError
from ..socket import Socket
from .ioloop import IOLoop

POLLIN = int(PollEvent.POLLIN)
POLLOUT = int(PollEvent.POLLOUT)
NOBLOCK = int(Flag.DONTWAIT)


class ZMQStream:
    """A socket on an IOLoop: callbacks for messages received and sent (see module docstring)."""

    def __init__(self, socket, io_loop=None):
        if isinstance(socket, AsyncSocket):
            warnings.warn(
                "ZMQStream takes a socket with the blocking API: use "
                "zmq.Socket(shadow=sock) or ctx.socket(type, socket_class=zmq.Socket); "
                "this stream uses such a shadow of the asyncio socket", RuntimeWarning, stacklevel=2)
            socket = Socket.shadow(socket)
        self.socket = socket
        self.io_loop = io_loop or IOLoop.current()
        self._send_queue = deque()
        self._recv_callback = None
        self._send_callback = None
        self._close_callback = None
        self._recv_copy = True
        self._handling = False       # a re-check is scheduled on the loop
        self._fd = socket.FD
        self.io_loop.add_handler(self._fd, self._on_fd, IOLoop.READ)
        # pyzmq's shortcuts to the socket's own methods (stream.bind is stream.socket.bind).
        self.bind = socket.bind
        self.bind_to_random_port = socket.bind_to_random_port
        self.connect = socket.connect
        self.setsockopt = socket.setsockopt
        self.getsockopt = socket.getsockopt
        self.setsockopt_string = self.setsockopt_unicode = socket.setsockopt_string
        self.getsockopt_string = self.getsockopt_unicode = socket.getsockopt_string

    # -- receiving -------------------------------------------------------------------------
    def on_recv(self, callback, copy=True):
        """Call callback(frames) with every message received (None stops receiving)."""
        self._check_closed()
        assert callback is None or callable(callback), "on_recv needs a callable or None"   # (pyzmq's check)
        self._recv_callback = callback
        self._recv_copy = copy
        self._schedule()

    def on_recv_stream(self, callback, copy=True):
        """As on_recv, with the stream first: callback(stream, frames)."""
        if callback is None:
            self.stop_on_recv()
        else:
            self.on_recv(lambda frames: callback(self, frames), copy=copy)

    def stop_on_recv(self):
        self.on_recv(None)

    def receiving(self):
        return self._recv_callback is not None

    # -- sending ---------------------------------------------------------------------------
    def on_send(self, callback):
        """Call callback(frames, status) after each queued message went out (status: the
        send's return value, a MessageTracker with track=True)."""
        self._check_closed()
        assert callback is None or callable(callback), "on_send needs a callable or None"   # (pyzmq's check)
        self._send_callback = callback

    def on_send_stream(self, callback):
        if callback is None:
            self.stop_on_send()
        else:
            self.on_send(lambda frames, status: callback(self, frames, status))

    def stop_on_send(self):
        self.on_send(None)

    def send(self, msg, flags=0, copy=True, track=False, callback=None, **kwargs):
        return self.send_multipart([msg], flags=flags, copy=copy, track=track,
                                   callback=callback, **kwargs)

    def send_multipart(self, msg_list, flags=0, copy=True, track=False, callback=None, **kwargs):
        """Queue a message; it is sent when the socket has room, from the loop."""
        kwargs.update(flags=flags, copy=copy, track=track)
        self._send_queue.append((msg_list, kwargs))
        if callback is not None:
            self.on_send(callback)
        self._schedule()

    def send_string(self, u, flags=0, encoding="utf-8", callback=None, **kwargs):
        if not isinstance(u, str):
            raise TypeError("unicode/str objects only")
        return self.send(u.encode(encoding), flags=flags, callback=callback, **kwargs)

    send_unicode = send_string

    def send_json(self, obj, flags=0, callback=None, **kwargs):
        return self.send(json.dumps(obj).encode("utf-8"), flags=flags, callback=callback, **kwargs)

    def send_pyobj(self, obj, flags=0, protocol=pickle.DEFAULT_PROTOCOL, callback=None, **kwargs):
        return self.send(pickle.dumps(obj, protocol), flags=flags, callback=callback, **kwargs)

    def sending(self):
        return bool(self._send_queue)

    # -- errors (pyzmq deprecated these: gzmq sockets report no POLLERR) -------------------
    def on_err(self, callback):
        warnings.warn("ZMQStream.on_err does nothing: sockets report no POLLERR",
                      DeprecationWarning, stacklevel=2)

    def stop_on_err(self):
        pass

    # -- flushing and closing --------------------------------------------------------------
    def flush(self, flag=POLLIN | POLLOUT, limit=None):
        """Handle what is ready now, without the loop: received messages (to the callback)
        and queued sends, at most `limit` of each. Returns how many were handled."""
        count = 0
        if flag & POLLIN:
            while self._recv_callback is not None and (limit is None or count < limit):
                if not self._handle_recv():
                    break
                count += 1
        if flag & POLLOUT:
            sent = 0
            while self._send_queue and (limit is None or sent < limit):
                if not self._handle_send():
                    break
                sent += 1
            count += sent
        return count

    def set_close_callback(self, callback):
        self._close_callback = callback

    def close(self, linger=None):
        if self.socket is None:
            return
        if self.socket.closed:
            warnings.warn(f"Unregistering FD {self._fd} after closing socket: the number may "
                          "belong to another file by now. Close the stream, not its socket.",
                          stacklevel=2)
        try:
            self.io_loop.remove_handler(self._fd)
        except (KeyError, ValueError):
            pass
        if not self.socket.closed:
            self.socket.close(linger)
        self.socket = None
        if self._close_callback is not None:
            self._close_callback()

    def closed(self):
        return self.socket is None or self.socket.closed

    # -- the loop's side ---------------------------------------------------------------------
    def _check_closed(self):
        if self.socket is None:
            raise OSError("Stream is closed")

    def _wanted(self):
        return (POLLIN if self._recv_callback is not None else 0) | \
            (POLLOUT if self._send_queue else 0)

    def _schedule(self):
        """Look again from the loop soon (FD is edge-triggered: work may be ready now)."""
        if not self._handling:
            self._handling = True
            self.io_loop.add_callback(self._handle_events)

    def _on_fd(self, fd, events):
        self._handle_events()

    def _handle_events(self):
        self._handling = False
        socket = self.socket
        if socket is None:
            return
        if socket.closed:
            gen_log.warning("Got events for stream %s attached to closed socket", self)
            return
        try:
            events = socket.EVENTS      # (resets the FD: any later change sets it again)
        except ZMQError:
            return
        wanted = self._wanted()
        if events & POLLIN & wanted:
            self._handle_recv()
        if self.socket is not None and events & POLLOUT & wanted:
            self._handle_send()
        socket = self.socket
        if socket is not None and not socket.closed and socket.EVENTS & self._wanted():
            self._schedule()

    def _handle_recv(self):
        try:
            frames = self.socket.recv_multipart(NOBLOCK, copy=self._recv_copy)
        except Again:
            return False
        callback = self._recv_callback
        if callback is not None:
            self._run_callback(callback, frames)
        return True

    def _handle_send(self):
        msg, kwargs = self._send_queue[0]
        try:
            status = self.socket.send_multipart(msg, **dict(kwargs, flags=kwargs["flags"] | NOBLOCK))
        except Again:
            return False
        self._send_queue.popleft()
        callback = self._send_callback
        if callback is not None:
            self._run_callback(callback, msg, status)
        return True

    def _run_callback(self, callback, *args):
        # As pyzmq's (tornado's logger, its words): log, and keep the stream going.
        try:
            result = callback(*args)
        except Exception:
            gen_log.error("Uncaught exception in ZMQStream callback %r", callback, exc_info=True)
            return
        if result is not None and hasattr(result, "__await__"):
            self.io_loop.add_future(convert_yielded(result), _log_failure)


def _log_failure(future):
    try:
        future.result()
    except Exception:
        gen_log.error("Uncaught exception in ZMQStream callback", exc_info=True)


__all__ = ["ZMQStream"]
