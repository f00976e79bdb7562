"""Fixtures for the pyzmq-compatibility regressions: a Context destroyed after each test."""
import gevent
import pytest

import gzmq


@pytest.fixture
def ctx():
    c = gzmq.Context()
    yield c
    with gevent.Timeout(5, AssertionError("Context.destroy() hung")):
        c.destroy(linger=0)
