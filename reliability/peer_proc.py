"""Peers the fault scenarios start as processes, and kill with SIGKILL.

    python -m reliability.peer_proc [--impl gzmq|pyzmq] ROLE ...

    send KIND ENDPOINT bind|connect RUN       send [RUN, seq] forever (PUB/XPUB: topic first;
                                              REQ: one at a time, waiting for each reply)
    recv KIND ENDPOINT bind|connect RUN ACK   for each message, PUSH [RUN, seq] to ACK
                                              (REP answers, SUB/XSUB subscribe to everything)
    worker VENTILATOR SINK RUN                pipeline worker: [task, data] in, [task, digest, RUN] out
    server ENDPOINT RUN ACK                   REP server: [id, data] -> [id, data upper-cased],
                                              and [id, RUN] to ACK for every request it executes
    envelope ENDPOINT                         bridge req-route backend (bridge.handler.serve_envelope)
    m2 SEND RECV full|partial                 Mongrel2 handler; "partial" starts a response
                                              (Content-Length 100, 7 bytes sent) and never ends it

--identity sets ROUTING_ID (DEALER, REQ). --impl pyzmq runs the peer on libzmq, so the gzmq
side of a fault scenario meets a foreign implementation. The process never exits by itself:
the scenario kills it (SIGKILL, mid-stream) or terminates it at the end.
"""
import argparse
import hashlib
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--impl", choices=["gzmq", "pyzmq"], default="gzmq")
    parser.add_argument("--identity")
    parser.add_argument("role")
    parser.add_argument("args", nargs="*")
    opts = parser.parse_args()
    if opts.impl == "pyzmq":
        import zmq
        sleep = time.sleep
    else:
        import gevent
        import gzmq as zmq
        sleep = gevent.sleep   # time.sleep would stop gzmq's greenlets too (no I/O thread)
    ctx = zmq.Context()
    role, args = opts.role, opts.args

    def make(kind, endpoint, how):
        sock = ctx.socket(getattr(zmq, kind))
        sock.linger = 0
        if opts.identity:
            sock.setsockopt(zmq.ROUTING_ID, opts.identity.encode())
        if kind == "SUB":
            sock.setsockopt(zmq.SUBSCRIBE, b"")
        (sock.bind if how == "bind" else sock.connect)(endpoint)
        if kind == "XSUB":
            sock.send(b"\x01")
        return sock

    if role == "send":
        kind, endpoint, how, run = args
        sock = make(kind, endpoint, how)
        run = run.encode()
        seq = 0
        while True:
            frames = [run, b"%d" % seq]
            if kind in ("PUB", "XPUB"):
                frames.insert(0, b"t")
            sock.send_multipart(frames)
            if kind == "REQ":
                sock.recv_multipart()
            seq += 1
            if seq % 20 == 0:
                sleep(0.002)
    elif role == "recv":
        kind, endpoint, how, run, ack_ep = args
        sock = make(kind, endpoint, how)
        ack = ctx.socket(zmq.PUSH)
        ack.linger = 0
        ack.connect(ack_ep)
        run = run.encode()
        while True:
            msg = sock.recv_multipart()
            if kind == "REP":
                sock.send_multipart(msg)
            if kind == "ROUTER":
                msg = msg[1:]
            if kind in ("SUB", "XSUB"):
                msg = msg[1:]
            ack.send_multipart([run] + msg[-1:])
    elif role == "worker":
        vent_ep, sink_ep, run = args
        tasks = ctx.socket(zmq.PULL)
        tasks.linger = 0
        tasks.rcvhwm = 5
        tasks.connect(vent_ep)
        sink = ctx.socket(zmq.PUSH)
        sink.linger = 0
        sink.connect(sink_ep)
        while True:
            task, data = tasks.recv_multipart()
            sink.send_multipart([task, hashlib.sha1(data).hexdigest().encode(), run.encode()])
    elif role == "server":
        endpoint, run, ack_ep = args
        rep = ctx.socket(zmq.REP)
        rep.linger = 0
        rep.bind(endpoint)
        ack = ctx.socket(zmq.PUSH)
        ack.linger = 0
        ack.connect(ack_ep)
        while True:
            rid, data = rep.recv_multipart()
            ack.send_multipart([rid, run.encode()])
            rep.send_multipart([rid, data.upper()])
    elif role == "envelope":
        from bridge.handler import serve_envelope
        (endpoint,) = args
        serve_envelope(endpoint, lambda req: {"status": 200, "body": "ok " + req["path"]}, context=ctx)
    elif role == "m2":
        from bridge.handler import Connection
        send, recv, how = args
        conn = Connection("reliability-handler", send, recv, context=ctx)
        while True:
            req = conn.recv()
            if req.is_disconnect():
                continue
            if how == "partial":
                conn.reply(req, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            else:
                conn.reply_http(req, b"m2 ok")
    else:
        parser.error(f"unknown role {role!r}")


if __name__ == "__main__":
    main()
