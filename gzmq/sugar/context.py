from ..context import Context  # noqa: F401  (pyzmq: zmq.sugar.context)
