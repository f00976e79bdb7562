"""FORWARDER device: publishers and subscribers meet at one stable point (XSUB <-> XPUB).

Publishers connect to the device's frontend, subscribers to its backend; neither side knows
the other. Subscriptions travel upstream through the device (XPUB -> XSUB -> publishers), so
each publisher still drops what nobody asked for before it crosses the network.

    python examples/devices/forwarder_device.py device          # frontend :5570, backend :5571
    python examples/devices/forwarder_device.py publisher --topic weather
    python examples/devices/forwarder_device.py subscriber --topic weather --count 5
    python examples/devices/forwarder_device.py demo

The demo runs the device in its own OS thread (gzmq.devices.ThreadDevice), two publishers
("weather" and "sports") and one subscriber to "weather", and shows what the subscriber got.
"""
import argparse
import itertools

import gevent

import gzmq as zmq
from gzmq import devices

FRONTEND = "tcp://127.0.0.1:5570"
BACKEND = "tcp://127.0.0.1:5571"


def make_device(frontend, backend, cls=devices.Device):
    dev = cls(zmq.FORWARDER, zmq.XSUB, zmq.XPUB)
    dev.bind_in(frontend)
    dev.bind_out(backend)
    return dev


def publisher(frontend, topic, interval=0.01, count=None):
    """Publish "<topic> <n>" every `interval` seconds (`count` times, or forever)."""
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.connect(frontend)
    try:
        for n in itertools.count() if count is None else range(count):
            sock.send_string(f"{topic} {n}")
            gevent.sleep(interval)
    finally:
        sock.close(linger=0)


def subscriber(backend, topic, count, show=print):
    """Receive `count` messages on `topic`; returns them."""
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.subscribe(topic)
    sock.connect(backend)
    try:
        got = []
        for _ in range(count):
            msg = sock.recv_string()
            show(msg)
            got.append(msg)
        return got
    finally:
        sock.close(linger=0)


def demo(frontend, backend, count):
    dev = make_device(frontend, backend, devices.ThreadDevice)
    dev.start()
    pubs = [gevent.spawn(publisher, frontend, topic) for topic in ("weather", "sports")]
    got = subscriber(backend, "weather", count, show=lambda m: None)
    gevent.killall(pubs)
    topics = sorted({m.split()[0] for m in got})
    print(f"subscriber to 'weather' got {len(got)} messages, topics {topics}", flush=True)
    dev.stop()
    dev.join()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["device", "publisher", "subscriber", "demo"])
    parser.add_argument("--frontend", default=FRONTEND, help="publishers connect here (XSUB)")
    parser.add_argument("--backend", default=BACKEND, help="subscribers connect here (XPUB)")
    parser.add_argument("--topic", default="weather")
    parser.add_argument("--count", type=int, default=5, help="subscriber/demo: messages to receive")
    args = parser.parse_args(argv)
    try:
        if args.role == "device":
            print(f"forwarder: publishers -> {args.frontend}, subscribers -> {args.backend}", flush=True)
            make_device(args.frontend, args.backend).start()
        elif args.role == "publisher":
            publisher(args.frontend, args.topic, interval=0.1)
        elif args.role == "subscriber":
            subscriber(args.backend, args.topic, args.count, show=lambda m: print(m, flush=True))
        else:
            demo(args.frontend, args.backend, args.count)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
