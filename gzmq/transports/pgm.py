"""pgm:// and epgm:// transports: reliable multicast (RFC 3208 PGM), interoperable with
libzmq's OpenPGM-based transport.

Endpoint: `epgm://IFACE;GROUP:PORT` (PGM in UDP, port PORT for data and NAKs, as libzmq sets
OpenPGM's UDP encapsulation ports) or `pgm://IFACE;GROUP:PORT` (PGM as IP protocol 113 over raw
sockets: needs root or CAP_NET_RAW). IFACE is an IPv4 address or an interface name, and may be
left out (`GROUP:PORT` or `;GROUP:PORT`: the route to GROUP decides). GROUP is one IPv4
multicast address. bind() and connect() do the same thing, as in libzmq.

Only PUB/XPUB send and SUB/XSUB receive (anything else: ENOCOMPATPROTO). A publisher's
multicast pipe takes every message (there is no upstream channel for subscriptions: SUB/XSUB
filter locally, which XSub does anyway). Options read at bind/connect: RATE (kbit/s),
RECOVERY_IVL (ms), MULTICAST_HOPS, MULTICAST_LOOP, MULTICAST_MAXTPDU, SNDBUF, RCVBUF,
MAXMSGSIZE; SNDHWM/RCVHWM bound the pipe as for any transport (a PUB drops at SNDHWM).

Engine only: the protocol is gzmq.pgm (sans-IO). A sender link runs a writer greenlet (pipe ->
ApduWriter -> Source -> sendto, paced by RATE, repairs first) and a reader greenlet for NAKs
and SPMRs; a receiver link runs one greenlet (recvfrom -> Receiver -> pipe, NAK timers, NAKs
sent unicast to each source). A malformed datagram is logged and dropped; it never reaches
recv(). Socket close with LINGER flushes what is queued at RATE, keeps answering NAKs for
TAIL_GRACE after the last data (receivers that lost the tail hear of it from the heartbeat
SPMs), then ends the session with OPT_FIN SPMs; term() waits for that, LINGER bounds it.
Registered as the pgm and epgm transports (gzmq.transports): bind() and connect() run on
the socket's thread and open the OS sockets there (so that errors are theirs); the link's
greenlets then run on the socket's engine hub.
"""
import errno as _errno
import fcntl
import logging
import os
import random
import struct
import time
from ipaddress import ip_address

import socket

import gevent
from gevent import socket as gsocket
from gevent.event import Event

from ..constants import Errno, SocketOption
from ..engine.wait import call_and_wait
from ..error import ZMQError
from ..pgm.framing import ApduWriter
from ..pgm.packets import PGMError, Tsi
from ..pgm.receiver import Receiver
from ..pgm.source import Source, window_sqns

log = logging.getLogger("gzmq")
O = SocketOption

IPPROTO_PGM = 113
IP_HEADER = 20
UDP_HEADER = 8
# OpenPGM's MSS leaves room for the PGM and data headers and for OPT_LENGTH + OPT_FRAGMENT.
PGM_DATA_OVERHEAD = 16 + 8 + 4 + 16
DSCP_EF = 0x2E << 2          # libzmq: Expedited Forwarding, no ECN
RECV_BATCH = 256             # datagrams read before handing messages to the socket
SEND_BATCH = 64              # packets sent before letting other greenlets run
RCVBUF_DEFAULT = 4 << 20     # receivers ask for a large buffer: a burst is cheaper than a NAK
TAIL_GRACE = 0.5             # a closing publisher answers NAKs this long after its last data
SIOCGIFADDR = 0x8915
IP_MULTICAST_ALL = getattr(socket, "IP_MULTICAST_ALL", 49)

SENDERS = ("PUB", "XPUB")
RECEIVERS = ("SUB", "XSUB")


class Address:
    """A parsed pgm/epgm endpoint."""

    __slots__ = ("scheme", "iface", "group", "port", "local")

    def __init__(self, scheme, iface, group, port, local):
        self.scheme = scheme
        self.iface = iface      # as written ('' if omitted)
        self.group = group
        self.port = port
        self.local = local      # our IPv4 address on that interface (the NLA)

    @property
    def udp(self):
        return self.scheme == "epgm"


def parse_address(scheme, address):
    """'eth0;239.192.1.1:5555' -> Address. Raises ZMQError(EINVAL) naming the endpoint, as libzmq."""
    endpoint = f"{scheme}://{address}"
    host, sep, port_s = address.rpartition(":")
    if not sep or not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: expected IFACE;GROUP:PORT with a port 1-65535")
    iface, _, group_s = host.rpartition(";")
    if "," in group_s:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: gzmq joins one multicast group per endpoint")
    try:
        group = ip_address(group_s)
    except ValueError:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: {group_s!r} is not an IP address") from None
    if group.version != 4 or not group.is_multicast:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: {group_s} is not an IPv4 multicast group")
    local = _interface_address(iface, str(group), endpoint)
    return Address(scheme, iface, str(group), int(port_s), local)


def _interface_address(iface, group, endpoint):
    if iface:
        try:
            addr = ip_address(iface)
        except ValueError:
            addr = None
        if addr is not None:
            if addr.version != 4:
                raise ZMQError(Errno.EINVAL, f"{endpoint}: gzmq's pgm transports are IPv4 only")
            return str(addr)
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            packed = struct.pack("256s", iface.encode()[:15])
            return socket.inet_ntoa(fcntl.ioctl(probe.fileno(), SIOCGIFADDR, packed)[20:24])
        except OSError as exc:
            raise ZMQError(Errno.EINVAL,
                           f"{endpoint}: no IPv4 interface {iface!r} ({exc.strerror})") from None
        finally:
            probe.close()
    # No interface: the one the route to the group goes through.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect((group, 9))
        return probe.getsockname()[0]
    except OSError as exc:
        raise ZMQError(exc.errno or Errno.EINVAL,
                       f"{endpoint}: no route to {group}: {exc.strerror}") from None
    finally:
        probe.close()


class MulticastTransport:
    """bind() is connect() for multicast (libzmq): both join the session."""

    def bind(self, socket, scheme, address):
        return _open(socket, scheme, address)

    def connect(self, socket, scheme, address):
        return _open(socket, scheme, address)


def _open(host, scheme, address):
    endpoint = f"{scheme}://{address}"
    options = host.engine_options
    kind = options.type_name
    if kind not in SENDERS + RECEIVERS:
        raise ZMQError(Errno.ENOCOMPATPROTO,
                       f"{endpoint}: {kind} socket cannot use pgm (only PUB/XPUB/SUB/XSUB)")
    addr = parse_address(scheme, address)
    o = options.values
    if o[O.RATE] <= 0 or o[O.RECOVERY_IVL] <= 0:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: RATE and RECOVERY_IVL must be positive")
    if o[O.MULTICAST_MAXTPDU] < 256:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: MULTICAST_MAXTPDU {o[O.MULTICAST_MAXTPDU]} is too small")
    cls = SenderLink if kind in SENDERS else ReceiverLink
    return cls(host, endpoint, addr)


def _cooperative(os_sock):
    """A gevent socket over a plain one, on the calling (engine) hub."""
    return gsocket.socket(fileno=os_sock.detach())


def _set_buffer(os_sock, option, value):
    try:
        os_sock.setsockopt(socket.SOL_SOCKET, option, value)
    except OSError:
        pass


class _Link:
    """What a pgm endpoint leaves in the socket (both a Binding and a Link, see
    gzmq.transports): the pipe, OS sockets and greenlets. The greenlets run on the socket's
    engine hub, and everything the socket asks of the link goes there."""

    def __init__(self, host, endpoint, addr):
        self.endpoint = endpoint
        self.addr = addr
        self.engine = engine = host.engine
        self.options = options = host.engine_options
        o = options.values
        self.max_tpdu = o[O.MULTICAST_MAXTPDU]
        self.overhead = IP_HEADER + (UDP_HEADER if addr.udp else 0)
        self.max_tsdu = self.max_tpdu - self.overhead - PGM_DATA_OVERHEAD
        self.window = window_sqns(o[O.RATE], o[O.RECOVERY_IVL], self.max_tpdu)
        self.stopped = False
        self.greenlet = None
        self._sockets = []
        # Our end of the pipe: we read what the socket publishes, write what it receives.
        self.pipe, self.end = host.make_pipe(endpoint, True, engine.io)
        self.end.sink = self
        # libzmq attaches multicast pipes "subscribed to all": every message goes out once,
        # subscribers filter (an XPUB reports no subscription for it).
        host.attach_pipe(self.pipe, subscribe_to_all=self.SENDS)
        try:
            self._setup()
        except OSError as exc:
            self._close_sockets()
            self.end.terminate()
            code = exc.errno or Errno.EINVAL
            if code in (_errno.EPERM, _errno.EACCES) and not addr.udp:
                raise ZMQError(code, f"{endpoint}: raw PGM sockets need root or CAP_NET_RAW; "
                                     "epgm:// works without") from None
            raise ZMQError(code, f"{endpoint}: {exc.strerror or exc}") from None
        host.pipe_ready(self.pipe)
        engine.io.call(self._start)

    # -- Binding and Link (on the socket's thread) -------------------------------------------
    def matches(self, addr):
        return addr == self.endpoint

    def unbind(self):
        call_and_wait(self.engine.io, self.stop, 0)   # the port is free when it returns

    disconnect = unbind

    def close(self, linger):
        self.engine.io.call(self.stop, linger)

    def _socket(self):
        if self.addr.udp:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            # OpenPGM binds INADDR_ANY:port with SO_REUSEPORT only; sharing the port with it
            # (a libzmq peer on this host) needs SO_REUSEPORT here too.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_PGM)
        self._sockets.append(s)
        try:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, DSCP_EF)
        except OSError:
            pass
        return s

    def _multicast_out(self, s):
        o = self.options.values
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.addr.local))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, max(0, min(255, o[O.MULTICAST_HOPS])))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1 if o[O.MULTICAST_LOOP] else 0)

    def _recvfrom(self, s, size=65535):
        """(PGM bytes, source IP, destination IP or None) from a UDP or raw socket."""
        data, peer = s.recvfrom(size)
        if self.addr.udp:
            return data, peer[0], None
        if len(data) < IP_HEADER:
            return b"", peer[0], None
        ihl = (data[0] & 0x0F) * 4
        return data[ihl:], socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20])

    def _close_sockets(self):
        for s in self._sockets:
            try:
                s.close()
            except OSError:
                pass
        self._sockets = []

    # The pipe's events (gzmq.engine.pipe): messages to send, room to receive into.
    def read_activated(self, end):
        pass

    def write_activated(self, end):
        pass

    def hiccuped(self, end):
        pass

    def pipe_terminated(self, end):
        """The socket dropped the pipe (disconnect, unbind)."""
        self.stop(0)

    def __repr__(self):
        return f"<{type(self).__name__} {self.endpoint}>"


class SenderLink(_Link):
    """PUB/XPUB side: one PGM source per endpoint."""

    SENDS = True

    def _setup(self):
        addr = self.addr
        o = self.options.values
        # The port is both PGM's data-destination port and, for epgm, the UDP port NAKs come
        # to. Bound to our own address (not INADDR_ANY) so NAKs reach us rather than a
        # libzmq subscriber on this host bound to INADDR_ANY:port.
        self.tx = s = self._socket()
        s.bind((addr.local, addr.port if addr.udp else 0))
        self._multicast_out(s)
        if o[O.SNDBUF] > 0:
            _set_buffer(s, socket.SO_SNDBUF, o[O.SNDBUF])
        sport = random.randrange(1024, 65536)
        while sport == addr.port:
            sport = random.randrange(1024, 65536)
        self.tsi = Tsi(os.urandom(6), sport)
        rate = o[O.RATE] * 1000 // 8
        self.source = Source(self.tsi, addr.port, addr.local, addr.group, rate, self.window,
                             time.monotonic(), overhead=self.overhead, max_tpdu=self.max_tpdu)
        self.dest = (addr.group, addr.port if addr.udp else 0)
        self.writer = ApduWriter(self.max_tsdu)
        self._closing = False

    def _start(self):
        if self.stopped:
            return
        self.tx = _cooperative(self.tx)
        self._sockets = [self.tx]
        self._wake = Event()
        self.greenlet = gevent.spawn(self._write_loop)
        self._reader = gevent.spawn(self._read_loop)

    def read_activated(self, end):
        self._wake.set()

    def _send(self, packet):
        try:
            self.tx.sendto(packet, self.dest)
        except OSError as exc:
            # Lost like any datagram; receivers NAK what they miss.
            log.debug("%s: send failed: %s", self.endpoint, exc)

    def _write_loop(self):
        src = self.source
        writer = self.writer
        end = self.end
        read = end.read
        wake = self._wake
        send = self._send
        monotonic = time.monotonic
        try:
            while True:
                now = monotonic()
                for packet in src.poll(now):
                    send(packet)
                delay = 0.0
                sent = 0
                while True:
                    while not writer.full():
                        msg = read()
                        if msg is None:
                            break
                        writer.add(msg)
                    if not len(writer):
                        break
                    delay = src.data_delay(min(len(writer), writer.capacity) + 2, now)
                    if delay:
                        break
                    send(src.odata(writer.apdu(), now))
                    sent += 1
                    if sent % SEND_BATCH == 0:
                        gevent.sleep(0)  # let the application and the NAK reader run
                        now = monotonic()
                        for packet in src.poll(now):
                            send(packet)
                now = monotonic()
                timeout = max(0.0, src.next_wakeup(now) - now)
                if self._closing and not end.pending_in() and not len(writer):
                    # Linger: everything is sent. Stay a little longer, answering NAKs, so a
                    # receiver that lost the last packets still gets them; then stop() ends
                    # the session with FIN. (LINGER bounds all of it.)
                    if src.settled(now, TAIL_GRACE):
                        return
                    timeout = min(timeout, TAIL_GRACE / 4)
                if delay:
                    timeout = min(timeout, delay)
                wake.clear()
                if not len(writer) and end.check_read():
                    continue   # (check_read() armed the pipe if it found nothing)
                wake.wait(timeout)  # data, a NAK (the reader sets wake), stop(), or a timer
        except gevent.GreenletExit:
            pass
        except Exception:
            log.exception("%s: internal error in pgm sender", self.endpoint)

    def _read_loop(self):
        src = self.source
        wake = self._wake
        try:
            while True:
                data, peer, dest = self._recvfrom(self.tx)
                if dest is not None and dest != self.addr.local:
                    continue  # raw socket: multicast traffic, ours or other sources'
                try:
                    src.receive(data, time.monotonic())
                except PGMError as exc:
                    log.debug("%s: dropped datagram from %s: %s", self.endpoint, peer, exc)
                    continue
                wake.set()
        except gevent.GreenletExit:
            pass
        except OSError as exc:
            if not self.stopped:
                log.warning("%s: NAK socket failed: %s", self.endpoint, exc)

    def stop(self, linger=0):
        """(engine hub) End the link; with LINGER (the socket closed) deliver what is
        queued first: the writer returns once it has flushed, LINGER bounds the wait, and
        term() waits for all of it."""
        if self.stopped or self._closing:
            return
        pending = self.end.pending_in() or len(self.writer)
        if linger != 0 and pending and self.greenlet is not None:
            self._closing = True
            self._wake.set()
            self.engine.context._linger_begin(self)
            gevent.spawn(self._linger, linger)
            return
        self._terminate()

    def _linger(self, linger):
        try:
            self.greenlet.join(None if linger is None or linger < 0 else linger / 1000.0)
        finally:
            self._terminate()
            self.engine.context._linger_end(self)

    def _terminate(self):
        if self.stopped:
            return
        self.stopped = True
        current = gevent.getcurrent()
        for g in (self.greenlet, self._reader):
            if g is not None and g is not current:
                g.kill(block=False)
        if self.greenlet is not None:
            for packet in self.source.close():
                self._send(packet)
        self._close_sockets()
        self.end.terminate()


class ReceiverLink(_Link):
    """SUB/XSUB side: joins the group, receives every source in it, repairs with NAKs."""

    SENDS = False

    def _setup(self):
        addr = self.addr
        o = self.options.values
        # Bound to the group: only this group's datagrams, never unicast NAKs meant for a
        # publisher on this host. NAKs leave from a second socket bound to our address.
        self.rx = s = self._socket()
        s.bind((addr.group, addr.port if addr.udp else 0))
        self.nak = self._socket()
        self.nak.bind((addr.local, 0))
        mreq = socket.inet_aton(addr.group) + socket.inet_aton(addr.local)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        try:
            s.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
        except OSError:
            pass
        _set_buffer(s, socket.SO_RCVBUF, o[O.RCVBUF] if o[O.RCVBUF] > 0 else RCVBUF_DEFAULT)
        self.receiver = Receiver(addr.port, addr.group, self.window, maxmsgsize=o[O.MAXMSGSIZE])
        self.nak_port = addr.port if addr.udp else 0

    def _start(self):
        if self.stopped:
            return
        self.rx = _cooperative(self.rx)
        self.nak = _cooperative(self.nak)
        self._sockets = [self.rx, self.nak]
        self._resume = Event()
        self.read_activated(self.end)    # arm the pipe
        self.greenlet = gevent.spawn(self._read_loop)

    def read_activated(self, end):
        # Nothing goes upstream over multicast: an XSUB's non-subscription sends are dropped.
        while end.read() is not None:
            pass

    def write_activated(self, end):
        self._resume.set()

    def _read_loop(self):
        rcv = self.receiver
        rx = self.rx
        end = self.end
        monotonic = time.monotonic
        group = self.addr.group
        try:
            while True:
                due = rcv.next_wakeup()
                now = monotonic()
                rx.settimeout(None if due is None else max(0.0, due - now))
                messages = []
                try:
                    data, peer, dest = self._recvfrom(rx)
                except (socket.timeout, BlockingIOError):
                    data = None
                if data is not None:
                    rx.settimeout(0.0)
                    for _ in range(RECV_BATCH):
                        now = monotonic()
                        if dest is None or dest == group:
                            try:
                                messages += rcv.receive(data, peer, now)
                            except PGMError as exc:
                                log.debug("%s: dropped datagram from %s: %s", self.endpoint, peer, exc)
                        try:
                            data, peer, dest = self._recvfrom(rx)
                        except (socket.timeout, BlockingIOError):
                            break
                now = monotonic()
                due = rcv.next_wakeup()
                if due is not None and due <= now:
                    messages += rcv.poll(now)
                for packet, nla in rcv.outgoing():
                    try:
                        self.nak.sendto(packet, (nla, self.nak_port))
                    except OSError as exc:
                        log.debug("%s: NAK to %s failed: %s", self.endpoint, nla, exc)
                if messages:
                    end.write_all(messages)
                    if not end.check_write():
                        self._wait_drained()
        except gevent.GreenletExit:
            pass
        except OSError as exc:
            if not self.stopped:
                log.warning("%s: multicast socket failed: %s", self.endpoint, exc)
        except Exception:
            log.exception("%s: internal error in pgm receiver", self.endpoint)

    def _wait_drained(self):
        """RCVHWM reached: stop reading (the kernel buffers, then drops; NAKs repair that)
        until the socket has taken the queue down to half (the pipe calls write_activated)."""
        while not self.stopped:
            self._resume.clear()
            if self.end.check_write():
                return
            self._resume.wait()

    def stop(self, linger=0):
        if self.stopped:
            return
        self.stopped = True
        if self.greenlet is not None and self.greenlet is not gevent.getcurrent():
            self.greenlet.kill(block=False)
        self._close_sockets()
        self.end.terminate()
