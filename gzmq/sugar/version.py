"""pyzmq's zmq.sugar.version: the pyzmq API level gzmq follows and the libzmq level it implements."""
from ..version import __version__, pyzmq_version, pyzmq_version_info, zmq_version, zmq_version_info  # noqa: F401

VERSION_EXTRA = ""
