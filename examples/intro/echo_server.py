"""REP echo server (the ZeroMQ introduction's first example).

Binds a REP socket and answers every request with the same frames, plus one last frame naming
the server (its endpoint), so a client can show who answered. Start two of them on different
ports and point examples/intro/echo_client.py at both to see load balancing.

    python examples/intro/echo_server.py --bind tcp://127.0.0.1:5555
"""
import argparse

import gevent
import gzmq as zmq


def serve(bind, count=None, context=None):
    ctx = context or zmq.Context.instance()
    sock = ctx.socket(zmq.REP)
    sock.bind(bind)
    name = sock.last_endpoint
    print(f"echo server on {name.decode()}", flush=True)
    served = 0
    try:
        while count is None or served < count:
            msg = sock.recv_multipart()
            sock.send_multipart(msg + [name])
            served += 1
    finally:
        sock.close()        # default LINGER: the last reply is still delivered ...
        if context is None:
            ctx.term()      # ... and term() waits until it has been
    return served


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="tcp://127.0.0.1:5555")
    parser.add_argument("--count", type=int, default=None, help="exit after this many requests")
    args = parser.parse_args(argv)
    serve(args.bind, args.count)


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
