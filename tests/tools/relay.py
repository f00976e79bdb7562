"""A logging TCP relay: sits between two ZMTP peers and records every byte both ways.

    relay = Relay("tcp://127.0.0.1:5555")        # where to forward to
    client.connect(relay.endpoint)                # instead of connecting directly
    ...
    relay.wait_bytes("up", 64)                    # block until 64 bytes went client -> server
    relay.data("down")                            # everything server -> client so far
    relay.sever()                                 # cut every live connection (both sides see EOF)
    relay.close()

"up" is client (whoever connects to the relay) -> server (the target), "down" the reverse.
Each accepted connection is a Link with its own log; relay.links lists them in order, and
relay.log holds (link index, direction, chunk) in arrival order across all links.

Built on gevent sockets and greenlets, so it cooperates with the hub with and without
monkey-patching; every greenlet belongs to the relay and is killed by close().
"""
import socket as _stdsocket

import gevent
from gevent import socket as gsocket
from gevent.event import Event

UP = "up"
DOWN = "down"


def _target_sockaddr(endpoint):
    if isinstance(endpoint, bytes):
        endpoint = endpoint.decode()
    scheme, _, address = endpoint.partition("://")
    if scheme == "tcp":
        host, _, port = address.rpartition(":")
        host = host.strip("[]")
        family = _stdsocket.AF_INET6 if ":" in host else _stdsocket.AF_INET
        return family, (host, int(port))
    if scheme == "ipc":
        return _stdsocket.AF_UNIX, address
    raise ValueError(f"Relay forwards to tcp:// or ipc://, not {endpoint!r}")


class Link:
    """One relayed connection: the client socket, the server socket and what went each way."""

    def __init__(self, relay, index, client, server):
        self.relay = relay
        self.index = index
        self.client = client
        self.server = server
        self.chunks = {UP: [], DOWN: []}
        self.counts = {UP: 0, DOWN: 0}
        self.closed = Event()
        self.pumps = []

    def data(self, direction):
        return b"".join(self.chunks[direction])

    def sever(self):
        for s in (self.client, self.server):
            try:
                s.shutdown(_stdsocket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.closed.set()


class Relay:
    def __init__(self, target, listen="tcp://127.0.0.1:0"):
        self.target = target
        family, addr = _target_sockaddr(listen)
        lsock = gsocket.socket(family, _stdsocket.SOCK_STREAM)
        lsock.setsockopt(_stdsocket.SOL_SOCKET, _stdsocket.SO_REUSEADDR, 1)
        lsock.bind(addr)
        lsock.listen(16)
        self.lsock = lsock
        host, port = lsock.getsockname()[:2]
        self.endpoint = f"tcp://{host}:{port}"
        self.port = port
        self.links = []
        self.log = []
        self._changed = Event()
        self._greenlets = [gevent.spawn(self._accept_loop)]
        self._closed = False

    # -- plumbing ------------------------------------------------------------------------
    def _accept_loop(self):
        while True:
            client, _ = self.lsock.accept()
            family, addr = _target_sockaddr(self.target)
            server = gsocket.socket(family, _stdsocket.SOCK_STREAM)
            try:
                server.connect(addr)
            except OSError:
                client.close()  # target down: the client sees its connection closed
                server.close()
                continue
            # No Nagle: a relay must not hold small writes back waiting for the peer's ACK
            # (ZMTP sends small frames; Nagle plus delayed ACK would add ~40 ms stalls).
            for s in (client, server):
                if s.family != _stdsocket.AF_UNIX:
                    s.setsockopt(_stdsocket.IPPROTO_TCP, _stdsocket.TCP_NODELAY, 1)
            link = Link(self, len(self.links), client, server)
            self.links.append(link)
            link.pumps = [gevent.spawn(self._pump, link, client, server, UP),
                          gevent.spawn(self._pump, link, server, client, DOWN)]
            self._greenlets.extend(link.pumps)
            self._signal()

    def _pump(self, link, src, dst, direction):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                # Counted once handed on, so wait_bytes() means "the far side can read them".
                link.chunks[direction].append(data)
                link.counts[direction] += len(data)
                self.log.append((link.index, direction, data))
                self._signal()
        except OSError:
            pass
        finally:
            # Half-close semantics are not needed by ZMTP: one side gone ends the link.
            link.sever()
            self._signal()

    def _signal(self):
        self._changed.set()
        self._changed = Event()

    # -- queries -------------------------------------------------------------------------
    def data(self, direction, link=None):
        """All bytes relayed in `direction` ("up" or "down"), over one link or all of them."""
        links = self.links if link is None else [self.links[link]]
        return b"".join(lk.data(direction) for lk in links)

    def count(self, direction, link=None):
        links = self.links if link is None else [self.links[link]]
        return sum(lk.counts[direction] for lk in links)

    def wait(self, predicate, timeout=5, what="relay condition"):
        """Block (cooperatively) until predicate() is true; AssertionError after `timeout`."""
        with gevent.Timeout(timeout, AssertionError(f"{what} not met within {timeout}s")):
            while not predicate():
                self._changed.wait()

    def wait_bytes(self, direction, n, link=None, timeout=5):
        """Wait until at least n bytes have been relayed in `direction` (written to the far side)."""
        self.wait(lambda: self.count(direction, link) >= n, timeout,
                  f"{n} bytes {direction} (have {self.count(direction, link)})")

    def wait_links(self, n, timeout=5):
        """Wait until n connections have been accepted and forwarded."""
        self.wait(lambda: len(self.links) >= n, timeout, f"{n} relayed connections")

    # -- control -------------------------------------------------------------------------
    def sever(self):
        """Cut every live connection; new ones are still accepted and relayed."""
        for link in self.links:
            if not link.closed.is_set():
                link.sever()

    def close(self):
        if self._closed:
            return
        self._closed = True
        self.lsock.close()
        self.sever()
        gevent.killall(self._greenlets, block=True, timeout=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
