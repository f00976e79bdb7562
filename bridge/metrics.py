"""Counters for /_bridge/metrics, rendered in the Prometheus text exposition format 0.0.4.

Series:
    bridge_requests_total{route,code}                 requests answered, by route prefix and status
    bridge_request_duration_seconds{route}            histogram: request complete to response done
    bridge_route_errors_total{route,kind}             unavailable (503), timeout (504),
                                                      bad_gateway (502), cancelled (client left),
                                                      overflow (slow client dropped)
    bridge_open_connections                           gauge
    bridge_connections_total                          connections accepted
    bridge_handler_messages_total{kind}               Mongrel2 replies: delivered, invalid,
                                                      dead_target
    plus the lines of every callable in ``collectors`` (WebSocket, SSE and pub/sub series
    from bridge.front.outbox.StreamStats)

Pure: the caller passes durations in. Owned by bridge.server.Bridge.
"""
from bisect import bisect_left
from collections import defaultdict

__all__ = ["Metrics", "BUCKETS"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _labels(**labels):
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}" if inner else ""


def _escape(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self):
        self.requests = defaultdict(int)               # (route, code) -> n
        self.errors = defaultdict(int)                 # (route, kind) -> n
        self.handler_messages = defaultdict(int)       # kind -> n
        # route -> [count per bucket (not cumulative; the last one is +Inf), sum of seconds]:
        # one bucket to increment per request (render() adds them up), where cumulative
        # counts had every bucket compared, 0.2 us each.
        self.durations = {}
        self.open_connections = 0
        self.connections_total = 0
        self.collectors = []                           # () -> [exposition lines]

    def request_done(self, route, code, seconds):
        self.requests[(route, code)] += 1
        hist = self.durations.get(route)
        if hist is None:
            hist = self.durations[route] = [0] * (len(BUCKETS) + 1) + [0.0]
        hist[bisect_left(BUCKETS, seconds)] += 1   # the first bucket with seconds <= bound
        hist[-1] += seconds

    def error(self, route, kind):
        self.errors[(route, kind)] += 1

    def render(self):
        out = []

        def family(name, kind, help_text):
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")

        family("bridge_requests_total", "counter", "HTTP requests answered, by route and status.")
        for (route, code), n in sorted(self.requests.items()):
            out.append(f"bridge_requests_total{_labels(route=route, code=code)} {n}")
        family("bridge_request_duration_seconds", "histogram",
               "Time from a complete request to the end of its response.")
        for route, hist in sorted(self.durations.items()):
            cumulative = 0
            for bound, n in zip(BUCKETS, hist):
                cumulative += n
                out.append(f"bridge_request_duration_seconds_bucket{_labels(route=route, le=bound)} {cumulative}")
            count = cumulative + hist[len(BUCKETS)]
            out.append(f"bridge_request_duration_seconds_bucket{_labels(route=route, le='+Inf')} {count}")
            out.append(f"bridge_request_duration_seconds_sum{_labels(route=route)} {hist[-1]:.6f}")
            out.append(f"bridge_request_duration_seconds_count{_labels(route=route)} {count}")
        family("bridge_route_errors_total", "counter",
               "Requests that failed: unavailable, timeout, bad_gateway, cancelled, overflow.")
        for (route, kind), n in sorted(self.errors.items()):
            out.append(f"bridge_route_errors_total{_labels(route=route, kind=kind)} {n}")
        family("bridge_open_connections", "gauge", "Client connections open now.")
        out.append(f"bridge_open_connections {self.open_connections}")
        family("bridge_connections_total", "counter", "Client connections accepted.")
        out.append(f"bridge_connections_total {self.connections_total}")
        family("bridge_handler_messages_total", "counter", "Mongrel2 handler replies by outcome.")
        for kind, n in sorted(self.handler_messages.items()):
            out.append(f"bridge_handler_messages_total{_labels(kind=kind)} {n}")
        for collect in self.collectors:
            out.extend(collect())
        return "\n".join(out) + "\n"
