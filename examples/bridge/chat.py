"""A chat room service behind a ``pubsub:`` route: browsers publish, this process checks, stamps
and rebroadcasts every line, keeps the recent history, and answers history requests.

    python examples/bridge/chat.py --pub tcp://127.0.0.1:5570 --sub tcp://127.0.0.1:5571 \\
                                   --rep tcp://127.0.0.1:5572
    python -m bridge --route '/chat/=pubsub:tcp://127.0.0.1:5570,tcp://127.0.0.1:5571' \\
                     --route '/chat-api/=req:tcp://127.0.0.1:5572' --static '/=examples/bridge/www'
    open http://127.0.0.1:8080/chat.html

Sockets (all bound here; the bridge connects):
  - SUB on ``--sub``: browser publishes arrive as ``[b"chat/ROOM", json]`` (bridge.js sends
    ``{"nick", "text"}``, which leaves the bridge as JSON);
  - XPUB on ``--pub``: the stamped line goes out as ``[b"chat/ROOM", json]`` with ``nick``,
    ``text``, ``room``, ``ts``; XPUB also shows the bridge's subscriptions (a room gets its
    first viewer, or loses its last) and they are printed;
  - REP on ``--rep``: the req envelope; ``GET /chat-api/history?room=ROOM`` answers the last
    50 lines of that room.
Shows the two directions of a pubsub route, and the request op (the chat page loads its
history with ``bridge.request``). Prints "chat ready" once bound.
"""
import argparse
import collections
import json
import time
from urllib.parse import parse_qs

import gevent

import gzmq as zmq
from bridge.handler import serve_envelope

HISTORY = 50
MAX_NICK, MAX_TEXT = 32, 500


def clean(data):
    """The chat line in ``data`` (JSON bytes) as a dict, or None if it is not one."""
    try:
        msg = json.loads(data)
    except ValueError:
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("text"), str) or not msg["text"].strip():
        return None
    nick = msg.get("nick") if isinstance(msg.get("nick"), str) and msg["nick"].strip() else "anonymous"
    return {"nick": nick.strip()[:MAX_NICK], "text": msg["text"].strip()[:MAX_TEXT]}


def serve(pub_endpoint, sub_endpoint, rep_endpoint, context=None):
    context = context or zmq.Context.instance()
    xpub = context.socket(zmq.XPUB)
    sub = context.socket(zmq.SUB)
    for sock in (xpub, sub):
        sock.setsockopt(zmq.LINGER, 0)
    xpub.bind(pub_endpoint)
    sub.bind(sub_endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, b"chat/")
    history = collections.defaultdict(lambda: collections.deque(maxlen=HISTORY))

    def lines():
        while True:
            topic, *rest = sub.recv_multipart()
            line = clean(rest[0]) if len(rest) == 1 else None
            if line is None:
                print(f"ignored a message on {topic!r}", flush=True)
                continue
            room = topic[len(b"chat/"):].decode("utf-8", "replace")
            line.update(room=room, ts=round(time.time(), 3))
            history[room].append(line)
            xpub.send_multipart([topic, json.dumps(line).encode()])

    def viewers():
        while True:
            event = xpub.recv()
            what = "first viewer of" if event[:1] == b"\x01" else "no more viewers of"
            print(f"{what} {event[1:].decode('utf-8', 'replace') or '(everything)'}", flush=True)

    def api(req):
        if req["method"] != "GET" or not req["path"].endswith("/history"):
            return {"status": 404, "body": "try GET /chat-api/history?room=lobby"}
        room = parse_qs(req["query"]).get("room", ["lobby"])[0]
        return {"body": {"room": room, "messages": list(history[room])}}

    greenlets = [gevent.spawn(lines), gevent.spawn(viewers),
                 gevent.spawn(serve_envelope, rep_endpoint, api, context=context)]
    print("chat ready", flush=True)
    try:
        gevent.joinall(greenlets, raise_error=True)
    finally:
        gevent.killall(greenlets)
        xpub.close()
        sub.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pub", default="tcp://127.0.0.1:5570", help="XPUB: the bridge's SUB_ENDPOINT")
    parser.add_argument("--sub", default="tcp://127.0.0.1:5571", help="SUB: the bridge's PUB_ENDPOINT")
    parser.add_argument("--rep", default="tcp://127.0.0.1:5572", help="REP: the history req: route")
    args = parser.parse_args(argv)
    try:
        serve(args.pub, args.sub, args.rep)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
