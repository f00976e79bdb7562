"""Transports: endpoint parsing, listening and connecting for tcp://, ipc:// and inproc://.

tcp and ipc produce OS stream sockets that gzmq.engine.session drives with ZMTP; inproc
(gzmq.transports.inproc) joins two sockets' pipes directly. Each module has parse(),
and the stream ones listen(addr, options) and connect(addr, options).
"""
from ..constants import Errno
from ..error import ZMQError

STREAM_SCHEMES = ("tcp", "ipc")


def split_endpoint(endpoint):
    """'tcp://127.0.0.1:5555' -> ('tcp', '127.0.0.1:5555'), with a clear error if malformed."""
    if isinstance(endpoint, bytes):
        endpoint = endpoint.decode("utf-8")
    if not isinstance(endpoint, str):
        raise TypeError(f"endpoint must be str, not {type(endpoint).__name__}")
    scheme, sep, address = endpoint.partition("://")
    if not sep or not address:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: invalid endpoint (expected transport://address)")
    if scheme not in ("tcp", "ipc", "inproc", "pgm", "epgm"):
        raise ZMQError(Errno.EPROTONOSUPPORT, f"{endpoint}: transport {scheme!r} is not supported")
    return scheme, address


def stream_transport(scheme):
    if scheme == "tcp":
        from . import tcp
        return tcp
    if scheme == "ipc":
        from . import ipc
        return ipc
    raise ZMQError(Errno.EPROTONOSUPPORT, f"transport {scheme!r} is not supported")
