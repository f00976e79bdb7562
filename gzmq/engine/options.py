"""The options a socket's engine works with, copied from the socket (libzmq copies options_t
into every session it creates).

The socket builds a fresh EngineOptions whenever one of its options changes and hands it to
its engine; listeners, connecters and sessions read the copy they were given, on their own
thread, and never reach back into the socket. Times are converted once, to the units the
engine uses (seconds, 0 for "off").
"""
from ..constants import SecurityMechanism, SocketOption

O = SocketOption


class EngineOptions:
    __slots__ = ("values", "type_name", "peer_types", "routing_id", "mechanism", "maxmsgsize",
                 "metadata", "handshake_ivl", "heartbeat_ivl", "heartbeat_timeout",
                 "heartbeat_ttl_ds", "reconnect_ivl", "reconnect_ivl_max", "reconnect_stop", "connect_timeout",
                 "transport", "immediate", "sndhwm", "rcvhwm", "conflate", "reply_check",
                 "takes_subscriptions", "router_notify", "raw", "stream_notify")

    def __init__(self, values, type_name, peer_types, metadata=(), conflate=False,
                 reply_check=None):
        """values: the socket's options ({SocketOption: value}, copied); metadata: the
        application's (name, value) READY properties; conflate: keep only the newest received
        message; reply_check(msg): raises ZMTPError for a reply that must drop the peer (REQ)."""
        o = self.values = dict(values)
        self.type_name = type_name
        self.peer_types = peer_types
        self.routing_id = o[O.ROUTING_ID]
        self.mechanism = mechanism_of(o)
        self.maxmsgsize = o[O.MAXMSGSIZE]
        self.metadata = tuple(metadata)
        self.handshake_ivl = _seconds(o[O.HANDSHAKE_IVL])
        self.heartbeat_ivl = _seconds(o[O.HEARTBEAT_IVL])
        self.heartbeat_timeout = _seconds(o[O.HEARTBEAT_TIMEOUT])
        self.heartbeat_ttl_ds = max(0, o[O.HEARTBEAT_TTL]) // 100
        ivl = o[O.RECONNECT_IVL]
        self.reconnect_ivl = ivl / 1000.0 if ivl >= 0 else -1
        self.reconnect_ivl_max = max(0, o[O.RECONNECT_IVL_MAX]) / 1000.0
        self.reconnect_stop = o[O.RECONNECT_STOP]
        self.connect_timeout = _seconds(o[O.CONNECT_TIMEOUT]) or None
        self.transport = {
            "ipv6": bool(o[O.IPV6]), "backlog": o[O.BACKLOG], "tcp_keepalive": o[O.TCP_KEEPALIVE],
            "tcp_keepalive_idle": o[O.TCP_KEEPALIVE_IDLE], "tcp_keepalive_cnt": o[O.TCP_KEEPALIVE_CNT],
            "tcp_keepalive_intvl": o[O.TCP_KEEPALIVE_INTVL], "sndbuf": o[O.SNDBUF], "rcvbuf": o[O.RCVBUF],
            "tos": o[O.TOS], "tcp_maxrt": o[O.TCP_MAXRT], "bindtodevice": o[O.BINDTODEVICE],
            "use_fd": o[O.USE_FD], "accept_filter": o[O.TCP_ACCEPT_FILTER],
            "ipc_filter_pid": o[O.IPC_FILTER_PID], "ipc_filter_uid": o[O.IPC_FILTER_UID],
            "ipc_filter_gid": o[O.IPC_FILTER_GID], "socks_proxy": o[O.SOCKS_PROXY],
            "socks_username": o[O.SOCKS_USERNAME], "socks_password": o[O.SOCKS_PASSWORD],
            "engine_options": self,     # ws:// reads the mechanism, limits and WSS_* options
        }
        self.immediate = bool(o[O.IMMEDIATE])
        self.sndhwm = o[O.SNDHWM]
        self.rcvhwm = o[O.RCVHWM]
        self.conflate = conflate
        self.reply_check = reply_check
        # Publishers take SUBSCRIBE/CANCEL (RADIO: JOIN/LEAVE) from their peers; anyone else
        # ignores them.
        self.takes_subscriptions = type_name in ("PUB", "XPUB", "RADIO")
        # ROUTER_NOTIFY: the session writes an empty message at connect / disconnect (libzmq's
        # engine does; the ROUTER prefixes the peer's routing id as to any message).
        self.router_notify = o[O.ROUTER_NOTIFY] if type_name == "ROUTER" else 0
        # STREAM: raw connections (gzmq.engine.raw_session), no ZMTP; STREAM_NOTIFY as above.
        self.raw = type_name == "STREAM"
        self.stream_notify = bool(o[O.STREAM_NOTIFY]) and self.raw

    def __getitem__(self, option):
        return self.values[option]


def mechanism_of(values):
    """The security mechanism the options select (libzmq's ZMQ_MECHANISM)."""
    if values[O.CURVE_SERVER] or values[O.CURVE_SERVERKEY]:
        return SecurityMechanism.CURVE
    if values[O.PLAIN_SERVER] or values[O.PLAIN_USERNAME] or values[O.PLAIN_PASSWORD]:
        return SecurityMechanism.PLAIN
    return SecurityMechanism.NULL


def _seconds(ms):
    return ms / 1000.0 if ms > 0 else 0
