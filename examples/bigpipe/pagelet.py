"""One pagelet backend of the BigPipe example: a gzmq ROUTER answering the req envelope.

    python examples/bigpipe/pagelet.py NAME ENDPOINT [--delay SECONDS] [--fail]

NAME is one of nav, feed, recommendations, ads. The backend binds ROUTER on ENDPOINT (the
bridge connects a DEALER to it, see examples/bigpipe/page.json) and answers every pagelet
request after DELAY seconds with ``{"status": 200, "body": "<html>", "css": [...], "js":
[...]}``, or with status 500 under ``--fail`` (the bridge then shows the pagelet's fallback).
It renders from the page request's context that the bridge forwards: the ``user`` cookie or
``?user=`` query parameter, and the path.

Each request is served in its own greenlet, so one slow backend still answers many browsers at
once: the ROUTER frames are ``[peer, request id, "", json]`` and the reply goes back along the
same envelope. Prints "ready NAME ENDPOINT" once bound.
"""
import argparse
import html
import json
from urllib.parse import parse_qsl

import gevent
from gevent.lock import Semaphore
from gevent.pool import Group

import gzmq as zmq

ASSETS = "/bigpipe/assets/"


def _user(req):
    query = dict(parse_qsl(req.get("query", "")))
    return query.get("user") or req.get("cookies", {}).get("user") or "guest"


def nav(req):
    user = html.escape(_user(req))
    return {"body": f'<nav class="shop"><b>BigPipe shop</b><a href="{html.escape(req["pattern"])}">Home</a>'
                    f'<a href="?nojs=1">No-JS version</a><span class="greeting">Hello, {user}</span></nav>',
            "css": [ASSETS + "nav.css"]}


def feed(req):
    items = "".join(f'<div class="feed-item">Story {n}: something happened at {html.escape(req["path"])} '
                    f"<button>like</button></div>" for n in range(1, 4))
    return {"body": f'<div class="feed-list">{items}</div>', "css": [ASSETS + "feed.css"],
            "js": [ASSETS + "feed.js"]}


def recommendations(req):
    user = html.escape(_user(req))
    picks = "".join(f"<li>Pick {n} for {user}</li>" for n in range(1, 4))
    return {"body": f'<ul class="recommendations">{picks}</ul>', "css": [ASSETS + "recommendations.css"]}


def ads(req):
    return {"body": '<p class="ad">Buy more ZeroMQ</p>'}


RENDERERS = {"nav": nav, "feed": feed, "recommendations": recommendations, "ads": ads}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", choices=sorted(RENDERERS))
    parser.add_argument("endpoint")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--fail", action="store_true", help="answer status 500 every time")
    args = parser.parse_args(argv)

    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(args.endpoint)
    print(f"ready {args.name} {args.endpoint}", flush=True)
    send_lock = Semaphore()                     # one sender at a time on the socket
    answering = Group()                         # owns the per-request greenlets

    def answer(frames):
        peer, request_id, _, payload = frames
        req = json.loads(payload)
        gevent.sleep(args.delay)
        if args.fail:
            reply = {"status": 500, "body": f"{args.name} backend failed"}
        else:
            reply = {"status": 200, **RENDERERS[args.name](req)}
        with send_lock:
            router.send_multipart([peer, request_id, b"", json.dumps(reply).encode()])

    try:
        while True:
            frames = router.recv_multipart()
            if len(frames) == 4 and frames[2] == b"":
                answering.spawn(answer, frames)
    finally:
        answering.kill()
        router.close()
        context.term()


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
