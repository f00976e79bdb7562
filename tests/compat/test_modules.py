"""pyzmq's helper modules under gzmq's name: log.handlers, decorators, utils.strtypes,
curve_keygen (found missing by pyzmq's tests/test_imports.py, test_log.py, test_decorators.py,
test_curve_keygen.py)."""
import json
import logging
import subprocess
import sys

import pytest

import gzmq
from tools.peers import require_peer
from gzmq.decorators import context, socket
from gzmq.log.handlers import PUBHandler, TopicLogger


def pubsub(ctx, name):
    pub = ctx.socket(gzmq.PUB)
    pub.bind(f"inproc://{name}")
    sub = ctx.socket(gzmq.SUB)
    sub.connect(f"inproc://{name}")
    sub.subscribe(b"")
    return pub, sub


@pytest.fixture
def logger():
    log = logging.getLogger("gzmq-compat-pubhandler")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for h in list(log.handlers):
        log.removeHandler(h)


def test_pubhandler_topics_and_formats(ctx, logger, deadline):
    pub, sub = pubsub(ctx, "log")
    handler = PUBHandler(pub, root_topic=b"app")
    assert handler.socket is pub and handler.ctx is ctx and handler.root_topic == "app"
    logger.addHandler(handler)
    with deadline(5):
        logger.info("plain")
        assert sub.recv_multipart() == [b"app.INFO", b"plain\n"]
        logger.info("db.slow::héllo")            # an in-message subtopic
        assert sub.recv_multipart() == [b"app.INFO.db.slow", "héllo\n".encode()]
        logger.debug("detail")
        topic, text = sub.recv_multipart()
        assert topic == b"app.DEBUG" and text.startswith(b"DEBUG test_modules.py:")
        handler.setFormatter(logging.Formatter("X %(message)s"), logging.DEBUG)
        logger.debug("custom")
        assert sub.recv_multipart() == [b"app.DEBUG", b"X custom"]
        handler.setFormatter(logging.Formatter("all %(message)s"))
        handler.root_topic = ""
        logger.warning("w")
        assert sub.recv_multipart() == [b"WARNING", b"all w"]
        logger.log(25, "between INFO and WARNING")   # a custom level still gets published
        assert sub.recv_multipart()[0] == b"Level 25"


def test_pubhandler_binds_an_endpoint(ctx, logger, deadline):
    handler = PUBHandler("inproc://log-bound", ctx)
    assert handler.ctx is ctx and handler.socket.type == gzmq.PUB
    sub = ctx.socket(gzmq.SUB)
    sub.connect("inproc://log-bound")
    sub.subscribe(b"INFO")
    logger.addHandler(handler)
    with deadline(5):
        logger.info("hi")
        assert sub.recv_multipart() == [b"INFO", b"hi\n"]


def test_topic_logger(ctx, deadline):
    pub, sub = pubsub(ctx, "topiclog")
    log = TopicLogger("gzmq-compat-topiclogger")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    log.addHandler(PUBHandler(pub))
    with deadline(5):
        log.error("disk", "%d%% full", 99)
        assert sub.recv_multipart()[0] == b"ERROR.disk"


def test_decorators(deadline):
    @context()
    @socket(gzmq.PUSH)
    @socket("pull", gzmq.PULL)
    def work(arg, ctx, push, pull=None):
        assert push.context is ctx and pull.context is ctx
        pull.bind("inproc://decorated")
        push.connect("inproc://decorated")
        push.send(arg)
        return pull.recv(), push, ctx

    with deadline(5):
        got, push, ctx = work(b"x")
    assert got == b"x" and push.closed and ctx.closed

    @context("c", 2)
    def named(c):
        return c.io_threads

    assert named() == 2
    with pytest.raises(TypeError):
        named(c="already given")

    @socket(gzmq.PUB)
    def default_context(pub):
        return pub.context

    assert default_context() is gzmq.Context.instance()


def test_strtypes():
    from gzmq.utils import strtypes
    with pytest.warns(DeprecationWarning):
        assert strtypes.cast_bytes("é") == "é".encode() and strtypes.cast_unicode(b"a") == "a"


def test_curve_keygen_command():
    try:
        import nacl  # noqa: F401  (the curve extra, which `make setup` installs)
    except ImportError:
        nacl = None
    require_peer("PyNaCl (the curve extra)", nacl is not None)
    run = [sys.executable, "-m", "gzmq.curve_keygen"]
    keys = json.loads(subprocess.run(run + ["--json"], capture_output=True, text=True, check=True).stdout)
    assert len(keys["public"]) == len(keys["secret"]) == 40
    again = subprocess.run(run + ["--secret", keys["secret"], "--json"], capture_output=True, text=True,
                           check=True)
    assert json.loads(again.stdout)["public"] == keys["public"]
    text = subprocess.run(run, capture_output=True, text=True, check=True).stdout
    assert "== CURVE PUBLIC KEY ==" in text and "== CURVE SECRET KEY ==" in text
    # A Z85 key may start with '-' (1 in 85): still the value of --secret, not an option.
    dashed = "-" + keys["secret"][1:]
    derived = subprocess.run(run + ["--secret", dashed, "--json"], capture_output=True, text=True, check=True)
    assert json.loads(derived.stdout)["public"] == gzmq.curve_public(dashed.encode()).decode()


def test_pyzmq_module_paths_and_generics():
    import gzmq.sugar.context
    import gzmq.sugar.socket
    assert gzmq.sugar.context.Context is gzmq.Context and gzmq.sugar.socket.Socket is gzmq.Socket
    assert gzmq.sugar.version.VERSION_EXTRA == "" and gzmq.__revision__ == ""

    # pyzmq's Context and Socket are Generic: annotations like these run at definition time.
    def typed(sock: gzmq.Socket[bytes]) -> gzmq.Context[gzmq.Socket[bytes]]:
        return sock.context

    assert typed.__annotations__["sock"].__origin__ is gzmq.Socket
