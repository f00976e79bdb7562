"""Fixtures for the gzmq socket tables: a Context, the zmq module under test, endpoints.

`z` is the module the tests talk to (gzmq); `ctx` a Context of it, destroyed after the test.
The tables are written against the pyzmq API only, so they can be pointed at libzmq as a
reference: GZMQ_SPEC_IMPL=libzmq runs them on zmq.green (real libzmq) instead. That is a
development aid to prove a table encodes libzmq's behaviour, not part of `make test`; tests
that check gzmq-only internals or timeouts (zmq.green ignores RCVTIMEO/SNDTIMEO) say so with
the `gzmq_only` fixture.
"""
import itertools
import os
import shutil
import tempfile

import gevent
import pytest

import gzmq

IMPL = os.environ.get("GZMQ_SPEC_IMPL", "gzmq")
TRANSPORTS = ["inproc", "ipc", "tcp"]
_names = itertools.count()


@pytest.fixture
def z():
    if IMPL == "libzmq":
        import zmq.green
        return zmq.green
    return gzmq


@pytest.fixture
def gzmq_only():
    """For tests of things zmq.green cannot serve as a reference for (timeouts, internals)."""
    if IMPL != "gzmq":
        pytest.fail("this test checks gzmq-only behaviour; run it without GZMQ_SPEC_IMPL")


@pytest.fixture
def ctx(z):
    c = z.Context()
    yield c
    with gevent.Timeout(5, AssertionError("Context.destroy() hung")):
        c.destroy(linger=0)


@pytest.fixture
def ipc_dir():
    path = tempfile.mkdtemp(prefix="gzs-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(params=TRANSPORTS)
def transport(request):
    return request.param


@pytest.fixture
def address(transport, ipc_dir):
    """address() -> a fresh address to bind for this test's transport."""

    def make():
        n = next(_names)
        if transport == "inproc":
            return f"inproc://spec-{os.getpid()}-{n}"
        if transport == "ipc":
            return f"ipc://{ipc_dir}/s{n}"
        return "tcp://127.0.0.1:*"

    return make


@pytest.fixture
def bound(address):
    """bound(sock) -> binds sock to a fresh address, returns the endpoint to connect to."""

    def bind(sock):
        sock.bind(address())
        return sock.last_endpoint.decode()

    return bind


@pytest.fixture
def sock(ctx, z):
    """sock(TYPE_NAME, **options) -> a socket with LINGER 0 and the options set."""

    def make(socket_type, **options):
        s = ctx.socket(getattr(z, socket_type))
        s.setsockopt(z.LINGER, 0)
        for name, value in options.items():
            s.setsockopt(getattr(z, name.upper()), value)
        return s

    return make
