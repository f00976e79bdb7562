"""pyzmq's `zmq.sugar` module paths, for code that imports classes from there
(`from zmq.sugar.socket import Socket`, `zmq.sugar.context.Context._instance`). The classes
are gzmq's own; nothing is defined here."""
from . import context, frame, poll, socket, tracker, version  # noqa: F401
from .context import Context  # noqa: F401
from .frame import Frame, Message  # noqa: F401
from .poll import Poller, select  # noqa: F401
from .socket import Socket  # noqa: F401
from .tracker import MessageTracker  # noqa: F401
from .version import pyzmq_version, pyzmq_version_info, zmq_version, zmq_version_info  # noqa: F401
