"""Shared test setup.

GZMQ_TEST_MONKEY=1 runs the suite under gevent.monkey.patch_all() (done here, before anything
else imports socket/threading), so `make test` exercises gzmq both patched and unpatched.

Every test is bounded: pytest-timeout (setup.cfg) kills a hung test, and the `deadline` fixture
gives tests a gevent.Timeout to wrap their own waits in.
"""
import os

if os.environ.get("GZMQ_TEST_MONKEY") == "1":
    from gevent import monkey

    monkey.patch_all()

import shutil  # noqa: E402

import gevent  # noqa: E402
import pytest  # noqa: E402


from tools.peers import require_peer  # noqa: E402  (a missing real peer fails, never skips)


@pytest.fixture
def pyzmq():
    """The pyzmq module (libzmq), our reference peer."""
    try:
        import zmq
    except ImportError:  # pragma: no cover - only on a machine that skipped `make setup`
        zmq = None
    require_peer("pyzmq", zmq is not None)
    return zmq


@pytest.fixture
def mongrel2_bin():
    path = shutil.which("mongrel2")
    require_peer("mongrel2 (Debian mongrel2-core)", path and shutil.which("m2sh"))
    return path


@pytest.fixture
def chromium_bin():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    require_peer("chromium (Debian chromium)", path)
    return path


@pytest.fixture(scope="session")
def mcnet():
    """Two namespaced test hosts on one veth segment (tests/multicast/mcnet.py), made once per
    session (for the multicast tests and the transport conformance suite), removed after."""
    from tests.multicast import mcnet as mcnet_module
    missing = mcnet_module.missing_tools()
    require_peer(", ".join(missing), not missing)
    net = mcnet_module.MulticastNet()
    try:
        yield net
    finally:
        net.close()


@pytest.fixture
def deadline():
    """A gevent.Timeout that bounds the test body: `with deadline(5): ...`."""

    def make(seconds=10):
        return gevent.Timeout(seconds, AssertionError(f"test step did not finish within {seconds}s"))

    return make


# Contexts shared by the suites: gzmq's (`gctx`, also as `ctx`) and libzmq's through zmq.green
# (`lctx`), each destroyed after the test; a destroy that hangs fails the test instead.
@pytest.fixture
def gctx():
    import gzmq
    ctx = gzmq.Context()
    yield ctx
    with gevent.Timeout(10, AssertionError("gzmq Context.destroy() hung")):
        ctx.destroy(linger=0)


@pytest.fixture
def ctx(gctx):
    return gctx


@pytest.fixture
def green(pyzmq):
    """zmq.green: pyzmq's gevent-cooperative API over real libzmq."""
    import zmq.green
    return zmq.green


@pytest.fixture
def lctx(green):
    ctx = green.Context()
    yield ctx
    ctx.destroy(linger=0)

