"""``static:`` routes: files from a directory, by the bottle app of bridge.front.app."""
import os

from bridge.front import wsgi
from bridge.front.app import static_app
from bridge.routing import ConfigError, StaticTarget
from bridge.services.base import ServiceBase

__all__ = ["StaticService"]


class StaticService(ServiceBase):
    scheme = "static"

    @staticmethod
    def parse_target(rest, spec):
        if not rest:
            raise ConfigError(f"{spec!r}: static needs a directory")
        if not os.path.isdir(rest):
            raise ConfigError(f"{spec!r}: static directory {rest!r} does not exist"
                              + (" (it is a file)" if os.path.exists(rest) else ""))
        return StaticTarget(rest)

    @staticmethod
    def share_key(target, resources):
        return ("static", target.directory)

    def __init__(self, route, resources):
        super().__init__(route, resources)
        self.app = static_app(route.target.directory)

    def describe(self, route):
        return {"directory": route.target.directory}

    def health(self):
        if os.path.isdir(self.target.directory):
            return {"state": "ok"}
        return {"state": "unavailable", "why": f"directory {self.target.directory} is gone"}

    def serve_http(self, conn, req, route, started):
        conn.serve_wsgi(self.app, req, route.prefix.rstrip("/"), route.prefix, started)

    def answer_request(self, req, route, remote_addr):
        return wsgi.collect(self.app, req, route.prefix.rstrip("/"), remote_addr)
