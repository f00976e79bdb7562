"""libzmq's constants with libzmq's numbers, as pyzmq exposes them.

Enums (SocketType, SocketOption, ...) plus module-level aliases (`gzmq.PUSH`, `gzmq.SNDHWM`, ...),
so code written for pyzmq finds every name where it expects it. Values are libzmq 4.3.5's.
Errno values are the host's for POSIX errors and ZMQ_HAUSNUMERO-based for libzmq's own (EFSM, ETERM...).
"""
import errno as _errno
from enum import Enum, IntEnum, IntFlag

__all__ = []  # filled at the bottom


class SocketType(IntEnum):
    PAIR = 0
    PUB = 1
    SUB = 2
    REQ = 3
    REP = 4
    DEALER = 5
    ROUTER = 6
    PULL = 7
    PUSH = 8
    XPUB = 9
    XSUB = 10
    STREAM = 11
    SERVER = 12
    CLIENT = 13
    RADIO = 14
    DISH = 15
    GATHER = 16
    SCATTER = 17
    DGRAM = 18
    PEER = 19
    CHANNEL = 20
    XREQ = 5
    XREP = 6


class SocketOption(IntEnum):
    HWM = 1
    AFFINITY = 4
    ROUTING_ID = 5
    SUBSCRIBE = 6
    UNSUBSCRIBE = 7
    RATE = 8
    RECOVERY_IVL = 9
    SNDBUF = 11
    RCVBUF = 12
    RCVMORE = 13
    FD = 14
    EVENTS = 15
    TYPE = 16
    LINGER = 17
    RECONNECT_IVL = 18
    BACKLOG = 19
    RECONNECT_IVL_MAX = 21
    MAXMSGSIZE = 22
    SNDHWM = 23
    RCVHWM = 24
    MULTICAST_HOPS = 25
    RCVTIMEO = 27
    SNDTIMEO = 28
    LAST_ENDPOINT = 32
    ROUTER_MANDATORY = 33
    TCP_KEEPALIVE = 34
    TCP_KEEPALIVE_CNT = 35
    TCP_KEEPALIVE_IDLE = 36
    TCP_KEEPALIVE_INTVL = 37
    IMMEDIATE = 39
    XPUB_VERBOSE = 40
    ROUTER_RAW = 41
    IPV6 = 42
    MECHANISM = 43
    PLAIN_SERVER = 44
    PLAIN_USERNAME = 45
    PLAIN_PASSWORD = 46
    CURVE_SERVER = 47
    CURVE_PUBLICKEY = 48
    CURVE_SECRETKEY = 49
    CURVE_SERVERKEY = 50
    PROBE_ROUTER = 51
    REQ_CORRELATE = 52
    REQ_RELAXED = 53
    CONFLATE = 54
    ZAP_DOMAIN = 55
    ROUTER_HANDOVER = 56
    TOS = 57
    CONNECT_ROUTING_ID = 61
    GSSAPI_SERVER = 62
    GSSAPI_PRINCIPAL = 63
    GSSAPI_SERVICE_PRINCIPAL = 64
    GSSAPI_PLAINTEXT = 65
    HANDSHAKE_IVL = 66
    SOCKS_PROXY = 68
    XPUB_NODROP = 69
    BLOCKY = 70
    XPUB_MANUAL = 71
    XPUB_WELCOME_MSG = 72
    STREAM_NOTIFY = 73
    INVERT_MATCHING = 74
    HEARTBEAT_IVL = 75
    HEARTBEAT_TTL = 76
    HEARTBEAT_TIMEOUT = 77
    XPUB_VERBOSER = 78
    CONNECT_TIMEOUT = 79
    TCP_MAXRT = 80
    THREAD_SAFE = 81
    MULTICAST_MAXTPDU = 84
    VMCI_BUFFER_SIZE = 85
    VMCI_BUFFER_MIN_SIZE = 86
    VMCI_BUFFER_MAX_SIZE = 87
    VMCI_CONNECT_TIMEOUT = 88
    USE_FD = 89
    GSSAPI_PRINCIPAL_NAMETYPE = 90
    GSSAPI_SERVICE_PRINCIPAL_NAMETYPE = 91
    BINDTODEVICE = 92
    TCP_ACCEPT_FILTER = 38
    IPC_FILTER_PID = 58
    IPC_FILTER_UID = 59
    IPC_FILTER_GID = 60
    IPV4ONLY = 31
    ZAP_ENFORCE_DOMAIN = 93
    LOOPBACK_FASTPATH = 94
    METADATA = 95
    MULTICAST_LOOP = 96
    ROUTER_NOTIFY = 97
    XPUB_MANUAL_LAST_VALUE = 98
    SOCKS_USERNAME = 99
    SOCKS_PASSWORD = 100
    IN_BATCH_SIZE = 101
    OUT_BATCH_SIZE = 102
    WSS_KEY_PEM = 103
    WSS_CERT_PEM = 104
    WSS_TRUST_PEM = 105
    WSS_HOSTNAME = 106
    WSS_TRUST_SYSTEM = 107
    ONLY_FIRST_SUBSCRIBE = 108
    RECONNECT_STOP = 109
    HELLO_MSG = 110
    DISCONNECT_MSG = 111
    # gzmq's own (not libzmq's; a number far from libzmq's range): the browser origins a ws://
    # or wss:// binding accepts, separated by spaces or commas; empty: any (gzmq.transports.ws).
    WS_ALLOWED_ORIGINS = 0x47000001
    PRIORITY = 112
    BUSY_POLL = 113
    HICCUP_MSG = 114
    XSUB_VERBOSE_UNSUBSCRIBE = 115
    TOPICS_COUNT = 116
    NORM_MODE = 117
    NORM_UNICAST_NACK = 118
    NORM_BUFFER_SIZE = 119
    NORM_SEGMENT_SIZE = 120
    NORM_BLOCK_SIZE = 121
    NORM_NUM_PARITY = 122
    NORM_NUM_AUTOPARITY = 123
    NORM_PUSH = 124
    IDENTITY = 5
    CONNECT_RID = 61
    DELAY_ATTACH_ON_CONNECT = 39
    FAIL_UNROUTABLE = 33
    ROUTER_BEHAVIOR = 33


class ContextOption(IntEnum):
    IO_THREADS = 1
    MAX_SOCKETS = 2
    SOCKET_LIMIT = 3
    THREAD_SCHED_POLICY = 4
    MAX_MSGSZ = 5
    MSG_T_SIZE = 6
    THREAD_AFFINITY_CPU_ADD = 7
    THREAD_AFFINITY_CPU_REMOVE = 8
    THREAD_NAME_PREFIX = 9
    THREAD_PRIORITY = 3


class Flag(IntFlag):
    DONTWAIT = 1
    SNDMORE = 2
    NOBLOCK = 1


class PollEvent(IntFlag):
    POLLIN = 1
    POLLOUT = 2
    POLLERR = 4
    POLLPRI = 8


class Event(IntFlag):
    PROTOCOL_ERROR_ZMTP_UNSPECIFIED = 268435456
    PROTOCOL_ERROR_ZAP_UNSPECIFIED = 536870912
    CONNECTED = 1
    CONNECT_DELAYED = 2
    CONNECT_RETRIED = 4
    LISTENING = 8
    BIND_FAILED = 16
    ACCEPTED = 32
    ACCEPT_FAILED = 64
    CLOSED = 128
    CLOSE_FAILED = 256
    DISCONNECTED = 512
    MONITOR_STOPPED = 1024
    HANDSHAKE_FAILED_NO_DETAIL = 2048
    HANDSHAKE_SUCCEEDED = 4096
    HANDSHAKE_FAILED_PROTOCOL = 8192
    HANDSHAKE_FAILED_AUTH = 16384
    PIPES_STATS = 65536
    ALL_V1 = 65535           # first, so it is the canonical name (repr), as in pyzmq
    ALL = 65535
    ALL_V2 = 131071


class Errno(IntEnum):
    EAGAIN = _errno.EAGAIN
    ENOENT = _errno.ENOENT      # unbind()/disconnect() of an endpoint not bound/connected
    EFAULT = _errno.EFAULT
    EINVAL = _errno.EINVAL
    ENOTSUP = _errno.ENOTSUP
    EPROTONOSUPPORT = _errno.EPROTONOSUPPORT
    ENOBUFS = _errno.ENOBUFS
    ENETDOWN = _errno.ENETDOWN
    EADDRINUSE = _errno.EADDRINUSE
    EADDRNOTAVAIL = _errno.EADDRNOTAVAIL
    ECONNREFUSED = _errno.ECONNREFUSED
    EINPROGRESS = _errno.EINPROGRESS
    ENOTSOCK = _errno.ENOTSOCK
    EMSGSIZE = _errno.EMSGSIZE
    EAFNOSUPPORT = _errno.EAFNOSUPPORT
    ENETUNREACH = _errno.ENETUNREACH
    ECONNABORTED = _errno.ECONNABORTED
    ECONNRESET = _errno.ECONNRESET
    ENOTCONN = _errno.ENOTCONN
    ETIMEDOUT = _errno.ETIMEDOUT
    EHOSTUNREACH = _errno.EHOSTUNREACH
    ENETRESET = _errno.ENETRESET
    EFSM = 156384763
    ENOCOMPATPROTO = 156384764
    ETERM = 156384765
    EMTHREAD = 156384766


class DeviceType(IntEnum):
    STREAMER = 1
    FORWARDER = 2
    QUEUE = 3


class SecurityMechanism(IntEnum):
    NULL = 0
    PLAIN = 1
    CURVE = 2
    GSSAPI = 3


class MessageOption(IntEnum):
    MORE = 1
    SHARED = 3
    SRCFD = 2


class RouterNotify(IntEnum):
    CONNECT = 1
    DISCONNECT = 2


class ReconnectStop(IntEnum):
    CONN_REFUSED = 1
    HANDSHAKE_FAILED = 2
    AFTER_DISCONNECT = 4


class NormMode(IntEnum):
    FIXED = 0
    CC = 1
    CCL = 2
    CCE = 3
    CCE_ECNONLY = 4

# Value type of each socket option (what getsockopt returns): int, int64, bytes or fd.
OPTION_TYPES = {
    SocketOption.HWM: 'int',
    SocketOption.AFFINITY: 'int64',
    SocketOption.ROUTING_ID: 'bytes',
    SocketOption.SUBSCRIBE: 'bytes',
    SocketOption.UNSUBSCRIBE: 'bytes',
    SocketOption.RATE: 'int',
    SocketOption.RECOVERY_IVL: 'int',
    SocketOption.SNDBUF: 'int',
    SocketOption.RCVBUF: 'int',
    SocketOption.RCVMORE: 'int',
    SocketOption.FD: 'fd',
    SocketOption.EVENTS: 'int',
    SocketOption.TYPE: 'int',
    SocketOption.LINGER: 'int',
    SocketOption.RECONNECT_IVL: 'int',
    SocketOption.BACKLOG: 'int',
    SocketOption.RECONNECT_IVL_MAX: 'int',
    SocketOption.MAXMSGSIZE: 'int64',
    SocketOption.SNDHWM: 'int',
    SocketOption.RCVHWM: 'int',
    SocketOption.MULTICAST_HOPS: 'int',
    SocketOption.RCVTIMEO: 'int',
    SocketOption.SNDTIMEO: 'int',
    SocketOption.LAST_ENDPOINT: 'bytes',
    SocketOption.ROUTER_MANDATORY: 'int',
    SocketOption.TCP_KEEPALIVE: 'int',
    SocketOption.TCP_KEEPALIVE_CNT: 'int',
    SocketOption.TCP_KEEPALIVE_IDLE: 'int',
    SocketOption.TCP_KEEPALIVE_INTVL: 'int',
    SocketOption.IMMEDIATE: 'int',
    SocketOption.XPUB_VERBOSE: 'int',
    SocketOption.ROUTER_RAW: 'int',
    SocketOption.IPV6: 'int',
    SocketOption.MECHANISM: 'int',
    SocketOption.PLAIN_SERVER: 'int',
    SocketOption.PLAIN_USERNAME: 'bytes',
    SocketOption.PLAIN_PASSWORD: 'bytes',
    SocketOption.CURVE_SERVER: 'int',
    SocketOption.CURVE_PUBLICKEY: 'bytes',
    SocketOption.CURVE_SECRETKEY: 'bytes',
    SocketOption.CURVE_SERVERKEY: 'bytes',
    SocketOption.PROBE_ROUTER: 'int',
    SocketOption.REQ_CORRELATE: 'int',
    SocketOption.REQ_RELAXED: 'int',
    SocketOption.CONFLATE: 'int',
    SocketOption.ZAP_DOMAIN: 'bytes',
    SocketOption.ROUTER_HANDOVER: 'int',
    SocketOption.TOS: 'int',
    SocketOption.CONNECT_ROUTING_ID: 'bytes',
    SocketOption.GSSAPI_SERVER: 'int',
    SocketOption.GSSAPI_PRINCIPAL: 'bytes',
    SocketOption.GSSAPI_SERVICE_PRINCIPAL: 'bytes',
    SocketOption.GSSAPI_PLAINTEXT: 'int',
    SocketOption.HANDSHAKE_IVL: 'int',
    SocketOption.SOCKS_PROXY: 'bytes',
    SocketOption.XPUB_NODROP: 'int',
    SocketOption.BLOCKY: 'int',
    SocketOption.XPUB_MANUAL: 'int',
    SocketOption.XPUB_WELCOME_MSG: 'bytes',
    SocketOption.STREAM_NOTIFY: 'int',
    SocketOption.INVERT_MATCHING: 'int',
    SocketOption.HEARTBEAT_IVL: 'int',
    SocketOption.HEARTBEAT_TTL: 'int',
    SocketOption.HEARTBEAT_TIMEOUT: 'int',
    SocketOption.XPUB_VERBOSER: 'int',
    SocketOption.CONNECT_TIMEOUT: 'int',
    SocketOption.TCP_MAXRT: 'int',
    SocketOption.THREAD_SAFE: 'int',
    SocketOption.MULTICAST_MAXTPDU: 'int',
    SocketOption.VMCI_BUFFER_SIZE: 'int64',
    SocketOption.VMCI_BUFFER_MIN_SIZE: 'int64',
    SocketOption.VMCI_BUFFER_MAX_SIZE: 'int64',
    SocketOption.VMCI_CONNECT_TIMEOUT: 'int',
    SocketOption.USE_FD: 'int',
    SocketOption.GSSAPI_PRINCIPAL_NAMETYPE: 'int',
    SocketOption.GSSAPI_SERVICE_PRINCIPAL_NAMETYPE: 'int',
    SocketOption.BINDTODEVICE: 'bytes',
    SocketOption.TCP_ACCEPT_FILTER: 'bytes',
    SocketOption.IPC_FILTER_PID: 'int',
    SocketOption.IPC_FILTER_UID: 'int',
    SocketOption.IPC_FILTER_GID: 'int',
    SocketOption.IPV4ONLY: 'int',
    SocketOption.ZAP_ENFORCE_DOMAIN: 'int',
    SocketOption.LOOPBACK_FASTPATH: 'int',
    SocketOption.METADATA: 'bytes',
    SocketOption.MULTICAST_LOOP: 'int',
    SocketOption.ROUTER_NOTIFY: 'int',
    SocketOption.XPUB_MANUAL_LAST_VALUE: 'int',
    SocketOption.SOCKS_USERNAME: 'bytes',
    SocketOption.SOCKS_PASSWORD: 'bytes',
    SocketOption.IN_BATCH_SIZE: 'int',
    SocketOption.OUT_BATCH_SIZE: 'int',
    SocketOption.WSS_KEY_PEM: 'bytes',
    SocketOption.WSS_CERT_PEM: 'bytes',
    SocketOption.WSS_TRUST_PEM: 'bytes',
    SocketOption.WSS_HOSTNAME: 'bytes',
    SocketOption.WSS_TRUST_SYSTEM: 'int',
    SocketOption.ONLY_FIRST_SUBSCRIBE: 'int',
    SocketOption.RECONNECT_STOP: 'int',
    SocketOption.HELLO_MSG: 'bytes',
    SocketOption.DISCONNECT_MSG: 'bytes',
    SocketOption.WS_ALLOWED_ORIGINS: 'bytes',
    SocketOption.PRIORITY: 'int',
    SocketOption.BUSY_POLL: 'int',
    SocketOption.HICCUP_MSG: 'bytes',
    SocketOption.XSUB_VERBOSE_UNSUBSCRIBE: 'int',
    SocketOption.TOPICS_COUNT: 'int',
    SocketOption.NORM_MODE: 'int',
    SocketOption.NORM_UNICAST_NACK: 'int',
    SocketOption.NORM_BUFFER_SIZE: 'int',
    SocketOption.NORM_SEGMENT_SIZE: 'int',
    SocketOption.NORM_BLOCK_SIZE: 'int',
    SocketOption.NORM_NUM_PARITY: 'int',
    SocketOption.NORM_NUM_AUTOPARITY: 'int',
    SocketOption.NORM_PUSH: 'int',
}


class _OptType(Enum):
    """pyzmq's kinds of option value, attached to each SocketOption as `._opt_type`."""
    int = 'int'
    int64 = 'int64'
    bytes = 'bytes'
    fd = 'fd'


for _opt in SocketOption:
    _opt._opt_type = _OptType(OPTION_TYPES.get(_opt, 'int'))


# Module-level aliases, as pyzmq: gzmq.PUSH, gzmq.SNDHWM, gzmq.EAGAIN, gzmq.EVENT_CONNECTED ...
__all__ += ["SocketType", "SocketOption", "ContextOption", "Flag", "PollEvent", "Errno", "DeviceType",
            "SecurityMechanism", "MessageOption", "Event", "RouterNotify", "ReconnectStop", "NormMode"]
_ENUMS = (SocketType, SocketOption, ContextOption, Flag, PollEvent, Errno, DeviceType,
          SecurityMechanism, MessageOption)
for _enum in _ENUMS:
    for _name, _member in _enum.__members__.items():
        globals()[_name] = _member
        __all__.append(_name)
# These three carry a prefix at module level, as in pyzmq (zmq.NOTIFY_CONNECT ...).
for _enum, _prefix in ((RouterNotify, "NOTIFY_"), (ReconnectStop, "RECONNECT_STOP_"), (NormMode, "NORM_")):
    for _name, _member in _enum.__members__.items():
        globals()[_prefix + _name] = _member
        __all__.append(_prefix + _name)
for _name, _member in Event.__members__.items():
    globals()["EVENT_" + _name] = _member
    __all__.append("EVENT_" + _name)

# Legacy names pyzmq keeps.
UPSTREAM = SocketType.PULL
DOWNSTREAM = SocketType.PUSH
XREQ = SocketType.DEALER
XREP = SocketType.ROUTER
IDENTITY = SocketOption.ROUTING_ID
CONNECT_RID = SocketOption.CONNECT_ROUTING_ID
DELAY_ATTACH_ON_CONNECT = SocketOption.IMMEDIATE
NOBLOCK = Flag.DONTWAIT
HWM = SocketOption.HWM
ZMQ_HAUSNUMERO = 156384712
__all__ += ["UPSTREAM", "DOWNSTREAM", "XREQ", "XREP", "IDENTITY", "CONNECT_RID",
            "DELAY_ATTACH_ON_CONNECT", "NOBLOCK", "ZMQ_HAUSNUMERO"]

# ZMQ_PROTOCOL_ERROR_* values (the value of a HANDSHAKE_FAILED_PROTOCOL monitor event).
PROTOCOL_ERROR_ZMTP_UNSPECIFIED = 0x10000000
PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND = 0x10000001
PROTOCOL_ERROR_ZMTP_INVALID_SEQUENCE = 0x10000002
PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE = 0x10000003
PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED = 0x10000011
PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_MESSAGE = 0x10000012
PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_HELLO = 0x10000013
PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_INITIATE = 0x10000014
PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR = 0x10000015
PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY = 0x10000016
PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME = 0x10000017
PROTOCOL_ERROR_ZMTP_INVALID_METADATA = 0x10000018
PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC = 0x11000001
PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH = 0x11000002
PROTOCOL_ERROR_ZAP_UNSPECIFIED = 0x20000000
PROTOCOL_ERROR_ZAP_MALFORMED_REPLY = 0x20000001
PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID = 0x20000002
PROTOCOL_ERROR_ZAP_BAD_VERSION = 0x20000003
PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE = 0x20000004
PROTOCOL_ERROR_ZAP_INVALID_METADATA = 0x20000005
PROTOCOL_ERROR_WS_UNSPECIFIED = 0x30000000
__all__ += [_n for _n in list(globals()) if _n.startswith("PROTOCOL_ERROR_")]
