"""Steerable proxy devices: a Proxy with a fourth, control socket taking PAIR/REP commands
PAUSE, RESUME, TERMINATE and STATISTICS (pyzmq's zmq.devices.proxysteerabledevice; see
gzmq.proxy for the commands). Configure it with bind_ctrl/connect_ctrl/setsockopt_ctrl."""
from __future__ import annotations

from typing import Any, Optional, TYPE_CHECKING

from ..constants import SocketType
from ..proxy import proxy_steerable
from .proxydevice import GreenletProxy, ProcessProxy, Proxy, ThreadProxy


class ProxySteerableBase:
    """Adds the control socket (ctrl_type, e.g. PAIR or REP) to a Proxy."""

    if TYPE_CHECKING:
        # A mixin of the device classes: their attributes (_reserve_random_port...) are there.
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self, in_type: int, out_type: int, mon_type: int = SocketType.PUB,
                 ctrl_type: Optional[int] = None) -> None:
        super().__init__(in_type=in_type, out_type=out_type, mon_type=mon_type)  # type: ignore[call-arg]  # a mixin: the MRO has a ProxyBase next
        self.ctrl_type = ctrl_type
        self._ctrl_binds: list[Any] = []
        self._ctrl_connects: list[Any] = []
        self._ctrl_sockopts: list[Any] = []

    def bind_ctrl(self, addr: str) -> None:
        self._ctrl_binds.append(addr)

    def bind_ctrl_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        port = self._reserve_random_port(addr, *args, **kwargs)
        self.bind_ctrl(f"{addr}:{port}")
        return port

    def connect_ctrl(self, addr: str) -> None:
        self._ctrl_connects.append(addr)

    def setsockopt_ctrl(self, opt: int, value: Any) -> None:
        self._ctrl_sockopts.append((opt, value))

    def _setup_sockets(self):
        ins, outs, mons = super()._setup_sockets()
        ctrls = self._make_socket(self._context, self.ctrl_type, self._ctrl_sockopts,
                                  self._ctrl_binds, self._ctrl_connects)
        return ins, outs, mons, ctrls

    def run_device(self) -> None:
        ins, outs, mons, ctrls = self._setup_sockets()
        self._check_stopping()
        proxy_steerable(ins, outs, mons, ctrls)


class ProxySteerable(ProxySteerableBase, Proxy):
    """A steerable proxy run in the caller (start() blocks until TERMINATE)."""


class GreenletProxySteerable(ProxySteerableBase, GreenletProxy):
    """ProxySteerable in a greenlet."""


class ThreadProxySteerable(ProxySteerableBase, ThreadProxy):
    """ProxySteerable in an OS thread."""


class ProcessProxySteerable(ProxySteerableBase, ProcessProxy):
    """ProxySteerable in a process."""


__all__ = ["ProxySteerable", "GreenletProxySteerable", "ThreadProxySteerable",
           "ProcessProxySteerable"]
