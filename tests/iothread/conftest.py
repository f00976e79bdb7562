import pytest


@pytest.fixture
def zctx(pyzmq):
    """A pyzmq (libzmq) context for the peer side."""
    ctx = pyzmq.Context()
    yield ctx
    ctx.destroy(linger=0)
