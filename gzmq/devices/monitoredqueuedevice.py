"""MonitoredQueue devices (pyzmq's zmq.devices.monitoredqueuedevice): a Proxy whose monitor
socket gets [prefix, *frames], the prefix saying which side the message came in on. ROUTER on
both sides is allowed (the routing ids are swapped on the way through)."""
from ..constants import SocketType
from ..proxy import monitored_queue
from .proxydevice import GreenletProxy, ProcessProxy, Proxy, ProxyBase, ThreadProxy


class MonitoredQueueBase(ProxyBase):
    """A ProxyBase that runs monitored_queue() with the two prefixes."""

    def __init__(self, in_type: int, out_type: int, mon_type: int = SocketType.PUB, in_prefix: bytes = b"in",
                 out_prefix: bytes = b"out") -> None:
        ProxyBase.__init__(self, in_type=in_type, out_type=out_type, mon_type=mon_type)
        self._in_prefix = in_prefix
        self._out_prefix = out_prefix

    def run_device(self) -> None:
        ins, outs, mons = self._setup_sockets()
        self._check_stopping()
        monitored_queue(ins, outs, mons, self._in_prefix, self._out_prefix)


class MonitoredQueue(MonitoredQueueBase, Proxy):
    """monitored_queue run in the caller (start() blocks)."""


class GreenletMonitoredQueue(MonitoredQueueBase, GreenletProxy):
    """monitored_queue in a greenlet."""


class ThreadMonitoredQueue(MonitoredQueueBase, ThreadProxy):
    """monitored_queue in an OS thread."""


class ProcessMonitoredQueue(MonitoredQueueBase, ProcessProxy):
    """monitored_queue in a process."""


__all__ = ["MonitoredQueue", "GreenletMonitoredQueue", "ThreadMonitoredQueue",
           "ProcessMonitoredQueue"]
