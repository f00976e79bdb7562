"""pyzmq's zmq.eventloop.ioloop: tornado's IOLoop, under the names pyzmq code imports."""
try:
    from tornado.ioloop import IOLoop, PeriodicCallback
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("gzmq.eventloop needs tornado: pip install 'gzmq[eventloop]'") from exc

ZMQIOLoop = IOLoop      # pyzmq's subclass, a plain alias since tornado 5 (deprecated there too)


def install():
    """Nothing to do (pyzmq's install() has been a no-op since tornado 5)."""


__all__ = ["IOLoop", "ZMQIOLoop", "PeriodicCallback", "install"]
