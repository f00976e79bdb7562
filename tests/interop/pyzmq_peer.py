"""A plain pyzmq (libzmq) peer run as a separate process by test_interop_subprocess.py.

    python pyzmq_peer.py TYPE bind|connect ENDPOINT ACTION COUNT [ROUTING_ID]

Prints "READY <endpoint>" once bound/connected, then performs ACTION COUNT times:
    echo    receive a message, send it back unchanged (REP, ROUTER, DEALER, PAIR)
    ask     send [b"q", i], receive the reply, print "REPLY <frames as hex>" (REQ, DEALER)
    push    send [b"%d" % i]; the last message carries a 1 MiB frame as well (PUSH)
    pull    receive, print "GOT <frame lengths> <crc32 of the message>" (PULL)
then closes with the default LINGER (everything queued is delivered) and exits 0.
A 10 s RCVTIMEO makes a lost message end the process with an error instead of hanging.
"""
import sys
import zlib

import zmq

BIG = bytes(range(256)) * 4096


def main(argv):
    socket_type, how, endpoint, action, count = argv[:5]
    count = int(count)
    ctx = zmq.Context()
    sock = ctx.socket(getattr(zmq, socket_type))
    sock.rcvtimeo = 10000
    sock.sndtimeo = 10000
    if len(argv) > 5:
        sock.routing_id = argv[5].encode()
    getattr(sock, how)(endpoint)
    print("READY", sock.last_endpoint.decode(), flush=True)
    for i in range(count):
        if action == "echo":
            sock.send_multipart(sock.recv_multipart())
        elif action == "ask":
            sock.send_multipart([b"q", b"%d" % i])
            print("REPLY", " ".join(f.hex() for f in sock.recv_multipart()), flush=True)
        elif action == "push":
            sock.send_multipart([b"%d" % i] + ([BIG] if i == count - 1 else []))
        elif action == "pull":
            msg = sock.recv_multipart()
            print("GOT", ",".join(str(len(f)) for f in msg), zlib.crc32(b"".join(msg)), flush=True)
        else:
            raise SystemExit(f"unknown action {action!r}")
    sock.close()
    ctx.term()
    print("DONE", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
