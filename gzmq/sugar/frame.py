from ..message import Frame, Message  # noqa: F401  (pyzmq: zmq.sugar.frame)
