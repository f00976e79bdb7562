"""Fixtures for ``gzmq-bridge --workers N`` (issue 23): the supervisor as a process, its workers
found through their ready line and /_bridge/health, independent pyzmq peers."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bridge_ws"))

from wskit import Bridge  # noqa: E402


@pytest.fixture
def zctx(pyzmq):
    ctx = pyzmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def bridges():
    started = []

    def start(*flags, **kwargs):
        bridge = Bridge(*flags, **kwargs)
        started.append(bridge)
        return bridge

    yield start
    for bridge in reversed(started):
        bridge.stop()
