"""Bridge configuration: command-line flags and the JSON config file mean the same things.

Route syntax, shared by ``--route`` and the config file::

    PREFIX=mongrel2:SEND_SPEC,RECV_SPEC[,protocol=json|tnetstring][,timeout=SECONDS][,uuid=UUID]
                                                         [,recv_ident=PREFIX]  (empty: any sender)
                                                         [,upload_store=DIR/upload.XXXXXX]
                                                         [,upload_threshold=BYTES]  (20480)
    PREFIX=req:ENDPOINT[,ENDPOINT...][,timeout=SECONDS]         (default timeout 30 s)
    PREFIX=static:DIRECTORY                                     (same as --static PREFIX=DIR)
    PREFIX=page:FILE                                            BigPipe page (bridge.bigpipe.page)
    PREFIX=pubsub:SUB_ENDPOINT[,PUB_ENDPOINT]                   topics to browsers (bridge.pubsub)

The config file (``--config FILE``) is JSON; every key is optional::

    {
      "listen": "127.0.0.1:8080",
      "uuid": "54c6755b-9628-40a4-9a2d-cc82a816345e",
      "limits": {"max_body_bytes": 8388608, "max_header_bytes": 16384,
                 "header_timeout": 10, "keepalive_timeout": 60, "max_queue_bytes": 4194304,
                 "send_timeout": 60},
      "routes": [
        "/api/=req:tcp://127.0.0.1:5555,tcp://127.0.0.1:5556,timeout=5",
        {"prefix": "/chat/", "target": "mongrel2:tcp://127.0.0.1:9997,tcp://127.0.0.1:9996"},
        {"prefix": "/", "target": "static:/srv/www", "host": "www.example.com"},
        {"prefix": "/", "target": "static:/srv/other", "host": "*.example.org"}
      ]
    }

A route is either the flag string or an object with ``prefix``, ``target`` (the text after
``PREFIX=``) and an optional ``host`` pattern (see bridge.routing for host matching). Flags
given on the command line override ``listen``/``uuid``/limits and add routes after the file's.

Pure: reads the file it is given and nothing else. Used by bridge.__main__.
"""
import argparse
import json
import uuid as uuidlib
from dataclasses import dataclass, field, fields

from bridge.bigpipe.page import PageError, load_page
from bridge.routing import Mongrel2Target, PageTarget, PubSubTarget, ReqTarget, Route, StaticTarget

__all__ = ["ConfigError", "Limits", "Config", "parse_target", "parse_route", "load", "build_parser",
           "from_args"]


class ConfigError(ValueError):
    """A route or config file that cannot be understood; the message says which and why."""


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 8 * 1024 * 1024      # larger request bodies get 413
    max_header_bytes: int = 16 * 1024           # larger request heads get 431
    header_timeout: float = 10.0                # a started request must arrive within this
    keepalive_timeout: float = 60.0             # idle keep-alive connections close after this
    max_queue_bytes: int = 4 * 1024 * 1024      # handler bytes queued for one slow client
    send_timeout: float = 60.0                  # a client that takes no bytes this long is dropped
    # WebSocket, SSE and long-poll (bridge.front.realtime, bridge.front.outbox, bridge.ws)
    ws_max_message_bytes: int = 1024 * 1024     # a larger browser message (inflated) is closed with 1009
    ws_max_send_bytes: int = 1024 * 1024        # a larger pushed message becomes a "dropped" op
    ws_compression: bool = True                 # accept permessage-deflate offers (RFC 7692)
    stream_queue_messages: int = 1000           # per-connection send queue, in messages...
    stream_queue_bytes: int = 16 * 1024 * 1024  # ...and in bytes
    slow_browser: str = "close"                 # on overflow: "close" or "drop-oldest"
    ws_ping_interval: float = 20.0              # ping a WebSocket silent this long
    ws_idle_timeout: float = 60.0               # close (1001) a WebSocket silent this long
    ws_close_timeout: float = 5.0               # wait this long for the browser's close frame
    ws_origins: str = ""                        # comma-separated allowed Origins; empty: any
    sse_keepalive: float = 15.0                 # SSE comment after this long without a write
    poll_timeout: float = 25.0                  # a long-poll is answered after at most this

    def __post_init__(self):
        if self.slow_browser not in ("close", "drop-oldest"):
            raise ConfigError(f"slow_browser must be close or drop-oldest, not {self.slow_browser!r}")


@dataclass
class Config:
    listen: tuple = ("127.0.0.1", 8080)
    uuid: str = None
    limits: Limits = field(default_factory=Limits)
    routes: list = field(default_factory=list)

    def __post_init__(self):
        if self.uuid is None:
            self.uuid = str(uuidlib.uuid4())


def parse_listen(text):
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"listen address {text!r} must be HOST:PORT")
    return (host.strip("[]") or "127.0.0.1", int(port))


def _number(key, value, spec):
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{spec!r}: {key}={value!r} is not a number") from None
    if number <= 0:
        raise ConfigError(f"{spec!r}: {key} must be positive")
    return number


def parse_target(text):
    """Parse ``mongrel2:...``, ``req:...``, ``page:FILE`` or ``static:DIR`` into a target object."""
    kind, colon, rest = text.partition(":")
    if not colon:
        raise ConfigError(f"route target {text!r} must start with mongrel2:, req:, page:, pubsub: or static:")
    if kind == "static":
        if not rest:
            raise ConfigError(f"{text!r}: static needs a directory")
        return StaticTarget(rest)
    if kind == "pubsub":
        endpoints = [item.strip() for item in rest.split(",") if item.strip()]
        if not 1 <= len(endpoints) <= 2 or not all("://" in e for e in endpoints):
            raise ConfigError(f"{text!r}: pubsub needs SUB_ENDPOINT[,PUB_ENDPOINT]")
        return PubSubTarget(*endpoints)
    if kind == "page":
        if not rest:
            raise ConfigError(f"{text!r}: page needs a page file")
        try:
            return PageTarget(rest, load_page(rest))
        except PageError as e:
            raise ConfigError(str(e)) from None
    items = [item.strip() for item in rest.split(",") if item.strip()]
    endpoints = [item for item in items if "://" in item]
    options = {}
    for item in items:
        if "://" in item:
            continue
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"{text!r}: {item!r} is neither an endpoint nor key=value")
        options[key] = value
    if kind == "mongrel2":
        if len(endpoints) != 2:
            raise ConfigError(f"{text!r}: mongrel2 needs SEND_SPEC,RECV_SPEC")
        unknown = set(options) - {"protocol", "timeout", "uuid", "recv_ident", "upload_store",
                                  "upload_threshold"}
        if unknown:
            raise ConfigError(f"{text!r}: unknown mongrel2 option {sorted(unknown)[0]!r}")
        protocol = options.get("protocol", "json")
        if protocol not in ("json", "tnetstring"):
            raise ConfigError(f"{text!r}: protocol must be json or tnetstring")
        timeout = _number("timeout", options["timeout"], text) if "timeout" in options else None
        threshold = options.get("upload_threshold", "20480")
        if not threshold.isdigit():
            raise ConfigError(f"{text!r}: upload_threshold must be a number of bytes")
        return Mongrel2Target(endpoints[0], endpoints[1], protocol, timeout, options.get("uuid"),
                              options.get("recv_ident"), options.get("upload_store") or None,
                              int(threshold))
    if kind == "req":
        if not endpoints:
            raise ConfigError(f"{text!r}: req needs at least one endpoint")
        unknown = set(options) - {"timeout"}
        if unknown:
            raise ConfigError(f"{text!r}: unknown req option {sorted(unknown)[0]!r}")
        timeout = _number("timeout", options.get("timeout", "30"), text)
        return ReqTarget(tuple(endpoints), timeout)
    raise ConfigError(f"route target {text!r}: unknown kind {kind!r} (mongrel2, req, page, pubsub or static)")


def parse_route(text, host=None):
    """Parse ``PREFIX=TARGET``."""
    prefix, eq, target = text.partition("=")
    if not eq or not prefix.startswith("/"):
        raise ConfigError(f"route {text!r} must look like /PREFIX=TARGET")
    return Route(prefix, parse_target(target), host)


def _route_from_json(item):
    if isinstance(item, str):
        return parse_route(item)
    if isinstance(item, dict) and isinstance(item.get("prefix"), str) and isinstance(item.get("target"), str):
        unknown = set(item) - {"prefix", "target", "host"}
        if unknown:
            raise ConfigError(f"route {item!r}: unknown key {sorted(unknown)[0]!r}")
        return parse_route(f"{item['prefix']}={item['target']}", item.get("host"))
    raise ConfigError(f"route {item!r} must be a string or an object with prefix and target")


def load(path):
    """Read a JSON config file into a Config."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the config must be a JSON object")
    unknown = set(doc) - {"listen", "uuid", "limits", "routes"}
    if unknown:
        raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r}")
    config = Config(uuid=doc.get("uuid"))
    if "listen" in doc:
        config.listen = parse_listen(doc["listen"])
    limits = doc.get("limits", {})
    names = {f.name for f in fields(Limits)}
    if not isinstance(limits, dict) or set(limits) - names:
        raise ConfigError(f"{path}: limits must be an object with keys from {sorted(names)}")
    config.limits = Limits(**limits)
    config.routes = [_route_from_json(item) for item in doc.get("routes", [])]
    return config


def _yes_no(text):
    value = text.strip().lower()
    if value not in ("yes", "no", "true", "false", "on", "off", "1", "0"):
        raise argparse.ArgumentTypeError(f"{text!r}: say yes or no")
    return value in ("yes", "true", "on", "1")


def build_parser():
    p = argparse.ArgumentParser(
        prog="gzmq-bridge",
        description="HTTP front that routes requests to ZeroMQ handlers (Mongrel2 protocol or "
                    "a JSON envelope over REQ/REP) and serves static files.")
    p.add_argument("--config", help="JSON config file (see bridge/README.md)")
    p.add_argument("--listen", help="HOST:PORT to accept HTTP on (default 127.0.0.1:8080)")
    p.add_argument("--uuid", help="sender UUID for mongrel2 routes (default: random)")
    p.add_argument("--route", action="append", default=[], metavar="PREFIX=TARGET",
                   help="PREFIX=mongrel2:SEND,RECV[,protocol=..][,timeout=S] or "
                        "PREFIX=req:EP[,EP...][,timeout=S] or PREFIX=page:FILE or "
                        "PREFIX=pubsub:SUB_EP[,PUB_EP] (repeatable)")
    p.add_argument("--static", action="append", default=[], metavar="PREFIX=DIR",
                   help="serve files from DIR under PREFIX (repeatable)")
    for f in fields(Limits):
        p.add_argument("--" + f.name.replace("_", "-"), default=None, help=f"default {f.default}",
                       type=_yes_no if isinstance(f.default, bool) else type(f.default))
    p.add_argument("--log-level", default="INFO")
    return p


def from_args(args):
    """Merge parsed flags (and the file named by --config) into a Config."""
    config = load(args.config) if args.config else Config()
    if args.listen:
        config.listen = parse_listen(args.listen)
    if args.uuid:
        config.uuid = args.uuid
    overrides = {f.name: getattr(args, f.name) for f in fields(Limits)
                 if getattr(args, f.name) is not None}
    if overrides:
        config.limits = Limits(**{**config.limits.__dict__, **overrides})
    config.routes = config.routes + [parse_route(r) for r in args.route]
    for text in args.static:
        prefix, eq, directory = text.partition("=")
        if not eq:
            raise ConfigError(f"--static {text!r} must look like PREFIX=DIR")
        config.routes.append(parse_route(f"{prefix}=static:{directory}"))
    return config
