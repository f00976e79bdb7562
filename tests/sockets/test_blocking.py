"""Blocking calls cooperate with gevent: several greenlets on one socket; a blocked recv/send
woken by a message, a timeout (Again), close (ENOTSOCK) or term (ContextTerminated); an
interrupting gevent.Timeout or kill leaves the socket usable and loses no message."""
import gevent
import pytest

from .support import recv_within, settle

N = 5


# Several greenlets waiting on one socket is beyond zmq.green ("Only one greenlet can be
# waiting on this event"), so those tests take gzmq_only.
def test_many_greenlets_blocked_in_recv(sock, bound, gzmq_only, deadline):
    pull = sock("PULL")
    push = sock("PUSH")
    push.connect(bound(pull))
    with deadline(10):
        receivers = [gevent.spawn(pull.recv) for _ in range(N)]
        gevent.idle()
        assert not any(g.dead for g in receivers)  # all blocked
        for i in range(N):
            push.send(b"%d" % i)
        got = sorted(g.get() for g in receivers)
        assert got == [b"%d" % i for i in range(N)]  # each exactly once


def test_many_greenlets_blocked_in_recv_multipart_get_whole_messages(sock, bound, gzmq_only, deadline):
    pull = sock("PULL")
    push = sock("PUSH")
    push.connect(bound(pull))
    with deadline(10):
        receivers = [gevent.spawn(pull.recv_multipart) for _ in range(N)]
        gevent.idle()
        for i in range(N):
            push.send_multipart([b"%d" % i, b"part2", b"part3"])
        for g in receivers:
            n, *rest = g.get()
            assert rest == [b"part2", b"part3"]


def test_many_greenlets_blocked_in_send(sock, bound, gzmq_only, deadline):
    # A PUSH with no peer blocks every sender; once a peer is there, all messages go out.
    push = sock("PUSH")
    with deadline(10):
        senders = [gevent.spawn(push.send_multipart, [b"%d" % i, b"tail"]) for i in range(N)]
        gevent.idle()
        assert not any(g.dead for g in senders)
        pull = sock("PULL")
        push.connect(bound(pull))
        gevent.joinall(senders, raise_error=True)
        got = sorted(recv_within(pull)[0] for _ in range(N))
        assert got == [b"%d" % i for i in range(N)]


def test_blocked_recv_woken_by_message(sock, bound, deadline):
    a, b = sock("PAIR"), sock("PAIR")
    b.connect(bound(a))
    with deadline(10):
        g = gevent.spawn(a.recv_multipart)
        gevent.idle()
        assert not g.dead
        b.send_multipart([b"wake", b"up"])
        assert g.get() == [b"wake", b"up"]


def test_blocked_recv_woken_by_rcvtimeo(sock, z, gzmq_only, deadline):
    a = sock("PULL", rcvtimeo=20)
    with deadline(10):
        with pytest.raises(z.Again):
            a.recv()
        g = gevent.spawn(a.recv)
        with pytest.raises(z.Again):
            g.get()


def test_blocked_send_woken_by_sndtimeo(sock, z, gzmq_only, deadline):
    a = sock("DEALER", sndtimeo=20)
    with deadline(10):
        with pytest.raises(z.Again):
            a.send(b"nobody there")
        with pytest.raises(z.Again):
            a.send_multipart([b"x", b"y"])


def test_blocked_recv_woken_by_close(sock, z, gzmq_only, deadline):
    # (zmq.green cannot be the reference: its waiting greenlet is never told of the close.)
    a = sock("PULL")
    with deadline(10):
        g = gevent.spawn(a.recv)
        gevent.idle()
        a.close()
        with pytest.raises(z.ZMQError) as info:
            g.get()
        assert info.value.errno == z.ENOTSOCK


def test_blocked_send_woken_by_close(sock, z, gzmq_only, deadline):
    a = sock("PUSH")
    with deadline(10):
        g = gevent.spawn(a.send, b"x")
        gevent.idle()
        a.close()
        with pytest.raises(z.ZMQError) as info:
            g.get()
        assert info.value.errno == z.ENOTSOCK


def test_blocked_calls_woken_by_term(z, gzmq_only, deadline):
    ctx = z.Context()
    pull = ctx.socket(z.PULL)
    push = ctx.socket(z.PUSH)
    pull.linger = push.linger = 0
    terminated = []

    def wait_then_close(call, s):
        try:
            call()
        except z.ContextTerminated as exc:
            terminated.append(exc.errno)
        finally:
            s.close()  # what an application does on ETERM, so that term() can return

    with deadline(10):
        gs = [gevent.spawn(wait_then_close, pull.recv, pull),
              gevent.spawn(wait_then_close, lambda: push.send(b"x"), push)]
        gevent.idle()
        ctx.term()  # returns once both greenlets have closed their sockets
        gevent.joinall(gs, raise_error=True)
    assert terminated == [z.ETERM, z.ETERM]
    assert ctx.closed


def test_timeout_interrupting_recv_leaves_socket_usable(sock, bound, deadline):
    a, b = sock("PAIR"), sock("PAIR")
    b.connect(bound(a))
    with deadline(10):
        t = gevent.Timeout(0.02)
        with pytest.raises(gevent.Timeout) as info:
            with t:
                a.recv()
        assert info.value is t
        b.send(b"after the timeout")
        assert recv_within(a) == [b"after the timeout"]


def test_kill_interrupting_recv_leaves_socket_usable(sock, bound, deadline):
    a, b = sock("PAIR"), sock("PAIR")
    b.connect(bound(a))
    with deadline(10):
        g = gevent.spawn(a.recv)
        gevent.idle()
        g.kill()
        assert g.dead
        b.send_multipart([b"after", b"kill"])
        assert recv_within(a) == [b"after", b"kill"]


def test_interrupted_recvs_lose_no_message(sock, bound, deadline):
    # A stream of messages races with timeouts that keep interrupting the receiver: every
    # message must still arrive exactly once and in order.
    pull = sock("PULL")
    push = sock("PUSH")
    push.connect(bound(pull))
    count = 300

    def produce():
        for i in range(count):
            push.send(b"%d" % i)
            if i % 7 == 0:
                gevent.sleep(0)

    with deadline(20):
        producer = gevent.spawn(produce)
        got = []
        while len(got) < count:
            t = gevent.Timeout(0.0005)
            try:
                with t:
                    got.append(int(pull.recv()))
            except gevent.Timeout as exc:
                if exc is not t:
                    raise
        producer.get()
    assert got == list(range(count))


def test_killed_senders_lose_nothing_else(sock, bound, deadline):
    # Killing a sender blocked on a full queue drops only its own message; the socket keeps
    # working and the messages that were accepted arrive complete and in order.
    push = sock("PUSH", sndhwm=2)
    pull = sock("PULL", rcvhwm=2)
    with deadline(10):
        blocked = gevent.spawn(push.send_multipart, [b"never", b"sent"])
        gevent.idle()
        assert not blocked.dead  # no peer yet: blocked
        blocked.kill()
        push.connect(bound(pull))
        push.send_multipart([b"1", b"a"])
        push.send_multipart([b"2", b"b"])
        assert recv_within(pull) == [b"1", b"a"]
        assert recv_within(pull) == [b"2", b"b"]
        settle()
        assert pull.poll(20) == 0


def test_timeout_interrupting_sndmore_send_keeps_message_whole(sock, bound, z, deadline):
    # A send(SNDMORE) blocked (no peer) and interrupted takes nothing; the message sent
    # afterwards arrives whole, with no stray frame in front.
    push = sock("PUSH")
    with deadline(10):
        t = gevent.Timeout(0.02)
        with pytest.raises(gevent.Timeout):
            with t:
                push.send(b"orphan", z.SNDMORE)
        pull = sock("PULL")
        push.connect(bound(pull))
        push.send_multipart([b"whole", b"message"])
        assert recv_within(pull) == [b"whole", b"message"]


def test_greenlets_on_different_sockets_interleave(sock, bound, deadline):
    # Ping-pong between two greenlets: every blocking call yields to the other.
    a, b = sock("PAIR"), sock("PAIR")
    b.connect(bound(a))
    rounds = 50

    def ponger():
        for _ in range(rounds):
            b.send(b.recv() + b"!")

    with deadline(10):
        g = gevent.spawn(ponger)
        for i in range(rounds):
            a.send(b"%d" % i)
            assert a.recv() == b"%d!" % i
        g.get()
