"""One service per route kind, chosen once from the route's scheme (``SERVICES``).

    mongrel2.py  Mongrel2's handler protocol: HTTP, the WebSocket pass-through, uploads
    req.py       the JSON envelope over REQ/REP
    pubsub.py    topics to browsers: WebSocket ops, SSE, long-poll
    page.py      BigPipe pages
    static.py    files
    zws.py       ZeroMQ over WebSocket from the page, joined to a backend endpoint
    base.py      the interface they share (``Service``), what they are built with
                 (``Resources``), the delivery protocols backends reply through
                 (``HandlerOutput``, ``ReplyReceiver``) and ``PendingRequests``

``parse_target("mongrel2:...")`` turns a route's target text into its target (bridge.routing)
through the same table, so neither the config parser nor the connection loop names a kind.
"""
from typing import Any

from bridge.routing import ConfigError
from bridge.services.base import HandlerOutput, PendingRequests, ReplyReceiver, Resources, Service, ServiceBase
from bridge.services.mongrel2 import Mongrel2Service
from bridge.services.page import PageService
from bridge.services.pubsub import PubSubService
from bridge.services.req import ReqService
from bridge.services.static import StaticService
from bridge.services.zws import ZwsService

__all__ = ["SERVICES", "parse_target", "build", "Service", "ServiceBase", "Resources", "HandlerOutput",
           "ReplyReceiver", "PendingRequests"]

SERVICES = {cls.scheme: cls for cls in (Mongrel2Service, ReqService, PubSubService, PageService, StaticService,
                                        ZwsService)}


def parse_target(text: str) -> Any:
    """A route target (``SCHEME:REST``) as its target object; ConfigError says what is wrong."""
    scheme, colon, rest = text.partition(":")
    service = SERVICES.get(scheme) if colon else None
    if service is None:
        raise ConfigError(f"route target {text!r}: the scheme must be one of {', '.join(SERVICES)}")
    return service.parse_target(rest, text)


def build(route, resources):
    """The service for ``route``: the one built for a route sharing its sockets (or for this same
    route before a reload), or a new one. Registered in ``resources.services`` either way."""
    cls = SERVICES[route.target.scheme]
    key = cls.share_key(route.target, resources) or ("route", route.host, route.prefix, route.target)
    service = resources.take(key)
    if service is None:
        service = resources.services[key] = cls(route, resources)
    else:
        service.check_shared(route.target)
    return service
