"""``pubsub:`` routes: topics to browsers (bridge.pubsub's hub; the WebSocket ops, SSE and
long-poll of bridge.front.realtime). The WebSocket is at exactly the route's prefix, so an
upgrade and a plain request go the same way: realtime tells them apart.
"""
from bridge.front import realtime
from bridge.pubsub import PubSubHub
from bridge.routing import ConfigError, PubSubTarget
from bridge.services.base import ServiceBase

__all__ = ["PubSubService"]


class PubSubService(ServiceBase):
    scheme = "pubsub"

    @staticmethod
    def parse_target(rest, spec):
        endpoints = [item.strip() for item in rest.split(",") if item.strip()]
        if not 1 <= len(endpoints) <= 2 or not all("://" in e for e in endpoints):
            raise ConfigError(f"{spec!r}: pubsub needs SUB_ENDPOINT[,PUB_ENDPOINT]")
        return PubSubTarget(*endpoints)

    @staticmethod
    def share_key(target, resources):
        return ("pubsub", target.sub, target.pub)

    def __init__(self, route, resources):
        super().__init__(route, resources)
        self.hub = PubSubHub(resources.context, route.target, resources.stream_stats, route.prefix)

    def start(self):
        self.started = True
        self.hub.start()

    def close(self):
        self.hub.close()

    def busy(self):
        return self.hub.busy()

    def describe(self, route):
        return {"sub": route.target.sub, "pub": route.target.pub}

    def health(self):
        return self.hub.health()

    def serve_http(self, conn, req, route, started):
        realtime.serve(conn, req, route, self.hub, started)

    serve_websocket = serve_http
