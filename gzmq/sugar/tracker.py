from ..message import _FINISHED_TRACKER, MessageTracker  # noqa: F401  (pyzmq: zmq.sugar.tracker)
