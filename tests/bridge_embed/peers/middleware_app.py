"""A plain WSGI app (not bottle) wrapped by BridgePlugin.middleware, on pywsgi + gevent-websocket.

    python middleware_app.py PUBSUB_SUB PUBSUB_PUB REQ_ENDPOINT

Prints ``middleware ready PORT``; everything outside the plugin's routes answers "plain app".
"""
from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402

from bridge.embed import BridgePlugin  # noqa: E402


def plain(environ, start_response):
    body = f"plain app: {environ['PATH_INFO']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def main():
    sub, pub, rep = sys.argv[1:4]
    plugin = BridgePlugin([f"/live/=pubsub:{sub},{pub}", f"/api/=req:{rep},timeout=5"])
    server = WSGIServer(("127.0.0.1", 0), plugin.middleware(plain), handler_class=WebSocketHandler, log=None)
    server.start()
    print(f"middleware ready {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
