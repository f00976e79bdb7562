"""Headless Chromium renders BigPipe pages: every pagelet ends up in its placeholder.

The first two tests run the example as a user would: four backend processes
(examples/bigpipe/pagelet.py), ``python -m bridge`` with the example's page, and Chromium. The
DOM Chromium builds must hold, in every placeholder, exactly what the server-assembled
(``?nojs=1``) document has there; with JavaScript off, the ``<noscript>`` refresh must take
Chromium to that document. The others run the bridge in this process with backends we script:
pagelet HTML that tries to break out of its script element, and a required pagelet that fails
after the skeleton was shown.
"""
import json
import os
import selectors
import subprocess
import sys
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest

from examples.bigpipe.run import HERE, backend_commands, bridge_args

from bigpipekit import PageSite, answer, chromium_dom, chromium_without_javascript, free_port, placeholders

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Processes:
    def __init__(self):
        self.procs = []

    def start(self, args, ready):
        """Start ``args`` and return its first stdout line, which must start with ``ready``."""
        env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        self.procs.append(proc)
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(20):
                raise AssertionError(f"{args[:3]}: no output within 20 s")
        line = proc.stdout.readline().decode()
        if not line.startswith(ready):
            raise AssertionError(f"{args[:3]}: {line!r} {proc.stderr.read().decode(errors='replace')[-2000:]}")
        return line

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
            proc.stderr.close()


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The example running as a user runs it: four backend processes and ``python -m bridge``.

    The example's page with free ports and quicker latencies than the demo's (the slow
    pagelet stays the slowest; ads still fails). Yields the base URL and the server-assembled
    page (``?nojs=1``).
    """
    directory = tmp_path_factory.mktemp("example")
    doc = json.loads(open(os.path.join(HERE, "page.json")).read())
    doc["template"] = os.path.join(HERE, "page.html")
    for pagelet in doc["pagelets"]:
        pagelet["endpoints"] = [f"tcp://127.0.0.1:{free_port()}"]
    page_file = directory / "page.json"
    page_file.write_text(json.dumps(doc))
    behaviour = {"nav": ["--delay", "0.05"], "feed": ["--delay", "0.2"],
                 "recommendations": ["--delay", "0.6"], "ads": ["--fail"]}
    processes = Processes()
    try:
        for command in backend_commands(str(page_file), sys.executable, behaviour):
            processes.start(command, "ready ")
        line = processes.start([sys.executable, "-m", "bridge", "--listen", "127.0.0.1:0",
                                *bridge_args(str(page_file))], "bridge ready ")
        base = "http://" + json.loads(line[len("bridge ready "):])["listen"]
        # The bridge connects to the backends in the background: until it has, pagelets come
        # back "unavailable" (and the required nav makes that a 503). Wait for a whole page.
        end = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(base + "/bigpipe/?nojs=1", timeout=5) as r:
                    nojs = r.read().decode()
                if 'data-pagelet-status="unavailable"' not in nojs:
                    break
            except urllib.error.HTTPError as e:
                if e.code != 503:
                    raise
            assert time.monotonic() < end, "the bridge never connected to every pagelet backend"
            time.sleep(0.1)
        yield SimpleNamespace(base=base, nojs=nojs)
    finally:
        processes.stop()


def test_chromium_renders_the_example_page(example, tmp_path, chromium_bin):
    dom = chromium_dom(chromium_bin, example.base + "/bigpipe/", tmp_path / "profile")

    assert '<html lang="en" data-bigpipe="done">' in dom
    rendered, expected = placeholders(dom), placeholders(example.nojs)
    assert sorted(rendered) == ["ads", "feed", "nav", "recommendations"]
    for pid, (attrs, inner) in expected.items():
        assert rendered[pid][1] == inner, pid                       # the same HTML, in its placeholder
        assert rendered[pid][0]["data-pagelet-status"] == attrs["data-pagelet-status"]
    assert "Hello, guest" in rendered["nav"][1] and "Story 1" in rendered["feed"][1]
    assert "Pick 1 for guest" in rendered["recommendations"][1]
    assert rendered["ads"] == ({"class": "ads", "data-pagelet": "ads", "data-pagelet-status": "error"},
                               '<p class="ad-fallback">Your ad here</p>')
    # CSS went into the head before the pagelets showed; the feed's JS ran after all of them.
    head = dom.split("</head>")[0]
    for name in ("nav", "feed", "recommendations"):
        assert f'href="/bigpipe/assets/{name}.css"' in head
    assert rendered["feed"][0]["data-feed-js"] == "ready"


def test_without_javascript_the_noscript_refresh_loads_the_assembled_page(example, tmp_path, chromium_bin):
    urls, dom = chromium_without_javascript(chromium_bin, example.base + "/bigpipe/", str(tmp_path))
    assert urls == [example.base + "/bigpipe/", example.base + "/bigpipe/?nojs=1"]
    rendered, expected = placeholders(dom), placeholders(example.nojs)
    assert {pid: inner for pid, (_, inner) in rendered.items()} == {
        pid: inner for pid, (_, inner) in expected.items()}
    assert "data-bigpipe=" not in dom.split("<head>")[0]          # no runtime ran


EVIL = ('<p id="evil">a</script><script>document.documentElement.setAttribute("data-pwned", "1")</script>'
        '<!-- b \u2028 c --> &amp; d</p>')


def test_hostile_pagelet_html_stays_in_its_placeholder(tmp_path, chromium_bin, deadline):
    site = PageSite(tmp_path / "site", [
        {"id": "evil", "respond": answer(EVIL)},
        {"id": "plain", "respond": answer("<p>plain</p>", delay=0.2)},
    ], mode="declared")
    try:
        with deadline(120):
            dom = chromium_dom(chromium_bin, f"http://127.0.0.1:{site.port}/page/", tmp_path / "profile")
    finally:
        site.close()
    html_tag = dom[dom.index("<html"):dom.index(">", dom.index("<html")) + 1]
    assert html_tag == '<html data-bigpipe="done">'             # the smuggled script never ran
    rendered = placeholders(dom)
    # innerHTML parsing: the </script> is dropped, the inner <script> is inert, the comment stays.
    assert rendered["evil"][1].startswith('<p id="evil">a<script>document.documentElement.setAttribute(')
    assert "<!-- b \u2028 c -->" in rendered["evil"][1]
    assert rendered["plain"][1] == "<p>plain</p>"


def test_a_required_failure_replaces_the_page_with_its_error(tmp_path, chromium_bin, deadline):
    site = PageSite(tmp_path / "site", [
        {"id": "nav", "respond": answer("<nav>nav</nav>")},
        {"id": "main", "respond": answer("<p>x</p>", status=500, delay=0.2), "required": True},
    ], error="<h1>Sorry, closed</h1>")
    try:
        with deadline(120):
            dom = chromium_dom(chromium_bin, f"http://127.0.0.1:{site.port}/page/", tmp_path / "profile")
    finally:
        site.close()
    assert 'data-bigpipe="failed"' in dom
    body = dom.split("<body>", 1)[1]
    assert body.startswith('<div data-bigpipe-error="main"><h1>Sorry, closed</h1></div>')
    assert "data-pagelet=" not in body
