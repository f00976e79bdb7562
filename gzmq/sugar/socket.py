from ..socket import Socket  # noqa: F401  (pyzmq: zmq.sugar.socket)
