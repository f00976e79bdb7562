"""An independent req-route backend written directly against pyzmq (none of our code).

    python rep_backend.py ENDPOINT NAME [DELAY_SECONDS]

Binds REP on ENDPOINT, prints "ready" once bound, and answers every envelope with
{"status": 200, "body": {"backend": NAME, "method", "path", "query", "body", "body_base64"}}
after sleeping DELAY_SECONDS when the path ends in /slow. A path ending in /binary answers
the request body back as base64 with Content-Type application/octet-stream; /bad answers
something that is not an envelope; /status/N answers status N with a text body.
"""
import json
import sys
import time

import zmq

endpoint, name = sys.argv[1], sys.argv[2]
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
ctx = zmq.Context()
rep = ctx.socket(zmq.REP)
rep.bind(endpoint)
print("ready", flush=True)
while True:
    req = json.loads(rep.recv())
    path = req["path"]
    if path.endswith("/slow"):
        time.sleep(delay)
    if path.endswith("/binary"):
        reply = {"status": 200, "headers": {"Content-Type": "application/octet-stream"},
                 "body": req["body"], "body_base64": req["body_base64"]}
        if not req["body_base64"]:
            import base64
            reply["body"] = base64.b64encode(req["body"].encode()).decode()
            reply["body_base64"] = True
        rep.send(json.dumps(reply).encode())
        continue
    if path.endswith("/bad"):
        rep.send(b"this is not json")
        continue
    if "/status/" in path:
        rep.send(json.dumps({"status": int(path.rsplit("/", 1)[1]),
                             "headers": [["X-Backend", name], ["Set-Cookie", "a=1"], ["Set-Cookie", "b=2"]],
                             "body": "status body"}).encode())
        continue
    doc = {"backend": name, "method": req["method"], "path": path, "query": req["query"],
           "headers": req["headers"], "body": req["body"], "body_base64": req["body_base64"]}
    rep.send(json.dumps({"status": 200, "body": doc}).encode())
