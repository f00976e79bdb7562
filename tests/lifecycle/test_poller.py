"""Poller, Socket.poll, EVENTS and select (issue 4), shaped like pyzmq's."""
import os
import socket

import gevent

import gzmq


def test_poll_sockets_register_modify_unregister(ctx, deadline):
    a = ctx.socket(gzmq.PAIR)
    b = ctx.socket(gzmq.PAIR)
    a.bind("inproc://poll")
    b.connect("inproc://poll")
    poller = gzmq.Poller()
    poller.register(a, gzmq.POLLIN)
    poller.register(b, gzmq.POLLIN | gzmq.POLLOUT)
    with deadline(5):
        assert dict(poller.poll(0)) == {b: gzmq.POLLOUT}
        b.send(b"hi")
        assert dict(poller.poll(1000)) == {a: gzmq.POLLIN, b: gzmq.POLLOUT}
        poller.modify(b, gzmq.POLLIN)
        assert dict(poller.poll(0)) == {a: gzmq.POLLIN}
        assert a.recv() == b"hi"
        assert poller.poll(50) == []
        poller.unregister(a)
        assert a not in poller and b in poller


def test_poll_wakes_on_message_from_other_greenlet(ctx, deadline):
    pull = ctx.socket(gzmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(gzmq.PUSH)
    push.connect(pull.last_endpoint.decode())
    gevent.spawn_later(0.05, push.send, b"later")
    poller = gzmq.Poller()
    poller.register(pull, gzmq.POLLIN)
    with deadline(5):
        assert poller.poll() == [(pull, gzmq.POLLIN)]   # no timeout: waits for the message
    assert pull.recv() == b"later"


def test_poll_mixes_raw_fds_and_fileno_objects(ctx, deadline):
    r, w = os.pipe()
    s1, s2 = socket.socketpair()
    pull = ctx.socket(gzmq.PULL)
    pull.bind("inproc://mix")
    push = ctx.socket(gzmq.PUSH)
    push.connect("inproc://mix")
    poller = gzmq.Poller()
    poller.register(r, gzmq.POLLIN)
    poller.register(s1, gzmq.POLLIN)
    poller.register(pull, gzmq.POLLIN)
    try:
        with deadline(5):
            assert poller.poll(30) == []
            gevent.spawn_later(0.02, os.write, w, b"x")
            assert dict(poller.poll(2000)) == {r: gzmq.POLLIN}
            os.read(r, 1)
            s2.send(b"y")
            # Objects with fileno() come back as their fd, as in pyzmq and zmq.green.
            assert dict(poller.poll(2000)) == {s1.fileno(): gzmq.POLLIN}
            s1.recv(1)
            push.send(b"z")
            assert dict(poller.poll(2000)) == {pull: gzmq.POLLIN}
    finally:
        os.close(r)
        os.close(w)
        s1.close()
        s2.close()


def test_socket_poll_and_events(ctx, deadline):
    req = ctx.socket(gzmq.REQ)
    rep = ctx.socket(gzmq.REP)
    rep.bind("inproc://ev")
    req.connect("inproc://ev")
    with deadline(5):
        assert req.getsockopt(gzmq.EVENTS) == gzmq.POLLOUT
        assert rep.getsockopt(gzmq.EVENTS) == 0
        req.send(b"q")
        assert req.getsockopt(gzmq.EVENTS) == 0          # REQ: waiting for the reply
        assert rep.poll(1000) == gzmq.POLLIN
        rep.recv()
        assert rep.events == gzmq.POLLOUT                 # REP: must reply now
        rep.send(b"a")
        assert req.poll(1000, gzmq.POLLIN) == gzmq.POLLIN
        assert req.recv() == b"a"
        assert req.poll(10, gzmq.POLLIN) == 0


def test_select(ctx, deadline):
    a = ctx.socket(gzmq.PAIR)
    b = ctx.socket(gzmq.PAIR)
    a.bind("inproc://select")
    b.connect("inproc://select")
    with deadline(5):
        r, w, x = gzmq.select([a], [b], [], 1.0)
        assert (r, w, x) == ([], [b], [])
        b.send(b"x")
        r, w, x = gzmq.select([a], [], [], 1.0)
        assert r == [a]


def test_poll_timeout_returns_empty(ctx, deadline):
    s = ctx.socket(gzmq.PULL)
    s.bind("inproc://nothing")
    with deadline(5):
        assert gzmq.Poller().poll(10) == []
        p = gzmq.Poller()
        p.register(s, gzmq.POLLIN)
        assert p.poll(20) == []
