"""tcp:// transport: IPv4, IPv6 ([::1]), `*` (all interfaces) and wildcard port `*` / 0.

Endpoint forms (libzmq's): bind `tcp://ADDR:PORT` where ADDR is an IP, a host name,
`*` or `[IPv6]`; connect `tcp://HOST:PORT` or `tcp://SOURCE;HOST:PORT` (source address).
Sockets get TCP_NODELAY (ZMTP batches its own writes) and optional keep-alive settings.
"""
import errno as _errno
import ipaddress
import socket as _stdsocket

from gevent import socket as gsocket

from ..constants import Errno
from ..engine.wait import hub_link
from ..error import ZMQError
from . import socks


def _split_host_port(address, endpoint):
    if address.startswith("["):
        host, sep, rest = address[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise ZMQError(Errno.EINVAL, f"{endpoint}: invalid IPv6 address")
        port = rest[1:]
    else:
        host, sep, port = address.rpartition(":")
        if not sep:
            raise ZMQError(Errno.EINVAL, f"{endpoint}: missing port")
    if port in ("*", "0"):
        port_num = 0
    else:
        try:
            port_num = int(port)
        except ValueError:
            raise ZMQError(Errno.EINVAL, f"{endpoint}: invalid port {port!r}") from None
        if not 0 <= port_num <= 65535:
            raise ZMQError(Errno.EINVAL, f"{endpoint}: port {port_num} out of range")
    return host, port_num


def _resolve(host, port, endpoint, passive, ipv6):
    if host == "*":
        if ipv6:
            return _stdsocket.AF_INET6, ("::", port, 0, 0)
        return _stdsocket.AF_INET, ("0.0.0.0", port)
    literal = _literal(host, port)
    if literal is not None:
        return literal
    family = _stdsocket.AF_UNSPEC if ipv6 or ":" in host else _stdsocket.AF_INET
    # An I/O thread resolves natively, as libzmq's does (nothing else waits on that hub, and
    # gevent's resolver needs a thread pool, which cannot start while the interpreter exits);
    # in-hub, gevent's resolver keeps the application's hub free.
    getaddrinfo = _stdsocket.getaddrinfo if hub_link().dedicated else gsocket.getaddrinfo
    try:
        infos = getaddrinfo(host, port, family, _stdsocket.SOCK_STREAM, 0,
                            _stdsocket.AI_PASSIVE if passive else 0)
    except OSError as exc:
        # libzmq takes a bind address it cannot resolve for an interface name: ENODEV.
        raise ZMQError(_errno.ENODEV if passive else Errno.EINVAL,
                       f"{endpoint}: cannot resolve {host!r}: {exc}") from None
    if not infos:
        raise ZMQError(_errno.ENODEV if passive else Errno.EINVAL, f"{endpoint}: cannot resolve {host!r}")
    family, _, _, _, sockaddr = infos[0]
    return family, sockaddr


def _literal(host, port):
    """(family, sockaddr) for a numeric address, without asking a resolver; else None."""
    if "%" in host:
        return None         # (a scoped IPv6 address: getaddrinfo knows the interface index)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.version == 4:
        return _stdsocket.AF_INET, (host, port)
    return _stdsocket.AF_INET6, (host, port, 0, 0)


def format_endpoint(sockaddr, family):
    host, port = sockaddr[0], sockaddr[1]
    if family == _stdsocket.AF_INET6:
        return f"tcp://[{host}]:{port}"
    return f"tcp://{host}:{port}"


def listen(address, endpoint, options):
    """Bind and listen; returns (listening OS socket, endpoint for LAST_ENDPOINT, None)."""
    host, port = _split_host_port(address, endpoint)
    use_fd = options.get("use_fd", -1)
    if use_fd >= 0:
        # USE_FD: the application made, bound and listens on the socket itself (libzmq).
        sock = _stdsocket.socket(fileno=use_fd)
        return sock, format_endpoint(sock.getsockname(), sock.family), None
    family, sockaddr = _resolve(host, port, endpoint, True, options.get("ipv6", False))
    # A plain OS socket: the engine that accepts on it may run on another thread's hub.
    sock = _stdsocket.socket(family, _stdsocket.SOCK_STREAM)
    try:
        _bind_to_device(sock, options)
        _set_tos(sock, options)
        sock.setsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_REUSEADDR, 1)
        if family == _stdsocket.AF_INET6 and host == "*":
            sock.setsockopt(_stdsocket.IPPROTO_IPV6, _stdsocket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.listen(options.get("backlog", 100))
    except OSError as exc:
        sock.close()
        errno = exc.errno or Errno.EADDRINUSE
        if errno == _errno.ENODEV:
            raise ZMQError(errno, f"{endpoint}: BINDTODEVICE {options.get('bindtodevice')!r}: "
                                  "no such device") from None
        if errno == 98:
            raise ZMQError(Errno.EADDRINUSE, f"{endpoint}: address already in use") from None
        if errno == 99:
            raise ZMQError(Errno.EADDRNOTAVAIL, f"{endpoint}: address not available") from None
        raise ZMQError(errno, f"{endpoint}: {exc.strerror or exc}") from None
    return sock, format_endpoint(sock.getsockname(), family), None


def parse_connect(address, endpoint, options):
    """Validate a connect address; returns an opaque target for connect()."""
    source = None
    if ";" in address:
        source, address = address.split(";", 1)
    host, port = _split_host_port(address, endpoint)
    if port == 0:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: cannot connect to port 0")
    if host == "*":
        raise ZMQError(Errno.EINVAL, f"{endpoint}: cannot connect to '*'")
    src = None
    if source:
        shost, sport = _split_host_port(source if ":" in source else source + ":0", endpoint)
        src = (shost, sport)
    return (host, port, src)


# A tcp connect completes asynchronously (EINPROGRESS): libzmq reports CONNECT_DELAYED first.
ASYNC_CONNECT = True


def connect(target, endpoint, options, timeout=None):
    """Open a connection (cooperatively); raises OSError (with .gzmq_fd) on failure."""
    host, port, src = target
    proxy = options.get("socks_proxy", b"")
    if proxy:
        # SOCKS_PROXY: connect to the proxy; it resolves and reaches the endpoint (libzmq).
        proxy_host, proxy_port = socks.parse_proxy(proxy)
        family, sockaddr = _resolve(proxy_host, proxy_port, endpoint, False, options.get("ipv6", False))
    else:
        family, sockaddr = _resolve(host, port, endpoint, False, options.get("ipv6", False))
    sock = gsocket.socket(family, _stdsocket.SOCK_STREAM)
    try:
        _bind_to_device(sock, options)
        _set_tos(sock, options)
        if src is not None:
            sock.bind((src[0], src[1]))
        if timeout:
            sock.settimeout(timeout)
        sock.connect(sockaddr)
        if proxy:
            socks.negotiate(sock, host, port, options.get("socks_username", b""),
                            options.get("socks_password", b""))
        sock.settimeout(None)
    except BaseException as exc:
        exc.gzmq_fd = sock.fileno()
        sock.close()
        raise
    return sock


def _bind_to_device(sock, options):
    """BINDTODEVICE: SO_BINDTODEVICE before bind/connect (Linux; needs CAP_NET_RAW)."""
    device = options.get("bindtodevice", b"")
    if device:
        sock.setsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_BINDTODEVICE, device)


def _set_tos(sock, options):
    """TOS: the IP type-of-service byte (IPV6_TCLASS for IPv6), as libzmq sets it."""
    tos = options.get("tos", 0)
    if tos:
        if sock.family == _stdsocket.AF_INET6:
            sock.setsockopt(_stdsocket.IPPROTO_IPV6, _stdsocket.IPV6_TCLASS, tos)
        else:
            sock.setsockopt(_stdsocket.IPPROTO_IP, _stdsocket.IP_TOS, tos)


def admit(sock, options):
    """TCP_ACCEPT_FILTER: an accepted peer must match one of the filters, if any are set."""
    filters = options.get("accept_filter", ())
    if not filters:
        return True
    try:
        address = ipaddress.ip_address(sock.getpeername()[0])
    except (OSError, ValueError):
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in filters)


def configure(sock, options):
    """Per-connection settings: TCP_NODELAY always; TOS, TCP_MAXRT (TCP_USER_TIMEOUT on
    Linux, as libzmq), keep-alive and buffers from options."""
    try:
        sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
    except OSError:
        pass
    _set_tos(sock, options)
    maxrt = options.get("tcp_maxrt", 0)
    if maxrt > 0 and hasattr(_stdsocket, "TCP_USER_TIMEOUT"):
        sock.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_USER_TIMEOUT, maxrt)
    keepalive = options.get("tcp_keepalive", -1)
    if keepalive != -1:
        sock.setsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_KEEPALIVE, 1 if keepalive else 0)
        if keepalive:
            for key, opt in (("tcp_keepalive_idle", "TCP_KEEPIDLE"), ("tcp_keepalive_cnt", "TCP_KEEPCNT"),
                             ("tcp_keepalive_intvl", "TCP_KEEPINTVL")):
                value = options.get(key, -1)
                if value > 0 and hasattr(_stdsocket, opt):
                    sock.setsockopt(_stdsocket.IPPROTO_TCP, getattr(_stdsocket, opt), value)
    for key, opt in (("sndbuf", _stdsocket.SO_SNDBUF), ("rcvbuf", _stdsocket.SO_RCVBUF)):
        value = options.get(key, -1)
        if value > 0:
            sock.setsockopt(_stdsocket.SOL_SOCKET, opt, value)


def peer_address(sock):
    try:
        return sock.getpeername()[0]
    except OSError:
        return ""
