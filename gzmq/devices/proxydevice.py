"""Proxy devices: a Device with a third, monitor socket that sees every message (pyzmq's
zmq.devices.proxydevice). Configure it with bind_mon/connect_mon/setsockopt_mon."""
from __future__ import annotations

from typing import Any, TYPE_CHECKING

from ..constants import SocketType
from ..proxy import proxy
from .basedevice import Device, GreenletDevice, ProcessDevice, ThreadDevice


class ProxyBase:
    """Adds the monitor socket (default PUB) to a Device; run_device() is zmq.proxy with capture."""

    if TYPE_CHECKING:
        # A mixin of the device classes: their attributes (_reserve_random_port...) are there.
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, in_type: int, out_type: int, mon_type: int = SocketType.PUB) -> None:
        Device.__init__(self, in_type=in_type, out_type=out_type)  # type: ignore[arg-type]  # a mixin of a Device
        self.mon_type = mon_type
        self._mon_binds: list[Any] = []
        self._mon_connects: list[Any] = []
        self._mon_sockopts: list[Any] = []

    def bind_mon(self, addr: str) -> None:
        self._mon_binds.append(addr)

    def bind_mon_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        port = self._reserve_random_port(addr, *args, **kwargs)
        self.bind_mon(f"{addr}:{port}")
        return port

    def connect_mon(self, addr: str) -> None:
        self._mon_connects.append(addr)

    def setsockopt_mon(self, opt: int, value: Any) -> None:
        self._mon_sockopts.append((opt, value))

    def _setup_sockets(self):
        ins, outs = Device._setup_sockets(self)
        mons = self._make_socket(self._context, self.mon_type, self._mon_sockopts,
                                 self._mon_binds, self._mon_connects)
        return ins, outs, mons

    def run_device(self) -> None:
        ins, outs, mons = self._setup_sockets()
        self._check_stopping()
        proxy(ins, outs, mons)


class Proxy(ProxyBase, Device):
    """A proxy with a monitor socket, run in the caller (start() blocks)."""


class GreenletProxy(ProxyBase, GreenletDevice):
    """Proxy in a greenlet."""


class ThreadProxy(ProxyBase, ThreadDevice):
    """Proxy in an OS thread."""


class ProcessProxy(ProxyBase, ProcessDevice):
    """Proxy in a process."""


__all__ = ["Proxy", "GreenletProxy", "ThreadProxy", "ProcessProxy"]
