"""RawSession: one raw TCP/IPC connection of a STREAM socket (libzmq's raw_engine_t).

No ZMTP: whatever one recv() returns becomes one message [data] in the pipe (the STREAM socket
prefixes the peer's routing id), and each message the socket queues is written as its bytes.
An empty message queued by the socket closes the connection once everything before it is
written (libzmq: sending an empty frame to a peer disconnects it). With STREAM_NOTIFY the
pipe gets an empty message when the connection is made and when the peer goes away.

Same contract as gzmq.engine.session.Session towards its host (the socket's engine) and its
pipe end: run() in a greenlet until the connection ends, kill(), linger(), unsent(), and the
pipe events. A STREAM connection the socket closed, or whose pipe it dropped, is not
reconnected (libzmq terminates raw sessions with their pipe).
"""
import logging
import socket as _stdsocket

import gevent
from gevent.event import Event

from ..constants import Event as MonitorEvent

log = logging.getLogger("gzmq")

READ_SIZE = 64 * 1024


class RawSession:
    def __init__(self, host, sock, end, endpoint, transport, connect_side):
        self.host = host
        self.options = host.options
        self.sock = sock
        self.end = end
        self.pipe = end.peer
        end.sink = self
        end.mailbox = host.io
        self.endpoint = endpoint
        self.transport = transport
        self.connect_side = connect_side
        self.peer_address = transport.peer_address(sock)
        self.fd = sock.fileno()
        self.failed_handshake = False
        self.protocol_error = False
        self.refused = False        # closed by our socket: never reconnected
        self._reader = None
        self._writer = None
        self._wake = Event()
        self._resume = Event()
        self._dead = False
        self._closing = False
        self._ready = False
        self._stalled = False

    # -- reader ---------------------------------------------------------------------------
    def run(self):
        """Run the connection in the calling greenlet until it ends. Never raises."""
        self._reader = gevent.getcurrent()
        reason = None
        try:
            self.pipe.metadata = {"peer-address": self.peer_address.encode()}
            self._ready = True
            self.host.session_ready(self)
            if self._dead:
                return
            if self.options.stream_notify:
                # "connected", ahead of any data; after the pipe joined the socket, so that
                # the write wakes a socket already waiting (as any message does).
                self.end.write_all(([b""],))
            self.host.monitor_event(MonitorEvent.HANDSHAKE_SUCCEEDED, 0, self.endpoint)
            self._writer = gevent.spawn(self._write_loop)
            self._read_loop()
        except OSError as exc:
            reason = f"connection error: {exc}"
        except gevent.GreenletExit:
            reason = "closed"
            raise
        except Exception as exc:     # a bug must cost one connection, never the hub
            reason = f"internal error: {exc!r}"
            log.exception("%s: internal error in raw session", self.endpoint)
        finally:
            self._end(reason or "peer closed the connection")

    def _read_loop(self):
        sock = self.sock
        end = self.end
        while not self._dead:
            data = sock.recv(READ_SIZE)
            if not data:
                return
            if not end.write_all(([data],)):
                self._wait_for_room()

    def _wait_for_room(self):
        while not self._dead:
            self._resume.clear()
            if self.end.check_write():
                return
            self._resume.wait()

    # -- writer ---------------------------------------------------------------------------
    def _write_loop(self):
        read = self.end.read
        sock = self.sock
        try:
            while True:
                msg = read()
                if msg is None:
                    if self._closing:
                        break
                    self._wake.clear()
                    self._wake.wait()
                    continue
                data = b"".join(bytes(frame) for frame in msg)
                if not data:
                    # The socket sent an empty frame: close this connection, for good.
                    self.refused = True
                    self._shutdown()
                    self.kill("closed by the STREAM socket")
                    return
                self._stalled = True
                sock.sendall(data)
                self._stalled = False
        except OSError as exc:
            self.kill(f"write failed: {exc}")
            return
        except gevent.GreenletExit:
            return
        self._shutdown()

    def _shutdown(self):
        try:
            self.sock.shutdown(_stdsocket.SHUT_WR)
        except OSError:
            pass

    # -- the pipe's events ----------------------------------------------------------------
    def read_activated(self, end):
        self._wake.set()

    def write_activated(self, end):
        self._resume.set()

    def hiccuped(self, end):
        pass

    def pipe_terminated(self, end):
        self.refused = True
        self.kill("dropped by the socket")

    def kick(self):
        self._wake.set()

    def flush_inline(self):
        self._wake.set()

    def unsent(self):
        if not self._ready or self._dead:
            return False, 0
        n = self.end.pending_in()
        return bool(n or self._stalled), n + self._stalled

    def writable_soon(self):
        return self._ready and not self._stalled and not self._dead

    # -- ending ---------------------------------------------------------------------------
    def linger(self):
        self._closing = True
        self._wake.set()

    def kill(self, reason=None):
        if reason:
            log.debug("%s: %s", self.endpoint, reason)
        self._end(reason)

    def _end(self, reason):
        if self._dead:
            return
        self._dead = True
        current = gevent.getcurrent()
        if self._writer is not None and self._writer is not current and not self._writer.dead:
            self._writer.kill(block=False)
        try:
            # gevent wakes a reader blocked in recv() on it with EBADF: run() then ends, and
            # the greenlet that runs it (an accept handler, or a connecter) is never killed.
            self.sock.close()
        except OSError:
            pass
        self._resume.set()
        if self._ready and self.options.stream_notify and not self.refused:
            self.end.write_all(([b""],))               # "disconnected", after any data
        if self.connect_side and self.refused:
            self.end.drop_inbound()
            self.end.terminate()
        self.host.session_ended(self, reason)
