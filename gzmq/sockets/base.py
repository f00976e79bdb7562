"""SocketBase: the machinery every socket type shares, and pyzmq's Socket API on top of it.

A socket owns pipes (one per peer, gzmq.engine.pipe), the endpoints it bound or connected
(listeners, connecters, inproc links) and its options. Socket types (one small module each)
plug routing into a few hooks:

    _init_routing()         set up LoadBalancer / FairQueue / routing ids
    _xattach(pipe)          a pipe joined (at connect time, on accept after the handshake)
    _xready(pipe) -> bool   the peer's handshake finished (metadata known); False refuses it
    _xdetach(pipe)          the pipe is gone
    _xsend(msg) -> bool     queue one whole message (list of frames) or return False if it
                            would block; raise ZMQError for errors (EFSM, EHOSTUNREACH...)
    _xrecv() -> msg|None    take one whole message, or None if none is ready
    _xhas_in(), _xhas_out() for POLLIN / POLLOUT
    _xreadable(pipe), _xwritable(pipe)   a pipe got messages / room again

Blocking calls wait with gzmq.engine.wait.wait_until on the socket's two Signals (messages
in, room out), which the pipes' events fire only when someone waits, and only once per
batch. A wait ends with a message, Again (DONTWAIT or RCVTIMEO/SNDTIMEO expired), ENOTSOCK
(socket closed) or ContextTerminated. An interrupted wait (gevent.Timeout, kill)
takes nothing out of a queue, so nothing is lost and the socket stays usable.
"""
import errno as _errno
import json
import logging
import pickle
import time
from types import GenericAlias

import gevent

from .. import constants as C
from ..constants import Errno, Flag, OPTION_TYPES, PollEvent, SocketOption, SocketType
from ..engine.options import EngineOptions, mechanism_of
from ..engine.pipe import pipe_pair
from ..engine.session import relieve
from ..engine.socket_engine import SocketEngine
from ..engine.wait import Mailbox, Signal, hub_link, wait_until
from ..error import Again, ContextTerminated, ZMQError
from ..message import _FINISHED_TRACKER, Frame, MessageTracker
from ..shadow import make_shadow, register as register_address
from ..security.options import CURVE_KEYS, SECURITY_OPTIONS, check_option, curve_key_text
from ..transports import split_endpoint, stream_transport

log = logging.getLogger("gzmq")

DONTWAIT = int(Flag.DONTWAIT)
SNDMORE = int(Flag.SNDMORE)

TYPE_NAMES = {
    SocketType.PAIR: "PAIR", SocketType.PUB: "PUB", SocketType.SUB: "SUB", SocketType.REQ: "REQ",
    SocketType.REP: "REP", SocketType.DEALER: "DEALER", SocketType.ROUTER: "ROUTER",
    SocketType.PULL: "PULL", SocketType.PUSH: "PUSH", SocketType.XPUB: "XPUB",
    SocketType.XSUB: "XSUB", SocketType.STREAM: "STREAM",
}

O = SocketOption
DEFAULTS = {
    O.SNDHWM: 1000, O.RCVHWM: 1000, O.LINGER: -1, O.RCVTIMEO: -1, O.SNDTIMEO: -1,
    O.RECONNECT_IVL: 100, O.RECONNECT_IVL_MAX: 0, O.BACKLOG: 100, O.MAXMSGSIZE: -1,
    O.IMMEDIATE: 0, O.HANDSHAKE_IVL: 30000, O.HEARTBEAT_IVL: 0, O.HEARTBEAT_TTL: 0,
    O.HEARTBEAT_TIMEOUT: -1, O.TCP_KEEPALIVE: -1, O.TCP_KEEPALIVE_CNT: -1,
    O.TCP_KEEPALIVE_IDLE: -1, O.TCP_KEEPALIVE_INTVL: -1, O.IPV6: 0, O.IPV4ONLY: 1,
    O.ROUTER_MANDATORY: 0, O.ROUTER_HANDOVER: 0, O.PROBE_ROUTER: 0, O.REQ_CORRELATE: 0,
    O.REQ_RELAXED: 0, O.CONFLATE: 0, O.ROUTING_ID: b"", O.CONNECT_ROUTING_ID: b"",
    O.CONNECT_TIMEOUT: 0, O.SNDBUF: -1, O.RCVBUF: -1, O.TOS: 0, O.AFFINITY: 0, O.RATE: 100,
    O.RECOVERY_IVL: 10000, O.MULTICAST_HOPS: 1, O.MULTICAST_LOOP: 1, O.MULTICAST_MAXTPDU: 1500,
    O.ZAP_DOMAIN: b"", O.ZAP_ENFORCE_DOMAIN: 0, O.PLAIN_SERVER: 0, O.PLAIN_USERNAME: b"",
    O.PLAIN_PASSWORD: b"", O.CURVE_SERVER: 0, O.CURVE_PUBLICKEY: b"", O.CURVE_SECRETKEY: b"",
    O.CURVE_SERVERKEY: b"", O.XPUB_VERBOSE: 0, O.XPUB_VERBOSER: 0, O.XPUB_MANUAL: 0,
    O.XPUB_NODROP: 0, O.XPUB_WELCOME_MSG: b"", O.INVERT_MATCHING: 0, O.TCP_MAXRT: 0,
    O.LAST_ENDPOINT: b"", O.STREAM_NOTIFY: 1, O.ROUTER_NOTIFY: 0, O.MULTICAST_LOOP: 1,
    O.ONLY_FIRST_SUBSCRIBE: 0, O.XSUB_VERBOSE_UNSUBSCRIBE: 0, O.LOOPBACK_FASTPATH: 0,
    O.ROUTER_RAW: 0, O.BLOCKY: 1, O.USE_FD: -1, O.BINDTODEVICE: b"", O.METADATA: b"",
    # Readable as in libzmq 4.3.5 (pyzmq code reads them), though gzmq does not act on them.
    O.RECONNECT_STOP: 0, O.SOCKS_PROXY: b"", O.SOCKS_USERNAME: b"", O.SOCKS_PASSWORD: b"",
}
_READ_ONLY = {O.TYPE, O.RCVMORE, O.EVENTS, O.FD, O.LAST_ENDPOINT, O.MECHANISM, O.THREAD_SAFE}
_WRITE_ONLY = {O.SUBSCRIBE, O.UNSUBSCRIBE}


def _as_bytes_option(option, value):
    if isinstance(value, str):
        raise TypeError(f"unicode not allowed for {option.name}, use setsockopt_string")
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{option.name} takes bytes, not {type(value).__name__}")
    return bytes(value)


class _AssignableMethod:
    """A method that assignment calls instead of replacing: pyzmq lets `sock.subscribe = b"x"`
    mean `sock.subscribe(b"x")` (the option), although `subscribe` is also a method."""

    def __init__(self, fn):
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj, owner=None):
        return self.fn if obj is None else self.fn.__get__(obj, owner)

    def __set__(self, obj, value):
        self.fn(obj, value)


class SocketBase:
    """Common socket machinery; see the module docstring. Public API is pyzmq's."""

    _type = None
    _shadow = False
    _internal = False          # a socket gzmq made for itself: Context.term() does not wait for it
    # pyzmq's Socket is Generic (zmq.Socket[bytes] in annotations evaluated at run time).
    __class_getitem__ = classmethod(GenericAlias)
    _monitor_socket = None     # the PAIR get_monitor_socket() made (returned again while open)
    _peer_types = frozenset()
    _can_send = True
    _can_recv = True

    def __init__(self, context=None, socket_type=None, **kwargs):
        if context is None:
            from ..context import Context
            context = Context.instance()
        self.context = context
        self._options = dict(DEFAULTS)
        self._app_metadata = {}    # METADATA: X- properties sent in our handshake
        self._pipes = []
        self._listeners = {}      # endpoint -> Listener
        self._connecters = {}     # endpoint -> [Connecter | inproc link]
        self._inproc_bound = []
        self._closed = False
        self._in_signal = Signal()    # fired when messages may have arrived
        self._out_signal = Signal()   # fired when room may have appeared
        self._rcv_parts = None
        self._rcv_idx = 0
        self._rcv_pipe = None
        self._snd_parts = []
        self._sndtimeo = None
        self._rcvtimeo = None
        self._monitor = None
        # Calls from other threads (an inproc peer's pipe events, term(), destroy()) run on
        # this socket's thread through its mailbox.
        self._mailbox = Mailbox((self._in_signal, self._out_signal))
        self._type_name = TYPE_NAMES.get(self._type, str(self._type))
        self._init_routing()
        # The engine (listeners, connecters, sessions) runs on this thread's hub.
        self._io = hub_link()
        self._engine = SocketEngine(self, self._mailbox, context, self._io, self._engine_options())
        context._register_socket(self)
        register_address(self)

    @classmethod
    def shadow(cls, address):
        """Another handle on the socket `address` (a Socket or its `underlying`); gzmq.shadow."""
        return make_shadow(address, SocketBase)

    def __copy__(self, memo=None):
        return make_shadow(self, SocketBase)

    __deepcopy__ = __copy__

    # -- identity ---------------------------------------------------------------------------
    @property
    def type(self):
        return self._type

    @property
    def socket_type(self):
        return self._type

    @property
    def closed(self):
        return self._closed

    @property
    def underlying(self):
        return id(self)

    def __repr__(self):
        state = " (closed)" if self._closed else ""
        return f"<gzmq.Socket(zmq.{self._type_name}) at {hex(id(self))}{state}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fileno(self):
        raise ZMQError(Errno.ENOTSUP, "gzmq sockets have no file descriptor; use gzmq.Poller")

    # -- routing hooks (overridden by socket types) ----------------------------------------
    def _init_routing(self):
        pass

    def _xattach(self, pipe):
        pass

    def _xready(self, pipe):
        return True

    def _xdetach(self, pipe):
        pass

    def _xsend(self, msg):
        raise ZMQError(Errno.ENOTSUP, f"{self._type_name} socket cannot send")

    def _xrecv(self):
        self._check_open()          # a closed socket is ENOTSOCK whatever its type
        raise ZMQError(Errno.ENOTSUP, f"{self._type_name} socket cannot recv")

    def _xhas_in(self):
        return False

    def _xhas_out(self):
        return False

    def _xreadable(self, pipe):
        pass

    def _xwritable(self, pipe):
        pass

    def _xhiccup(self, pipe):
        pass

    def _reply_check(self):
        """A check a session applies to each message it receives, raising ZMTPError for one
        that must drop the peer (REQ: replies without an envelope), or None."""
        return None

    # -- options ----------------------------------------------------------------------------
    def setsockopt(self, option, value):
        self._check_open()
        try:
            option = SocketOption(option)
        except ValueError:
            if not isinstance(value, int):  # pyzmq passes only ints through to libzmq
                raise TypeError(f"unknown socket option {option} takes an int") from None
            raise ZMQError(Errno.EINVAL, f"unknown socket option {option}") from None
        if option in _READ_ONLY:
            raise ZMQError(Errno.EINVAL, f"{option.name} is read-only")
        kind = OPTION_TYPES.get(option, "int")
        if kind == "bytes":
            value = _as_bytes_option(option, value)
        else:
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, int):
                raise TypeError(f"{option.name} takes an int, not {type(value).__name__}")
        if option in SECURITY_OPTIONS:
            value = check_option(option, value)   # CURVE keys: Z85 or raw in, raw stored
        if option == O.HWM:
            self.setsockopt(O.SNDHWM, value)
            self.setsockopt(O.RCVHWM, value)
            return
        if option in (O.SNDHWM, O.RCVHWM) and value < 0:
            raise ZMQError(Errno.EINVAL, f"{option.name} must be >= 0")
        if option in (O.ROUTING_ID, O.CONNECT_ROUTING_ID) and value:
            if len(value) > 255:
                raise ZMQError(Errno.EINVAL, f"{option.name} must be at most 255 bytes")
        if option == O.METADATA:
            self._add_metadata(value)
        if self._xsetsockopt(option, value):
            return
        self._options[option] = value
        self._engine.options = self._engine_options()
        if option == O.SNDTIMEO:
            self._sndtimeo = None if value < 0 else value / 1000.0
        elif option == O.RCVTIMEO:
            self._rcvtimeo = None if value < 0 else value / 1000.0
        elif option == O.SNDHWM:
            # libzmq applies HWM changes to pipes created later; existing pipes keep theirs,
            # except that raising it helps blocked senders right away (harmless, simpler).
            for pipe in self._pipes:
                if pipe.inproc_peer is None:
                    pipe.set_sndhwm(value)
        elif option == O.RCVHWM:
            for pipe in self._pipes:
                if pipe.inproc_peer is None:
                    pipe.set_rcvhwm(value)

    def _xsetsockopt(self, option, value):
        """Socket types intercept options they act on (SUBSCRIBE...). True if handled."""
        if option in _WRITE_ONLY:
            raise ZMQError(Errno.EINVAL, f"{option.name} is not valid on a {self._type_name} socket")
        return False

    def getsockopt(self, option):
        if option == O.EVENTS:
            self._check_open()
            return self._events()
        if option == O.RCVMORE:
            self._check_open()
            return 1 if self._rcv_parts is not None else 0
        if option == O.TYPE:
            return int(self._type)
        self._check_open()
        try:
            option = SocketOption(option)
        except ValueError:
            raise ZMQError(Errno.EINVAL, f"unknown socket option {option}") from None
        if option in _WRITE_ONLY:
            raise ZMQError(Errno.EINVAL, f"{option.name} is write-only")
        if option == O.MECHANISM:
            return self._mechanism_number()
        if option == O.FD:
            raise ZMQError(Errno.ENOTSUP, "gzmq sockets have no FD; use gzmq.Poller or Socket.poll()")
        if option == O.THREAD_SAFE:
            return 0
        if option == O.HWM:
            return self._options[O.SNDHWM]
        if option in CURVE_KEYS:
            return curve_key_text(self._options[option])
        if option in self._options:
            return self._options[option]
        raise ZMQError(Errno.EINVAL, f"option {option.name} is not supported by gzmq")

    def _mechanism_number(self):
        return int(mechanism_of(self._options))

    def _add_metadata(self, value):
        """METADATA "X-name:value" (libzmq: names must start with X-; EINVAL otherwise)."""
        name, sep, data = value.partition(b":")
        if not sep or not name.lower().startswith(b"x-") or len(name) > 255:
            raise ZMQError(Errno.EINVAL, "METADATA must be 'X-name:value'")
        try:
            key = name.decode("ascii")
        except UnicodeDecodeError:
            raise ZMQError(Errno.EINVAL, "METADATA names are ASCII") from None
        self._app_metadata[key] = data

    def _engine_options(self):
        """The copy of the options this socket's engine works with (see EngineOptions)."""
        return EngineOptions(self._options, self._type_name, self._peer_types,
                             self._app_metadata.items(), self._conflate_inbound(),
                             self._reply_check())

    set = setsockopt
    get = getsockopt

    def setsockopt_string(self, option, value, encoding="utf-8"):
        if not isinstance(value, str):
            raise TypeError(f"str required, not {type(value).__name__}")
        self.setsockopt(option, value.encode(encoding))

    def getsockopt_string(self, option, encoding="utf-8"):
        if OPTION_TYPES.get(SocketOption(option)) != "bytes":
            raise TypeError(f"option {option} will not return a string")
        return self.getsockopt(option).decode(encoding)

    set_string = setsockopt_unicode = setsockopt_string
    get_string = getsockopt_unicode = getsockopt_string

    def set_hwm(self, value):
        self.setsockopt(O.SNDHWM, value)
        self.setsockopt(O.RCVHWM, value)

    def get_hwm(self):
        return self.getsockopt(O.SNDHWM)

    hwm = property(get_hwm, set_hwm)

    def zap_request(self, session, request):
        """(engine) Ask this context's ZAP handler about a peer's handshake."""
        from ..security.zap import zap_request
        return zap_request(self, session, request)

    # -- attribute-style options: sock.linger = 0, sock.rcvtimeo, sock.routing_id ... -------
    def __getattr__(self, name):
        # Only called when normal lookup fails: map option names (any case) to getsockopt.
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            option = getattr(SocketOption, name.upper())
        except AttributeError:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r}") from None
        return _get_attr_option(self, option)

    @_AssignableMethod
    def subscribe(self, topic):
        """SUB/XSUB: subscribe to a topic prefix (str is UTF-8 encoded)."""
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.setsockopt(O.SUBSCRIBE, topic)

    @_AssignableMethod
    def unsubscribe(self, topic):
        """SUB/XSUB: drop one reference to a subscription."""
        if isinstance(topic, str):
            topic = topic.encode("utf-8")
        self.setsockopt(O.UNSUBSCRIBE, topic)

    # -- endpoints ----------------------------------------------------------------------------
    def bind(self, addr):
        """Bind to an endpoint: tcp://IP:PORT (PORT may be * for a free port), ipc://PATH,
        inproc://NAME. Returns a _SocketContext usable as a context manager (pyzmq >= 20)."""
        self._check_open()
        scheme, address = split_endpoint(addr)
        if scheme == "inproc":
            from ..transports import inproc
            inproc.bind(self, address)
            endpoint = f"inproc://{address}"
        elif scheme in ("pgm", "epgm"):
            from ..transports import pgm
            endpoint = pgm.bind(self, scheme, address)
        else:
            transport = stream_transport(scheme)
            try:
                lsock, endpoint, unlink = transport.listen(address, addr,
                                                           self._engine.options.transport)
            except ZMQError as exc:
                self.monitor_event(C.Event.BIND_FAILED, exc.errno, str(addr))
                raise
            self._listeners[endpoint] = _EngineBinding(self, endpoint)
            self._io.call(self._engine.listen, endpoint, lsock, transport, unlink)
            self.monitor_event(C.Event.LISTENING, lsock.fileno(), endpoint)
        self._options[O.LAST_ENDPOINT] = endpoint.encode()
        return _SocketContext(self, "bind", endpoint)

    def bind_to_random_port(self, addr, min_port=49152, max_port=65536, max_tries=100):
        """Bind `addr` (e.g. 'tcp://127.0.0.1') to a random port; returns the port."""
        if min_port == 49152 and max_port == 65536:
            self.bind(f"{addr}:*")
            return int(self.last_endpoint.decode().rsplit(":", 1)[-1])
        import random
        for _ in range(max_tries):
            port = random.randrange(min_port, max_port)
            try:
                self.bind(f"{addr}:{port}")
            except ZMQError as exc:
                if exc.errno not in (Errno.EADDRINUSE, 98, 13):
                    raise
            else:
                return port
        from ..error import ZMQBindError
        raise ZMQBindError("Could not bind socket to random port.")

    def connect(self, addr):
        """Connect to an endpoint. Returns at once: the pipe exists straight away (unless
        IMMEDIATE), so messages sent before the peer is reachable wait for it."""
        self._check_open()
        scheme, address = split_endpoint(addr)
        if isinstance(addr, bytes):
            addr = addr.decode()
        if scheme == "inproc":
            from ..transports import inproc
            link = inproc.connect(self, address)
            self._connecters.setdefault(addr, []).append(link)
        elif scheme in ("pgm", "epgm"):
            from ..transports import pgm
            link = pgm.connect(self, scheme, address)
            self._connecters.setdefault(addr, []).append(link)
        else:
            transport = stream_transport(scheme)
            target = transport.parse_connect(address, addr, self._engine.options.transport)
            pipe = end = None
            if not self._options[O.IMMEDIATE]:
                # libzmq makes the pipe at connect(): messages queue for the peer at once.
                o = self._options
                pipe, end = pipe_pair(self, self._mailbox, None, self._io, o[O.SNDHWM],
                                      o[O.RCVHWM], addr, conflate_ba=self._conflate_inbound())
                pipe.connect_side = True
                self._attach_pipe(pipe)
            self._connecters.setdefault(addr, []).append(_EngineConnection(self, addr, pipe))
            self._io.call(self._engine.connect, addr, transport, target, end)
        self._options[O.LAST_ENDPOINT] = addr.encode()
        return _SocketContext(self, "connect", addr)

    def unbind(self, addr):
        self._check_open()
        if isinstance(addr, bytes):
            addr = addr.decode()
        scheme, address = split_endpoint(addr)
        if scheme == "inproc":
            from ..transports import inproc
            if not inproc.unbind(self, address):
                raise ZMQError(_errno.ENOENT, f"{addr}: not bound")
            return
        listener = self._listeners.pop(addr, None)
        if listener is None and scheme == "tcp":
            # libzmq accepts the resolved form; try matching a wildcard bind by its port.
            for ep in list(self._listeners):
                if ep.rsplit(":", 1)[-1] == addr.rsplit(":", 1)[-1]:
                    listener = self._listeners.pop(ep)
                    break
        if listener is None:
            raise ZMQError(_errno.ENOENT, f"{addr}: not bound")
        listener.close()     # (and the connections accepted through it: libzmq drops them)

    def disconnect(self, addr):
        self._check_open()
        if isinstance(addr, bytes):
            addr = addr.decode()
        links = self._connecters.pop(addr, None)
        if not links:
            raise ZMQError(_errno.ENOENT, f"{addr}: not connected")
        for link in links:
            link.stop()
            pipe = getattr(link, "pipe", None)
            if pipe is not None:
                # RFC 28: a socket that disconnects from a peer destroys that peer's queues and
                # discards the messages in them (libzmq test_spec_dealer/router). Unlike a peer
                # that leaves on its own, whose delivered messages stay readable.
                pipe.drop_inbound()
                self._drop_pipe(pipe)

    # -- pipes ------------------------------------------------------------------------------------
    def _new_pipe(self, endpoint, connect_side, attach):
        """A pipe pair for a multicast link: returns our end; the link takes the other."""
        o = self._options
        pipe, _ = pipe_pair(self, self._mailbox, None, self._mailbox, o[O.SNDHWM], o[O.RCVHWM],
                            endpoint, conflate_ba=self._conflate_inbound())
        pipe.connect_side = connect_side
        if attach:
            self._attach_pipe(pipe)
        return pipe

    def _attach_pipe(self, pipe):
        if pipe in self._pipes:
            return
        self._pipes.append(pipe)
        self._xattach(pipe)
        self._notify_out()

    def _conflate_inbound(self):
        """CONFLATE: keep only the newest received message (socket types that support it)."""
        return False

    def attach_pipe(self, pipe):
        """(engine, through the mailbox) A peer finished its handshake: its pipe joins the
        socket, or is refused (PAIR already paired): then the pipe is terminated, which ends
        the connection for good."""
        if self._closed or pipe.terminated or not pipe.alive:
            return     # closed meanwhile (its engine only flushes), or dropped already
        self._attach_pipe(pipe)
        pipe.ready = True
        if not self._xready(pipe):
            pipe.ready = False
            self._drop_pipe(pipe)

    def hiccuped(self, pipe):
        """(pipe) A connect()ed peer's connection was lost; the pipe stays and messages keep
        queueing for the reconnect. Half-delivered state (subscriptions) resets."""
        pipe.ready = False
        if pipe.alive and not self._closed:
            self._xhiccup(pipe)

    def pipe_terminated(self, pipe):
        """(pipe) The other end is gone for good: the connection ended (or a connecter gave
        up). What the peer delivered stays readable; what we queued for it is dropped."""
        pipe.drop_outbound()
        self._detach_pipe(pipe)
        if pipe.connect_side:
            self._forget_connection(pipe)

    def _forget_connection(self, pipe):
        for endpoint, links in list(self._connecters.items()):
            kept = [link for link in links if getattr(link, "pipe", None) is not pipe]
            if len(kept) != len(links):
                if kept:
                    self._connecters[endpoint] = kept
                else:
                    del self._connecters[endpoint]

    def _detach_pipe(self, pipe):
        if not pipe.alive:
            return
        pipe.alive = False
        try:
            self._pipes.remove(pipe)
        except ValueError:
            pass
        self._xdetach(pipe)
        # Messages already received from the peer stay readable (libzmq delivers them too);
        # the pipe leaves the fair queue once drained.

    def _drop_pipe(self, pipe):
        """Drop a peer (disconnect, ROUTER handover, refused): its connection ends."""
        self._detach_pipe(pipe)
        pipe.terminate()

    @property
    def _sessions(self):
        """The live connections of this socket's engine (for tests and diagnostics)."""
        return self._engine.sessions

    # -- the pipes' events (gzmq.engine.pipe), on this socket's thread ----------------------
    def read_activated(self, pipe):
        """A pipe that had no message has one now (once per batch, not per message)."""
        if not pipe.alive and not pipe.pending_in():
            return
        self._xreadable(pipe)
        self._notify_in()

    def write_activated(self, pipe):
        """A pipe that was full has drained to half its HWM."""
        if not pipe.alive:
            return
        self._xwritable(pipe)
        self._notify_out()

    def _notify_in(self):
        if self._in_signal.waiters:
            self._in_signal.fire()

    def _notify_out(self):
        if self._out_signal.waiters:
            self._out_signal.fire()

    # -- giving the engine a turn (PUB/XPUB) ------------------------------------------------
    _unwanted = 0      # messages nobody wanted (PUB/XPUB): every 256th gives the hub a turn

    def _dropped(self):
        """A message nobody subscribed to was dropped, as in libzmq. A program that publishes
        in a loop and never blocks (the zguide's wuserver.py) would then never let this
        thread's hub run, so no subscriber would ever be accepted, handshaken or heard, whereas
        libzmq's I/O thread does all that meanwhile. So every 256th such message gives the hub
        a turn (a yield, not a block); a message that goes somewhere costs nothing more."""
        n = self._unwanted = self._unwanted + 1
        if not n & 255 and gevent.getcurrent() is not gevent.get_hub():
            gevent.sleep(0)

    def _retry_full(self, full, msg):
        """Pipes that missed msg at SNDHWM: the engine may drain them at once (in-hub, their
        writers may simply not have run yet; gzmq.engine.session.relieve), then they get a
        second try; a subscriber that is really behind misses the message, as in libzmq."""
        relieve(full)
        for pipe in full:
            if pipe.alive:
                pipe.write(msg)

    def _notify_term(self):
        """The context is terminating: wake every blocked call so it raises ETERM (any
        thread)."""
        self._in_signal.fire()
        self._out_signal.fire()

    def _check_usable(self):
        """A blocked call ends: ENOTSOCK once the socket is closed, ETERM once its context
        terminates."""
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket was closed")
        if self.context._terminated:
            raise ContextTerminated()

    def monitor_event(self, event, value, endpoint):
        """Report a connection event to this socket's monitor (see monitor())."""
        monitor = self._monitor
        if monitor is not None:
            monitor.emit(int(event), value, endpoint)

    # -- sending ---------------------------------------------------------------------------
    def send(self, data, flags=0, copy=True, track=False, routing_id=None, group=None):
        """Send one frame; with SNDMORE more frames of the same message follow.

        data: bytes or any buffer (bytearray, memoryview, numpy array, Frame). str raises
        TypeError (use send_string). copy=False keeps a reference instead of copying.
        Blocks (cooperatively) at SNDHWM unless DONTWAIT; raises Again on DONTWAIT or when
        SNDTIMEO expires. Returns a MessageTracker if track=True, else None.
        """
        if type(flags) is not int:
            flags = int(flags)   # zmq.DONTWAIT is an IntFlag: `flags & X` on it costs ~1 us
        tracker = None
        if track:
            data, tracker = self._tracked_frame(data, copy, None)
        elif type(data) is not bytes:
            if isinstance(data, Frame) and data.tracker is not None:
                # pyzmq returns a tracked Frame's tracker even without track=True.
                data, tracker = self._tracked_frame(data, copy, None)
            else:
                data = self._frame_data(data, copy)
        if flags & SNDMORE:
            parts = self._snd_parts
            if not parts:
                self._check_open()
                if not self._can_send:
                    raise ZMQError(Errno.ENOTSUP, f"{self._type_name} socket cannot send")
                self._wait_writable_start(flags)
            parts.append(data)
            return tracker
        if self._snd_parts:
            parts = self._snd_parts
            parts.append(data)
            self._snd_parts = []
        else:
            parts = [data]
        if not self._closed and self._xsend(parts):
            return tracker    # the common case, without the call into _send_msg
        try:
            self._send_msg(parts, flags)
            return tracker
        except (Again, gevent.Timeout, gevent.GreenletExit):
            if len(parts) > 1:
                # Keep the frames already accepted so a retry of the last frame completes it.
                self._snd_parts = parts[:-1]
            raise

    def send_multipart(self, msg_parts, flags=0, copy=True, track=False, **kwargs):
        """Send a sequence of frames as one message (all or nothing)."""
        if type(flags) is not int:
            flags = int(flags)
        parts = []
        tracker = MessageTracker() if track else None
        for i, part in enumerate(msg_parts):
            if type(part) is not bytes or tracker is not None:
                if isinstance(part, str):
                    raise TypeError(f"Frame {i} ({part!r:.20}) does not support the buffer interface.")
                if tracker is None:
                    part = self._frame_data(part, copy)
                else:
                    part = self._tracked_frame(part, copy, tracker)[0]
            parts.append(part)
        if not parts:
            raise ValueError("send_multipart needs at least one frame")
        if self._snd_parts:
            parts = self._snd_parts + parts
            self._snd_parts = []
        self._send_msg(parts, flags & ~SNDMORE)
        return tracker

    # Frames smaller than this are copied even with copy=False (pyzmq's Socket.copy_threshold,
    # zmq.COPY_THRESHOLD): copying a few KiB costs less than keeping and tracking a reference.
    copy_threshold = 65536

    def _frame_data(self, data, copy):
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
        if view.nbytes < self.copy_threshold:
            return bytes(view)
        return view if view.ndim == 1 and view.itemsize == 1 else view.cast("B")

    def _tracked_frame(self, data, copy, tracker):
        """send(track=True): (frame data, tracker). A frame sent without copying is a fresh
        memoryview that only the engine references, so the tracker can follow its release
        (gzmq.message); a copied frame needs no tracking. A tracked Frame brings its own."""
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
            if not copy and len(data) >= self.copy_threshold:
                data = memoryview(data)
        else:
            data = self._frame_data(data, copy)
        if type(data) is memoryview:
            tracker._watch(data)
        elif fresh:
            tracker = _FINISHED_TRACKER   # copied: nothing to wait for (pyzmq's shared tracker)
        return data, tracker

    def _send_msg(self, parts, flags):
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")
        if self._xsend(parts):
            return
        if flags & DONTWAIT:
            raise Again()
        self._wait_send(parts)

    def _wait_writable_start(self, flags):
        """First frame of a multipart message: block (or raise Again) here, as libzmq does."""
        if self._xhas_out():
            return
        if flags & DONTWAIT:
            raise Again()
        if not wait_until(self._writable, self._sndtimeo, (self._out_signal,), self._check_usable):
            raise Again()

    def _writable(self):
        if self._mailbox.commands:
            self._mailbox.process()
        return self._xhas_out()

    def _wait_send(self, parts):
        def sent():
            if self._mailbox.commands:
                self._mailbox.process()
            return self._xsend(parts)

        if not wait_until(sent, self._sndtimeo, (self._out_signal,), self._check_usable):
            raise Again()

    # -- receiving ---------------------------------------------------------------------------
    def recv(self, flags=0, copy=True, track=False):
        """Receive one frame: bytes (copy=True) or a Frame (copy=False).

        Blocks cooperatively unless DONTWAIT; Again on DONTWAIT or when RCVTIMEO expires.
        """
        if type(flags) is not int:
            flags = int(flags)
        parts = self._rcv_parts
        if parts is not None:
            i = self._rcv_idx
            data = parts[i]
            i += 1
            more = i < len(parts)
            if more:
                self._rcv_idx = i
            else:
                self._rcv_parts = None
            if copy:
                return data if type(data) is bytes else bytes(data)
            return self._make_frame(data, more)
        msg = self._xrecv()
        if msg is None:
            msg = self._wait_recv(flags)
        data = msg[0]
        if len(msg) > 1:
            self._rcv_parts = msg
            self._rcv_idx = 1
            more = True
        else:
            more = False
        if copy:
            return data if type(data) is bytes else bytes(data)
        return self._make_frame(data, more)

    def _make_frame(self, data, more):
        frame = Frame(data)
        frame._received = True
        frame.more = more
        pipe = self._last_pipe()
        if pipe is not None:
            frame._props = pipe.metadata
        return frame

    def _last_pipe(self):
        return None

    def recv_multipart(self, flags=0, copy=True, track=False):
        """Receive a whole message: a list of bytes (copy=True) or Frames."""
        if type(flags) is not int:
            flags = int(flags)
        if self._rcv_parts is not None:
            parts = [self.recv(flags, copy)]
            while self._rcv_parts is not None:
                parts.append(self.recv(flags, copy))
            return parts
        msg = self._xrecv()
        if msg is None:
            msg = self._wait_recv(flags)
        if copy:
            return [f if type(f) is bytes else bytes(f) for f in msg]
        last = len(msg) - 1
        return [self._make_frame(f, i < last) for i, f in enumerate(msg)]

    def recv_into(self, buffer, /, *, nbytes=0, flags=0):
        """Receive one frame into `buffer` (pyzmq >= 26), writing at most `nbytes` bytes (0: the
        buffer's size). Returns the frame's full length: larger than what was written when the
        frame was truncated. Raises TypeError/BufferError/ValueError for an unusable buffer
        before receiving anything."""
        view = memoryview(buffer)
        if view.readonly:
            raise BufferError("recv_into needs a writable buffer")
        if not view.c_contiguous:
            raise BufferError("recv_into needs a contiguous buffer")
        view = view.cast("B")
        if nbytes < 0:
            raise ValueError(f"nbytes must be >= 0, not {nbytes}")
        if nbytes > view.nbytes:
            raise ValueError(f"nbytes={nbytes} is larger than the buffer ({view.nbytes} bytes)")
        data = memoryview(self.recv(flags, copy=False)._data)   # not .buffer: no writable copy
        n = min(nbytes or view.nbytes, len(data))
        view[:n] = data[:n]
        return len(data)

    def _wait_recv(self, flags):
        if flags & DONTWAIT:
            if self._closed:
                raise ZMQError(Errno.ENOTSOCK, "socket is closed")
            if not self._can_recv:
                raise ZMQError(Errno.ENOTSUP, f"{self._type_name} socket cannot recv")
            raise Again()
        msg = wait_until(self._received, self._rcvtimeo, (self._in_signal,), self._check_usable)
        if msg is None:
            raise Again()
        return msg

    def _received(self):
        if self._mailbox.commands:
            self._mailbox.process()
        return self._xrecv()

    # -- serialization helpers (pyzmq's) -----------------------------------------------------
    def send_string(self, u, flags=0, copy=True, encoding="utf-8", **kwargs):
        if not isinstance(u, str):
            raise TypeError("str objects only")
        return self.send(u.encode(encoding), flags=flags, copy=copy, **kwargs)

    send_unicode = send_string

    def recv_string(self, flags=0, encoding="utf-8"):
        return self.recv(flags=flags).decode(encoding)

    recv_unicode = recv_string

    def send_pyobj(self, obj, flags=0, protocol=pickle.DEFAULT_PROTOCOL, **kwargs):
        return self.send(pickle.dumps(obj, protocol), flags=flags, **kwargs)

    def recv_pyobj(self, flags=0):
        return pickle.loads(self.recv(flags))

    def send_json(self, obj, flags=0, **kwargs):
        send_kwargs = {k: kwargs.pop(k) for k in ("routing_id", "group") if k in kwargs}
        msg = json.dumps(obj, **kwargs).encode("utf-8")
        return self.send(msg, flags=flags, **send_kwargs)

    def recv_json(self, flags=0, **kwargs):
        return json.loads(self.recv(flags), **kwargs)

    def send_serialized(self, msg, serialize, flags=0, copy=True, **kwargs):
        frames = serialize(msg)
        return self.send_multipart(frames, flags=flags, copy=copy, **kwargs)

    def recv_serialized(self, deserialize, flags=0, copy=True):
        frames = self.recv_multipart(flags=flags, copy=copy)
        return deserialize(frames)

    # -- polling ---------------------------------------------------------------------------------
    def _events(self):
        if self._mailbox.commands:
            self._mailbox.process()
        ev = 0
        if self._rcv_parts is not None or (self._can_recv and self._xhas_in()):
            ev |= PollEvent.POLLIN
        if self._can_send and (self._snd_parts or self._xhas_out()):
            ev |= PollEvent.POLLOUT
        return ev

    def poll(self, timeout=None, flags=PollEvent.POLLIN):
        """Wait until the socket has `flags` events; returns the events (0 on timeout).
        timeout in milliseconds (None or negative: forever)."""
        self._check_open()
        from ..poll import Poller
        p = Poller()
        p.register(self, flags)
        evts = dict(p.poll(timeout))
        return evts.get(self, 0)

    # -- monitoring ---------------------------------------------------------------------------
    def monitor(self, addr, events=C.Event.ALL):
        """Report connection events on a PAIR bound to `addr` (inproc); addr None stops it."""
        self._check_open()
        if isinstance(addr, bytes):
            addr = addr.decode()
        if addr is not None and not addr.startswith("inproc://"):
            # libzmq (zmq_socket_monitor): monitor endpoints are inproc only.
            raise ZMQError(Errno.EPROTONOSUPPORT, f"{addr}: a monitor endpoint must be inproc://")
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None
        if addr is None:
            return
        from ..monitor import Monitor
        self._monitor = Monitor(self, addr, int(events))

    def get_monitor_socket(self, events=None, addr=None):
        """A PAIR socket receiving this socket's events (pyzmq); read with recv_monitor_message."""
        self._check_open()
        mon = self._monitor_socket
        if mon is not None and not mon.closed:
            return mon          # pyzmq: asking again returns the socket already monitoring
        if self._monitor is not None and addr is None:
            raise ZMQError(Errno.EINVAL, "a monitor is already running; disable_monitor() first")
        if addr is None:
            addr = f"inproc://monitor.s-{id(self):x}"
        self.monitor(addr, C.Event.ALL if events is None else events)
        sock = self._monitor_socket = self.context.socket(SocketType.PAIR)
        sock.connect(addr)
        return sock

    def disable_monitor(self):
        self._monitor_socket = None
        self.monitor(None, 0)

    # -- closing -----------------------------------------------------------------------------
    def _check_open(self):
        if self._closed:
            raise ZMQError(Errno.ENOTSOCK, "socket is closed")

    def close(self, linger=None):
        """Close the socket. Returns at once; with LINGER > 0 or -1 queued messages are still
        delivered in the background (Context.term() waits for that), LINGER 0 drops them."""
        if self._closed:
            return
        self._closed = True
        if linger is None:
            linger = self._options[O.LINGER]
        else:
            self._options[O.LINGER] = linger
        self._notify_term()    # wake blocked calls: they raise ENOTSOCK
        # tcp/ipc: the engine closes its listeners; its connections linger or end.
        self._io.call(self._engine.close, linger)
        for handle in list(self._listeners.values()):
            if not isinstance(handle, _EngineBinding):
                handle.close()          # pgm/epgm links (they linger on their own)
        self._listeners.clear()
        if self._inproc_bound:
            from ..transports import inproc
            for name in list(self._inproc_bound):
                inproc.unbind(self, name)
        for links in self._connecters.values():
            for link in links:
                if isinstance(link, _EngineConnection):
                    continue
                pipe = getattr(link, "pipe", None)
                if (linger != 0 and pipe is not None and pipe.pending_out()
                        and pipe.inproc_peer is not None):
                    # An inproc connect keeps its queued messages for its peer; one still
                    # waiting for its bind stays registered, so a later bind receives them
                    # (as libzmq).
                    continue
                link.stop()             # pgm/epgm links linger on their own
        self._connecters.clear()
        for pipe in list(self._pipes):
            if pipe.inproc_peer is not None:
                from ..transports import inproc
                inproc.close_pipe(pipe, linger)
        if self._monitor is not None:
            self._monitor.stop()
        self.context._socket_closed(self)
        self._xclose()

    def _xclose(self):
        pass


class _EngineBinding:
    """What a tcp/ipc bind() leaves in the socket's endpoint table: the engine's listener."""

    def __init__(self, socket, endpoint):
        self.socket = socket
        self.endpoint = endpoint

    def close(self):
        socket = self.socket
        socket._io.call(socket._engine.unbind, self.endpoint)


class _EngineConnection:
    """What a tcp/ipc connect() leaves in the socket's endpoint table: the pipe it made (None
    with IMMEDIATE) and, in the engine, its connecter."""

    def __init__(self, socket, endpoint, pipe):
        self.socket = socket
        self.endpoint = endpoint
        self.pipe = pipe

    def stop(self):
        socket = self.socket
        socket._io.call(socket._engine.disconnect, self.endpoint)


class _SocketContext:
    """What bind()/connect() return: usable as a context manager that unbinds/disconnects."""

    def __init__(self, socket, kind, addr):
        self.socket = socket
        self.kind = kind
        self.addr = addr

    def __repr__(self):
        return f"<SocketContext({self.kind}={self.addr!r})>"

    def __enter__(self):
        return self.socket

    def __exit__(self, *exc):
        if self.socket.closed:
            return
        if self.kind == "bind":
            self.socket.unbind(self.addr)
        else:
            self.socket.disconnect(self.addr)


def _get_attr_option(sock, option):
    try:
        return sock.getsockopt(option)
    except ZMQError as e:
        # pyzmq: write-only options read as attributes raise AttributeError (so getattr() with
        # a default, hasattr() and mock.Mock(spec=sock) work); so do options gzmq cannot read.
        if e.errno in (Errno.EINVAL, Errno.EFAULT, Errno.ENOTSUP):
            raise AttributeError(f"{option.name.lower()} attribute is not readable: {e}") from None
        raise


def _option_property(option):
    def fget(self):
        return _get_attr_option(self, option)

    def fset(self, value):
        if isinstance(value, str) and OPTION_TYPES.get(option) == "bytes":
            value = value.encode("utf-8")
        self.setsockopt(option, value)

    return property(fget, fset, doc=f"The {option.name} socket option.")


# Attribute-style options as pyzmq: sock.linger = 0, sock.rcvtimeo, sock.routing_id, sock.SNDHWM.
# Real properties (not a __setattr__ hook) keep ordinary attribute writes on the hot path fast.
for _opt in SocketOption:
    for _name in (_opt.name.lower(), _opt.name):
        if not hasattr(SocketBase, _name):
            setattr(SocketBase, _name, _option_property(_opt))
for _alias, _opt in (("identity", O.ROUTING_ID), ("IDENTITY", O.ROUTING_ID)):
    setattr(SocketBase, _alias, _option_property(_opt))
