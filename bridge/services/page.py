"""``page:`` routes: a BigPipe page (bridge.bigpipe). Each pagelet is a req backend, shared with
req routes and pagelets naming the same endpoints; bridge.bigpipe.front streams the page from
the connection's own greenlet."""
from bridge.bigpipe.front import serve_page
from bridge.bigpipe.page import PageError, load_page
from bridge.routing import ConfigError, PageTarget, ReqTarget, Route
from bridge.services.base import ServiceBase
from bridge.services.req import ReqService

__all__ = ["PageService"]


class PageService(ServiceBase):
    scheme = "page"

    @staticmethod
    def parse_target(rest, spec):
        if not rest:
            raise ConfigError(f"{spec!r}: page needs a page file")
        try:
            return PageTarget(rest, load_page(rest))
        except PageError as e:
            raise ConfigError(str(e)) from None

    def __init__(self, route, resources):
        super().__init__(route, resources)
        self.pagelets = {}                  # pagelet id -> its ReqService (the bridge runs them)
        for pagelet in route.target.page.pagelets:
            target = ReqTarget(pagelet.endpoints, pagelet.timeout)
            key = ReqService.share_key(target, resources)
            service = resources.take(key)
            if service is None:
                service = resources.services[key] = ReqService(Route(route.prefix, target), resources)
            self.pagelets[pagelet.id] = service

    def busy(self):
        return any(service.busy() for service in self.pagelets.values())

    def describe(self, route):
        page = route.target.page
        return {"file": route.target.file, "mode": page.mode,
                "pagelets": [{"id": p.id, "endpoints": list(p.endpoints), "timeout": p.timeout,
                              "required": p.required} for p in page.pagelets]}

    def health(self):
        states = {pid: service.health() for pid, service in self.pagelets.items()}
        required = {p.id for p in self.target.page.pagelets if p.required}
        down = sorted(pid for pid, h in states.items() if h["state"] != "connected")
        state = "unavailable" if required & set(down) else ("degraded" if down else "connected")
        out = {"state": state, "pagelets": states}
        if down:
            out["why"] = "pagelets without a backend: " + ", ".join(down)
        return out

    def serve_http(self, conn, req, route, started):
        backends = {pid: service.backend for pid, service in self.pagelets.items()}
        keep = serve_page(req, route, backends, conn.send, conn.gone, conn.remote_addr,
                          conn.site.metrics, started)
        if not keep:
            conn.closing = True
