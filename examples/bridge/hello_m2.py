"""A Mongrel2-protocol "hello" handler: answers every request with its own pid.

Run the bridge, then one or more of these (each extra process takes a share of the requests:
PUSH round-robins over every connected handler, no reconfiguration):

    python -m bridge --route '/hello/=mongrel2:tcp://127.0.0.1:9997,tcp://127.0.0.1:9996'
    python examples/bridge/hello_m2.py
    curl http://127.0.0.1:8080/hello/

The same handler works behind a real Mongrel2: see examples/mongrel2/.
"""
import os
import sys

import gevent
from bridge.handler import Connection


def main():
    send_spec = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:9997"
    recv_spec = sys.argv[2] if len(sys.argv) > 2 else "tcp://127.0.0.1:9996"

    conn = Connection("hello-handler", send_spec, recv_spec)
    print(f"hello_m2 pid {os.getpid()} connected to {send_spec} / {recv_spec}", flush=True)
    while True:
        req = conn.recv()
        if req.is_disconnect():
            continue
        conn.reply_http(req, f"hello from pid {os.getpid()}\n", headers={"Content-Type": "text/plain"})
        if req.should_close():
            conn.close(req)


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
