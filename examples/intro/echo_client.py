"""REQ client connected to several echo servers: requests are load-balanced over them.

With two servers and 10 requests, each server answers 5 (REQ round-robins over its peers): each
reply says which server sent it (examples/intro/echo_server.py adds its endpoint as a last
frame), and the last line counts the replies per server.

    python examples/intro/echo_client.py --connect tcp://127.0.0.1:5555 --connect tcp://127.0.0.1:5556
"""
import argparse

import gevent
import gzmq as zmq


def run(endpoints, requests=10, context=None):
    ctx = context or zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.rcvtimeo = 5000
    for ep in endpoints:
        sock.connect(ep)
    replies = []
    per_server = {}
    try:
        for i in range(requests):
            sock.send_string(f"hello {i}")
            echo, *server = sock.recv_multipart()
            who = server[0].decode() if server else "a plain echo server"
            per_server[who] = per_server.get(who, 0) + 1
            replies.append(echo.decode())
            print(f"sent hello {i}, got {replies[-1]!r} from {who}", flush=True)
    finally:
        sock.close(linger=0)
    print("replies per server: " + ", ".join(f"{who} {n}" for who, n in per_server.items()), flush=True)
    return replies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", action="append", default=None)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args(argv)
    run(args.connect or ["tcp://127.0.0.1:5555"], args.requests)


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
