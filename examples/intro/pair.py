"""PAIR: two sockets in an exclusive conversation, here two greenlets over inproc or tcp.

    python examples/intro/pair.py --endpoint tcp://127.0.0.1:5557
"""
import argparse

import gevent

import gzmq as zmq


def run(endpoint="inproc://pair-example", rounds=3):
    ctx = zmq.Context.instance()
    left = ctx.socket(zmq.PAIR)
    left.bind(endpoint)
    right = ctx.socket(zmq.PAIR)
    right.connect(left.last_endpoint.decode())
    transcript = []

    def ping():
        for i in range(rounds):
            left.send_string(f"ping {i}")
            transcript.append(left.recv_string())

    def pong():
        for _ in range(rounds):
            msg = right.recv_string()
            transcript.append(msg)
            right.send_string(msg.replace("ping", "pong"))

    gevent.joinall([gevent.spawn(ping), gevent.spawn(pong)], raise_error=True)
    left.close()
    right.close()
    for line in transcript:
        print(line)
    return transcript


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", default="inproc://pair-example")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    run(args.endpoint, args.rounds)


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
