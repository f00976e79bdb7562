"""Subscribe to the soccer events of some countries (default: netherlands and germany).

    python examples/pubsub/soccer_subscriber.py --connect tcp://127.0.0.1:5563 netherlands germany
    python examples/pubsub/soccer_subscriber.py --bind tcp://127.0.0.1:5564        (megaphone)
"""
import argparse

import gevent
import gzmq as zmq


def subscribe(sock, countries):
    for country in countries:
        sock.subscribe(country)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("countries", nargs="*", default=["netherlands", "germany"])
    parser.add_argument("--connect", default=None)
    parser.add_argument("--bind", default=None)
    parser.add_argument("--count", type=int, default=None, help="exit after this many events")
    args = parser.parse_args(argv)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.SUB)
    subscribe(sock, args.countries)
    if args.bind:
        sock.bind(args.bind)
    else:
        sock.connect(args.connect or "tcp://127.0.0.1:5563")
    received = 0
    try:
        while args.count is None or received < args.count:
            print(sock.recv_string(), flush=True)
            received += 1
    except KeyboardInterrupt:
        pass
    finally:
        sock.close(linger=0)


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
