"""zmq.FD and zmq.EVENTS with libzmq's edge-triggered contract, from foreign event loops:
selectors, asyncio's add_reader, tornado's ZMQStream (zmq.eventloop); and in-hub mode from a
gevent wait. The other side is plain pyzmq (libzmq).

The contract: FD becomes readable when EVENTS may have changed; reading EVENTS resets it; the
application then handles what EVENTS shows until the condition is gone.
"""
import asyncio
import selectors
import threading
import time

import gevent
import gevent.socket
import pytest

import gzmq

COUNT = 200


@pytest.fixture
def tctx():
    """A gzmq context in I/O-thread mode, whatever the run's default."""
    ctx = gzmq.Context(io_mode="thread")
    yield ctx
    ctx.destroy(linger=0)


def pyzmq_pusher(pyzmq, zctx, count=COUNT):
    push = zctx.socket(pyzmq.PUSH)
    port = push.bind_to_random_port("tcp://127.0.0.1")
    return push, f"tcp://127.0.0.1:{port}"


def drain(sock, got):
    """Edge-triggered: take everything EVENTS shows, then wait for the FD again."""
    while sock.getsockopt(gzmq.EVENTS) & gzmq.POLLIN:
        got.append(sock.recv(gzmq.NOBLOCK))


def test_fd_is_an_int_and_fileno_is_the_same(tctx):
    s = tctx.socket(gzmq.PULL)
    assert isinstance(s.FD, int) and s.fileno() == s.getsockopt(gzmq.FD) == s.FD


def test_selectors_loop_receives_everything(pyzmq, zctx, tctx):
    push, endpoint = pyzmq_pusher(pyzmq, zctx)
    pull = tctx.socket(gzmq.PULL)
    pull.connect(endpoint)
    for i in range(COUNT):
        push.send(b"%d" % i)
    got = []
    selector = selectors.DefaultSelector()
    selector.register(pull.FD, selectors.EVENT_READ)
    deadline = time.monotonic() + 10
    drain(pull, got)
    while len(got) < COUNT and time.monotonic() < deadline:
        if selector.select(timeout=1):
            drain(pull, got)
    selector.close()
    assert [int(m) for m in got] == list(range(COUNT))


def test_term_makes_fd_readable_and_events_raise_eterm():
    """libzmq's contract for a loop waiting on FD: term() reaches the socket there, and EVENTS
    then raises ETERM, so the loop learns to close the socket that term() waits for."""
    ctx = gzmq.Context(io_mode="thread")
    pull = ctx.socket(gzmq.PULL)
    fd = pull.FD
    assert pull.getsockopt(gzmq.EVENTS) == 0          # (resets the FD)
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    terminating = threading.Thread(target=ctx.term)
    terminating.start()
    try:
        assert selector.select(10)
        with pytest.raises(gzmq.ContextTerminated):
            pull.getsockopt(gzmq.EVENTS)
    finally:
        selector.close()
        pull.close()
        terminating.join(10)
    assert not terminating.is_alive()


def test_asyncio_add_reader_receives_and_sends(pyzmq, zctx, tctx):
    rep = zctx.socket(pyzmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    req = tctx.socket(gzmq.REQ)
    req.connect(f"tcp://127.0.0.1:{port}")

    def serve():
        for _ in range(20):
            rep.send(rep.recv())

    async def client():
        loop = asyncio.get_running_loop()
        readable = asyncio.Event()
        loop.add_reader(req.FD, readable.set)
        replies = []
        try:
            for i in range(20):
                req.send(b"%d" % i)
                while not req.getsockopt(gzmq.EVENTS) & gzmq.POLLIN:
                    readable.clear()
                    await asyncio.wait_for(readable.wait(), 5)
                replies.append(req.recv(gzmq.NOBLOCK))
        finally:
            loop.remove_reader(req.FD)
        return replies

    import threading
    server = threading.Thread(target=serve)
    server.start()
    replies = asyncio.run(client())
    server.join(10)
    assert replies == [b"%d" % i for i in range(20)]


def test_tornado_zmqstream_echo(pyzmq, zctx, tctx):
    from gzmq.eventloop.ioloop import IOLoop
    from gzmq.eventloop.zmqstream import ZMQStream

    dealer = zctx.socket(pyzmq.DEALER)
    dealer.rcvtimeo = 5000
    port = dealer.bind_to_random_port("tcp://127.0.0.1")
    router = tctx.socket(gzmq.ROUTER)
    router.connect(f"tcp://127.0.0.1:{port}")
    loop = IOLoop(make_current=False)
    stream = ZMQStream(router, io_loop=loop)
    sent = []
    stream.on_recv(lambda frames: stream.send_multipart(frames))      # echo
    stream.on_send(lambda frames, status: sent.append(frames[-1]))

    def peer():
        for i in range(50):
            dealer.send(b"%d" % i)
        echoed = [dealer.recv() for _ in range(50)]
        loop.add_callback(loop.stop)
        return echoed

    import threading
    result = []
    t = threading.Thread(target=lambda: result.append(peer()))
    t.start()
    loop.call_later(10, loop.stop)
    loop.start()
    t.join(5)
    stream.close()
    loop.close()
    assert result and result[0] == [b"%d" % i for i in range(50)]
    assert sent == [b"%d" % i for i in range(50)]


def test_zmqstream_flush_and_closed(tctx):
    from gzmq.eventloop.ioloop import IOLoop
    from gzmq.eventloop.zmqstream import ZMQStream

    a = tctx.socket(gzmq.PAIR)
    a.bind("inproc://flush")
    b = tctx.socket(gzmq.PAIR)
    b.connect("inproc://flush")
    loop = IOLoop(make_current=False)
    stream = ZMQStream(b, io_loop=loop)
    got = []
    stream.on_recv(got.append)
    a.send(b"one")
    a.send(b"two")
    assert stream.flush(gzmq.POLLIN) == 2 and got == [[b"one"], [b"two"]]
    stream.send(b"back")
    assert stream.flush(gzmq.POLLOUT) == 1 and a.recv() == b"back"
    stream.close()
    assert stream.closed() and b.closed
    loop.close()


def test_zmqstream_has_pyzmqs_socket_shortcuts_and_checks_its_callbacks(tctx):
    # pyzmq's own tests set streams up with stream.bind_to_random_port and stream.connect.
    from gzmq.eventloop.ioloop import IOLoop
    from gzmq.eventloop.zmqstream import ZMQStream

    loop = IOLoop(make_current=False)
    push = ZMQStream(tctx.socket(gzmq.PUSH), io_loop=loop)
    pull = ZMQStream(tctx.socket(gzmq.PULL), io_loop=loop)
    port = push.bind_to_random_port("tcp://127.0.0.1")
    pull.connect(f"tcp://127.0.0.1:{port}")
    pull.setsockopt(gzmq.RCVHWM, 7)
    pull.setsockopt_string(gzmq.ROUTING_ID, "puller")
    assert pull.getsockopt(gzmq.RCVHWM) == 7 and pull.getsockopt_unicode(gzmq.ROUTING_ID) == "puller"
    assert push.bind == push.socket.bind
    for bad in (1, gzmq):
        with pytest.raises(AssertionError):
            pull.on_recv(bad)
        with pytest.raises(AssertionError):
            push.on_send(bad)
    got = []
    pull.on_recv(lambda frames: (got.append(frames), loop.stop()))
    push.send(b"through the shortcuts")
    loop.call_later(10, loop.stop)          # (bounded)
    loop.start()
    assert got == [[b"through the shortcuts"]]
    push.close(linger=0)
    pull.close(linger=0)
    loop.close()


def test_fd_in_hub_mode_with_a_gevent_wait(pyzmq, zctx):
    ctx = gzmq.Context(io_mode="hub")
    try:
        pull = ctx.socket(gzmq.PULL)
        pull.bind("tcp://127.0.0.1:*")
        push = zctx.socket(pyzmq.PUSH)
        push.connect(pull.last_endpoint.decode())   # libzmq queues until it is connected
        for i in range(COUNT):
            push.send(b"%d" % i)
        got = []
        with gevent.Timeout(10):
            drain(pull, got)
            while len(got) < COUNT:
                gevent.socket.wait_read(pull.FD)    # the hub turns meanwhile: the engine runs
                drain(pull, got)
        assert [int(m) for m in got] == list(range(COUNT))
    finally:
        ctx.destroy(linger=0)
