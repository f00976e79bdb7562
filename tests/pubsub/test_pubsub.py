"""Publish/subscribe (issue 3): gzmq and libzmq on either side, both topologies, filtering at
the publisher, unsubscribe, late joiners, XPUB subscription messages, the XSUB/XPUB proxy and
HWM behaviour for slow subscribers."""
import gevent
import gevent.event
import pytest

import gzmq

TRANSPORTS = ["tcp", "ipc"]


def endpoint(transport, tmp_path):
    return "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{tmp_path}/ps.sock"


def wait_for_subscription(pub, sub_topic_prefix, probe_topic, sub, poll_ms=50):
    """Publish `probe_topic` until the subscriber receives it: the subscription has arrived.

    (Polls with a timeout rather than RCVTIMEO, which zmq.green ignores.)"""
    while True:
        pub.send(probe_topic)
        if sub.poll(poll_ms):
            break
    while sub.poll(poll_ms):
        sub.recv()


def pair_sockets(kind, transport, tmp_path, green, radio=True):
    """kind: 'gz->lib' (gzmq PUB, libzmq SUB) or 'lib->gz'. radio: PUB binds, else SUB binds."""
    gctx = gzmq.Context()
    lctx = green.Context()
    if kind == "gz->lib":
        pub = gctx.socket(gzmq.PUB)
        sub = lctx.socket(green.SUB)
    else:
        pub = lctx.socket(green.PUB)
        sub = gctx.socket(gzmq.SUB)
    ep = endpoint(transport, tmp_path)
    if radio:
        pub.bind(ep)
        sub.connect(pub.getsockopt(gzmq.LAST_ENDPOINT).decode())
    else:
        sub.bind(ep)
        pub.connect(sub.getsockopt(gzmq.LAST_ENDPOINT).decode())
    return gctx, lctx, pub, sub


def close_all(*objs):
    for o in objs:
        if hasattr(o, "close") and not hasattr(o, "term"):
            o.close(linger=0)
    for o in objs:
        if hasattr(o, "term"):
            o.term()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("radio", [True, False], ids=["radio", "megaphone"])
@pytest.mark.parametrize("kind", ["gz->lib", "lib->gz"])
def test_filters_and_unsubscribe(kind, radio, transport, tmp_path, green, deadline):
    gctx, lctx, pub, sub = pair_sockets(kind, transport, tmp_path, green, radio)
    with deadline(15):
        sub.setsockopt(gzmq.SUBSCRIBE, b"netherlands")
        sub.setsockopt(gzmq.SUBSCRIBE, b"germany")
        sub.setsockopt(gzmq.SUBSCRIBE, b"probe")
        wait_for_subscription(pub, b"probe", b"probe", sub)
        for country in ["spain", "netherlands", "brazil", "germany", "italy", "netherlands"]:
            pub.send(f"{country} event".encode())
        pub.send(b"probe end")
        got = []
        while True:
            msg = sub.recv()
            if msg == b"probe end":
                break
            got.append(msg)
        assert got == [b"netherlands event", b"germany event", b"netherlands event"]
        # unsubscribe honoured
        sub.setsockopt(gzmq.UNSUBSCRIBE, b"netherlands")
        # wait until the cancel has reached the publisher: publish until a round trip shows it
        while True:
            pub.send(b"netherlands after")
            pub.send(b"probe mark")
            seen = []
            while True:
                m = sub.recv()
                if m == b"probe mark":
                    break
                seen.append(m)
            if not seen:
                break
        pub.send(b"netherlands no")
        pub.send(b"germany yes")
        assert sub.recv() == b"germany yes"
    close_all(pub, sub, gctx, lctx)


@pytest.mark.parametrize("kind", ["gz->lib", "lib->gz"])
def test_late_subscriber_gets_only_later_messages(kind, tmp_path, green, deadline):
    gctx, lctx, pub, sub = pair_sockets(kind, "tcp", tmp_path, green)
    with deadline(15):
        sub.subscribe(b"")
        wait_for_subscription(pub, b"", b"probe", sub)
        pub.send(b"one")
        assert sub.recv() == b"one"
        ep = pub.getsockopt(gzmq.LAST_ENDPOINT).decode()
        late = (lctx.socket(green.SUB) if kind == "gz->lib" else gctx.socket(gzmq.SUB))
        late.connect(ep)
        late.subscribe(b"")
        pub.send(b"two (before the late subscriber is known)")
        wait_for_subscription(pub, b"", b"probe2", late)
        pub.send(b"three")
        assert late.recv() == b"three"
        # the first subscriber saw everything in order
        rest = []
        while True:
            m = sub.recv()
            if m == b"three":
                break
            rest.append(m)
        assert rest[0] == b"two (before the late subscriber is known)"
    close_all(late, pub, sub, gctx, lctx)


def test_publisher_side_filtering_nothing_unwanted_on_the_wire(tmp_path, deadline):
    """A gzmq PUB never sends a message the subscriber did not ask for: capture with a relay."""
    from gevent.server import StreamServer
    from gevent import socket as gsocket
    ctx = gzmq.Context()
    pub = ctx.socket(gzmq.PUB)
    pub.bind("tcp://127.0.0.1:*")
    target = pub.last_endpoint.decode().rsplit(":", 1)[1]
    captured = bytearray()

    def handle(client, _addr):
        upstream = gsocket.create_connection(("127.0.0.1", int(target)))

        def down():
            while True:
                data = upstream.recv(65536)
                if not data:
                    break
                captured.extend(data)
                client.sendall(data)

        g = gevent.spawn(down)
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                upstream.sendall(data)
        except OSError:
            pass
        g.kill()

    relay = StreamServer(("127.0.0.1", 0), handle)
    relay.start()
    sub = ctx.socket(gzmq.SUB)
    sub.connect(f"tcp://127.0.0.1:{relay.server_port}")
    sub.subscribe(b"wanted")
    with deadline(10):
        wait_for_subscription(pub, b"wanted", b"wanted probe", sub)
        for i in range(100):
            pub.send(b"unwanted %d" % i)
        pub.send(b"wanted last")
        assert sub.recv() == b"wanted last"
    assert b"unwanted" not in captured and b"wanted last" in captured
    sub.close(linger=0)
    pub.close(linger=0)
    relay.stop()
    ctx.term()


@pytest.mark.parametrize("sub_impl", ["gzmq", "libzmq"])
def test_xpub_sees_subscription_messages(sub_impl, green, deadline):
    ctx = gzmq.Context()
    lctx = green.Context()
    xpub = ctx.socket(gzmq.XPUB)
    xpub.bind("tcp://127.0.0.1:*")
    ep = xpub.last_endpoint.decode()
    sub = ctx.socket(gzmq.SUB) if sub_impl == "gzmq" else lctx.socket(green.SUB)
    sub.connect(ep)
    with deadline(10):
        sub.setsockopt(gzmq.SUBSCRIBE, b"topic")
        assert xpub.recv() == b"\x01topic"
        sub.setsockopt(gzmq.SUBSCRIBE, b"topic")     # duplicate: XPUB reports a topic once
        sub.setsockopt(gzmq.SUBSCRIBE, b"other")
        assert xpub.recv() == b"\x01other"
        sub.setsockopt(gzmq.UNSUBSCRIBE, b"topic")   # one reference left on the SUB: no cancel yet
        sub.setsockopt(gzmq.UNSUBSCRIBE, b"topic")
        assert xpub.recv() == b"\x00topic"
        xpub.send(b"other data")
        assert sub.recv() == b"other data"
    sub.close(linger=0)
    xpub.close(linger=0)
    ctx.term()
    lctx.term()


def test_xpub_verbose_and_welcome(deadline):
    ctx = gzmq.Context()
    xpub = ctx.socket(gzmq.XPUB)
    xpub.setsockopt(gzmq.XPUB_VERBOSE, 1)
    xpub.setsockopt(gzmq.XPUB_WELCOME_MSG, b"welcome")
    xpub.bind("inproc://verbose")
    a = ctx.socket(gzmq.SUB)
    b = ctx.socket(gzmq.SUB)
    for s in (a, b):
        s.subscribe(b"")
        s.subscribe(b"welcome")
        s.connect("inproc://verbose")
    with deadline(5):
        msgs = [xpub.recv() for _ in range(4)]
        assert sorted(msgs) == [b"\x01", b"\x01", b"\x01welcome", b"\x01welcome"]  # verbose: duplicates too
        assert a.recv() == b"welcome" and b.recv() == b"welcome"
    for s in (a, b, xpub):
        s.close(linger=0)
    ctx.term()


def test_xpub_manual(deadline):
    ctx = gzmq.Context()
    xpub = ctx.socket(gzmq.XPUB)
    xpub.setsockopt(gzmq.XPUB_MANUAL, 1)
    xpub.bind("inproc://manual")
    sub = ctx.socket(gzmq.XSUB)   # XSUB: no local filtering, the publisher decides
    sub.connect("inproc://manual")
    sub.send(b"\x01asked")
    with deadline(5):
        assert xpub.recv() == b"\x01asked"
        xpub.setsockopt(gzmq.SUBSCRIBE, b"granted")   # the app decides what the peer gets
        xpub.send(b"asked but not granted")
        xpub.send(b"granted 1")
        assert sub.recv() == b"granted 1"
    sub.close(linger=0)
    xpub.close(linger=0)
    ctx.term()


def test_invert_matching(deadline):
    ctx = gzmq.Context()
    pub = ctx.socket(gzmq.PUB)
    pub.setsockopt(gzmq.INVERT_MATCHING, 1)
    pub.bind("inproc://invert")
    sub = ctx.socket(gzmq.SUB)
    sub.setsockopt(gzmq.INVERT_MATCHING, 1)
    sub.subscribe(b"noise")
    sub.connect("inproc://invert")
    with deadline(5):
        pub.send(b"noise 1")
        pub.send(b"signal 1")
        assert sub.recv() == b"signal 1"
    sub.close(linger=0)
    pub.close(linger=0)
    ctx.term()


def test_conflate_keeps_only_latest(deadline):
    ctx = gzmq.Context()
    pub = ctx.socket(gzmq.PUB)
    pub.bind("tcp://127.0.0.1:*")
    sub = ctx.socket(gzmq.SUB)
    sub.setsockopt(gzmq.CONFLATE, 1)
    sub.subscribe(b"")
    sub.connect(pub.last_endpoint.decode())
    with deadline(10):
        wait_for_subscription(pub, b"", b"probe", sub)
        # Fewer than the publisher's SNDHWM (1000), so that none of them, "last" above all, can
        # be dropped by the PUB itself (as libzmq's would when its I/O thread falls behind).
        for i in range(500):
            pub.send(b"%d" % i)
        pub.send(b"last")
        # whatever was conflated away, the latest value arrives and older ones are not queued up
        got = [sub.recv()]
        while got[-1] != b"last":
            got.append(sub.recv())
        assert len(got) < 501
    sub.close(linger=0)
    pub.close(linger=0)
    ctx.term()


def test_proxy_between_libzmq_publishers_and_gzmq_subscribers(green, deadline):
    """XSUB/XPUB forwarder: subscriptions from gzmq SUBs reach libzmq PUBs upstream."""
    from examples.pubsub.forwarder import forward  # noqa: the example is the code under test
    ctx = gzmq.Context()
    lctx = green.Context()
    xsub = ctx.socket(gzmq.XSUB)
    xsub.bind("tcp://127.0.0.1:*")
    xpub = ctx.socket(gzmq.XPUB)
    xpub.bind("tcp://127.0.0.1:*")
    pumps = gevent.spawn(forward, xsub, xpub)
    pubs = []
    for _ in range(2):
        p = lctx.socket(green.XPUB)   # libzmq publisher that can see its subscriptions
        p.connect(xsub.last_endpoint.decode())
        pubs.append(p)
    subs = []
    for topic in (b"netherlands", b"germany"):
        s = ctx.socket(gzmq.SUB)
        s.connect(xpub.last_endpoint.decode())
        s.subscribe(topic)
        subs.append(s)
    with deadline(15):
        for p in pubs:   # each libzmq publisher learns both subscriptions through the proxy
            seen = {p.recv(), p.recv()}
            assert seen == {b"\x01netherlands", b"\x01germany"}
        pubs[0].send(b"netherlands goal")
        pubs[1].send(b"spain goal")
        pubs[1].send(b"germany goal")
        assert subs[0].recv() == b"netherlands goal"
        assert subs[1].recv() == b"germany goal"
    pumps.kill()
    for s in subs + [xsub, xpub]:
        s.close(linger=0)
    for p in pubs:
        p.close(linger=0)
    ctx.term()
    lctx.term()


def test_slow_subscriber_loses_messages_fast_one_none(deadline):
    """At SNDHWM a PUB drops for that subscriber only; PUB.send never blocks."""
    ctx = gzmq.Context()
    pub = ctx.socket(gzmq.PUB)
    pub.sndhwm = 100
    pub.bind("tcp://127.0.0.1:*")
    ep = pub.last_endpoint.decode()
    fast = ctx.socket(gzmq.SUB)
    slow = ctx.socket(gzmq.SUB)
    slow.rcvhwm = 10
    for s in (fast, slow):
        s.subscribe(b"")
        s.connect(ep)
    total = 20000
    with deadline(30):
        wait_for_subscription(pub, b"", b"probe", fast)
        wait_for_subscription(pub, b"", b"probe", slow)
        fast_got = []
        caught_up = gevent.event.Event()
        target = [0]

        def fast_reader():
            while True:
                m = fast.recv()
                if m == b"end":
                    return
                if m != b"probe":   # leftovers of waiting for the slow subscriber
                    fast_got.append(m)
                    if len(fast_got) >= target[0]:
                        caught_up.set()

        reader = gevent.spawn(fast_reader)
        payload = b"x" * 2000   # 40 MB in all: far more than the kernel buffers hold
        for block in range(0, total, 100):
            # The publisher paces itself to the fast subscriber (an observable condition, not
            # a sleep), so only the subscriber that does not read at all falls behind.
            for i in range(block, block + 100):
                pub.send(b"%06d" % i + payload)   # never blocks, though `slow` does not read
            target[0] = block + 100
            caught_up.clear()
            if len(fast_got) < target[0]:
                caught_up.wait()
        pub.send(b"end")
        reader.get()
        assert len(fast_got) == total
        assert [int(m[:6]) for m in fast_got] == list(range(total))
        # the slow subscriber read nothing so far: it now drains and has lost messages
        slow_got = 0
        while slow.poll(500):
            slow.recv()
            slow_got += 1
        assert slow_got < total
    for s in (fast, slow, pub):
        s.close(linger=0)
    ctx.term()
