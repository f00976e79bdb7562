"""A market-data ticker over reliable multicast (PGM): one send reaches every subscriber.

The publisher multicasts "SYMBOL seq price" ticks; each subscriber picks symbols by
subscription (filtered on the subscriber: multicast has no way to tell the publisher) and
checks the per-symbol sequence numbers, so any message lost despite PGM's repairs would show.
Either side may be gzmq or libzmq: the wire is libzmq's epgm.

On a private segment made by tools/multicast-net.sh (needs root; see its header):

    tools/multicast-net.sh up && tools/multicast-net.sh loss 10      # 1% loss, both hosts
    ip netns exec gzmq-mc-b python examples/multicast/ticker.py sub AAPL MSFT \
        --endpoint 'epgm://mc0;239.192.1.1:5555'
    ip netns exec gzmq-mc-a python examples/multicast/ticker.py pub --endpoint 'epgm://mc0;239.192.1.1:5555'
    tools/multicast-net.sh down

Run the subscriber before the publisher: PGM has no handshake, so a late subscriber starts
with the ticks sent after it joined (it never asks for older ones).
"""
import argparse
import random
import sys

import gevent

import gzmq as zmq

SYMBOLS = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "IBM"]


def ticks(seed=None):
    """Endless (symbol, seq, price) ticks with per-symbol sequence numbers from 1."""
    rnd = random.Random(seed)
    prices = {s: 100.0 + 10 * i for i, s in enumerate(SYMBOLS)}
    seqs = dict.fromkeys(SYMBOLS, 0)
    while True:
        symbol = rnd.choice(SYMBOLS)
        prices[symbol] = max(1.0, prices[symbol] * (1 + rnd.gauss(0, 0.002)))
        seqs[symbol] += 1
        yield symbol, seqs[symbol], prices[symbol]


def make_socket(ctx, kind, endpoint, rate_kbps):
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.RATE, rate_kbps)  # kbit/s, as libzmq; set the same on every side
    if kind == zmq.PUB:
        sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(endpoint)                # bind() would do the same for multicast
    return sock


def publish(sock, count=None, rate=1000.0, seed=None):
    """Send `count` ticks (None: forever), `rate` per second (0: as fast as RATE allows)."""
    for i, (symbol, seq, price) in enumerate(ticks(seed)):
        if count is not None and i >= count:
            return
        sock.send_string(f"{symbol} {seq} {price:.2f}")
        if rate:
            gevent.sleep(1.0 / rate)


def subscribe(sock, symbols, count=None, out=sys.stdout):
    """Print ticks for `symbols` (all if empty); returns {symbol: last seq} after `count`.
    A gap in a symbol's sequence numbers (a lost tick) raises AssertionError."""
    for symbol in symbols or [""]:
        sock.subscribe(f"{symbol} " if symbol else "")
    last = {}
    received = 0
    while count is None or received < count:
        symbol, seq, price = sock.recv_string().split()
        seq = int(seq)
        if symbol in last and seq != last[symbol] + 1:
            raise AssertionError(f"{symbol}: tick {seq} after {last[symbol]}: lost messages")
        last[symbol] = seq
        received += 1
        if out is not None:
            print(f"{symbol:5} #{seq:<6} {price:>9}", file=out, flush=True)
    return last


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=["pub", "sub"])
    parser.add_argument("symbols", nargs="*", help="sub: symbols to follow (default: all)")
    parser.add_argument("--endpoint", default="epgm://mc0;239.192.1.1:5555")
    parser.add_argument("--rate", type=int, default=10000, help="RATE in kbit/s (default 10000)")
    parser.add_argument("--count", type=int, default=None, help="stop after this many ticks")
    parser.add_argument("--tps", type=float, default=1000.0, help="pub: ticks per second (0: flat out)")
    args = parser.parse_args(argv)
    ctx = zmq.Context()
    try:
        if args.role == "pub":
            sock = make_socket(ctx, zmq.PUB, args.endpoint, args.rate)
            publish(sock, args.count, args.tps)
            sock.close()   # LINGER: what is queued still goes out; term() waits for it
        else:
            sock = make_socket(ctx, zmq.SUB, args.endpoint, args.rate)
            subscribe(sock, args.symbols, args.count)
            sock.close()
    except KeyboardInterrupt:
        ctx.destroy(linger=0)
        return
    ctx.term()


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
