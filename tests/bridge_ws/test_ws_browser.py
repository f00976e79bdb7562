"""Headless Chromium (Debian ``chromium``) against the demo pages and bridge.js.

The soccer page subscribes to the countries in its URL through bridge.js; an independent pyzmq
XPUB publishes the events of the introduction's soccer publisher (its ``events()`` generator,
the same lines it sends); the test reads the page's DOM. A second, websocket-client browser
follows other countries, so the bridge does receive their events and must keep them from the
page. The chat page goes through publish and request in the browser.
"""
import os
import subprocess
import sys

import pytest

from cdp import Chromium
from wskit import REPO, Publisher, free_port, recv_json, send_json

sys.path.insert(0, os.path.join(REPO, "examples", "pubsub"))
from soccer_publisher import events  # noqa: E402  (the publisher's own event lines)

pytestmark = pytest.mark.browser

WWW = os.path.join(REPO, "examples", "bridge", "www")
EVENTS_JS = "Array.from(document.querySelectorAll('#events li')).map(li => [li.dataset.topic, li.textContent])"


@pytest.fixture
def chromium(chromium_bin, tmp_path):
    browser = Chromium(chromium_bin, str(tmp_path))
    yield browser
    browser.stop()


@pytest.fixture
def page(chromium):
    page = chromium.page()
    yield page
    page.navigate("about:blank")
    page.close()


@pytest.mark.parametrize("transport", ["websocket", "sse", "poll"])
def test_soccer_page_shows_only_the_subscribed_countries(transport, pyzmq, zctx, bridge_factory, page, deadline):
    publisher = Publisher(pyzmq, zctx)
    bridge = bridge_factory("--route", f"/live/=pubsub:{publisher.endpoint}", "--static", f"/={WWW}")
    try:
        with deadline(60):
            # Another browser follows germany and spain for the whole test.
            other = bridge.ws("/live/")
            for n, topic in enumerate(["germany", "spain"]):
                send_json(other, {"op": "subscribe", "topic": topic, "id": n})
                recv_json(other)
            page.navigate(f"http://127.0.0.1:{bridge.port}/soccer.html?countries=netherlands,spain"
                          f"&transport={transport}")
            page.wait_for("document.documentElement.dataset.ready === '1'")
            assert page.evaluate("window.soccer.bridge.transport") == transport
            seen = {publisher.subscription() for _ in range(3)}
            assert seen == {(True, b"germany"), (True, b"spain"), (True, b"netherlands")}
            lines = [line for line, _ in zip(events(seed=8), range(80))]
            wanted = [line for line in lines if line.split()[0] in ("netherlands", "spain")]
            assert any(line.startswith("germany") for line in lines) and len(wanted) >= 10
            for line in lines:
                publisher.send(line.encode())
            page.wait_for(f"document.querySelectorAll('#events li').length >= {len(wanted)}")
            shown = page.evaluate(EVENTS_JS)[::-1]                 # newest first on the page
            assert [topic for topic, _ in shown] == [line.split()[0] for line in wanted]
            assert [text for _, text in shown] == wanted
            assert page.evaluate("document.getElementById('n-germany').textContent") == "0"
            other.close()
    finally:
        publisher.close()


def test_soccer_page_unticking_a_country_stops_its_events(pyzmq, zctx, bridge_factory, page, deadline):
    publisher = Publisher(pyzmq, zctx)
    bridge = bridge_factory("--route", f"/live/=pubsub:{publisher.endpoint}", "--static", f"/={WWW}")
    try:
        with deadline(60):
            other = bridge.ws("/live/")
            send_json(other, {"op": "subscribe", "topic": "brazil", "id": 1})
            recv_json(other)
            page.navigate(f"http://127.0.0.1:{bridge.port}/soccer.html?countries=brazil,italy")
            page.wait_for("document.documentElement.dataset.ready === '1'")
            assert {publisher.subscription(), publisher.subscription()} == {(True, b"brazil"), (True, b"italy")}
            page.evaluate("document.getElementById('c-brazil').click()")
            # One round trip on the page's own WebSocket: ops are handled in order, so the
            # unsubscribe has taken effect when the reply comes back.
            assert page.evaluate("window.soccer.bridge.request('/_bridge/health').then(r => r.status)") == 200
            publisher.send(b"brazil goal by Neymar (1')")
            publisher.send(b"italy corner (2')")
            assert recv_json(other)["data"] == "brazil goal by Neymar (1')"   # the bridge had it
            page.wait_for("document.querySelectorAll('#events li').length >= 1")
            assert page.evaluate(EVENTS_JS) == [["italy", "italy corner (2')"]]
            # Ticking it again subscribes again.
            page.evaluate("document.getElementById('c-brazil').click()")
            page.evaluate("window.soccer.bridge.request('/_bridge/health').then(r => r.status)")
            publisher.send(b"brazil offside (3')")
            page.wait_for("document.querySelectorAll('#events li').length >= 2")
            assert page.evaluate(EVENTS_JS)[0] == ["brazil", "brazil offside (3')"]
            other.close()
    finally:
        publisher.close()


def test_chat_page_publishes_and_requests(bridge_factory, page, deadline, tmp_path):
    ports = [free_port() for _ in range(3)]
    chat = subprocess.Popen([sys.executable, os.path.join(REPO, "examples", "bridge", "chat.py"),
                             "--pub", f"tcp://127.0.0.1:{ports[0]}", "--sub", f"tcp://127.0.0.1:{ports[1]}",
                             "--rep", f"tcp://127.0.0.1:{ports[2]}"], cwd=REPO, stdout=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=REPO), start_new_session=True)
    try:
        assert chat.stdout.readline().strip() == b"chat ready"
        bridge = bridge_factory("--route", f"/chat/=pubsub:tcp://127.0.0.1:{ports[0]},tcp://127.0.0.1:{ports[1]}",
                                "--route", f"/chat-api/=req:tcp://127.0.0.1:{ports[2]}", "--static", f"/={WWW}")
        with deadline(60):
            page.navigate(f"http://127.0.0.1:{bridge.port}/chat.html?room=test")
            page.wait_for("document.getElementById('state').textContent === 'open'")
            # Publish until the chat service (which binds SUB) has the bridge's PUB connected and
            # sends the line back; lines sent before that are lost, as ZeroMQ PUB drops them.
            script = """(async () => {
                document.getElementById('nick').value = 'tester';
                for (let i = 0; i < 100; i++) {
                    document.getElementById('text').value = 'hello ' + i;
                    document.getElementById('form').requestSubmit();
                    await new Promise(r => setTimeout(r, 100));
                    if (document.querySelector('#log p b')) return true;
                }
                return false;
            })()"""
            assert page.evaluate(script)
            line = page.evaluate("document.querySelector('#log p').textContent")
            assert "tester" in line and "hello" in line
            # The history comes back through bridge.request (a request op) after a reload.
            page.navigate(f"http://127.0.0.1:{bridge.port}/chat.html?room=test")
            page.wait_for("document.querySelectorAll('#log p b').length >= 1")
            history = page.evaluate("fetch('/chat-api/history?room=test').then(r => r.json())")
            assert history["room"] == "test" and history["messages"][0]["nick"] == "tester"
    finally:
        chat.terminate()
        chat.wait(10)
        chat.stdout.close()





@pytest.mark.parametrize("transport", ["websocket", "sse", "poll"])
def test_bridge_js_reconnects_and_resubscribes(transport, pyzmq, zctx, bridge_factory, page, deadline):
    publisher = Publisher(pyzmq, zctx)
    port = free_port()
    flags = ("--route", f"/live/=pubsub:{publisher.endpoint}", "--static", f"/={WWW}")
    try:
        with deadline(60):
            bridge = bridge_factory(*flags, listen=f"127.0.0.1:{port}")
            page.navigate(f"http://127.0.0.1:{port}/soccer.html?countries=england&transport={transport}")
            page.wait_for("document.documentElement.dataset.ready === '1'")
            assert publisher.subscription() == (True, b"england")
            bridge.stop()                               # the bridge goes away...
            assert publisher.subscription() == (False, b"england")
            page.wait_for("window.soccer.bridge.state !== 'open'")
            bridge_factory(*flags, listen=f"127.0.0.1:{port}")   # ...and comes back on the same port
            # bridge.js reconnects (back-off) and subscribes england again by itself.
            assert publisher.subscription(timeout=30) == (True, b"england")
            page.wait_for("window.soccer.bridge.state === 'open'")
            publisher.send(b"england goal (90')")
            page.wait_for("document.querySelectorAll('#events li').length >= 1")
            assert page.evaluate(EVENTS_JS) == [["england", "england goal (90')"]]
    finally:
        publisher.close()
