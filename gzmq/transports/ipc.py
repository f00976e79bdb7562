"""ipc:// transport: AF_UNIX stream sockets, with libzmq's path rules.

`ipc:///tmp/x.sock` and relative paths name a socket file, removed again on unbind/close;
`ipc://@name` is the Linux abstract namespace; `ipc://*` binds a fresh path in a private
temporary directory (as libzmq 4.3 does) reported by LAST_ENDPOINT.
"""
import errno
import os
import pwd
import socket as _stdsocket
import struct
import tempfile

from gevent import socket as gsocket

from ..constants import Errno
from ..error import ZMQError

IPC_PATH_MAX_LEN = 107


def _sockaddr(path):
    if path.startswith("@"):
        return "\0" + path[1:]
    return path


def listen(address, endpoint, options):
    """Returns (listening socket, resolved endpoint, path to unlink on close or None)."""
    if address == "*":
        tmpdir = tempfile.mkdtemp(prefix="gzmq-")
        address = os.path.join(tmpdir, "socket")
    if len(address) > IPC_PATH_MAX_LEN:
        raise ZMQError(errno.ENAMETOOLONG,
                       f"ipc://{address}: path too long ({len(address)} > {IPC_PATH_MAX_LEN})")
    use_fd = options.get("use_fd", -1)
    if use_fd >= 0:
        # USE_FD: the application made, bound and listens on the socket itself (libzmq).
        sock = _stdsocket.socket(fileno=use_fd)
        return sock, f"ipc://{address}", None
    # A plain OS socket: the engine that accepts on it may run on another thread's hub.
    sock = _stdsocket.socket(_stdsocket.AF_UNIX, _stdsocket.SOCK_STREAM)
    unlink = None
    try:
        if not address.startswith("@"):
            # libzmq removes a stale socket file left by a previous process before binding.
            try:
                if os.path.exists(address) and not _is_live(address):
                    os.unlink(address)
            except OSError:
                pass
            unlink = address
        sock.bind(_sockaddr(address))
        sock.listen(options.get("backlog", 100))
    except OSError as exc:
        sock.close()
        if exc.errno == 98:
            raise ZMQError(Errno.EADDRINUSE, f"ipc://{address}: address already in use") from None
        raise ZMQError(exc.errno or Errno.EINVAL, f"ipc://{address}: {exc.strerror or exc}") from None
    return sock, f"ipc://{address}", unlink


def _is_live(path):
    probe = _stdsocket.socket(_stdsocket.AF_UNIX, _stdsocket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def parse_connect(address, endpoint, options):
    if address == "*":
        raise ZMQError(Errno.EINVAL, f"{endpoint}: cannot connect to '*'")
    if len(address) > IPC_PATH_MAX_LEN:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: path too long")
    return address


# AF_UNIX connects complete at once: no CONNECT_DELAYED event (as libzmq).
ASYNC_CONNECT = False
# RECONNECT_STOP_AFTER_DISCONNECT applies to ipc connecters only (libzmq's ipc_connecter_t).
STOP_AFTER_DISCONNECT = True


def connect(target, endpoint, options, timeout=None):
    sock = gsocket.socket(_stdsocket.AF_UNIX, _stdsocket.SOCK_STREAM)
    try:
        if timeout:
            sock.settimeout(timeout)
        sock.connect(_sockaddr(target))
        sock.settimeout(None)
    except BaseException as exc:
        exc.gzmq_fd = sock.fileno()
        sock.close()
        raise
    return sock


def admit(sock, options):
    """IPC_FILTER_PID/UID/GID: with any filter set, the peer's credentials (SO_PEERCRED)
    must match one of them: its pid, its uid, or one of its user's groups."""
    pids = options.get("ipc_filter_pid", ())
    uids = options.get("ipc_filter_uid", ())
    gids = set(options.get("ipc_filter_gid", ()))
    if not (pids or uids or gids):
        return True
    try:
        creds = sock.getsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return False
    pid, uid, gid = struct.unpack("3i", creds)
    if pid in pids or uid in uids or gid in gids:
        return True
    return bool(gids) and not gids.isdisjoint(_groups_of(uid, gid))


def _groups_of(uid, gid):
    """The peer user's groups, supplementary ones included (libzmq's ipc_listener_t looks
    them up too)."""
    try:
        return set(os.getgrouplist(pwd.getpwuid(uid).pw_name, gid))
    except (KeyError, OSError):
        return {gid}


def configure(sock, options):
    for key, opt in (("sndbuf", _stdsocket.SO_SNDBUF), ("rcvbuf", _stdsocket.SO_RCVBUF)):
        value = options.get(key, -1)
        if value > 0:
            sock.setsockopt(_stdsocket.SOL_SOCKET, opt, value)


def peer_address(sock):
    return ""


def remove(path):
    if path:
        try:
            os.unlink(path)
        except OSError:
            pass
        parent = os.path.dirname(path)
        if os.path.basename(parent).startswith("gzmq-"):
            try:
                os.rmdir(parent)
            except OSError:
                pass
