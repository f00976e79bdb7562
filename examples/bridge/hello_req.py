"""A JSON-envelope ("req:" route) hello backend: binds REP and answers with its pid.

    python examples/bridge/hello_req.py tcp://127.0.0.1:5555 &
    python -m bridge --route '/hello/=req:tcp://127.0.0.1:5555,tcp://127.0.0.1:5556'
    curl http://127.0.0.1:8080/hello/
    python examples/bridge/hello_req.py tcp://127.0.0.1:5556 &    # now requests alternate

The bridge connects to every endpoint of the route and load-balances over the ones that are
up; an endpoint that comes up later joins without a restart.
"""
import os
import sys

import gevent
from bridge.handler import serve_envelope


def main():
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:5555"
    print(f"hello_req pid {os.getpid()} bound to {endpoint}", flush=True)
    serve_envelope(endpoint, lambda req: {"status": 200, "headers": {"Content-Type": "text/plain"},
                                          "body": f"hello from pid {os.getpid()}\n"})


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
