"""pyzmq's zmq.utils.monitor names: parse_monitor_message, recv_monitor_message."""
from ..monitor import parse_monitor_message, recv_monitor_message  # noqa: F401

__all__ = ["parse_monitor_message", "recv_monitor_message"]
