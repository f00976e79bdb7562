"""Devices that run a proxy in the background, shaped like pyzmq's zmq.devices.

Each kind comes in four flavours: in the caller (Device, Proxy, ProxySteerable,
MonitoredQueue: start() blocks), in a greenlet (Greenlet*), in an OS thread (Thread*) and in
a process (Process*). See basedevice for how they are configured, started and stopped, and
gzmq.proxy for what the proxy itself does.
"""
from . import basedevice, monitoredqueue, monitoredqueuedevice, proxydevice, proxysteerabledevice
from .basedevice import *  # noqa: F401,F403
from .monitoredqueue import *  # noqa: F401,F403
from .monitoredqueuedevice import *  # noqa: F401,F403
from .proxydevice import *  # noqa: F401,F403
from .proxysteerabledevice import *  # noqa: F401,F403

__all__ = []
for _module in (basedevice, proxydevice, proxysteerabledevice, monitoredqueue, monitoredqueuedevice):
    __all__.extend(_module.__all__)
