"""REQ client connected to several echo servers: requests are load-balanced over them.

With two servers and 10 requests, each server answers 5 (REQ round-robins over its peers).

    python examples/intro/echo_client.py --connect tcp://127.0.0.1:5555 --connect tcp://127.0.0.1:5556
"""
import argparse

import gzmq as zmq


def run(endpoints, requests=10, context=None):
    ctx = context or zmq.Context.instance()
    sock = ctx.socket(zmq.REQ)
    sock.rcvtimeo = 5000
    for ep in endpoints:
        sock.connect(ep)
    replies = []
    try:
        for i in range(requests):
            sock.send_string(f"hello {i}")
            replies.append(sock.recv_string())
            print(f"sent hello {i}, got {replies[-1]!r}", flush=True)
    finally:
        sock.close(linger=0)
    return replies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", action="append", default=None)
    parser.add_argument("--requests", type=int, default=10)
    args = parser.parse_args(argv)
    run(args.connect or ["tcp://127.0.0.1:5555"], args.requests)


if __name__ == "__main__":
    main()
