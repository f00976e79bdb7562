"""Route table: which target serves a request, by Host and then by longest path prefix.

Routes match by longest prefix whatever their order (``/api/slow/`` beats ``/api/``), as in
Mongrel2's ternary search tree. Matching is on the raw request path, before percent-decoding,
the way Mongrel2 does it. A route may be bound to a host pattern: ``example.com`` (exact) or
``*.example.com`` (any subdomain). A request is matched against the routes of the most
specific host pattern that matches its Host header (exact, then the longest wildcard); routes
without a host form the default host, used when no pattern matches (Mongrel2's
default_host). There is no fallback from a host to the default host's routes.

The targets are plain settings, one dataclass per route kind, named by their ``scheme``; the
services of bridge.services parse them from text and serve them.

Pure. Built by bridge.config, used by bridge.front.connection.
"""
from dataclasses import dataclass, field
from typing import ClassVar, Optional

__all__ = ["Mongrel2Target", "ReqTarget", "StaticTarget", "PageTarget", "PubSubTarget", "ZwsTarget", "Route",
           "RouteTable",
           "ConfigError", "number", "split_options"]


class ConfigError(ValueError):
    """A route or config file that cannot be understood; the message says which and why."""


def number(key, value, spec):
    """``value`` as a positive number, for option ``key`` of route ``spec``."""
    try:
        result = float(value)
    except ValueError:
        raise ConfigError(f"{spec!r}: {key}={value!r} is not a number") from None
    if result <= 0:
        raise ConfigError(f"{spec!r}: {key} must be positive")
    return result


def split_options(rest, spec):
    """``EP,EP,key=value,...`` -> ([endpoints], {key: value})."""
    items = [item.strip() for item in rest.split(",") if item.strip()]
    endpoints, options = [], {}
    for item in items:
        if "://" in item:
            endpoints.append(item)
            continue
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"{spec!r}: {item!r} is neither an endpoint nor key=value")
        options[key] = value
    return endpoints, options


@dataclass(frozen=True)
class Mongrel2Target:
    """Mongrel2 handler protocol: bind PUSH on ``send``, SUB on ``recv``."""

    scheme: ClassVar[str] = "mongrel2"

    send: str
    recv: str
    protocol: str = "json"          # header encoding: "json" or "tnetstring"
    timeout: Optional[float] = None           # seconds to the first reply byte; None: wait forever
    uuid: Optional[str] = None                # sender UUID; None: the bridge's --uuid
    recv_ident: Optional[str] = None          # SUB subscription, as Mongrel2's; None: UUID + " " only
    upload_store: Optional[str] = None        # mkstemp template (Mongrel2's upload.temp_store); None: inline
    upload_threshold: int = 20480   # bodies larger than this go to upload_store


@dataclass(frozen=True)
class ReqTarget:
    """JSON envelope over DEALER to REP/ROUTER backends (bridge.adapters.envelope)."""

    scheme: ClassVar[str] = "req"

    endpoints: tuple
    timeout: float = 30.0


@dataclass(frozen=True)
class StaticTarget:
    scheme: ClassVar[str] = "static"
    directory: str


@dataclass(frozen=True)
class PageTarget:
    """A BigPipe page (bridge.bigpipe): ``file`` as given, ``page`` the loaded bridge.bigpipe.page.Page."""

    scheme: ClassVar[str] = "page"

    file: str
    page: object = field(compare=False, repr=False)


@dataclass(frozen=True)
class PubSubTarget:
    """Topic streaming (bridge.pubsub): CONNECT SUB to ``sub`` and, if given, PUB to ``pub``."""

    scheme: ClassVar[str] = "pubsub"

    sub: str
    pub: Optional[str] = None


@dataclass(frozen=True)
class ZwsTarget:
    """ZeroMQ over WebSocket (ZWS 2.0) from the browser, joined to ``endpoint`` (tcp:// or ipc://)."""

    scheme: ClassVar[str] = "zws"

    endpoint: str


@dataclass(frozen=True)
class Route:
    prefix: str
    target: object
    host: Optional[str] = None

    @property
    def kind(self):
        return self.target.scheme


def normalise_host(value):
    """Lower-case a Host header and drop its port (``[::1]:80`` -> ``[::1]``)."""
    value = (value or "").strip().lower()
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


_HOSTS_CACHED = 256


class RouteTable:
    def __init__(self, routes=()):
        self.routes = []
        self._by_host = {}
        self._lengths = {}          # host pattern -> its prefixes' lengths, longest first
        self._host_cache = {}       # Host header as sent -> (bucket, lengths)
        for route in routes:
            self.add(route)

    def add(self, route):
        if not route.prefix.startswith("/"):
            raise ValueError(f"route prefix {route.prefix!r} must start with '/'")
        host = route.host.lower() if route.host else None
        bucket = self._by_host.setdefault(host, {})
        if route.prefix in bucket:
            raise ValueError(f"two routes for prefix {route.prefix!r} on host {host or '(default)'}")
        bucket[route.prefix] = route
        self._lengths[host] = sorted({len(prefix) for prefix in bucket}, reverse=True)
        self._host_cache.clear()
        self.routes.append(route)

    def _pattern(self, host):
        """The host pattern whose routes serve a Host header; None: the default host's."""
        host = normalise_host(host)
        if host in self._by_host:
            return host
        best = None
        for pattern in self._by_host:
            if pattern and pattern.startswith("*.") and host.endswith(pattern[1:]):
                if best is None or len(pattern) > len(best):
                    best = pattern
        return best

    def match(self, host, path):
        """The route for ``path`` on ``host``, or None."""
        # Routes are looked up by the lengths their prefixes have (longest first), not by every
        # prefix of the path, and a Host header seen before skips the host patterns: 0.25 us
        # for "/" and 0.4 us for a 34-character path, where it took 1.2 us and 6.2 us.
        cached = self._host_cache.get(host)
        if cached is None:
            if len(self._host_cache) >= _HOSTS_CACHED:
                self._host_cache.clear()
            pattern = self._pattern(host)
            cached = self._host_cache[host] = (self._by_host.get(pattern, {}), self._lengths.get(pattern, ()))
        bucket, lengths = cached
        size = len(path)
        for length in lengths:
            if length <= size:
                route = bucket.get(path[:length])
                if route is not None:
                    return route
        return None


# -- the endpoints of several workers (bridge.workers): pure, so services can ask too

PORT_STEP = 100                 # worker i binds a configured tcp port + PORT_STEP * i


def shift_endpoint(endpoint: str, index: int) -> str:
    """The endpoint worker ``index`` binds in place of ``endpoint``: worker 0 binds it as given;
    worker i >= 1 adds ``PORT_STEP * i`` to a tcp port (not just i: Mongrel2's customary
    9997/9996 pair would collide) and ``.i`` to an ipc path (a wildcard port ``*`` stays: every
    worker binds a port of its own). ConfigError for anything else."""
    if index == 0:
        return endpoint
    scheme, sep, address = endpoint.partition("://")
    if scheme == "tcp" and sep:
        host, colon, port = address.rpartition(":")
        if colon and port == "*":
            return endpoint
        if colon and port.isdigit():
            shifted = int(port) + PORT_STEP * index
            if shifted > 65535:
                raise ConfigError(f"{endpoint}: worker {index} would bind port {shifted} (> 65535)")
            return f"tcp://{host}:{shifted}"
    elif scheme == "ipc" and sep:
        return endpoint if address == "*" else f"ipc://{address}.{index}"
    raise ConfigError(f"{endpoint}: with several workers a bound endpoint must be tcp://HOST:PORT, "
                      f"tcp://HOST:* or ipc://PATH")


def worker_uuid(uuid: str, index: int) -> str:
    return uuid if index == 0 else f"{uuid}-{index}"
