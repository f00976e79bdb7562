"""PUB, SUB, XPUB, XSUB against RFC 29 (PUBSUB), per transport (inproc, ipc, tcp)."""
import pytest

from .support import fixed, recv_within, settle

WARM = [b"warm"]


def subscribed(pub, subs):
    """Slow-joiner sync for a PUB: publish warm-ups until every SUB (subscribed to b"w" or
    b"") has one, then drain them."""
    pending = set(range(len(subs)))
    while pending:
        pub.send_multipart(WARM)
        for i in list(pending):
            if subs[i].poll(10):
                pending.discard(i)
    settle()
    for s in subs:
        while s.poll(0):
            assert s.recv_multipart() == WARM


def test_pub_distributes_to_all_subscribers(sock, bound, z, deadline):
    # The PUB socket SHALL send each message to all matching subscribers (fan-out).
    pub = sock("PUB")
    ep = bound(pub)
    subs = [sock("SUB") for _ in range(3)]
    for s in subs:
        s.setsockopt(z.SUBSCRIBE, b"")
        s.connect(ep)
    with deadline(10):
        subscribed(pub, subs)
        pub.send_multipart([b"news", b"", b"body"])
        for s in subs:
            assert recv_within(s) == [b"news", b"", b"body"]


def test_sub_prefix_filtering(sock, bound, z, deadline):
    # The SUB socket SHALL receive only messages whose first frame starts with one of its
    # subscriptions (prefix match, byte-wise); the publisher SHALL filter them.
    pub = sock("PUB")
    sub = sock("SUB")
    sub.setsockopt(z.SUBSCRIBE, b"w")
    sub.setsockopt(z.SUBSCRIBE, b"ab")
    sub.connect(bound(pub))
    with deadline(10):
        subscribed(pub, [sub])
        for topic in (b"a", b"abc", b"b", b"ab", b"xab", b"Ab"):
            pub.send_multipart([topic, b"payload"])
        pub.send(b"END")  # not subscribed either: ends nothing; use a last matching one
        pub.send(b"ab-last")
        got = []
        while True:
            (first, *_rest) = recv_within(sub)
            if first != b"warm":
                got.append(first)
            if first == b"ab-last":
                break
        assert got == [b"abc", b"ab", b"ab-last"]


def test_sub_subscriptions_are_counted(sock, bound, z, deadline):
    # (libzmq) Subscribing twice to a topic needs two unsubscribes before it stops.
    pub = sock("PUB")
    sub = sock("SUB")
    sub.setsockopt(z.SUBSCRIBE, b"w")
    sub.setsockopt(z.SUBSCRIBE, b"t")
    sub.setsockopt(z.SUBSCRIBE, b"t")
    sub.connect(bound(pub))
    with deadline(10):
        subscribed(pub, [sub])
        sub.setsockopt(z.UNSUBSCRIBE, b"t")
        subscribed(pub, [sub])  # the unsubscribe (if any were sent) has reached the PUB
        pub.send(b"t1")
        assert recv_within(sub) == [b"t1"]
        sub.setsockopt(z.UNSUBSCRIBE, b"t")
        subscribed(pub, [sub])
        pub.send(b"t2")
        pub.send(b"w-end")
        got = []
        while True:
            (first,) = recv_within(sub)
            if first == b"w-end":
                break
            if first != b"warm":
                got.append(first)
        assert got == []


def test_pub_never_blocks_and_drops_at_hwm(sock, bound, z, deadline):
    # The PUB socket SHALL silently drop messages for a subscriber whose queue is full; it
    # SHALL NOT block.
    # Small kernel buffers too, so that the queues, not the OS, absorb the flood.
    pub = sock("PUB", sndhwm=10, sndbuf=65536)
    sub = sock("SUB", rcvhwm=10, rcvbuf=65536)
    sub.setsockopt(z.SUBSCRIBE, b"")
    sub.connect(bound(pub))
    with deadline(10):
        subscribed(pub, [sub])
        for i in range(20000):
            pub.send(b"%d" % i + b"." * 100, z.DONTWAIT)  # never Again
        settle()
        received = 0
        while sub.poll(50):
            sub.recv()
            received += 1
        assert 0 < received < 20000


def test_pub_cannot_recv_sub_cannot_send(sock, z):
    pub, sub = sock("PUB"), sock("SUB")
    with pytest.raises(z.ZMQError) as info:
        pub.recv(z.DONTWAIT)
    assert info.value.errno == z.ENOTSUP
    with pytest.raises(z.ZMQError) as info:
        sub.send(b"x", z.DONTWAIT)
    assert info.value.errno == z.ENOTSUP


def test_xpub_receives_subscriptions(sock, bound, z, deadline):
    # The XPUB socket SHALL pass subscription and unsubscription messages from its
    # subscribers to the application: 0x01 + topic to subscribe, 0x00 + topic to cancel.
    # A topic already subscribed by another peer is not passed again (unless XPUB_VERBOSE).
    xpub = sock("XPUB")
    ep = bound(xpub)
    a, b = sock("SUB"), sock("SUB")
    a.connect(ep)
    b.connect(ep)
    with deadline(10):
        a.setsockopt(z.SUBSCRIBE, b"topic")
        assert recv_within(xpub) == [b"\x01topic"]
        b.setsockopt(z.SUBSCRIBE, b"topic")
        b.setsockopt(z.SUBSCRIBE, b"other")
        assert recv_within(xpub) == [b"\x01other"]  # the duplicate b"topic" was swallowed
        xpub.send(b"topic!")
        assert recv_within(a) == [b"topic!"]
        assert recv_within(b) == [b"topic!"]
        a.setsockopt(z.UNSUBSCRIBE, b"topic")
        b.setsockopt(z.UNSUBSCRIBE, b"topic")
        assert recv_within(xpub) == [b"\x00topic"]  # only the last one leaving tells


def test_xpub_verbose_passes_duplicates(sock, bound, z, deadline):
    xpub = sock("XPUB", xpub_verbose=1)
    ep = bound(xpub)
    a, b = sock("SUB"), sock("SUB")
    a.connect(ep)
    b.connect(ep)
    with deadline(10):
        a.setsockopt(z.SUBSCRIBE, b"t")
        assert recv_within(xpub) == [b"\x01t"]
        b.setsockopt(z.SUBSCRIBE, b"t")
        assert recv_within(xpub) == [b"\x01t"]


def test_xsub_subscribes_by_message(sock, bound, deadline):
    # The XSUB socket SHALL send subscriptions to its publishers when the application sends
    # a message 0x01 + topic, and cancel them with 0x00 + topic.
    xpub = sock("XPUB")
    xsub = sock("XSUB")
    xsub.connect(bound(xpub))
    with deadline(10):
        xsub.send(b"\x01news")
        assert recv_within(xpub) == [b"\x01news"]
        xpub.send_multipart([b"sport", b"x"])
        xpub.send_multipart([b"news", b"y"])
        assert recv_within(xsub) == [b"news", b"y"]
        xsub.send(b"\x00news")
        assert recv_within(xpub) == [b"\x00news"]


@pytest.mark.parametrize("transport", ["ipc", "tcp"])  # inproc connections do not reconnect
def test_sub_resubscribes_after_publisher_restart(sock, address, z, deadline):
    # (libzmq) A SUB re-sends its subscriptions to every publisher it (re)connects to.
    addr = fixed(address())
    xpub = sock("XPUB")
    xpub.bind(addr)
    sub = sock("SUB", reconnect_ivl=20)
    sub.setsockopt(z.SUBSCRIBE, b"t")
    sub.connect(addr)
    with deadline(10):
        assert recv_within(xpub) == [b"\x01t"]
        xpub.close()
        while True:
            xpub = sock("XPUB")
            try:
                xpub.bind(addr)
                break
            except z.ZMQError as exc:  # libzmq frees the address a moment after close()
                assert exc.errno == z.EADDRINUSE
                xpub.close()
                settle()
        assert recv_within(xpub) == [b"\x01t"]
        xpub.send(b"t again")
        assert recv_within(sub) == [b"t again"]
