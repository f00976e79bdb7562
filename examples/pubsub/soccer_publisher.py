"""Live soccer events over PUB (the ZeroMQ introduction's broadcast example).

Publishes "country event" strings, e.g. "netherlands goal by van Persie (12')", a few per
second. Subscribers pick countries by subscribing to their names (prefix match); the PUB
filters on its side, so events nobody asked for never leave this process.

    python examples/pubsub/soccer_publisher.py --bind tcp://127.0.0.1:5563      (radio: PUB binds)
    python examples/pubsub/soccer_publisher.py --connect tcp://127.0.0.1:5564   (megaphone: SUB binds)
"""
import argparse
import itertools
import random

import gevent

import gzmq as zmq

COUNTRIES = ["netherlands", "germany", "spain", "brazil", "argentina", "italy", "france", "england"]
PLAYERS = ["Robben", "van Persie", "Sneijder", "Müller", "Özil", "Messi", "Neymar", "Pirlo"]
EVENTS = ["goal by {p}", "yellow card for {p}", "corner", "free kick", "substitution: {p} comes on",
          "shot on target by {p}", "offside"]


def events(seed=None):
    rnd = random.Random(seed)
    for minute in itertools.count(1):
        country = rnd.choice(COUNTRIES)
        what = rnd.choice(EVENTS).format(p=rnd.choice(PLAYERS))
        yield f"{country} {what} ({minute % 90 + 1}')"


def publish(sock, rate=5.0, count=None, seed=None):
    for i, line in enumerate(events(seed)):
        if count is not None and i >= count:
            return
        sock.send_string(line)
        if rate:
            gevent.sleep(1.0 / rate)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default=None)
    parser.add_argument("--connect", default=None)
    parser.add_argument("--rate", type=float, default=5.0, help="events per second (0: as fast as possible)")
    parser.add_argument("--count", type=int, default=None)
    args = parser.parse_args(argv)
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PUB)
    if args.connect:
        sock.connect(args.connect)
    else:
        sock.bind(args.bind or "tcp://127.0.0.1:5563")
    print(f"publishing soccer events on {sock.last_endpoint.decode()}", flush=True)
    try:
        publish(sock, args.rate, args.count)
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
