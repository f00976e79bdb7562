"""A bottle app on gevent's pywsgi + gevent-websocket with the bridge embedded (bridge.embed).

    python examples/embed/app.py [--listen 127.0.0.1:8080] [--route PREFIX=TARGET ...]
    open http://127.0.0.1:8080/

Demonstrates, in one ordinary bottle app (no bridge process in front of it):
- a BigPipe page rendered from a bottle view (``@bridge.page``): the skeleton at once, the
  ``clock`` pagelet from a req backend when it answers;
- live topics through bridge.js over the app's own WebSocket (``/live/``): the page's chat
  subscribes to ``chat`` and publishes to it; messages go round through a ZeroMQ XSUB/XPUB
  forwarder, so every browser (and any ZeroMQ publisher) sees them;
- ``/api/`` forwarded to a req backend (HTTP, and bridge.js ``request``), and ``request``
  ops answered by the app's own views (``/hello``).

The demo's backends (the forwarder, the /api/ REP and the pagelet ROUTER, all gzmq) run in
this process on wildcard loopback ports; ``--route`` adds routes of your own (e.g. a Mongrel2
handler: ``/m2/=mongrel2:tcp://127.0.0.1:9997,tcp://127.0.0.1:9996``). Prints one line,
``embed ready {"listen": ..., "routes": [...]}``, once serving. SIGTERM/SIGINT stop it.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402

import bottle  # noqa: E402
import gevent  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

import gzmq as zmq  # noqa: E402
from bridge.embed import BridgePlugin  # noqa: E402

PAGE = """<!doctype html>
<html><head><title>Embedded bridge</title><script src="/_bridge/bridge.js"></script></head>
<body>
<h1>Hello from bottle, {{user}}</h1>
<div data-pagelet="clock"></div>
<ul id="chat"></ul>
<form id="say"><input id="text" autocomplete="off"><button>Say</button></form>
<p id="api"></p><p id="hello"></p>
<script>
  var bridge = GzmqBridge.connect("/live/");
  bridge.subscribe("chat", function (data) {
    var li = document.createElement("li"); li.textContent = data;
    document.getElementById("chat").appendChild(li);
  }).ready.then(function () { document.documentElement.dataset.ready = "1"; });
  document.getElementById("say").onsubmit = function (e) {
    e.preventDefault(); bridge.publish("chat", document.getElementById("text").value);
  };
  bridge.request("/api/time").then(function (r) { document.getElementById("api").textContent = r.body; });
  bridge.request("/hello").then(function (r) { document.getElementById("hello").textContent = r.body; });
</script>
</body></html>
"""


def start_backends(context):
    """The demo's ZeroMQ side: an XSUB/XPUB forwarder, a REP for /api/, a ROUTER pagelet."""
    xsub, xpub = context.socket(zmq.XSUB), context.socket(zmq.XPUB)
    xsub.bind("tcp://127.0.0.1:*")
    xpub.bind("tcp://127.0.0.1:*")
    gevent.spawn(zmq.proxy, xsub, xpub)

    rep = context.socket(zmq.REP)
    rep.bind("tcp://127.0.0.1:*")

    def api():
        while True:
            request = json.loads(rep.recv())
            rep.send_json({"status": 200, "headers": {"X-Backend": "demo-rep"},
                           "body": f"time {time.strftime('%H:%M:%S')} for {request['path']}"})

    router = context.socket(zmq.ROUTER)
    router.bind("tcp://127.0.0.1:*")

    def pagelets():
        while True:
            peer, request_id, empty, payload = router.recv_multipart()
            request = json.loads(payload)
            body = f'<p class="clock">It is {time.strftime("%H:%M:%S")} (for {request["path"]})</p>'
            router.send_multipart([peer, request_id, empty, json.dumps({"body": body}).encode()])

    gevent.spawn(api)
    gevent.spawn(pagelets)
    endpoint = lambda sock: sock.getsockopt(zmq.LAST_ENDPOINT).decode()  # noqa: E731
    return {"sub": endpoint(xpub), "pub": endpoint(xsub), "api": endpoint(rep), "pagelet": endpoint(router)}


def make_app(backends, extra_routes=()):
    app = bottle.Bottle()
    bridge = BridgePlugin([f"/live/=pubsub:{backends['sub']},{backends['pub']}",
                           f"/api/=req:{backends['api']},timeout=5", *extra_routes])
    app.install(bridge)

    @app.get("/")
    @bridge.page([{"id": "clock", "endpoints": [backends["pagelet"]], "timeout": 3,
                   "fallback": "<p>no clock</p>"}])
    def home():
        return bottle.template(PAGE, user=bottle.request.query.user or "guest")

    @app.get("/hello")
    def hello():
        return "hello from a bottle view"

    return app, bridge


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--listen", default="127.0.0.1:8080")
    parser.add_argument("--route", action="append", default=[], help="PREFIX=TARGET (bridge syntax)")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    context = zmq.Context()
    app, bridge = make_app(start_backends(context), args.route)
    server = WSGIServer((host, int(port)), app, handler_class=WebSocketHandler, log=None)
    server.start()
    print("embed ready " + json.dumps({"listen": f"{host}:{server.server_port}", "routes": bridge.describe()}),
          flush=True)
    stop = [gevent.signal_handler(s, server.stop) for s in (signal.SIGTERM, signal.SIGINT)]
    try:
        server.serve_forever()
    finally:
        bridge.close()
        context.destroy(linger=0)
        for watcher in stop:
            watcher.cancel()


if __name__ == "__main__":
    main()
