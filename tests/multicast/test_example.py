"""examples/multicast/ticker.py, as its docstring runs it: the publisher as a script on host B,
flat out and closing straight after its last tick (LINGER flushes the queue and stays to
answer NAKs for the tail), the subscriber on host A, 1% loss both ways. The subscriber's own
check (per-symbol sequence numbers) must see no gap."""
import subprocess
import sys

import gevent.subprocess
import pytest

import gzmq
from examples.multicast import ticker  # noqa: the example is the code under test

from .support import endpoint

pytestmark = [pytest.mark.multicast, pytest.mark.slow]


def test_ticker_publisher_script_to_subscriber_through_loss(mcnet, deadline):
    port = 5621
    count = 3000
    mcnet.loss(10, port)
    ctx = gzmq.Context()
    try:
        with mcnet.a.enter():
            sub = ticker.make_socket(ctx, gzmq.SUB, endpoint("epgm", mcnet.a, port), 10000)
        pub = gevent.subprocess.Popen(
            mcnet.b.command(sys.executable, ticker.__file__, "pub", "--endpoint",
                            endpoint("epgm", mcnet.b, port), "--count", str(count), "--tps", "0"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with deadline(60):
            last = ticker.subscribe(sub, [], count=count, out=None)
            _, err = pub.communicate()
        assert pub.returncode == 0, err
        assert sum(last.values()) == count and set(last) <= set(ticker.SYMBOLS)
    finally:
        ctx.destroy(linger=0)
