"""A page route end to end in one process: gzmq pagelet backends, the bridge, a raw HTTP client.

The client reads the chunked response as it arrives, so each test sees exactly what was on the
wire and when: the skeleton while every backend still holds its request, then one script per
pagelet in the order the backends answered, then the document's end.
"""
import time

import gevent
import pytest
from gevent.event import Event

from bridge.bigpipe import runtime

from bigpipekit import Client, PageSite, answer, never, payloads

IDS = ("nav", "feed", "recs", "ads")


@pytest.fixture
def site(tmp_path):
    sites = []

    def make(pagelets, **kwargs):
        s = PageSite(tmp_path / f"site{len(sites)}", pagelets, **kwargs)
        sites.append(s)
        return s

    yield make
    for s in sites:
        s.close()


def wait_for(condition, what, seconds=5):
    """Poll an observable condition of the bridge; fail naming ``what`` if it never holds."""
    with gevent.Timeout(seconds, AssertionError(f"timed out waiting for {what}")):
        while not condition():
            gevent.sleep(0.005)


def test_skeleton_first_then_pagelets_in_completion_order(site, deadline):
    gates = {pid: Event() for pid in IDS}
    s = site([{"id": pid, "respond": answer(f"<p>{pid} content</p>", gate=gates[pid])} for pid in IDS])
    with deadline(10):
        c = Client(s.port)
        c.request("/page/some/where?user=ann&x=1", headers=[("Cookie", "session=s1; theme=dark"),
                                                           ("Accept-Language", "fr")])
        status, headers = c.read_head()
        assert status == 200
        assert headers["transfer-encoding"] == "chunked"
        assert headers["x-accel-buffering"] == "no"
        assert headers["content-type"] == "text/html; charset=utf-8"
        assert headers["cache-control"] == "no-store"
        skeleton = c.read_chunk()
        # Every backend holds its request (all four were sent at once) and none has replied:
        # the skeleton is already here.
        for pid in IDS:
            s.backends[pid].received.wait()
        assert s.log == []
        assert f'<script src="{runtime.URL}"></script>'.encode() in skeleton
        assert all(f'<div data-pagelet="{pid}"></div>'.encode() in skeleton for pid in IDS)
        assert b"BigPipe.arrive" not in skeleton and b"</body>" not in skeleton
        # Release the backends in an order unrelated to the template's: the chunks follow it.
        for pid in ("recs", "nav", "ads", "feed"):
            gates[pid].set()
            chunk = c.read_chunk()
            assert payloads(chunk) == [("arrive", {"id": pid, "status": "ok", "html": f"<p>{pid} content</p>",
                                                   "css": [], "js": []})]
        assert c.read_chunk() == b"<script>BigPipe.done()</script></body></html>\n"
        assert c.read_chunk() == b""            # the document is closed; the connection stays open
        # Each backend got the page request's context and its pagelet id.
        for pid in IDS:
            (req,) = s.backends[pid].requests
            assert req["pagelet"] == pid
            assert (req["method"], req["path"], req["query"]) == ("GET", "/page/some/where", "user=ann&x=1")
            assert req["cookies"] == {"session": "s1", "theme": "dark"}
            assert req["headers"]["cookie"] == "session=s1; theme=dark"
            assert req["headers"]["accept-language"] == "fr"
            assert req["pattern"] == "/page/" and req["remote_addr"] == "127.0.0.1"
        c.request("/page/?nojs=1")              # keep-alive: the next request on the same connection
        assert c.response().status == 200
        c.close()


def test_total_time_is_close_to_the_slowest_pagelet_not_the_sum(site, deadline):
    # Latencies 1.0 (the slowest), 0.9, 0.8 and 0.7 s add up to 3.4 s. Pagelets fetched one
    # after the other could not finish before 3.4 s; fetched concurrently the page ends a little
    # after 1.0 s. The bound asserted, 3.4 s, is that sum: 2.4 s of slack for a loaded machine.
    latencies = {"nav": 0.7, "feed": 1.0, "recs": 0.8, "ads": 0.9}
    s = site([{"id": pid, "respond": answer(f"<p>{pid}</p>", delay=latencies[pid])} for pid in IDS])
    with deadline(10):
        c = Client(s.port)
        started = time.monotonic()
        c.request("/page/")
        c.read_head()
        c.read_chunk()                          # the skeleton
        arrived = [payloads(chunk)[0][1]["id"] for chunk in c.read_chunks()[:-1]]
        total = time.monotonic() - started
        c.close()
    assert max(latencies.values()) <= total < sum(latencies.values())
    assert arrived == s.log                     # the order the backends answered in


def test_timeouts_and_failures_render_their_fallbacks(site, deadline):
    slow_gate = Event()
    s = site([
        {"id": "good", "respond": answer("<p>good</p>", css=["/g.css"])},
        {"id": "slow", "respond": answer("<p>too late</p>", gate=slow_gate), "timeout": 0.3,
         "fallback": "<p>slow fallback</p>"},
        {"id": "broken", "respond": lambda req: {"status": 500, "body": "boom"}, "fallback": "<p>broken fallback</p>"},
        {"id": "garbage", "respond": lambda req: b"\x00 not json", "fallback": "<p>garbage fallback</p>"},
        {"id": "absent", "respond": None, "fallback": "<p>absent fallback</p>"},
    ])
    try:
        with deadline(10):
            c = Client(s.port)
            c.request("/page/")
            status, headers = c.read_head()
            body = b"".join(c.read_chunks())
            results = {d["id"]: (d["status"], d["html"]) for _, d in payloads(body)}
            assert results == {"good": ("ok", "<p>good</p>"), "slow": ("timeout", "<p>slow fallback</p>"),
                               "broken": ("error", "<p>broken fallback</p>"),
                               "garbage": ("error", "<p>garbage fallback</p>"),
                               "absent": ("unavailable", "<p>absent fallback</p>")}
            assert body.endswith(b"<script>BigPipe.done()</script></body></html>\n")
            assert s.pending("slow") == 0       # the timed-out request is forgotten
            slow_gate.set()                     # its late reply is dropped; the connection still works
            wait_for(lambda: "slow" in s.log, "the late reply")
            c.request("/page/?nojs=1")
            again = c.response()
            assert again.status == 200 and b'data-pagelet="good" data-pagelet-status="ok"><p>good</p>' in again.body
            c.close()
        errors = s.bridge.metrics.errors
        assert errors[("/page/", "pagelet_timeout")] == 1
        assert errors[("/page/", "pagelet_error")] == 4    # broken and garbage, twice
        assert errors[("/page/", "pagelet_unavailable")] == 2
    finally:
        slow_gate.set()


@pytest.mark.parametrize("how", ["query", "mode"])
def test_server_side_assembly_returns_the_same_content_in_one_document(site, deadline, how):
    pagelets = [
        {"id": "nav", "respond": answer("<nav>Hello ann</nav>", css=["/nav.css", "/site.css"])},
        {"id": "feed", "respond": answer("<ul><li>one</li><li>two</li></ul>", css=["/site.css"], js=["/feed.js"])},
        {"id": "recs", "respond": lambda req: {"status": 503}, "fallback": "<p>no recs</p>"},
        {"id": "ads", "respond": answer("<p>ad &amp; more</p>", js=["/feed.js", "/ads.js"])},
    ]
    streamed_site = site(pagelets)
    nojs_site = site(pagelets, mode="server") if how == "mode" else streamed_site
    with deadline(10):
        c = Client(streamed_site.port)
        c.request("/page/")
        streamed = c.response()
        c.close()
        c = Client(nojs_site.port)
        c.request("/page/?nojs=1" if how == "query" else "/page/")
        document = c.response()
        c.close()
    assert "transfer-encoding" not in document.headers
    assert int(document.headers["content-length"]) == len(document.body)
    assert document.status == 200 and document.headers["cache-control"] == "no-store"
    html = document.body.decode()
    arrived = [d for _, d in payloads(streamed.body)]
    assert len(arrived) == 4
    for d in arrived:                           # every pagelet, in its placeholder, as the runtime puts it
        assert f'<div data-pagelet="{d["id"]}" data-pagelet-status="{d["status"]}">{d["html"]}</div>' in html
    assert html.count('<link rel="stylesheet" href="/site.css">') == 1
    assert html.index("/nav.css") < html.index("/site.css") < html.index("</head>")
    assert html.count('<script src="/feed.js"></script>') == 1
    assert html.index("/feed.js") < html.index("/ads.js") < html.index("</body>")
    assert "BigPipe" not in html and "noscript" not in html and html.endswith("</body></html>\n")


def test_declared_mode_flushes_in_template_order(site, deadline):
    gates = {pid: Event() for pid in IDS}
    s = site([{"id": pid, "respond": answer(pid, gate=gates[pid])} for pid in IDS], mode="declared")
    with deadline(10):
        c = Client(s.port)
        c.request("/page/")
        c.read_head()
        assert b"BigPipe.start({\"mode\":\"declared\"" in c.read_chunk()
        for pid in ("ads", "recs", "feed"):     # everyone but the first answers first...
            gates[pid].set()
            wait_for(lambda: s.pending(pid) == 0, f"the bridge to take {pid}'s reply")
        gates["nav"].set()                      # ...and still nothing passes the first
        order = [d["id"] for chunk in c.read_chunks() for _, d in payloads(chunk)]
        c.close()
    assert s.log == ["ads", "recs", "feed", "nav"]
    assert order == list(IDS)


def test_a_required_pagelet_that_fails_ends_the_streamed_page(site, deadline):
    feed_gate = Event()
    s = site([{"id": "nav", "respond": lambda req: {"status": 500}, "required": True},
              {"id": "feed", "respond": answer("<p>feed</p>", gate=feed_gate)}],
             error="<h1>Sorry</h1>")
    try:
        with deadline(10):
            c = Client(s.port)
            c.request("/page/")
            status, _ = c.read_head()
            chunks = c.read_chunks()
            c.close()
        assert status == 200                    # the status went out with the skeleton
        assert payloads(b"".join(chunks)) == [("fail", {"id": "nav", "status": "error", "html": "<h1>Sorry</h1>"})]
        assert chunks[-1] == b"<script>BigPipe.done()</script></body></html>\n"
        assert s.pending("feed") == 0           # the other pagelet is no longer waited for
    finally:
        feed_gate.set()


def test_required_pagelet_failures_without_streaming(site, deadline):
    s = site([{"id": "nav", "respond": lambda req: {"status": 500}, "required": True},
              {"id": "feed", "respond": answer("<p>feed</p>")},
              {"id": "late", "respond": never, "timeout": 0.2, "required": True},
              {"id": "gone", "respond": None, "required": True}], error="<h1>Sorry</h1>")
    with deadline(10):
        # Nobody serves a required pagelet: 503 at once, before anything was streamed.
        c = Client(s.port)
        c.request("/page/")
        r = c.response()
        assert r.status == 503 and "transfer-encoding" not in r.headers
        assert b'<div data-bigpipe-error="gone"><h1>Sorry</h1></div>' in r.body
        c.close()
    s.close()
    for pid, code in (("nav", 502), ("late", 504)):
        pagelets = [{"id": "nav", "respond": lambda req: {"status": 500}, "required": pid == "nav"},
                    {"id": "late", "respond": never, "timeout": 0.2, "required": pid == "late"}]
        s = site(pagelets, error="<h1>Sorry</h1>")
        with deadline(10):
            c = Client(s.port)
            c.request("/page/?nojs=1")
            r = c.response()
            c.close()
        assert r.status == code and f'<div data-bigpipe-error="{pid}"><h1>Sorry</h1></div>'.encode() in r.body


def test_a_client_that_leaves_cancels_the_outstanding_pagelets(site, deadline):
    gates = {pid: Event() for pid in IDS}
    s = site([{"id": pid, "respond": answer(pid, gate=gates[pid])} for pid in IDS])
    try:
        with deadline(10):
            c = Client(s.port)
            c.request("/page/")
            c.read_head()
            c.read_chunk()
            gates["nav"].set()
            assert payloads(c.read_chunk())[0][1]["id"] == "nav"
            assert all(s.pending(pid) == 1 for pid in ("feed", "recs", "ads"))
            c.close()
            wait_for(lambda: all(s.pending(pid) == 0 for pid in IDS), "the pagelets to be cancelled")
            wait_for(lambda: s.bridge.metrics.open_connections == 0, "the connection to close")
            assert s.bridge.metrics.errors[("/page/", "cancelled")] == 1
            for gate in gates.values():         # late replies find nobody waiting and are dropped
                gate.set()
            wait_for(lambda: len(s.log) == 4, "the late replies")
            c = Client(s.port)                  # and the bridge serves the next page as usual
            c.request("/page/")
            assert len(payloads(c.response().body)) == 4
            c.close()
    finally:
        for gate in gates.values():
            gate.set()


def test_http10_head_and_the_runtime(site, deadline):
    s = site([{"id": pid, "respond": answer(f"<p>{pid}</p>")} for pid in IDS])
    with deadline(10):
        c = Client(s.port)
        c.request("/page/", version="HTTP/1.0")     # no chunked encoding: the body ends at close
        r = c.response()
        c.close()
        assert r.status == 200 and "transfer-encoding" not in r.headers and r.headers["connection"] == "close"
        assert len(payloads(r.body)) == 4 and r.body.endswith(b"</body></html>\n")
        asked = sum(len(b.requests) for b in s.backends.values())
        c = Client(s.port)
        c.request("/page/", method="HEAD")
        r = c.response("HEAD")
        assert r.status == 200 and r.headers["transfer-encoding"] == "chunked"
        assert sum(len(b.requests) for b in s.backends.values()) == asked     # HEAD asks no backend
        c.request(runtime.URL)
        js = c.response()
        assert js.status == 200 and js.headers["content-type"].startswith("application/javascript")
        assert js.body == runtime.SOURCE and b"window.BigPipe" in js.body
        c.request(runtime.URL, headers=[("If-None-Match", js.headers["etag"])])
        assert c.response().status == 304
        c.close()
