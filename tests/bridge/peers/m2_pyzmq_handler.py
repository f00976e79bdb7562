"""An independent Mongrel2 handler written directly against pyzmq: it uses none of our code.

    python m2_pyzmq_handler.py SEND_SPEC RECV_SPEC

Connects PUB (an XPUB, see main) to RECV_SPEC and PULL to SEND_SPEC, as any Mongrel2 handler
does, and serves (by the last path segment, under any route prefix):

  echo          200, JSON {"conn_id","path","headers","body"} of the request
  stream?n=N    chunked response sent as N+2 separate replies (head, N chunks, last chunk)
  hold          chunked head + a first chunk "<conn_id>\\n"; the connection joins the broadcast set
  broadcast     POST: ONE reply to every held connection carrying the body as a chunk plus
                the last chunk; answers "sent to N"
  disconnects/ID  200 "ID" once a disconnect for connection ID has been seen (a long poll)
  close         200 without Content-Length, then an empty reply (close)
  slow          never answers
  pid           200 with this process's pid
  flood         200 with a 32 MiB body sent as 128 replies of 256 KiB, as fast as possible
"""
import json
import os
import sys

import zmq

SEND_SPEC, RECV_SPEC = sys.argv[1], sys.argv[2]


def netstring_at(data, pos):
    colon = data.index(b":", pos)
    n = int(data[pos:colon])
    return data[colon + 1:colon + 1 + n], colon + 2 + n


def parse(msg):
    sender, conn_id, path, rest = msg.split(b" ", 3)
    headers, end = netstring_at(rest, 0)
    body, _ = netstring_at(rest, end)
    return sender, conn_id, path.decode(), json.loads(headers), body


def http(body, code=200, reason="OK", headers=()):
    head = f"HTTP/1.1 {code} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def main():
    ctx = zmq.Context()
    # An XPUB, so that the handler takes no request before the server's SUB has subscribed:
    # a PUB drops the answers it sends before then, and the request waits for its timeout.
    pub = ctx.socket(zmq.XPUB)
    pub.connect(RECV_SPEC)
    if not pub.poll(10000):
        sys.exit("m2_pyzmq_handler: the server's SUB did not subscribe within 10 s")
    pull = ctx.socket(zmq.PULL)
    pull.connect(SEND_SPEC)
    held = set()
    seen_disconnects = set()
    waiters = {}                            # conn id -> [(sender, waiting conn id)]

    def send(sender, ids, data):
        idents = b" ".join(ids)
        pub.send(b"%s %d:%s, %s" % (sender, len(idents), idents, data))

    while True:
        sender, conn_id, path, headers, body = parse(pull.recv())
        if headers.get("METHOD") == "JSON" and json.loads(body).get("type") == "disconnect":
            seen_disconnects.add(conn_id.decode())
            held.discard(conn_id)
            for waiter in waiters.pop(conn_id.decode(), []):
                send(waiter[0], [waiter[1]], http(conn_id))
            continue
        name = path.rstrip("/").rsplit("/", 2)
        leaf = name[-1]
        if leaf == "echo":
            doc = {"conn_id": int(conn_id), "path": path, "headers": headers,
                   "body": body.decode("utf-8", "replace")}
            send(sender, [conn_id], http(json.dumps(doc).encode(), headers=[("Content-Type", "application/json")]))
        elif leaf == "stream":
            n = int(headers.get("QUERY", "n=3").split("=")[1])
            send(sender, [conn_id], b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(n):
                send(sender, [conn_id], chunk(b"part %d\n" % i))
            send(sender, [conn_id], b"0\r\n\r\n")
        elif leaf == "hold":
            held.add(conn_id)
            send(sender, [conn_id], b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk(conn_id + b"\n"))
        elif leaf == "broadcast":
            targets = sorted(held)
            held.clear()
            if targets:
                send(sender, targets, chunk(body) + b"0\r\n\r\n")
            send(sender, [conn_id], http(b"sent to %d" % len(targets)))
        elif len(name) >= 2 and name[-2] == "disconnects":
            if leaf in seen_disconnects:
                send(sender, [conn_id], http(leaf.encode()))
            else:
                waiters.setdefault(leaf, []).append((sender, conn_id))
        elif leaf == "close":
            send(sender, [conn_id], b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close")
            send(sender, [conn_id], b"")
        elif leaf == "slow":
            pass
        elif leaf == "flood":
            piece = b"f" * (256 * 1024)
            send(sender, [conn_id], b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (128 * len(piece)))
            for _ in range(128):
                send(sender, [conn_id], piece)
        elif leaf == "pid":
            send(sender, [conn_id], http(str(os.getpid()).encode()))
        else:
            send(sender, [conn_id], http(b"no such thing\n", 404, "Not Found"))
        if leaf not in ("hold", "slow", "close") and not leaf.isdigit() and (
                headers.get("connection", "").lower() == "close"):
            send(sender, [conn_id], b"")


if __name__ == "__main__":
    main()
