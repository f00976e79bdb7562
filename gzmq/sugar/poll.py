from ..poll import Poller, select  # noqa: F401  (pyzmq: zmq.sugar.poll)
