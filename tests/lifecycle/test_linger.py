"""LINGER and shutdown (issue 4): close() returns at once, queued messages are still
delivered within the linger period, term() waits for that, LINGER 0 drops them.

libzmq can lose up to a pipe's worth of messages when a sender closes right after sending
(libzmq issue 4660); gzmq must not."""
import os
import time

import gevent
import pytest

import gzmq

COUNT = 10_000


def endpoint(transport, tmp_path, name="linger"):
    if transport == "tcp":
        return "tcp://127.0.0.1:*"
    if transport == "ipc":
        return f"ipc://{tmp_path}/{name}.sock"
    return f"inproc://{name}-{os.getpid()}-{time.monotonic_ns()}"


@pytest.mark.parametrize("transport", ["tcp", "ipc", "inproc"])
def test_10k_sent_then_closed_at_once_all_arrive(transport, tmp_path, deadline):
    ctx = gzmq.Context()
    pull = ctx.socket(gzmq.PULL)
    pull.bind(endpoint(transport, tmp_path))
    push = ctx.socket(gzmq.PUSH)
    push.sndhwm = 0          # let all 10 000 queue without blocking
    push.connect(pull.last_endpoint.decode())
    with deadline(30):
        for i in range(COUNT):
            push.send(b"%d" % i)
        t0 = time.monotonic()
        push.close()           # returns at once ...
        assert time.monotonic() - t0 < 1.0
        got = [int(pull.recv()) for _ in range(COUNT)]   # ... and everything still arrives
        assert got == list(range(COUNT))
    pull.close()
    ctx.term()


@pytest.mark.parametrize("transport", ["tcp", "ipc", "inproc"])
def test_messages_reach_a_peer_that_connects_after_close(transport, tmp_path, deadline):
    ctx = gzmq.Context()
    ep = endpoint(transport, tmp_path, "late")
    if transport == "tcp":
        probe = ctx.socket(gzmq.PULL)
        probe.bind("tcp://127.0.0.1:*")
        ep = probe.last_endpoint.decode()
        probe.close()
    push = ctx.socket(gzmq.PUSH)
    push.linger = 5000
    push.connect(ep)             # nobody there yet: messages wait in the pipe
    for i in range(100):
        push.send(b"%d" % i)
    push.close()
    with deadline(15):
        pull = ctx.socket(gzmq.PULL)
        pull.bind(ep)            # the closed socket's lingering connection finds it
        assert [int(pull.recv()) for _ in range(100)] == list(range(100))
        pull.close()
        ctx.term()               # waits for the lingering sender; returns once delivered


def test_term_waits_for_lingering_messages_then_returns(deadline):
    ctx = gzmq.Context()
    probe = ctx.socket(gzmq.PULL)
    probe.bind("tcp://127.0.0.1:*")
    ep = probe.last_endpoint.decode()
    probe.close()
    push = ctx.socket(gzmq.PUSH)
    push.linger = 300          # nobody ever listens: term() gives up after 300 ms
    push.connect(ep)
    push.send(b"lost")
    push.close()
    with deadline(5):
        t0 = time.monotonic()
        ctx.term()
        assert time.monotonic() - t0 >= 0.25


def test_linger_zero_drops(deadline):
    ctx = gzmq.Context()
    probe = ctx.socket(gzmq.PULL)
    probe.bind("tcp://127.0.0.1:*")
    ep = probe.last_endpoint.decode()
    probe.close()
    push = ctx.socket(gzmq.PUSH)
    push.linger = 0
    push.connect(ep)
    push.send(b"dropped")
    push.close()
    with deadline(2):
        ctx.term()             # nothing to wait for


def test_term_wakes_blocked_calls_with_context_terminated(deadline):
    ctx = gzmq.Context()
    pull = ctx.socket(gzmq.PULL)
    pull.bind("inproc://term")
    errors = []

    def blocked():
        try:
            pull.recv()
        except gzmq.ContextTerminated as exc:
            errors.append(exc)
            pull.close()

    g = gevent.spawn(blocked)
    gevent.sleep(0)
    with deadline(5):
        ctx.term()
        g.join()
    assert len(errors) == 1 and errors[0].errno == gzmq.ETERM


def test_destroy_closes_sockets(deadline):
    ctx = gzmq.Context()
    socks = [ctx.socket(gzmq.PUSH) for _ in range(3)]
    for s in socks:
        s.connect("tcp://127.0.0.1:9")   # never reachable; messages queued
        s.send(b"x")
    with deadline(5):
        ctx.destroy(linger=0)
    assert all(s.closed for s in socks) and ctx.closed
