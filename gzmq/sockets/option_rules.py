"""Which socket options gzmq takes, on which socket types, and which it refuses (libzmq 4.3.5).

Every option in gzmq.constants.SocketOption is in exactly one of these places:

    REFUSED        setsockopt and getsockopt raise EINVAL, as libzmq 4.3.5 built without
                   GSSAPI, NORM and VMCI does, plus the few options libzmq
                   has and gzmq does not implement (each with its reason, for the error
                   message and the README's table)
    TYPE_OPTIONS   options only some socket types take (libzmq's xsetsockopt): elsewhere
                   setsockopt raises EINVAL
    WRITE_ONLY     getsockopt raises EINVAL (libzmq keeps no readable copy)
    (the rest)     honoured by every socket type, readable

tests/lifecycle/test_option_sweep.py sets and reads every option on gzmq and on pyzmq's
libzmq side by side, so an option cannot silently become a no-op again; the deliberate
differences are DEVIATIONS below. Pure data and two checks; used by gzmq.sockets.options.
"""
from ..constants import Errno, SocketOption
from ..error import ZMQError

O = SocketOption

_NOT_BUILT = "libzmq 4.3.5 as pyzmq ships it is built without {}"
REFUSED = {
    **{o: _NOT_BUILT.format("GSSAPI") for o in (
        O.GSSAPI_SERVER, O.GSSAPI_PRINCIPAL, O.GSSAPI_SERVICE_PRINCIPAL, O.GSSAPI_PLAINTEXT,
        O.GSSAPI_PRINCIPAL_NAMETYPE, O.GSSAPI_SERVICE_PRINCIPAL_NAMETYPE)},
    **{o: _NOT_BUILT.format("VMCI") for o in (
        O.VMCI_BUFFER_SIZE, O.VMCI_BUFFER_MIN_SIZE, O.VMCI_BUFFER_MAX_SIZE, O.VMCI_CONNECT_TIMEOUT)},
    **{o: _NOT_BUILT.format("NORM") for o in (
        O.NORM_MODE, O.NORM_UNICAST_NACK, O.NORM_BUFFER_SIZE, O.NORM_SEGMENT_SIZE,
        O.NORM_BLOCK_SIZE, O.NORM_NUM_PARITY, O.NORM_NUM_AUTOPARITY, O.NORM_PUSH)},
    **{o: "not in libzmq 4.3.5 (a draft of a later libzmq)" for o in (
        O.IN_BATCH_SIZE, O.OUT_BATCH_SIZE, O.HELLO_MSG, O.DISCONNECT_MSG, O.HICCUP_MSG,
        O.PRIORITY, O.BUSY_POLL)},
    O.BLOCKY: "a context option (Context.set(zmq.BLOCKY, 0)), not a socket option",
    O.HWM: "libzmq 4.x has no HWM option (use SNDHWM and RCVHWM, or the hwm property)",
    O.ROUTER_RAW: "not implemented by gzmq (deprecated in libzmq: use a STREAM socket)",
    O.XPUB_MANUAL_LAST_VALUE: "not implemented by gzmq",
    O.ONLY_FIRST_SUBSCRIBE: "not implemented by gzmq",
}

_ROUTERS = frozenset({"ROUTER", "REP"})           # libzmq's rep_t is a router_t
_PUBLISHERS = frozenset({"PUB", "XPUB"})          # and pub_t an xpub_t
TYPE_OPTIONS = {
    O.ROUTER_MANDATORY: _ROUTERS,
    O.ROUTER_HANDOVER: _ROUTERS,
    O.ROUTER_NOTIFY: _ROUTERS,
    O.CONNECT_ROUTING_ID: _ROUTERS | {"STREAM"},
    O.PROBE_ROUTER: _ROUTERS | {"REQ", "DEALER"},
    O.REQ_CORRELATE: frozenset({"REQ"}),
    O.REQ_RELAXED: frozenset({"REQ"}),
    O.XPUB_VERBOSE: _PUBLISHERS,
    O.XPUB_VERBOSER: _PUBLISHERS,
    O.XPUB_NODROP: _PUBLISHERS,
    O.XPUB_MANUAL: _PUBLISHERS,
    O.XPUB_WELCOME_MSG: _PUBLISHERS,
    O.STREAM_NOTIFY: frozenset({"STREAM"}),
    O.XSUB_VERBOSE_UNSUBSCRIBE: frozenset({"XSUB"}),
    O.TOPICS_COUNT: frozenset({"PUB", "SUB", "XPUB", "XSUB"}),     # (read-only)
}

WRITE_ONLY = (frozenset(TYPE_OPTIONS) - {O.ROUTER_NOTIFY, O.XSUB_VERBOSE_UNSUBSCRIBE, O.TOPICS_COUNT}) | {
    O.SUBSCRIBE, O.UNSUBSCRIBE, O.METADATA, O.TCP_ACCEPT_FILTER,
    O.IPC_FILTER_PID, O.IPC_FILTER_UID, O.IPC_FILTER_GID,
}

# Where gzmq and pyzmq's libzmq 4.3.5 (no draft API) differ on purpose.
DEVIATIONS = {
    O.ROUTER_NOTIFY: "implemented (a draft option in libzmq 4.3.5, refused by its non-draft build)",
    O.XSUB_VERBOSE_UNSUBSCRIBE: "implemented (a draft of a later libzmq)",
    O.ROUTER_RAW: "refused: use STREAM (libzmq's ROUTER accepts it)",
    O.XPUB_MANUAL_LAST_VALUE: "refused: not implemented (libzmq's XPUB accepts it)",
    O.ONLY_FIRST_SUBSCRIBE: "refused: not implemented (libzmq accepts it)",
    **{o: "implemented: gzmq has wss:// (pyzmq's libzmq is built without it)" for o in (
        O.WSS_KEY_PEM, O.WSS_CERT_PEM, O.WSS_TRUST_PEM, O.WSS_HOSTNAME, O.WSS_TRUST_SYSTEM)},
    O.WS_ALLOWED_ORIGINS: "gzmq's own option for ws:// listeners (no libzmq equivalent)",
}


def check_settable(option, type_name):
    """EINVAL for an option this socket type does not take (see the module docstring)."""
    reason = REFUSED.get(option)
    if reason is not None:
        raise ZMQError(Errno.EINVAL, f"{option.name} is not supported: {reason}")
    types = TYPE_OPTIONS.get(option)
    if types is not None and type_name not in types:
        raise ZMQError(Errno.EINVAL, f"{option.name} is not valid on a {type_name} socket")


def check_readable(option, type_name):
    """EINVAL for an option getsockopt cannot return (refused, or write-only as in libzmq)."""
    reason = REFUSED.get(option)
    if reason is not None:
        raise ZMQError(Errno.EINVAL, f"{option.name} is not supported: {reason}")
    if option in WRITE_ONLY:
        raise ZMQError(Errno.EINVAL, f"{option.name} is write-only")
    types = TYPE_OPTIONS.get(option)
    if types is not None and type_name not in types:
        raise ZMQError(Errno.EINVAL, f"{option.name} is not valid on a {type_name} socket")
