"""A Mongrel2-protocol echo handler: answers with the method, path, headers and body it got.

    python -m bridge --route '/echo/=mongrel2:tcp://127.0.0.1:9997,tcp://127.0.0.1:9996'
    python examples/bridge/echo_m2.py
    curl -d 'hi there' 'http://127.0.0.1:8080/echo/some/path?x=1'

Shows the Mongrel2 request as a handler sees it (upper-case headers such as METHOD, URI,
QUERY, PATTERN, REMOTE_ADDR come from the server) and the disconnect messages it sends.
"""
import json
import sys

import gevent
from bridge.handler import Connection


def main():
    send_spec = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:9997"
    recv_spec = sys.argv[2] if len(sys.argv) > 2 else "tcp://127.0.0.1:9996"

    conn = Connection("echo-handler", send_spec, recv_spec)
    while True:
        req = conn.recv()
        if req.is_disconnect():
            print(f"connection {req.conn_id} left", flush=True)
            continue
        doc = {"conn_id": req.conn_id, "path": req.path, "headers": req.headers,
               "body": req.body.decode("utf-8", "replace")}
        conn.reply_http(req, json.dumps(doc, indent=2) + "\n", headers={"Content-Type": "application/json"})
        if req.should_close():
            conn.close(req)


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
