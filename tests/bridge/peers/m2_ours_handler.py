"""The same handler as m2_pyzmq_handler.py, written with bridge.handler (our library).

    python m2_ours_handler.py SEND_SPEC RECV_SPEC
"""
import json
import os
import sys

from bridge.handler import Connection


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def main():
    conn = Connection("test-handler", sys.argv[1], sys.argv[2])
    held = set()
    seen_disconnects = set()
    waiters = {}
    while True:
        req = conn.recv()
        if req.is_disconnect():
            seen_disconnects.add(req.conn_id)
            held.discard(req.conn_id)
            for waiter in waiters.pop(req.conn_id, []):
                conn.reply_http(waiter, str(req.conn_id))
            continue
        name = req.path.rstrip("/").rsplit("/", 2)
        leaf = name[-1]
        if leaf == "echo":
            doc = {"conn_id": req.conn_id, "path": req.path, "headers": req.headers,
                   "body": req.body.decode("utf-8", "replace")}
            conn.reply_http(req, json.dumps(doc), headers={"Content-Type": "application/json"})
        elif leaf == "stream":
            n = int(req.headers.get("QUERY", "n=3").split("=")[1])
            conn.reply(req, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for i in range(n):
                conn.reply(req, chunk(b"part %d\n" % i))
            conn.reply(req, b"0\r\n\r\n")
        elif leaf == "hold":
            held.add(req.conn_id)
            conn.reply(req, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       + chunk(b"%d\n" % req.conn_id))
        elif leaf == "broadcast":
            targets = sorted(held)
            held.clear()
            if targets:
                conn.deliver(req.sender, targets, chunk(req.body) + b"0\r\n\r\n")
            conn.reply_http(req, f"sent to {len(targets)}")
        elif len(name) >= 2 and name[-2] == "disconnects":
            if int(leaf) in seen_disconnects:
                conn.reply_http(req, leaf)
            else:
                waiters.setdefault(int(leaf), []).append(req)
        elif leaf == "close":
            conn.reply(req, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close")
            conn.close(req)
        elif leaf == "slow":
            pass
        elif leaf == "pid":
            conn.reply_http(req, str(os.getpid()))
        else:
            conn.reply_http(req, "no such thing\n", 404)
        if leaf not in ("hold", "slow", "close") and not leaf.isdigit() and req.should_close():
            conn.close(req)


if __name__ == "__main__":
    main()
