"""Session: one ZMTP connection over a tcp/ipc stream socket.

The greenlet that calls run() runs the handshake (ZAP included), then stays parked until the
connection ends, so whoever runs the session (an accept handler, a reconnecting connecter)
sees it end. Reading is then a libev io callback, _on_readable (libzmq's in_event): every
message decoded from one read goes to the pipe's inbound queue in one go, one wake-up of the
socket per read and no greenlet switch. At RCVHWM the watcher stops (TCP pushes back on the
peer) until the socket has drained the queue to half (write_activated).

Writing: a writer greenlet encodes everything queued (up to a batch budget) into one buffer
and writes it with one sendall(); frames of 64 KiB and more go out with sendmsg(), uncopied.
Most messages never wake it: in-hub, the socket's greenlet writes them itself when it next
blocks (flush_inline, gzmq.engine.deferred); on an I/O thread the hub callback announcing
them writes them (libzmq's restart_output). The writer takes over what a non-blocking send
could not finish.

A protocol error drops this one peer (closed, logged, reported to the monitor); the others carry on.

A session knows its socket only through its end of the socket's pipe (gzmq.engine.pipe: it
writes what it receives, reads what the socket sends, and is told read_activated,
write_activated and pipe_terminated) and through its host, the socket's engine
(gzmq.engine.socket_engine.SessionHost): the options it was given, a monitor-event sink, and
session_ready()/session_ended(), each called exactly once. It never touches the socket, so
it may run on another thread than the socket's.
"""
import errno as _errno
from contextlib import suppress
import logging
import time

import gevent
from gevent import getcurrent
from gevent.event import Event
from gevent.hub import Waiter

from ..constants import Event as MonitorEvent, ReconnectStop, RouterNotify
from ..error import ZMTPError
from ..zmtp.greeting import ZMTP_3_0
from ..zmtp.events import Ping, Pong, Ready, Subscribe, Cancel, Join, Leave, ZapRequest
from ..zmtp.mechanisms.base import HandshakeRefused
from . import zap
from .codec import make_connection
from .deferred import deferred_writers
from .vectored import LARGE_CHUNK, sendv

log = logging.getLogger("gzmq")

RECONNECT_STOP_HANDSHAKE_FAILED = int(ReconnectStop.HANDSHAKE_FAILED)
NOTIFY_CONNECT = int(RouterNotify.CONNECT)
NOTIFY_DISCONNECT = int(RouterNotify.DISCONNECT)
_SUBSCRIPTIONS = (Subscribe, Cancel, Join, Leave)   # control messages in a pipe: XSUB's, DISH's
READ_SIZE = 256 * 1024
READS_PER_TURN = 16           # full reads in one callback before other connections get a turn
WRITE_BATCH = 256 * 1024      # bytes encoded per write before yielding to the socket again


class PeerClosed(Exception):
    """The peer closed the connection (EOF)."""


class HandshakeTimeout(Exception):
    """HANDSHAKE_IVL expired before the handshake completed (libzmq's timeout_error)."""


class Session:
    __slots__ = ("host", "options", "sock", "pipe", "end", "conn", "endpoint", "peer_address",
                 "transport", "connect_side", "_wake", "_ctrl", "_writer", "_reader",
                 "_heart", "_dead", "_closing", "_last_recv", "_peer_ttl", "_ready", "_zap",
                 "_stalled", "_ttl_watch", "fd", "failed_handshake", "protocol_error",
                 "refused", "_asleep", "_raw", "_rwatch", "_deferred", "_parked", "_recv_into",
                 "_buffer", "_view", "_hub", "_encode", "__weakref__")

    def __init__(self, host, sock, end, endpoint, transport, connect_side):
        """host: the socket's engine; sock: the connected OS stream socket (gevent); end: our
        end of the pipe (the socket holds the other)."""
        self.host = host
        self.options = options = host.options
        self.sock = sock
        self.end = end               # ours: we read what the socket sends, write what it gets
        self.pipe = end.peer         # the socket's end: we describe the peer on it
        end.sink = self
        end.mailbox = host.io
        self.endpoint = endpoint
        self.transport = transport
        self.connect_side = connect_side
        self.peer_address = transport.peer_address(sock)
        self.conn = make_connection(options)
        self._wake = Event()
        self._ctrl = []
        self._writer = None
        self._reader = None
        self._heart = None
        self._dead = False
        self._closing = False
        self._last_recv = time.monotonic()
        self._peer_ttl = 0.0
        self._ready = False
        self._zap = None
        self._stalled = False  # the writer is blocked on a full kernel send buffer
        self._ttl_watch = None
        self.fd = sock.fileno()
        self.failed_handshake = False
        self.protocol_error = False  # ended because the peer broke the protocol: no reconnect
        self.refused = False         # the socket terminated our pipe: no reconnect either
        self._asleep = False         # the writer is parked in wake.wait() (see flush_inline)
        self._raw = getattr(sock, "_sock", sock)  # the non-blocking OS socket under gevent's
        self._rwatch = None          # the reader's io watcher, its callback _on_readable
        self._parked = None          # the reader greenlet waits here once the callback reads
        self._deferred = None        # this hub's deferred writers (see _soft_kick)
        self._hub = None             # the hub this session runs on
        self._encode = None          # the codec's message encoder, once the handshake is done

    # -- reader -------------------------------------------------------------------------
    def run(self):
        """Run the connection in the calling greenlet until it ends. Never raises."""
        self._reader = gevent.getcurrent()
        self._hub = gevent.get_hub()
        self._deferred = deferred_writers()
        reason = None
        try:
            self._handshake()
            self._read_loop()
        except PeerClosed:
            reason = "peer closed the connection"
            self._lost_in_handshake(_errno.EPIPE, reason)
        except HandshakeTimeout as exc:
            reason = str(exc)
            self._lost_in_handshake(_errno.EAGAIN, reason)
        except HandshakeRefused as exc:
            reason = str(exc)
            self.protocol_error = True
            self.failed_handshake = not self._ready
            log.info("%s: %s", self.endpoint, exc)
            self.host.monitor_event(MonitorEvent.HANDSHAKE_FAILED_AUTH, exc.status, self.endpoint)
        except ZMTPError as exc:
            reason = str(exc)
            self.protocol_error = True
            log.warning("%s: dropping peer %s: %s", self.endpoint, self.peer_address or "", exc)
            if not self._ready:
                self.failed_handshake = True
                with suppress(OSError):     # what the codec queued first: our greeting's rest (why)
                    self._raw.send(self.conn.data_to_send())
                self.host.monitor_event(MonitorEvent.HANDSHAKE_FAILED_PROTOCOL, exc.protocol_error,
                                        self.endpoint)
        except OSError as exc:
            reason = f"connection error: {exc}"
            self._lost_in_handshake(exc.errno or _errno.ECONNRESET, reason)
        except gevent.GreenletExit:
            # The socket is closing (or its context terminating): clean up, let the kill through.
            reason = "closed"
            raise
        except Exception as exc:  # a bug must cost one connection, never the hub
            reason = f"internal error: {exc!r}"
            log.exception("%s: internal error in session", self.endpoint)
        finally:
            self._end(reason)

    def _lost_in_handshake(self, errno, reason):
        """The connection ended before the handshake completed, for no protocol reason (closed,
        reset, HANDSHAKE_IVL expired): libzmq reports HANDSHAKE_FAILED_NO_DETAIL with the errno
        and reconnects, unless RECONNECT_STOP has HANDSHAKE_FAILED (a peer that is no ZMTP
        process: treated as a protocol error, no reconnect)."""
        if self._ready or self._dead:
            return
        log.info("%s: handshake failed: %s", self.endpoint, reason)
        self.host.monitor_event(MonitorEvent.HANDSHAKE_FAILED_NO_DETAIL, errno, self.endpoint)
        if self.options.reconnect_stop & RECONNECT_STOP_HANDSHAKE_FAILED:
            self.protocol_error = True

    def _handshake(self):
        sock = self.sock
        conn = self.conn
        # Greeting and (for NULL) READY in one write: libzmq accepts them ahead of its own.
        sock.sendall(conn.data_to_send())
        deadline_s = self.options.handshake_ivl
        timer = gevent.Timeout(deadline_s) if deadline_s else None
        if timer is not None:
            timer.start()
        try:
            while not self._ready:
                data = sock.recv(READ_SIZE)
                if not data:
                    raise PeerClosed()
                events = conn.receive_data(data)
                if conn.has_data_to_send():
                    sock.sendall(conn.data_to_send())
                self._deliver(events)
                if conn.has_data_to_send():
                    sock.sendall(conn.data_to_send())
                if self._zap is not None:
                    # Asking ZAP: the peer waits for our verdict, so read nothing until the
                    # handler has answered (this timer still bounds the wait). If that answer
                    # completes the handshake, the next bytes belong to the read loop.
                    self._zap.join()
        except gevent.Timeout as exc:
            if exc is not timer:
                raise
            raise HandshakeTimeout(f"handshake not completed within HANDSHAKE_IVL ({deadline_s:g} s)") from None
        finally:
            if timer is not None:
                timer.close()

    def _on_ready(self, ev):
        pipe = self.pipe
        meta = dict(ev.metadata)
        meta.setdefault("peer-address", self.peer_address.encode() if self.peer_address else b"")
        mech = self.conn.mechanism
        if mech.user_id:
            meta["user-id"] = mech.user_id
        meta.update(mech.zap_metadata)
        pipe.metadata = meta
        pipe.peer_minor = ev.minor
        self._ready = True
        self.host.session_ready(self)     # the pipe joins the socket (which may refuse it)
        if self._dead:
            raise PeerClosed("refused by the socket")
        if self.options.router_notify & NOTIFY_CONNECT:
            self.end.write_all(([b""],))    # ahead of the peer's first message (libzmq)
        self.host.monitor_event(MonitorEvent.HANDSHAKE_SUCCEEDED, 0, self.endpoint)
        self._encode = self.conn.message_encoder()
        self._writer = gevent.spawn(self._write_loop)
        if self.options.heartbeat_ivl and self.conn.version >= ZMTP_3_0:
            self._heart = gevent.spawn(self._heartbeat_loop)   # (1.0/2.0 have no PING)

    def _read_loop(self):
        # Reading moves to _on_readable, a libev io callback (see the module docstring); this
        # greenlet stays parked until the callback hands it the exception that ended it.
        raw = self._raw
        self._recv_into = raw.recv_into
        # Reads land in one buffer of ours and leave it as a bytes copy: a fresh 256 KiB bytes
        # per recv() would cost an mmap, page faults and an munmap (glibc mmaps that size).
        self._buffer = bytearray(READ_SIZE)
        self._view = memoryview(self._buffer)
        hub = gevent.get_hub()
        if self._dead:
            raise PeerClosed("closed")
        self._rwatch = hub.loop.io(raw.fileno(), 1)
        self._parked = waiter = Waiter(hub)
        self._rwatch.start(self._on_readable)
        raise waiter.get()

    def _on_readable(self):
        """The socket is readable (a hub callback): read, decode, and queue what came for the
        socket, waking it once per read, not per message."""
        try:
            conn = self.conn
            for _ in range(READS_PER_TURN):
                body = conn.receive_buffer()
                if body is not None:
                    # The rest of a large frame: straight from the kernel into its final buffer.
                    n = self._recv_into(body)
                    if not n:
                        raise PeerClosed()
                    short = n < len(body)
                    self._last_recv = time.monotonic()
                    events = conn.received_into(n)
                else:
                    n = self._recv_into(self._buffer)
                    if not n:
                        raise PeerClosed()
                    short = n < READ_SIZE
                    self._last_recv = time.monotonic()
                    events = conn.receive_data(self._view[:n].tobytes())
                if events:
                    self._deliver(events)
                if conn._out:
                    self._ctrl.append(conn.data_to_send())
                    self._wake.set()
                if short or self._rwatch is None or not self._rwatch.active:
                    return
        except (BlockingIOError, InterruptedError):
            return
        except Exception as exc:
            self._stop_reading(exc)

    def _deliver(self, events):
        if self._closing:
            # The socket is closed and only flushing: nobody will read these.
            events = [ev for ev in events if type(ev) is not list]
        batch = []
        check = self.options.reply_check
        for ev in events:
            if type(ev) is list:
                if check is not None:
                    check(ev)
                batch.append(ev)
            else:
                self._on_event(ev)
        if batch and not self.end.write_all(batch):
            # Back-pressure: read nothing more until the socket has drained the queue to half
            # (TCP then pushes back on the peer); write_activated starts the watcher again.
            watcher = self._rwatch
            if watcher is not None:
                watcher.stop()
                if self.end.check_write():      # drained on another thread in between
                    watcher.start(self._on_readable)

    def _stop_reading(self, exc):
        """Reading is over: the watcher stops, and the parked reader greenlet raises exc (woken
        by a hub callback: a Waiter is switched to only from the hub)."""
        watcher = self._rwatch
        if watcher is not None:
            watcher.stop()
        waiter = self._parked
        if waiter is not None:
            self._parked = None
            self._hub.loop.run_callback(waiter.switch, exc)

    # -- the pipe's events (see gzmq.engine.pipe) ------------------------------------------
    def read_activated(self, end):
        """The socket queued messages while the writer sleeps. Told in a hub callback (the
        socket is on another thread: this session runs on an I/O thread), write them at once,
        without waking the writer (libzmq's restart_output); told by a greenlet (in-hub),
        defer: the greenlet writes them itself when it next blocks (gzmq.engine.deferred)."""
        if self._ready:
            if getcurrent() is self._hub and self.flush_inline():
                return
            self._deferred.add(self)

    def write_activated(self, end):
        """The socket drained its inbound queue: read again."""
        watcher = self._rwatch
        if watcher is not None and not watcher.active and not self._dead:
            watcher.start(self._on_readable)

    def hiccuped(self, end):
        pass

    def pipe_terminated(self, end):
        """The socket dropped this peer: refused it after the handshake (PAIR already paired),
        disconnect(), unbind(), a ROUTER handover. The connection ends, for good."""
        self.refused = True
        self.kill("dropped by the socket")

    def _on_event(self, ev):
        if isinstance(ev, Ready):
            self._on_ready(ev)
        elif isinstance(ev, _SUBSCRIPTIONS):
            # To the publisher in order with the messages (XPUB reads them from the pipe).
            if self.options.takes_subscriptions:
                self.end.write_control(ev)
        elif isinstance(ev, Ping):
            self._peer_ttl = ev.ttl
            if self._ready:
                self._wake.set()
            if ev.ttl > 0 and self._ttl_watch is None:
                self._ttl_watch = gevent.spawn(self._ttl_loop)
        elif isinstance(ev, Pong):
            pass  # any inbound byte already counts as liveness
        elif isinstance(ev, ZapRequest):
            self._zap = gevent.spawn(self._ask_zap, ev)

    def _ask_zap(self, ev):
        try:
            reply = zap.ask(self, ev)
            events = self.conn.zap_reply(*reply)
            if self.conn.has_data_to_send():
                self.sock.sendall(self.conn.data_to_send())
            self._deliver(events)
        except HandshakeRefused as exc:
            try:
                if self.conn.has_data_to_send():
                    self.sock.sendall(self.conn.data_to_send())
            except OSError:
                pass
            log.info("%s: %s", self.endpoint, exc)
            self.failed_handshake = True
            self.protocol_error = True
            self.host.monitor_event(MonitorEvent.HANDSHAKE_FAILED_AUTH, exc.status, self.endpoint)
            self.kill()
        except Exception as exc:
            log.warning("%s: ZAP failed: %s", self.endpoint, exc)
            self.kill()

    # -- writer -------------------------------------------------------------------------
    def _write_loop(self):
        read = self.end.read
        encode = self.conn.message_encoder()
        sock = self.sock
        sendall = sock.sendall
        wake = self._wake
        try:
            while True:
                msg = read()
                if msg is None:
                    # read() armed the pipe: the socket's next message calls read_activated.
                    if self._ctrl:
                        data = b"".join(self._ctrl)
                        self._ctrl = []
                        sendall(data)
                        continue
                    if self._closing:
                        break
                    wake.clear()   # (set only from this hub, so nothing is missed in between)
                    self._asleep = True
                    try:
                        wake.wait()
                    finally:
                        self._asleep = False
                    continue
                chunks = self._ctrl
                self._ctrl = []
                total = 0
                while True:
                    if type(msg) in _SUBSCRIPTIONS:
                        # From an XSUB: a SUBSCRIBE/CANCEL command (3.1) or message (3.0).
                        control = self.conn.control(msg)
                        chunks.append(control)
                        total += len(control)
                    else:
                        total += encode(msg, chunks)
                    if total >= WRITE_BATCH:
                        break
                    msg = read()
                    if msg is None:
                        break
                large = total >= LARGE_CHUNK
                msg = None
                self._stalled = True  # seen by others only if the write below blocks
                if large:
                    sendv(self.sock, chunks)
                else:
                    sendall(b"".join(chunks))
                # Drop the sent frames now, not at the next batch: a MessageTracker completes
                # when its zero-copy buffers are released (gzmq.message).
                chunks = None
                self._stalled = False
        except OSError as exc:
            self.kill(f"write failed: {exc}")
            return
        except gevent.GreenletExit:
            return
        except Exception:
            log.exception("%s: internal error in session writer", self.endpoint)
            self.kill("internal error")
            return
        # Linger flush done: everything queued is in the kernel. Half-close so the peer reads
        # it all and closes its side (a plain close() with unread inbound bytes would send a
        # RST and the kernel could discard what we wrote); the reader ends at the peer's EOF,
        # or the context's linger deadline ends it.
        try:
            import socket as _stdsocket
            sock.shutdown(_stdsocket.SHUT_WR)
        except OSError:
            self.kill("closed after flushing")

    def _soft_kick(self):
        """The socket queued a message while the writer sleeps. Rather than waking the writer
        at once (a greenlet switch each way per message in request/reply), defer it: if a
        greenlet of this hub blocks next (recv, poll), it writes the queue itself
        (gzmq.engine.deferred); otherwise a hub callback wakes the writer on the next loop turn."""
        self._deferred.add(self)

    def kick(self):
        """Wake the writer if it has anything to write (used by the socket's deferred kick).
        If it was all written inline meanwhile, check_read() re-arms the pipe instead."""
        if self._ctrl or self.end.check_read():
            self._wake.set()

    def flush_inline(self):
        """Write what is queued right now from the calling greenlet, without a switch; True
        if that settled it, False if the writer must still be woken (kick()).

        Only while the writer is parked (so nothing else is writing) and nothing else is
        pending ahead of the queue; a non-blocking send, with any unsent tail left to the
        writer. This is what makes a request/reply round trip cost no writer switches."""
        if not self._asleep or self._ctrl or self._dead or self._closing:
            return False            # (a writer that sleeps exists only once the peer is ready)
        read = self.end.read
        encode = self._encode
        chunks = []
        total = 0
        while total < WRITE_BATCH:
            msg = read()
            if msg is None:
                break
            if type(msg) in _SUBSCRIPTIONS:
                control = self.conn.control(msg)
                chunks.append(control)
                total += len(control)
            else:
                total += encode(msg, chunks)
        if not chunks:
            return True
        data = b"".join(chunks)
        chunks = msg = None
        try:
            sent = self._raw.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            sent = 0  # the writer will meet the error and end the session
        if sent < len(data):
            self._ctrl.append(memoryview(data)[sent:] if sent else data)
            self._wake.set()
        elif total >= WRITE_BATCH:
            self._wake.set()        # more may be queued: the writer takes it from here
        # else read() armed the pipe on an empty queue: the writer sleeps; the next message kicks
        return True

    def _heartbeat_loop(self):
        """RFC 37 heartbeats: PING every HEARTBEAT_IVL; no inbound byte within
        HEARTBEAT_TIMEOUT after a PING, or within the peer's TTL, ends the connection."""
        options = self.options
        ivl = options.heartbeat_ivl
        timeout = options.heartbeat_timeout or ivl
        ttl_ds = options.heartbeat_ttl_ds
        try:
            while not self._dead:
                gevent.sleep(ivl)
                sent_at = time.monotonic()
                self._ctrl.append(self.conn.ping(ttl_ds))
                self._wake.set()
                gevent.sleep(timeout)
                if self._last_recv < sent_at:
                    self.kill(f"no heartbeat from peer within {timeout:g} s")
                    return
        except gevent.GreenletExit:
            pass

    def _ttl_loop(self):
        """The peer's PINGs carry a TTL: if nothing arrives for that long, it is gone."""
        try:
            while not self._dead:
                ttl = self._peer_ttl
                if ttl <= 0:
                    self._ttl_watch = None
                    return
                gevent.sleep(ttl)
                if time.monotonic() - self._last_recv > ttl:
                    self.kill(f"nothing from peer within its heartbeat TTL ({ttl:g} s)")
                    return
        except gevent.GreenletExit:
            pass

    def _close_os_socket(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def unsent(self):
        """(messages wait to be written, how many, a stalled write counting as one): for the
        exit-time flush."""
        if not self._ready or self._dead:
            return False, 0
        n = self.end.pending_in()
        return bool(n or self._stalled), n + self._stalled

    def writable_soon(self):
        """True if the writer will drain its queue as soon as it gets a turn (it is not
        stuck behind a full kernel buffer)."""
        return self._ready and not self._stalled and not self._dead

    # -- ending -------------------------------------------------------------------------
    def linger(self):
        """Socket closed with linger: deliver what is queued, then end."""
        self._closing = True
        self._wake.set()
        if not self._ready:
            return

    def kill(self, reason=None):
        """End the connection now, from any greenlet of this hub.

        Closing the OS socket wakes the reader out of recv() with an error, so the greenlet
        that runs the session (an accept handler or a connecter, which then reconnects) is
        never itself killed by its session.
        """
        if reason:
            log.debug("%s: %s", self.endpoint, reason)
        self._end(reason)

    def _end(self, reason):
        if self._dead:
            return
        self._dead = True
        if self.connect_side and (self.protocol_error or self.refused):
            # No reconnect to a peer that broke the protocol: the pipe leaves the socket, and
            # it is told so before the peer can see the connection close (on an I/O thread a
            # program that waits for that close must find the pipe gone, not send into it).
            self.end.drop_inbound()
            self.end.terminate()
        current = gevent.getcurrent()
        for g in (self._writer, self._heart, self._zap, self._ttl_watch):
            if g is not None and g is not current and not g.dead:
                g.kill(block=False)
        watcher = self._rwatch
        if watcher is not None:
            # Stopped *before* the descriptor is closed and its number reused (libev tracks
            # watchers by fd number). (In the handshake there is none: closing gevent's
            # socket wakes the reader out of recv().)
            self._stop_reading(PeerClosed("closed"))
            self._rwatch = None
            watcher.close()
        self._close_os_socket()
        if (self._ready and self.options.router_notify & NOTIFY_DISCONNECT
                and not (self.connect_side and (self.protocol_error or self.refused))):
            self.end.write_all(([b""],))    # after everything the peer sent
        self.host.session_ended(self, reason)
