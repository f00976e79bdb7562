"""gzmq's version, the pyzmq API level it follows and the libzmq behaviour level it implements
(what version checks in pyzmq code see)."""
__version__ = "0.1.0"
__revision__ = ""  # pyzmq: the git revision of a development build

_LIBZMQ_VERSION = (4, 3, 5)
VERSION_MAJOR, VERSION_MINOR, VERSION_PATCH = _LIBZMQ_VERSION
VERSION = VERSION_MAJOR * 10000 + VERSION_MINOR * 100 + VERSION_PATCH
pyzmq_version_info_tuple = (27, 0, 0)


def zmq_version_info() -> "tuple[int, int, int]":
    """(4, 3, 5): the libzmq version whose behaviour gzmq implements."""
    return _LIBZMQ_VERSION


def zmq_version() -> str:
    return "%d.%d.%d" % _LIBZMQ_VERSION


def pyzmq_version() -> str:
    """The pyzmq API level gzmq follows (code that checks it sees a modern pyzmq)."""
    return "%d.%d.%d" % pyzmq_version_info_tuple


def pyzmq_version_info() -> "tuple[int, int, int]":
    return pyzmq_version_info_tuple
