"""`gzmq.green`: gzmq is gevent-native already, so this is gzmq itself.

Code written for pyzmq's gevent flavour (`import zmq.green as zmq`) can say
`import gzmq.green as zmq` and get the same names.
"""
from gzmq import *  # noqa: F401,F403
from gzmq import Context, Poller, Socket, __version__, select  # noqa: F401

import gzmq as _gzmq

__all__ = _gzmq.__all__
