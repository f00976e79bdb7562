"""Fixtures for the device and proxy tests: contexts for both implementations, a proxy runner.

libzmq peers run in-process through zmq.green (real libzmq, cooperative with gevent's hub),
so one greenlet can drive a gzmq proxy with libzmq sockets on either side.
"""
import gevent
import pytest

import gzmq


@pytest.fixture
def make(gctx, lctx, green):
    """make(impl, type_name) -> a socket of that implementation ("gzmq" or "libzmq")."""

    def socket(impl, type_name):
        if impl == "gzmq":
            return gctx.socket(getattr(gzmq, type_name))
        return lctx.socket(getattr(green, type_name))

    return socket


@pytest.fixture
def greenlets():
    """Spawned helpers (workers, proxies) that the test does not wait for; killed at the end."""
    spawned = []

    def spawn(fn, *args):
        g = gevent.spawn(fn, *args)
        spawned.append(g)
        return g

    yield spawn
    gevent.killall(spawned, timeout=5)

