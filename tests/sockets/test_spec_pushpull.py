"""PUSH and PULL against RFC 30 (PIPELINE), per transport (inproc, ipc, tcp).

Modelled on libzmq's tests/test_spec_pushpull.cpp; each check has the RFC's SHALL sentence
above it.
"""
import pytest

from .support import raises_again, recv_within, settle, wait_until, warm_up

SERVICES = 3


def test_push_round_robin_out(sock, bound, deadline):
    # The PUSH socket SHALL route outgoing messages to connected peers using a round-robin
    # strategy.
    push = sock("PUSH")
    ep = bound(push)
    pulls = [sock("PULL") for _ in range(SERVICES)]
    for p in pulls:
        p.connect(ep)
    with deadline(10):
        warm_up(push, pulls)  # bound side: a peer takes part once its handshake is done
        for i in range(2 * SERVICES):
            push.send(b"%d" % i)
        got = [sorted(int(recv_within(p)[0]) for _ in range(2)) for p in pulls]
        # Each peer got two messages, SERVICES apart.
        assert all(b - a == SERVICES for a, b in got), got
        assert sorted(n for pair in got for n in pair) == list(range(2 * SERVICES))


def test_push_round_robin_out_connected(sock, bound, deadline):
    # The same, PUSH connecting: its pipes exist from connect(), so the split is exact even
    # before the connections are up.
    push = sock("PUSH")
    pulls = [sock("PULL") for _ in range(SERVICES)]
    for p in pulls:
        push.connect(bound(p))
    with deadline(10):
        for i in range(2 * SERVICES):
            push.send(b"%d" % i)
        for i, p in enumerate(pulls):
            assert [recv_within(p)[0] for _ in range(2)] == [b"%d" % i, b"%d" % (i + SERVICES)]


def test_pull_fair_queue_in(sock, bound, deadline):
    # The PULL socket SHALL receive incoming messages from its peers using a fair-queuing
    # strategy.
    pull = sock("PULL")
    ep = bound(pull)
    pushes = [sock("PUSH") for _ in range(SERVICES)]
    for p in pushes:
        p.connect(ep)
    with deadline(10):
        for i, p in enumerate(pushes):
            p.send(b"hello %d" % i)
        assert sorted(recv_within(pull)[0] for _ in pushes) == [b"hello %d" % i for i in range(SERVICES)]
        for i, p in enumerate(pushes):
            p.send(b"A%d" % i)
        for i, p in enumerate(pushes):
            p.send(b"B%d" % i)
        settle()
        got = [recv_within(pull)[0] for _ in range(2 * SERVICES)]
        assert sorted(got[:SERVICES]) == [b"A%d" % i for i in range(SERVICES)]
        assert sorted(got[SERVICES:]) == [b"B%d" % i for i in range(SERVICES)]


def test_push_block_on_send_no_peers(sock, z):
    # The PUSH socket SHALL block on sending, or return a suitable error, when it has no
    # available peers. (It SHALL NOT discard messages that it cannot queue.)
    push = sock("PUSH")
    with pytest.raises(z.Again):
        push.send(b"x", z.DONTWAIT)


def test_push_blocks_at_hwm_and_resumes(sock, bound, z, deadline):
    # When a PUSH socket's peers are all at their high-water mark it SHALL block (Again with
    # DONTWAIT) and SHALL NOT discard messages.
    pull = sock("PULL", rcvhwm=10)
    push = sock("PUSH", sndhwm=10)
    push.connect(bound(pull))
    with deadline(10):
        sent = 0
        while True:
            try:
                push.send(b"%d" % sent + b"." * 1000, z.DONTWAIT)
                sent += 1
            except z.Again:
                settle()  # writers/readers move what they can; then check again
                if not push.poll(0, z.POLLOUT):
                    break
        assert sent >= 10
        for i in range(sent):
            assert recv_within(pull)[0].startswith(b"%d." % i)


def test_pull_destroys_queue_on_disconnect(sock, bound, z, deadline):
    # When a PULL socket disconnects from a peer it SHALL destroy the peer's queue and SHALL
    # discard any messages it contains.
    push = sock("PUSH")
    ep = bound(push)
    pull = sock("PULL")
    pull.connect(ep)
    with deadline(10):
        push.send(b"first")
        assert recv_within(pull) == [b"first"]
        push.send(b"queued")
        settle()
        pull.disconnect(ep)
        settle()
        with pytest.raises(z.Again):
            pull.recv(z.DONTWAIT)
        wait_until(lambda: raises_again(z, push.send, b"nobody", z.DONTWAIT), what="PUSH without peers")


def test_push_cannot_recv_pull_cannot_send(sock, z):
    # (libzmq) PUSH is send-only and PULL receive-only: the other call is ENOTSUP.
    push, pull = sock("PUSH"), sock("PULL")
    with pytest.raises(z.ZMQError) as info:
        push.recv(z.DONTWAIT)
    assert info.value.errno == z.ENOTSUP
    with pytest.raises(z.ZMQError) as info:
        pull.send(b"x", z.DONTWAIT)
    assert info.value.errno == z.ENOTSUP
