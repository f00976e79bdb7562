"""monitored_queue(in, out, mon, in_prefix=b"in", out_prefix=b"out") (pyzmq's
zmq.devices.monitoredqueue): a proxy whose monitor copies start with a frame naming the side
the message came from. Implemented in gzmq.proxy."""
from ..proxy import monitored_queue

__all__ = ["monitored_queue"]
