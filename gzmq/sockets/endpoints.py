"""bind(), connect(), unbind() and disconnect(): a socket's endpoints, through the transport
registry (gzmq.transports), which knows every scheme; nothing here names one.

The socket keeps what each call left: _bound maps an endpoint to its Binding, _connected an
endpoint to the Links connect() made (a socket may connect to one endpoint more than once).
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Union

from ..constants import Errno, SocketOption
from ..engine.wait import call_and_wait
from ..error import ZMQBindError, ZMQError
from ..transports import split_endpoint, transport_for

O = SocketOption


class EndpointsMixin:
    """Endpoint management for SocketBase (see the module docstring)."""

    if TYPE_CHECKING:
        # A mixin of SocketBase: the socket's own attributes (_options, _mailbox...) are there.
        def __getattr__(self, name: str) -> Any: ...

    def bind(self, addr: Union[str, bytes]) -> _SocketContext:
        """Bind to an endpoint: tcp://IP:PORT (PORT may be * for a free port), ipc://PATH,
        inproc://NAME, epgm://IFACE;GROUP:PORT. Returns a _SocketContext usable as a context
        manager that unbinds (pyzmq >= 20)."""
        self._check_open()
        scheme, address = split_endpoint(addr)
        binding = transport_for(scheme).bind(self, scheme, address)
        self._bound[binding.endpoint] = binding
        self._options[O.LAST_ENDPOINT] = binding.endpoint.encode()
        return _SocketContext(self, "bind", binding.endpoint)

    def bind_to_random_port(self, addr: str, min_port: int = 49152, max_port: int = 65536,
                            max_tries: int = 100) -> int:
        """Bind `addr` (e.g. 'tcp://127.0.0.1') to a random port; returns the port."""
        if min_port == 49152 and max_port == 65536:
            self.bind(f"{addr}:*")
            return int(self.last_endpoint.decode().rsplit(":", 1)[-1])
        for _ in range(max_tries):
            port = random.randrange(min_port, max_port)
            try:
                self.bind(f"{addr}:{port}")
            except ZMQError as exc:
                if exc.errno not in (Errno.EADDRINUSE, 98, 13):
                    raise
            else:
                return port
        raise ZMQBindError("Could not bind socket to random port.")

    def connect(self, addr: Union[str, bytes]) -> _SocketContext:
        """Connect to an endpoint. Returns at once: the pipe exists straight away (unless
        IMMEDIATE), so messages sent before the peer is reachable wait for it."""
        self._check_open()
        scheme, address = split_endpoint(addr)
        if isinstance(addr, bytes):
            addr = addr.decode()
        link = transport_for(scheme).connect(self, scheme, address)
        self._connected.setdefault(addr, []).append(link)
        self._options[O.LAST_ENDPOINT] = addr.encode()
        return _SocketContext(self, "connect", addr)

    def unbind(self, addr: Union[str, bytes]) -> None:
        """Stop listening on an endpoint (the form bound or the resolved one); connections it
        accepted are dropped, as in libzmq (inproc peers stay)."""
        self._check_open()
        if isinstance(addr, bytes):
            addr = addr.decode()
        split_endpoint(addr)
        binding = self._bound.pop(addr, None)
        if binding is None:
            for endpoint, candidate in list(self._bound.items()):
                if candidate.matches(addr):
                    binding = self._bound.pop(endpoint)
                    break
        if binding is None:
            raise ZMQError(Errno.ENOENT, f"{addr}: not bound")
        binding.unbind()
        if self._mailbox.commands:
            self._mailbox.process()     # (the pipes that ended with it leave the socket now)

    def disconnect(self, addr: Union[str, bytes]) -> None:
        self._check_open()
        if isinstance(addr, bytes):
            addr = addr.decode()
        links = self._connected.pop(addr, None)
        if not links:
            raise ZMQError(Errno.ENOENT, f"{addr}: not connected")
        for link in links:
            link.disconnect()
            pipe = link.pipe
            if pipe is not None:
                # RFC 28: a socket that disconnects from a peer destroys that peer's queues and
                # discards the messages in them (libzmq test_spec_dealer/router). Unlike a peer
                # that leaves on its own, whose delivered messages stay readable.
                pipe.drop_inbound()
                self._drop_pipe(pipe)
        if self._mailbox.commands:
            self._mailbox.process()

    def _close_endpoints(self, linger, wait=True):
        """The socket closes: every binding and link, then the engine's connections."""
        bound, self._bound = self._bound, {}
        for binding in bound.values():
            binding.close(linger)
        connected, self._connected = self._connected, {}
        for links in connected.values():
            for link in links:
                link.close(linger)
        # The engine closes its connections (on its hub), then stops the monitor, so that
        # MONITOR_STOPPED comes after the events of the closing. Context.term() waits for it,
        # unless nothing can run it any more (its thread is gone: then there is nothing left
        # to deliver either).
        # close() returns once the engine's listeners are closed (on an I/O thread too), so
        # that the addresses are free, as in-hub; lingering goes on in the background.
        engine = self.engine
        if engine.io.alive():
            self.context._linger_begin(engine)
            if wait and bound:
                call_and_wait(engine.io, engine.close, linger, self._monitor)
            else:
                engine.io.call(engine.close, linger, self._monitor)
        elif self._monitor is not None:
            self._monitor.stop()

    def _forget_connection(self, pipe):
        """A connect()ed pipe ended for good (its connecter gave up, its inproc peer closed):
        its endpoint is no longer connected."""
        for endpoint, links in list(self._connected.items()):
            kept = [link for link in links if link.pipe is not pipe]
            if len(kept) != len(links):
                if kept:
                    self._connected[endpoint] = kept
                else:
                    del self._connected[endpoint]


class _SocketContext:
    """What bind()/connect() return: usable as a context manager that unbinds/disconnects."""

    def __init__(self, socket: Any, kind: str, addr: str) -> None:
        self.socket = socket
        self.kind = kind
        self.addr = addr

    def __repr__(self) -> str:
        return f"<SocketContext({self.kind}={self.addr!r})>"

    def __enter__(self) -> Any:
        return self.socket

    def __exit__(self, *exc: object) -> None:
        if self.socket.closed:
            return
        if self.kind == "bind":
            self.socket.unbind(self.addr)
        else:
            self.socket.disconnect(self.addr)
