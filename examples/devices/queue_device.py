"""QUEUE device: REQ clients and REP servers meet at one stable point, and servers can be
added while everything runs, without touching the clients.

Clients only know the device's frontend, servers only its backend (ROUTER <-> DEALER). Each
request goes to the next server in turn and the reply finds its way back to its client. Start
another server at any time: from its first connection on it takes its share of the requests.

    python examples/devices/queue_device.py device                 # frontend :5559, backend :5560
    python examples/devices/queue_device.py server --name A        # as many as you like, any time
    python examples/devices/queue_device.py client --requests 10
    python examples/devices/queue_device.py demo                   # all of the above in one process

The demo runs the device (a gzmq.devices.GreenletDevice), one server and one client, starts a
second server half way through and shows who answered before and after.
"""
import argparse
import collections

import gevent

import gzmq as zmq
from gzmq import devices

FRONTEND = "tcp://127.0.0.1:5559"
BACKEND = "tcp://127.0.0.1:5560"


def make_device(frontend, backend, cls=devices.Device):
    """The QUEUE device: ROUTER for the clients, DEALER for the servers."""
    dev = cls(zmq.QUEUE, zmq.ROUTER, zmq.DEALER)
    dev.bind_in(frontend)
    dev.bind_out(backend)
    return dev


def server(name, backend, count=None):
    """A REP server: answers "<name>: <request>"; `count` requests, or forever."""
    sock = zmq.Context.instance().socket(zmq.REP)
    sock.connect(backend)
    try:
        served = 0
        while count is None or served < count:
            request = sock.recv_string()
            sock.send_string(f"{name}: {request}")
            served += 1
    finally:
        sock.close()


def client(frontend, requests, show=print):
    """A REQ client: sends `requests` requests one after the other; returns the replies."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.connect(frontend)
    replies = []
    try:
        for n in range(requests):
            sock.send_string(f"request {n}")
            reply = sock.recv_string()
            show(reply)
            replies.append(reply)
    finally:
        sock.close()
    return replies


def demo(frontend, backend, requests):
    dev = make_device(frontend, backend, devices.GreenletDevice)
    dev.start()
    servers = [gevent.spawn(server, "A", backend)]
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.connect(frontend)

    def ask(n):
        sock.send_string(f"request {n}")
        return sock.recv_string().split(":")[0]

    before = collections.Counter(ask(n) for n in range(requests))
    print(f"one server:  {dict(before)}", flush=True)
    servers.append(gevent.spawn(server, "B", backend))
    # B connects in the background; the client carries on unchanged until B answers once.
    n = requests
    while ask(n) != "B":
        n += 1
    after = collections.Counter(ask(n + 1 + i) for i in range(requests))
    print(f"two servers: {dict(after)}", flush=True)
    sock.close()
    gevent.killall(servers)
    dev.stop()
    dev.join()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["device", "server", "client", "demo"])
    parser.add_argument("--frontend", default=FRONTEND, help="clients connect here (ROUTER)")
    parser.add_argument("--backend", default=BACKEND, help="servers connect here (DEALER)")
    parser.add_argument("--name", default="server", help="server: the name in its replies")
    parser.add_argument("--requests", type=int, default=10, help="client/demo: how many requests")
    parser.add_argument("--count", type=int, default=None, help="server: exit after this many")
    args = parser.parse_args(argv)
    try:
        if args.role == "device":
            print(f"queue device: clients -> {args.frontend}, servers -> {args.backend}", flush=True)
            make_device(args.frontend, args.backend).start()     # runs until interrupted
        elif args.role == "server":
            print(f"server {args.name} on {args.backend}", flush=True)
            server(args.name, args.backend, args.count)
        elif args.role == "client":
            client(args.frontend, args.requests, show=lambda r: print(r, flush=True))
        else:
            demo(args.frontend, args.backend, args.requests)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
