"""udp:// transport: RADIO/DISH (libzmq's group datagrams) and DGRAM (raw datagrams).

Endpoints: `udp://HOST:PORT` (HOST an IPv4 address or `*`; PORT may be `*` or 0 on bind), or
`udp://IFACE;GROUP:PORT` / `udp://GROUP:PORT` for an IPv4 multicast group. As in libzmq:
RADIO connects (sends to the address), DISH binds (receives there; a multicast group is
joined), DGRAM binds or connects and sends each message to the address in its first frame.
Other socket types: ENOCOMPATPROTO. There is no handshake and no upstream channel: a DISH's
joins stay local and the dish filters (gzmq.sockets.radiodish); the RADIO's pipe takes every
group. SNDHWM/RCVHWM bound the pipe; a message beyond RCVHWM is dropped, as UDP drops.
MAXMSGSIZE drops larger datagrams. A malformed datagram is logged and dropped.

Engine only: the datagram formats are gzmq.udp.framing (sans-IO). bind()/connect() open the
OS socket on the socket's thread (so that errors are theirs), then one link greenlet per
direction runs on the socket's engine hub, as gzmq.transports.pgm.
"""
import errno as _errno
import logging
import socket
from ipaddress import ip_address

import gevent
from gevent import socket as gsocket
from gevent.event import Event

from ..constants import Errno, SocketOption
from ..engine.wait import call_and_wait
from ..error import ZMQError
from ..udp.framing import DatagramError, decode_radio, encode_radio, format_peer, parse_peer

log = logging.getLogger("gzmq")
O = SocketOption

MAX_DATAGRAM = 65507        # an IPv4 UDP payload
RECV_BATCH = 256


class Address:
    __slots__ = ("host", "port", "iface", "multicast")

    def __init__(self, host, port, iface, multicast):
        self.host = host
        self.port = port
        self.iface = iface
        self.multicast = multicast


def parse_address(address, endpoint, bind):
    host, sep, port_s = address.rpartition(":")
    if not sep:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: missing port")
    if port_s in ("*", "0"):
        if not bind:
            raise ZMQError(Errno.EINVAL, f"{endpoint}: cannot connect to port {port_s}")
        port = 0
    elif port_s.isdigit() and 0 < int(port_s) < 65536:
        port = int(port_s)
    else:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: invalid port {port_s!r}")
    iface, _, host = host.rpartition(";")
    if host == "*":
        if not bind:
            raise ZMQError(Errno.EINVAL, f"{endpoint}: cannot connect to '*'")
        return Address("0.0.0.0", port, iface, False)
    try:
        ip = ip_address(host)
    except ValueError:
        try:
            host = socket.gethostbyname(host)
        except OSError:
            raise ZMQError(Errno.EINVAL, f"{endpoint}: cannot resolve {host!r}") from None
        ip = ip_address(host)
    if ip.version != 4:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: gzmq's udp:// is IPv4 only")
    return Address(str(ip), port, iface, ip.is_multicast)


class UdpTransport:
    def bind(self, socket_, scheme, address):
        return _open(socket_, f"udp://{address}", address, True)

    def connect(self, socket_, scheme, address):
        return _open(socket_, f"udp://{address}", address, False)


def _open(host, endpoint, address, bind):
    kind = host.engine_options.type_name
    if kind == "RADIO" and not bind:
        cls = RadioLink
    elif kind == "DISH" and bind:
        cls = DishLink
    elif kind == "DGRAM":
        cls = DgramLink
    else:
        how = "bind" if bind else "connect"
        raise ZMQError(Errno.ENOCOMPATPROTO,
                       f"{endpoint}: {kind} socket cannot {how} udp:// (RADIO connects, DISH binds, DGRAM either)")
    return cls(host, endpoint, parse_address(address, endpoint, bind), bind)


class UdpLink:
    """What a udp endpoint leaves in the socket (a Binding and a Link at once): the pipe, the
    OS socket, the greenlets. Everything runs on the socket's engine hub."""

    SENDS = RECEIVES = False

    def __init__(self, host, endpoint, addr, bind):
        self.addr = addr
        self.engine = engine = host.engine
        self.options = host.engine_options
        self.maxmsgsize = self.options.maxmsgsize
        self.stopped = False
        self._greenlets = []
        self._wake = Event()
        self._resume = Event()
        try:
            self.sock = self._socket(bind)
        except OSError as exc:
            code = exc.errno or Errno.EINVAL
            if code == _errno.EADDRINUSE:
                raise ZMQError(Errno.EADDRINUSE, f"{endpoint}: address already in use") from None
            raise ZMQError(code, f"{endpoint}: {exc.strerror or exc}") from None
        if bind and addr.port == 0:
            endpoint = f"udp://{addr.host}:{self.sock.getsockname()[1]}"
        self.endpoint = endpoint
        self.pipe, self.end = host.make_pipe(endpoint, True, engine.io)
        self.end.sink = self
        # The radio's pipe takes every group: nobody upstream tells it what the dishes joined.
        host.attach_pipe(self.pipe, subscribe_to_all=self.SENDS)
        host.pipe_ready(self.pipe)
        engine.io.call(self._start)

    def _socket(self, bind):
        addr = self.addr
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            o = self.options.values
            if addr.multicast:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                local = socket.inet_aton(addr.iface or "0.0.0.0")
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, max(0, min(255, o[O.MULTICAST_HOPS])))
                s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1 if o[O.MULTICAST_LOOP] else 0)
                if addr.iface:
                    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, local)
                if bind:
                    s.bind((addr.host, addr.port))
                    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                                 socket.inet_aton(addr.host) + local)
            elif bind:
                # libzmq's udp_engine sets SO_REUSEADDR on a receiving socket; it also lets an
                # unbind()'s port be bound again at once (the engine closes the old socket
                # on its next loop turn).
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((addr.host, addr.port))
            for opt, key in ((socket.SO_SNDBUF, O.SNDBUF), (socket.SO_RCVBUF, O.RCVBUF)):
                if o[key] > 0:
                    s.setsockopt(socket.SOL_SOCKET, opt, o[key])
        except OSError:
            s.close()
            raise
        return s

    # -- Binding and Link (socket's thread) ----------------------------------------------
    def matches(self, addr):
        return addr == self.endpoint

    def unbind(self):
        call_and_wait(self.engine.io, self.stop, 0)

    disconnect = unbind

    def close(self, linger):
        self.engine.io.call(self.stop, linger)

    # -- engine hub ------------------------------------------------------------------------
    def _start(self):
        if self.stopped:
            return
        self.sock = gsocket.socket(fileno=self.sock.detach())
        if self.SENDS:
            self._greenlets.append(gevent.spawn(self._write_loop))
        else:
            self.read_activated(self.end)     # arm the pipe (a dish's joins go nowhere)
        if self.RECEIVES:
            self._greenlets.append(gevent.spawn(self._read_loop))

    def read_activated(self, end):
        if self.SENDS:
            self._wake.set()
        else:
            while end.read() is not None:
                pass

    def write_activated(self, end):
        self._resume.set()

    def hiccuped(self, end):
        pass

    def pipe_terminated(self, end):
        self.stop(0)

    def _write_loop(self):
        end = self.end
        wake = self._wake
        try:
            while True:
                msg = end.read()
                if msg is None:
                    wake.clear()
                    msg = end.read()
                    if msg is None:
                        wake.wait()
                        continue
                if type(msg) is not list:
                    continue                    # a Join/Leave: nobody to tell over udp
                try:
                    data, peer = self.encode(msg)
                except DatagramError as exc:
                    log.warning("%s: message not sent: %s", self.endpoint, exc)
                    continue
                try:
                    self.sock.sendto(data, peer)
                except OSError as exc:
                    # An unreachable destination costs this datagram, never the link.
                    log.debug("%s: sendto %s failed: %s", self.endpoint, peer, exc)
        except gevent.GreenletExit:
            pass

    def _read_loop(self):
        end = self.end
        sock = self.sock
        try:
            while True:
                data, peer = sock.recvfrom(MAX_DATAGRAM + 1)
                if self.maxmsgsize >= 0 and len(data) > self.maxmsgsize + 256:
                    log.warning("%s: dropped a datagram of %d bytes from %s (MAXMSGSIZE)",
                                self.endpoint, len(data), peer[0])
                    continue
                try:
                    msg = self.decode(data, peer)
                except DatagramError as exc:
                    log.warning("%s: dropped a datagram from %s: %s", self.endpoint, peer[0], exc)
                    continue
                if self.maxmsgsize >= 0 and len(msg[-1]) > self.maxmsgsize:
                    log.warning("%s: dropped a message of %d bytes from %s (MAXMSGSIZE)",
                                self.endpoint, len(msg[-1]), peer[0])
                    continue
                if end.check_write():
                    end.write(msg)
                # else: at RCVHWM the datagram is lost, as the kernel would lose it
        except gevent.GreenletExit:
            pass
        except OSError as exc:
            if not self.stopped:
                log.warning("%s: udp socket failed: %s", self.endpoint, exc)

    def stop(self, linger=0):
        if self.stopped:
            return
        if linger != 0 and self.SENDS:
            self._flush()
        self.stopped = True
        current = gevent.getcurrent()
        for g in self._greenlets:
            if g is not current:
                g.kill(block=False)
        try:
            self.sock.close()
        except OSError:
            pass
        self.end.terminate()

    def _flush(self):
        """Closing with LINGER: what is queued goes out now (a UDP send never waits long)."""
        while True:
            msg = self.end.read()
            if msg is None:
                return
            if type(msg) is list:
                try:
                    data, peer = self.encode(msg)
                    self.sock.sendto(data, peer)
                except (DatagramError, OSError):
                    pass

    def __repr__(self):
        return f"<{type(self).__name__} {self.endpoint}>"


class RadioLink(UdpLink):
    SENDS = True

    def encode(self, msg):
        if len(msg) != 2:
            raise DatagramError(f"RADIO message of {len(msg)} frames")
        return encode_radio(msg[0], msg[1]), (self.addr.host, self.addr.port)


class DishLink(UdpLink):
    RECEIVES = True

    def decode(self, data, peer):
        return decode_radio(data)


class DgramLink(UdpLink):
    SENDS = RECEIVES = True

    def __init__(self, host, endpoint, addr, bind):
        if not bind:
            # A connected DGRAM sends from (and hears replies on) a port of its own.
            addr = Address(addr.host, addr.port, addr.iface, addr.multicast)
        self._bound = bind
        super().__init__(host, endpoint, addr, bind)

    def _socket(self, bind):
        if bind:
            return super()._socket(True)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 0))
        return s

    def encode(self, msg):
        if len(msg) != 2:
            raise DatagramError(f"DGRAM message of {len(msg)} frames (address and body)")
        return bytes(msg[1]), parse_peer(msg[0])

    def decode(self, data, peer):
        return [format_peer(peer), data]
