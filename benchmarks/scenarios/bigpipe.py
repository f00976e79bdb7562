"""BigPipe: time to first byte and to the last pagelet of examples/bigpipe's page.

Setup, fresh for every trial: the example's four pagelet backends (examples/bigpipe/pagelet.py
on gzmq, started with examples.bigpipe.run.backend_commands()) on free ports, and
``python -m bridge`` with examples.bigpipe.run.bridge_args(): a ``page:`` route serving the
example's page.json and page.html (copied with those ports). The client is
examples/bigpipe/timing.py's watch(): one plain HTTP/1.1 request on a new connection, the raw
chunked response read as it comes, times from just before connecting.

Scenarios:
- ``bigpipe page``: the example as it is (nav 0.05 s, feed 0.4 s, recommendations 2.0 s, ads
  fails after 0.2 s): one page load per trial. Its figures are mostly the backends' delays
  (last pagelet about 2.0 s by construction); what the bridge adds is the rest.
- ``bigpipe page 0-delay``: the same page and backends answering at once (ads still fails):
  page loads one after another for the trial's duration (at least 5), median per trial. The
  BigPipe path's own cost: skeleton, four pagelet round trips over ZeroMQ, the chunks.
Before measuring, a warm-up load runs until nav, ads and feed have arrived (so the bridge's
DEALERs are connected and its code is warm), then leaves the page (the bridge cancels the
rest). Every measured load must answer 200 with each pagelet's expected status (nav, feed and
recommendations ok; ads error, shown as its fallback).

Columns (no baseline, absolute figures): ``streamed``, the page as browsers get it (skeleton
first, each pagelet as it arrives; "last pagelet" is the last BigPipe.arrive chunk), and
``nojs``, the same URL with ``?nojs=1`` (assembled on the server, one response with a
Content-Length; its first byte and "last pagelet" are the whole document's arrival).
"""
import json
import os
import re
import socket
import statistics
import sys

from benchmarks.process import ROOT, TrialError
from benchmarks.registry import Family, Metric, Scenario, Unavailable, register

EXAMPLE = os.path.join(ROOT, "examples", "bigpipe")
PREFIX = "/bigpipe/"
EXPECTED = {"nav": "ok", "feed": "ok", "recommendations": "ok", "ads": "error"}
WARMUP_PAGELETS = ("nav", "ads", "feed")
INSTANT = {"ads": ["--fail"]}          # pagelet.py flags: no delays, ads still fails
LEAST_LOADS = 5                         # 0-delay: at least this many loads per trial
MOST_LOADS = 1000


# -- worker side (impl "python": timing.py is plain blocking sockets) --

def load_page(url):
    """One page load through timing.watch(): {first_byte, last_pagelet, document} seconds."""
    from examples.bigpipe.timing import watch
    figures, pagelets = {}, {}
    for seconds, text in watch(url):
        if text.startswith("first byte"):
            figures["first_byte"] = seconds
            figures["status"] = re.match(r"first byte \(status (\S+),", text).group(1)
        elif text.startswith("pagelet "):
            name, status = re.match(r"pagelet (\S+) \((\w+)", text).groups()
            pagelets[name] = status
            figures["last_pagelet"] = seconds
        elif text.startswith("document closed"):
            figures["document"] = seconds
    figures["pagelets"] = pagelets
    return figures


def warm_up(url, deadline, clock, sleep):
    """Load the page until nav, ads and feed have arrived as expected, then leave it."""
    from examples.bigpipe.timing import watch
    last = None
    while clock() < deadline:
        arrived = {}
        events = watch(url, timeout=5)
        try:
            for _, text in events:
                last = text
                if text.startswith("pagelet "):
                    name, _, status = text[len("pagelet "):].partition(" (")
                    arrived[name] = status.rstrip(")")
                if all(arrived.get(name) == EXPECTED[name] for name in WARMUP_PAGELETS):
                    return
        finally:
            events.close()          # closes the connection: the bridge cancels the rest
        sleep(0.1)                  # e.g. nav unavailable: DEALERs not connected yet
    raise TimeoutError(f"the page never came up during the warm-up (last: {last})")


def page_loads(env, url, streamed, least, most, duration, warmup_deadline):
    warm_up(url.split("?")[0], env.clock() + warmup_deadline, env.clock, env.sleep)
    loads = []
    stop_at = env.clock() + duration
    while len(loads) < most and (len(loads) < least or env.clock() < stop_at):
        figures = load_page(url)
        if figures.get("status") != "200" or "document" not in figures:
            raise ValueError(f"page load failed: {figures}")
        if streamed and figures["pagelets"] != EXPECTED:
            raise ValueError(f"pagelets arrived as {figures['pagelets']}, expected {EXPECTED}")
        if not streamed and figures["pagelets"]:
            raise ValueError(f"?nojs=1 streamed pagelets: {figures['pagelets']}")
        loads.append(figures)

    def median_ms(key):
        return statistics.median(load[key] for load in loads) * 1e3

    complete = "last_pagelet" if streamed else "document"
    return {"first_byte_ms": median_ms("first_byte"), "complete_ms": median_ms(complete),
            "document_ms": median_ms("document"), "loads": len(loads)}


# -- orchestrator side --

def free_port():
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def start_page(trial, behaviour):
    """The example's backends and the bridge; returns the page's URL."""
    from examples.bigpipe.run import backend_commands, bridge_args
    with open(os.path.join(EXAMPLE, "page.json"), encoding="utf-8") as page_file:
        page = json.load(page_file)
    page["template"] = os.path.join(EXAMPLE, page["template"])
    for pagelet in page["pagelets"]:
        pagelet["endpoints"] = [f"tcp://127.0.0.1:{free_port()}" for _ in pagelet["endpoints"]]
    copy = os.path.join(trial.scratch_dir(), "page.json")
    with open(copy, "w", encoding="utf-8") as page_file:
        json.dump(page, page_file)
    backends = [trial.start_command(f"pagelet {argv[2]}", argv)
                for argv in backend_commands(copy, sys.executable, behaviour)]
    for backend in backends:
        line = backend.readline()
        if not line.startswith(b"ready "):
            raise TrialError(f"{backend.label}: said {line[:80]!r} instead of ready")
    bridge = trial.start_command("bridge", [sys.executable, "-m", "bridge", "--listen", "127.0.0.1:0",
                                            "--log-level", "warning", *bridge_args(copy, PREFIX)])
    line = bridge.readline()
    while not line.startswith(b"bridge ready "):
        line = bridge.readline()
    return f"http://{json.loads(line[len(b'bridge ready '):])['listen']}{PREFIX}"


def url_for(column, page_url):
    return page_url + "?nojs=1" if column == "nojs" else page_url


def probe(trial):
    try:
        url = start_page(trial, None)
        trial.start(page_loads, impl="python", url=url_for(trial.column, url),
                    streamed=trial.column == "streamed", least=1, most=1, duration=0,
                    warmup_deadline=max(1.0, trial.remaining() - 5)).result()
    except TrialError as exc:
        raise Unavailable(str(exc).split("\n")[0]) from None
    return {"description": DESCRIPTIONS[trial.column]}


DESCRIPTIONS = {
    "streamed": "python -m bridge, page: route of examples/bigpipe, 4 gzmq pagelet backends; streamed",
    "nojs": "the same page with ?nojs=1 (assembled on the server)",
}

BIGPIPE = Family(name="bigpipe", columns=("streamed", "nojs"), probe=probe)


def page_run(behaviour, least, timed):
    def run(trial):
        url = start_page(trial, behaviour)
        return trial.start(page_loads, impl="python", url=url_for(trial.column, url),
                           streamed=trial.column == "streamed", least=least,
                           most=MOST_LOADS if timed else least, duration=trial.duration if timed else 0,
                           warmup_deadline=max(1.0, trial.remaining() - 5)).result()
    return run


METRICS = (Metric("first_byte_ms", "ms first byte", higher_is_better=False),
           Metric("complete_ms", "ms last pagelet", higher_is_better=False),
           Metric("document_ms", "ms document", higher_is_better=False, headline=False))

register(Scenario(
    name="bigpipe page", group="BigPipe: examples/bigpipe's page, its backends' delays (lower is better)",
    family=BIGPIPE, run=page_run(None, least=1, timed=False), metrics=METRICS,
    details={"backends": "examples/bigpipe/run.py BEHAVIOUR (delays 0.05, 0.4, 2.0 s; ads fails)",
             "loads_per_trial": 1}))

register(Scenario(
    name="bigpipe page 0-delay", group="BigPipe: the same page, backends answering at once (lower is better)",
    family=BIGPIPE, run=page_run(INSTANT, least=LEAST_LOADS, timed=True), metrics=METRICS,
    details={"backends": "no delays (ads fails)", "loads_per_trial": f"at least {LEAST_LOADS}, "
             "for the trial's duration; median per trial"}))
