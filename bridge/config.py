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

Reads the files it is given (the config, page files) and nothing else; route targets are
parsed by their services (bridge.services.SERVICES, keyed by scheme). Used by bridge.__main__.
"""
from __future__ import annotations

import argparse
import json
import os
import uuid as uuidlib
from dataclasses import dataclass, field, fields
from typing import Any, List, Optional, Tuple, Union

from bridge.routing import ConfigError, Route
from bridge.services import SERVICES, parse_target

__all__ = ["ConfigError", "Limits", "Config", "parse_target", "parse_route", "load", "build_parser",
           "from_args"]


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

    def __post_init__(self) -> None:
        if self.slow_browser not in ("close", "drop-oldest"):
            raise ConfigError(f"slow_browser must be close or drop-oldest, not {self.slow_browser!r}")


ACCESS_LOG_FORMATS = ("common", "json")


@dataclass
class Config:
    listen: Tuple[str, int] = ("127.0.0.1", 8080)
    uuid: Optional[str] = None      # a random one when None
    limits: Limits = field(default_factory=Limits)
    routes: List[Route] = field(default_factory=list)
    tls_cert: Optional[str] = None  # PEM certificate chain: https and wss on ``listen``
    tls_key: Optional[str] = None   # its PEM private key (default: in tls_cert)
    admin: Union[str, Tuple[str, int]] = "main"   # /_bridge/health and metrics: "main", "off" or (host, port)
    access_log: Optional[str] = None  # None: none; "-": stderr; else a file appended to
    access_log_format: str = "common"
    workers: int = 1                # worker processes sharing the port (bridge.workers)
    path: Optional[str] = None      # the config file read, if any (SIGHUP reads it again)

    def __post_init__(self) -> None:
        if self.uuid is None:
            self.uuid = str(uuidlib.uuid4())

    def check(self) -> Config:
        """Raise ConfigError for settings that cannot work (the files they name included)."""
        if self.tls_key and not self.tls_cert:
            raise ConfigError("tls_key given without tls_cert")
        for name in ("tls_cert", "tls_key"):
            path = getattr(self, name)
            if path and not os.path.isfile(path):
                raise ConfigError(f"{name} {path!r}: no such file")
        if self.access_log_format not in ACCESS_LOG_FORMATS:
            raise ConfigError(f"access_log_format must be one of {ACCESS_LOG_FORMATS}, "
                              f"not {self.access_log_format!r}")
        if isinstance(self.admin, tuple) and self.admin == self.listen and self.listen[1] != 0:
            raise ConfigError("the admin listener cannot share the main listener's address")
        return self


def parse_admin(text: Any) -> Union[str, Tuple[str, int]]:
    """``main`` (the default: /_bridge/ on the main listener), ``off``, or HOST:PORT."""
    value = str(text).strip()
    if value.lower() in ("main", "off"):
        return value.lower()
    try:
        return parse_listen(value)
    except ConfigError:
        raise ConfigError(f"admin {text!r} must be main, off or HOST:PORT") from None


def parse_listen(text: Any) -> Tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"listen address {text!r} must be HOST:PORT")
    return (host.strip("[]") or "127.0.0.1", int(port))


def parse_route(text: str, host: Optional[str] = None) -> Route:
    """Parse ``PREFIX=TARGET``."""
    prefix, eq, target = text.partition("=")
    if not eq or not prefix.startswith("/"):
        raise ConfigError(f"route {text!r} must look like /PREFIX=TARGET")
    return Route(prefix, parse_target(target), host)


def _route_from_json(item: Any) -> Route:
    if isinstance(item, str):
        return parse_route(item)
    if isinstance(item, dict) and isinstance(item.get("prefix"), str) and isinstance(item.get("target"), str):
        unknown = set(item) - {"prefix", "target", "host"}
        if unknown:
            raise ConfigError(f"route {item!r}: unknown key {sorted(unknown)[0]!r}")
        return parse_route(f"{item['prefix']}={item['target']}", item.get("host"))
    raise ConfigError(f"route {item!r} must be a string or an object with prefix and target")


def load(path: str) -> Config:
    """Read a JSON config file into a Config."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path}: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: the config must be a JSON object")
    unknown = set(doc) - {"listen", "uuid", "limits", "routes", "tls_cert", "tls_key", "admin",
                          "access_log", "access_log_format", "workers"}
    if unknown:
        raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r}")
    config = Config(uuid=doc.get("uuid"), path=path)
    if "listen" in doc:
        config.listen = parse_listen(doc["listen"])
    for key in ("tls_cert", "tls_key", "access_log", "access_log_format"):
        if key in doc:
            if not isinstance(doc[key], str):
                raise ConfigError(f"{path}: {key} must be a string")
            setattr(config, key, doc[key])
    if "admin" in doc:
        config.admin = parse_admin(doc["admin"])
    if "workers" in doc:
        config.workers = parse_workers(doc["workers"])
    limits = doc.get("limits", {})
    names = {f.name for f in fields(Limits)}
    if not isinstance(limits, dict) or set(limits) - names:
        raise ConfigError(f"{path}: limits must be an object with keys from {sorted(names)}")
    try:
        config.limits = Limits(**limits)
    except TypeError as e:
        raise ConfigError(f"{path}: limits: {e}") from None
    config.routes = [_route_from_json(item) for item in doc.get("routes", [])]
    return config


def _yes_no(text: str) -> bool:
    value = text.strip().lower()
    if value not in ("yes", "no", "true", "false", "on", "off", "1", "0"):
        raise argparse.ArgumentTypeError(f"{text!r}: say yes or no")
    return value in ("yes", "true", "on", "1")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gzmq-bridge",
        description="HTTP front that routes requests to ZeroMQ handlers (Mongrel2 protocol or "
                    "a JSON envelope over REQ/REP) and serves static files.")
    p.add_argument("--config", help="JSON config file (see bridge/README.md)")
    p.add_argument("--listen", help="HOST:PORT to accept HTTP on (default 127.0.0.1:8080)")
    p.add_argument("--uuid", help="sender UUID for mongrel2 routes (default: random)")
    p.add_argument("--route", action="append", default=[], metavar="PREFIX=TARGET",
                   help=f"PREFIX=SCHEME:... with SCHEME one of {', '.join(SERVICES)} "
                        "(see bridge/README.md; repeatable)")
    p.add_argument("--static", action="append", default=[], metavar="PREFIX=DIR",
                   help="serve files from DIR under PREFIX (repeatable)")
    for f in fields(Limits):
        p.add_argument("--" + f.name.replace("_", "-"), default=None, help=f"default {f.default}",
                       type=_yes_no if isinstance(f.default, bool) else type(f.default))
    p.add_argument("--tls-cert", metavar="PEM", help="serve https and wss with this certificate chain")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key (default: in --tls-cert)")
    p.add_argument("--admin", metavar="main|off|HOST:PORT",
                   help="where /_bridge/health and /_bridge/metrics answer (default main: the main listener)")
    p.add_argument("--access-log", metavar="-|FILE", help="log every request: - for stderr, or a file")
    p.add_argument("--access-log-format", choices=ACCESS_LOG_FORMATS, help="common (default) or json")
    p.add_argument("--log-level", default="INFO", type=_log_level,
                   help="DEBUG, INFO (default), WARNING, ERROR or CRITICAL")
    p.add_argument("--workers", metavar="N|auto", type=_workers_arg,
                   help="worker processes sharing the port (auto: one per core; default 1)")
    p.add_argument("--worker-socket", choices=("auto", "reuseport", "inherit"), default="auto",
                   help="how workers share the port: SO_REUSEPORT sockets of their own, or the "
                        "supervisor's socket inherited (auto: reuseport where the system has it)")
    # Set by the supervisor for its workers (bridge.workers), not by users.
    for name in ("--worker-index", "--worker-count", "--listen-fd", "--admin-fd"):
        p.add_argument(name, type=int, help=argparse.SUPPRESS)
    p.add_argument("--worker-dir", help=argparse.SUPPRESS)
    return p


# Worker processes sharing the port (bridge.workers): at most this many.
MAX_WORKERS = 256


def parse_workers(text: Any) -> int:
    """``auto`` (the number of cores) or a number from 1 to MAX_WORKERS; ConfigError otherwise."""
    value = str(text).strip().lower()
    if value == "auto":
        return max(1, min(os.cpu_count() or 1, MAX_WORKERS))
    if not value.isdigit() or not 1 <= int(value) <= MAX_WORKERS:
        raise ConfigError(f"workers {text!r} must be auto or a number from 1 to {MAX_WORKERS}")
    return int(value)


def _workers_arg(text: str) -> int:
    try:
        return parse_workers(text)
    except ConfigError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _log_level(text: str) -> str:
    if text.upper() not in LOG_LEVELS:
        raise argparse.ArgumentTypeError(f"unknown log level {text!r} (one of {', '.join(LOG_LEVELS)})")
    return text.upper()


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def from_args(args: argparse.Namespace) -> Config:
    """Merge parsed flags (and the file named by --config) into a Config."""
    config = load(args.config) if args.config else Config()
    if args.listen:
        config.listen = parse_listen(args.listen)
    if args.uuid:
        config.uuid = args.uuid
    for key in ("tls_cert", "tls_key", "access_log", "access_log_format"):
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    if args.admin is not None:
        config.admin = parse_admin(args.admin)
    if args.workers is not None:
        config.workers = args.workers
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
    return config.check()
