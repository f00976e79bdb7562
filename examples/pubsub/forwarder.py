"""XSUB/XPUB forwarder: many publishers on one side, many subscribers on the other.

Publishers connect to the XSUB side, subscribers to the XPUB side. Subscriptions travel
upstream (XPUB -> XSUB -> publishers) so every publisher still filters at the source, and
messages travel downstream. This is the FORWARDER device written out by hand.

    python examples/pubsub/forwarder.py --frontend tcp://127.0.0.1:5570 --backend tcp://127.0.0.1:5571
"""
import argparse

import gevent

import gzmq as zmq


def forward(frontend, backend):
    """Run until either socket is closed: messages XSUB -> XPUB, subscriptions XPUB -> XSUB."""

    def pump(src, dst):
        while True:
            try:
                dst.send_multipart(src.recv_multipart())
            except zmq.ZMQError:
                return

    tasks = [gevent.spawn(pump, frontend, backend), gevent.spawn(pump, backend, frontend)]
    try:
        gevent.joinall(tasks, count=1)
    finally:
        gevent.killall(tasks)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frontend", default="tcp://127.0.0.1:5570", help="publishers connect here (XSUB)")
    parser.add_argument("--backend", default="tcp://127.0.0.1:5571", help="subscribers connect here (XPUB)")
    args = parser.parse_args(argv)
    ctx = zmq.Context.instance()
    xsub = ctx.socket(zmq.XSUB)
    xsub.bind(args.frontend)
    xpub = ctx.socket(zmq.XPUB)
    xpub.bind(args.backend)
    print(f"forwarding {args.frontend} -> {args.backend}", flush=True)
    try:
        forward(xsub, xpub)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
