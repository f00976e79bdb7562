"""Context behaviour that code and test suites written for pyzmq rely on.

Each case names the pyzmq behaviour it pins down; they were found by running pyzmq's own
test suite (tests/test_context.py) against gzmq.
"""
import copy

import gevent
import pytest
from gevent.monkey import get_original

import gzmq

start_os_thread = get_original("_thread", "start_new_thread")
native_lock = get_original("_thread", "allocate_lock")


def run_in_os_thread(fn):
    """Run fn in a real OS thread (even under patch_all); returns a lock released when done
    and a list that receives fn's exception, if any."""
    finished = native_lock()
    finished.acquire()
    errors = []

    def main():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - reported to the test
            errors.append(e)
        finally:
            finished.release()

    start_os_thread(main, ())
    return finished, errors


# pyzmq test_term_thread: term() in one thread interrupts a recv() blocked in another thread,
# which then closes its socket; term() must wait for that close instead of giving up.
def test_term_waits_for_a_socket_closed_in_another_thread(ctx):
    bound = native_lock()
    bound.acquire()
    seen = []

    def block():
        s = ctx.socket(gzmq.REP)
        s.bind("tcp://127.0.0.1:*")
        bound.release()
        try:
            s.recv()
        except gzmq.ContextTerminated:
            seen.append("ETERM")
        finally:
            s.close()

    finished, errors = run_in_os_thread(block)
    assert bound.acquire(timeout=5)
    # No gevent.Timeout here: its timer alone would keep this hub alive and hide the bug
    # (term() raised LoopExit: nothing on this hub could wake it). pytest-timeout bounds it.
    ctx.term()
    assert finished.acquire(timeout=5) and not errors
    assert seen == ["ETERM"] and ctx.closed


# pyzmq test_term_noclose: term() in another thread waits until this thread closes the socket.
def test_term_in_another_thread_waits_for_close(ctx):
    s = ctx.socket(gzmq.REQ)
    finished, errors = run_in_os_thread(ctx.term)
    assert not finished.acquire(timeout=0.2), "term() returned with a socket open"
    s.close()
    assert finished.acquire(timeout=5) and not errors, errors


# pyzmq >= 24: leaving `with Context()` destroys the context, closing what is left open with a
# ResourceWarning, instead of a term() that waits forever for those sockets.
def test_with_block_destroys_sockets_left_open(deadline):
    with deadline(5), pytest.warns(ResourceWarning):
        with gzmq.Context() as c:
            s = c.socket(gzmq.PUSH)
    assert s.closed and c.closed


def test_socket_class_attribute_of_a_context_subclass(ctx):
    class Tagged(gzmq.Socket):
        def __init__(self, *args, tag=None, **kwargs):
            self.tag = tag
            super().__init__(*args, **kwargs)

    class TaggingContext(gzmq.Context):
        _socket_class = Tagged

    with TaggingContext() as c:
        with c.socket(gzmq.DEALER, tag="t") as s:
            assert isinstance(s, Tagged) and s.tag == "t"


def test_repr_counts_open_sockets(ctx):
    assert "gzmq.Context()" in repr(ctx)
    a = ctx.socket(gzmq.PUSH)
    assert "Context(1 socket)" in repr(ctx)
    b = ctx.socket(gzmq.PULL)
    assert "Context(2 sockets)" in repr(ctx)
    a.close(), b.close()
    ctx.term()
    assert "Context()" in repr(ctx) and "closed" in repr(ctx)


def test_options_in_dir_and_unreadable_ones_are_attribute_errors(ctx):
    assert "IO_THREADS" in dir(ctx) and "socket" in dir(ctx)
    assert ctx.msg_t_size == 64                      # libzmq's sizeof(zmq_msg_t)
    with pytest.raises(gzmq.ZMQError) as info:
        ctx.get(gzmq.THREAD_NAME_PREFIX)
    assert info.value.errno == gzmq.EINVAL
    assert getattr(ctx, "thread_name_prefix", "unset") == "unset"
    from unittest import mock
    mock.Mock(spec=ctx)                              # reads every name dir() lists


def test_socket_defaults_read_as_attributes(ctx):
    with pytest.raises(AttributeError):
        ctx.linger                                   # pyzmq: unset is AttributeError, not None
    ctx.linger = 5
    assert ctx.linger == 5 and ctx.sockopts == {gzmq.LINGER: 5}
    with ctx.socket(gzmq.REQ) as s:
        assert s.linger == 5


def test_negative_io_threads_is_einval():
    with pytest.raises(gzmq.ZMQError) as info:
        gzmq.Context(-1)
    assert info.value.errno == gzmq.EINVAL


def test_socket_on_a_closed_context_is_enotsup():
    c = gzmq.Context()
    c.term()
    with pytest.raises(gzmq.ZMQError) as info:
        c.socket(gzmq.PUB)
    assert info.value.errno == gzmq.ENOTSUP          # pyzmq's own check, before libzmq's ETERM


# pyzmq's shadows: another Python object over the same context (Context(ctx), Context.shadow,
# copy.copy); dropping it closes nothing.
def test_context_shadows(ctx):
    for shadow in (gzmq.Context(ctx), gzmq.Context.shadow(ctx), gzmq.Context.shadow(ctx.underlying),
                   copy.copy(ctx), copy.deepcopy(ctx)):
        assert shadow._shadow and not ctx._shadow
        assert shadow.underlying == ctx.underlying and isinstance(shadow, gzmq.Context)
        with shadow.socket(gzmq.PUB) as s:
            assert s.context is ctx
        del shadow
        assert not ctx.closed
    with pytest.raises(gzmq.ZMQError) as info:
        gzmq.Context.shadow(12345)
    assert info.value.errno == gzmq.EFAULT


# pyzmq test_instance_threadsafe under patch_all: a Context subclass whose __init__ switches
# greenlets while others ask for the instance must not freeze the hub on the native lock.
def test_instance_with_a_yielding_init(deadline):
    class Slow(gzmq.Context):
        _instance = None

        def __init__(self, *args, **kwargs):
            gevent.sleep(0.05)
            super().__init__(*args, **kwargs)

    with deadline(5):
        got = [g.get() for g in [gevent.spawn(Slow.instance) for _ in range(5)]]
    assert all(c is got[0] for c in got)
    got[0].term()



# pyzmq's test_security under threads: the test's tearDown runs term() in a thread and blocks
# the main thread in join(). term() must not wait for the ZAP client sockets gzmq made on the
# main thread's (now blocked) hub; libzmq has no such sockets.
def test_term_from_a_thread_does_not_wait_for_gzmq_internal_sockets(deadline):
    c = gzmq.Context()
    handler = c.socket(gzmq.REP)
    handler.bind("inproc://zeromq.zap.01")

    def answer():
        version, request_id = handler.recv_multipart()[:2]
        handler.send_multipart([version, request_id, b"200", b"OK", b"user", b""])

    server = c.socket(gzmq.DEALER)
    server.plain_server = True
    client = c.socket(gzmq.DEALER)
    client.plain_username, client.plain_password = b"u", b"p"
    server.bind("tcp://127.0.0.1:*")
    client.connect(server.last_endpoint)
    with deadline(5):
        zap = gevent.spawn(answer)
        client.send(b"hi")
        assert server.recv() == b"hi"
        zap.get()
    for s in (handler, server, client):
        s.close(linger=0)
    finished, errors = run_in_os_thread(c.term)
    # This thread's hub does not run while we wait here, as in a thread's join().
    assert finished.acquire(timeout=5), "term() waited for a socket only this hub can close"
    assert not errors and c.closed
    gevent.sleep(0.05)   # our hub runs again: the ZAP client closes itself
