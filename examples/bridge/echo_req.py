"""A JSON-envelope ("req:" route) echo backend: answers with the envelope it received.

    python examples/bridge/echo_req.py tcp://127.0.0.1:5555 &
    python -m bridge --route '/echo/=req:tcp://127.0.0.1:5555'
    curl -d 'hi there' 'http://127.0.0.1:8080/echo/x?y=1'
    printf '\\xff\\x00' | curl --data-binary @- http://127.0.0.1:8080/echo/bin   # base64 body

The reply body is the request envelope itself (a JSON object, so the bridge sends it as
application/json), with the body shown as text, or as base64 when it is not UTF-8.
"""
import base64
import sys

import gevent
from bridge.handler import serve_envelope


def echo(req):
    body = req["body"]
    try:
        shown, b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        shown, b64 = base64.b64encode(body).decode(), True
    return {"status": 200, "body": {**req, "body": shown, "body_base64": b64}}


def main():
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555"
    serve_envelope(endpoint, echo)


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
