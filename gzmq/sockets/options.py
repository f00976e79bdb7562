"""Socket options (libzmq's options_t): defaults, validation, conversions.

OptionsMixin is the part of SocketBase that stores and checks options. Values live in the
socket's _options dict ({SocketOption: value}), read directly on hot paths; setsockopt()
validates (types, ranges, CURVE keys, METADATA), lets the socket type act on the options it
owns (SUBSCRIBE...), keeps the derived timeouts in seconds, and gives the socket's engine a
fresh EngineOptions copy whenever something changed.
"""
import ipaddress
from typing import TYPE_CHECKING, Any

from ..constants import Errno, OPTION_TYPES, SocketOption
from ..engine.options import EngineOptions, mechanism_of
from ..error import ContextTerminated, ZMQError
from ..security.options import CURVE_KEYS, SECURITY_OPTIONS, check_option, curve_key_text
from .option_rules import check_readable, check_settable

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
    O.WSS_KEY_PEM: b"", O.WSS_CERT_PEM: b"", O.WSS_TRUST_PEM: b"", O.WSS_HOSTNAME: b"",
    O.WSS_TRUST_SYSTEM: 0, O.WS_ALLOWED_ORIGINS: b"",
    # Readable as in libzmq 4.3.5 (pyzmq code reads them), though gzmq does not act on them.
    O.RECONNECT_STOP: 0, O.SOCKS_PROXY: b"", O.SOCKS_USERNAME: b"", O.SOCKS_PASSWORD: b"",
    # Filters on accepted connections, accumulated by repeated setsockopt (libzmq).
    O.TCP_ACCEPT_FILTER: (), O.IPC_FILTER_PID: (), O.IPC_FILTER_UID: (), O.IPC_FILTER_GID: (),
}
_ACCUMULATED = {O.TCP_ACCEPT_FILTER, O.IPC_FILTER_PID, O.IPC_FILTER_UID, O.IPC_FILTER_GID}


def _accumulate(option, current, value):
    """TCP_ACCEPT_FILTER adds an address or CIDR network (an empty value clears the list);
    IPC_FILTER_PID/UID/GID add an id. The stored value is the tuple of all of them."""
    if option == O.TCP_ACCEPT_FILTER:
        if not value:
            return ()
        try:
            network = ipaddress.ip_network(value.decode("ascii"), strict=False)
        except (UnicodeDecodeError, ValueError):
            raise ZMQError(Errno.EINVAL, f"TCP_ACCEPT_FILTER: {value!r} is no IP address or "
                                         "address/mask") from None
        return current + (network,)
    if value < 0:
        raise ZMQError(Errno.EINVAL, f"{option.name} must be >= 0")
    return current + (value,)
_READ_ONLY = {O.TYPE, O.RCVMORE, O.EVENTS, O.FD, O.LAST_ENDPOINT, O.MECHANISM, O.THREAD_SAFE,
              O.TOPICS_COUNT}
_WRITE_ONLY = {O.SUBSCRIBE, O.UNSUBSCRIBE}


def _as_bytes_option(option, value):
    if isinstance(value, str):
        raise TypeError(f"unicode not allowed for {option.name}, use setsockopt_string")
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"{option.name} takes bytes, not {type(value).__name__}")
    return bytes(value)



class OptionsMixin:
    """setsockopt/getsockopt and friends for SocketBase (see the module docstring)."""

    if TYPE_CHECKING:
        # A mixin of SocketBase: the socket's own attributes (_options, _mailbox...) are there.
        def __getattr__(self, name: str) -> Any: ...

    def setsockopt(self, option: int, value: Any) -> None:
        self._check_open()
        try:
            option = SocketOption(option)
        except ValueError:
            if not isinstance(value, int):  # pyzmq passes only ints through to libzmq
                raise TypeError(f"unknown socket option {option} takes an int") from None
            raise ZMQError(Errno.EINVAL, f"unknown socket option {option}") from None
        if option in _READ_ONLY:
            raise ZMQError(Errno.EINVAL, f"{option.name} is read-only")
        check_settable(option, self._type_name)
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
        if option == O.HEARTBEAT_TTL:
            # libzmq keeps it in deciseconds (the PING's TTL field): 0..655350 ms, truncated.
            if not 0 <= value <= 655350:
                raise ZMQError(Errno.EINVAL, "HEARTBEAT_TTL must be 0..655350 ms")
            value -= value % 100
        if option in (O.SNDHWM, O.RCVHWM) and value < 0:
            raise ZMQError(Errno.EINVAL, f"{option.name} must be >= 0")
        if option in (O.SOCKS_USERNAME, O.SOCKS_PASSWORD) and len(value) > 255:
            raise ZMQError(Errno.EINVAL, f"{option.name} must be at most 255 bytes")
        if option in (O.ROUTING_ID, O.CONNECT_ROUTING_ID) and value:
            if len(value) > 255:
                raise ZMQError(Errno.EINVAL, f"{option.name} must be at most 255 bytes")
        if option == O.METADATA:
            self._add_metadata(value)
        if option in _ACCUMULATED:
            value = _accumulate(option, self._options[option], value)
        if self._xsetsockopt(option, value):
            return
        self._options[option] = value
        if option in (O.IPV6, O.IPV4ONLY):
            # One setting seen from two sides (libzmq: IPV4ONLY is !IPV6).
            other = O.IPV4ONLY if option == O.IPV6 else O.IPV6
            self._options[other] = 0 if value else 1
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

    def getsockopt(self, option: int) -> Any:
        if option == O.EVENTS:
            self._check_open()
            if self.context._terminated:
                raise ContextTerminated()    # (libzmq's getsockopt: ETERM)
            fd = self._mailbox.fd
            if fd is not None:
                fd.clear()       # before looking: a change from now on sets it again
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
        check_readable(option, self._type_name)
        if option == O.TOPICS_COUNT:
            return self._topics_count()
        if option == O.MECHANISM:
            return self._mechanism_number()
        if option == O.FD:
            return self._event_fd().fileno
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

    def setsockopt_string(self, option: int, value: str, encoding: str = "utf-8") -> None:
        if not isinstance(value, str):
            raise TypeError(f"str required, not {type(value).__name__}")
        self.setsockopt(option, value.encode(encoding))

    def getsockopt_string(self, option: int, encoding: str = "utf-8") -> str:
        if OPTION_TYPES.get(SocketOption(option)) != "bytes":
            raise TypeError(f"option {option} will not return a string")
        return self.getsockopt(option).decode(encoding)

    set_string = setsockopt_unicode = setsockopt_string
    get_string = getsockopt_unicode = getsockopt_string

    def set_hwm(self, value: int) -> None:
        self.setsockopt(O.SNDHWM, value)
        self.setsockopt(O.RCVHWM, value)

    def get_hwm(self) -> int:
        return self.getsockopt(O.SNDHWM)

    hwm = property(get_hwm, set_hwm)
