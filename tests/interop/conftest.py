"""Fixtures for the interop suite: a gzmq Context, a libzmq (zmq.green) Context, endpoints.

The libzmq side runs in-process through zmq.green: real libzmq, but its blocking calls wait on
gevent's hub, so both implementations can talk to each other from one greenlet, with and
without monkey-patching. A few tests use a plain pyzmq peer in a subprocess instead.
"""
import shutil
import tempfile

import pytest


@pytest.fixture
def ipc_dir():
    # Short paths in /tmp: AF_UNIX paths are limited to 107 bytes, pytest's tmp_path is long.
    path = tempfile.mkdtemp(prefix="gzi-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def endpoint(ipc_dir):
    """endpoint(transport) -> an address to bind: a wildcard tcp port or a fresh ipc path."""
    counter = iter(range(1000))

    def make(transport):
        if transport == "tcp":
            return "tcp://127.0.0.1:*"
        if transport == "ipc":
            return f"ipc://{ipc_dir}/s{next(counter)}"
        raise ValueError(transport)

    return make
