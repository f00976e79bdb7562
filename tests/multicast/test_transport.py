"""The pgm:// / epgm:// transport as a socket sees it: endpoint errors, socket types, unbind and
disconnect, LINGER, XPUB/XSUB behaviour, MAXMSGSIZE. gzmq on both ends, on host A (the
publisher's packets reach a subscriber on its own host through the multicast loop).

A subscriber's membership is in place when connect() returns and a publisher's first packets
are SPMs, so a SUB created before the PUB receives from the first message: no warm-up needed.
"""
import gevent
import pytest

import gzmq
from gzmq.constants import Errno

from .support import GROUP, endpoint

pytestmark = [pytest.mark.multicast]


@pytest.mark.parametrize("address, errno, words", [
    ("epgm://127.0.0.1;10.0.0.1:5555", Errno.EINVAL, "not an IPv4 multicast group"),
    ("epgm://127.0.0.1;239.1.1.1", Errno.EINVAL, "port"),
    ("epgm://127.0.0.1;239.1.1.1:0", Errno.EINVAL, "port"),
    ("epgm://127.0.0.1;239.1.1.1,239.1.1.2:5555", Errno.EINVAL, "one multicast group"),
    ("epgm://127.0.0.1;ff02::1:5555", Errno.EINVAL, "not an IPv4 multicast group"),
    ("pgm://no-such-if0;239.1.1.1:5555", Errno.EINVAL, "no IPv4 interface 'no-such-if0'"),
])
def test_bad_endpoints_are_refused_naming_the_endpoint(gctx, address, errno, words):
    pub = gctx.socket(gzmq.PUB)
    with pytest.raises(gzmq.ZMQError) as info:
        pub.connect(address)
    assert info.value.errno == errno
    assert address.split("://")[1] in str(info.value) and words in str(info.value)


@pytest.mark.parametrize("kind", ["REQ", "REP", "DEALER", "ROUTER", "PUSH", "PULL", "PAIR"])
def test_only_pub_xpub_sub_xsub_may_use_pgm(gctx, kind):
    sock = gctx.socket(getattr(gzmq, kind))
    with pytest.raises(gzmq.ZMQError) as info:
        sock.bind("epgm://127.0.0.1;239.1.1.1:5555")
    assert info.value.errno == Errno.ENOCOMPATPROTO and kind in str(info.value)


def test_rate_must_be_positive(gctx):
    pub = gctx.socket(gzmq.PUB)
    pub.setsockopt(gzmq.RATE, 0)
    with pytest.raises(gzmq.ZMQError) as info:
        pub.connect("epgm://127.0.0.1;239.1.1.1:5555")
    assert info.value.errno == Errno.EINVAL


def _pair(gctx, mcnet, port, pub_type=gzmq.PUB, sub_type=gzmq.SUB, rate=40000, **subopts):
    mcnet.loss(0)
    ep = endpoint("epgm", mcnet.a, port)
    with mcnet.a.enter():
        sub = gctx.socket(sub_type)
        for option, value in subopts.items():
            sub.setsockopt(getattr(gzmq, option), value)
        if sub_type == gzmq.SUB:
            sub.setsockopt(gzmq.SUBSCRIBE, b"")
        sub.connect(ep)
        pub = gctx.socket(pub_type)
        pub.setsockopt(gzmq.RATE, rate)
        pub.bind(ep)
    return pub, sub, ep


def test_gzmq_to_gzmq_on_one_host(gctx, mcnet, deadline):
    pub, sub, ep = _pair(gctx, mcnet, 5611)
    with deadline(10):
        pub.send_multipart([b"topic", b"", b"x" * 5000])
        assert sub.recv_multipart() == [b"topic", b"", b"x" * 5000]
    assert pub.getsockopt(gzmq.LAST_ENDPOINT) == ep.encode()


def test_close_with_linger_delivers_what_is_queued(mcnet, deadline):
    """LINGER: close() returns at once; the queue still goes out at RATE, and term() waits."""
    sub_ctx, pub_ctx = gzmq.Context(), gzmq.Context()
    try:
        # 1 Mbit/s: 100 kB take most of a second, so most are still queued at close().
        pub, sub, _ = _pair(pub_ctx, mcnet, 5612, rate=1000)
        sub.close()
        with mcnet.a.enter():
            sub = sub_ctx.socket(gzmq.SUB)
            sub.setsockopt(gzmq.SUBSCRIBE, b"")
            sub.connect(endpoint("epgm", mcnet.a, 5612))
        link = pub._bound[endpoint("epgm", mcnet.a, 5612)]
        with deadline(20):
            for i in range(100):
                pub.send(b"%03d" % i + b"x" * 1000)
            pub.close()
            pub_ctx.term()  # returns once everything queued has been sent
            assert link.stopped and link.source.stats["spms"] >= 6  # 3 at start, 3 with FIN
            assert [sub.recv()[:3] for _ in range(100)] == [b"%03d" % i for i in range(100)]
    finally:
        sub_ctx.destroy(linger=0)
        pub_ctx.destroy(linger=0)


def test_unbind_and_disconnect_release_the_endpoint(gctx, mcnet, deadline):
    pub, sub, ep = _pair(gctx, mcnet, 5613)
    pub.unbind(ep)
    sub.disconnect(ep)
    assert not pub._bound and not pub._pipes and not sub._pipes
    # The port is free again: the same endpoint binds and works.
    with mcnet.a.enter():
        sub.connect(ep)
        pub.bind(ep)
    with deadline(10):
        pub.send(b"again")
        assert sub.recv() == b"again"


def test_xpub_sees_no_subscriptions_and_sub_filters_locally(gctx, mcnet, deadline):
    """libzmq attaches a multicast pipe 'subscribed to all' and sends no notice: filtering
    happens in each subscriber."""
    xpub, sub, _ = _pair(gctx, mcnet, 5614, pub_type=gzmq.XPUB)
    sub.setsockopt(gzmq.UNSUBSCRIBE, b"")
    sub.setsockopt(gzmq.SUBSCRIBE, b"A")
    with deadline(10):
        xpub.send(b"B-not-wanted")
        xpub.send(b"A-wanted")
        assert sub.recv() == b"A-wanted"  # in order, so B was filtered out, not late
    assert xpub.poll(0) == 0


def test_xsub_upstream_messages_go_nowhere(gctx, mcnet, deadline):
    pub, xsub, _ = _pair(gctx, mcnet, 5615, sub_type=gzmq.XSUB)
    xsub.send(b"\x01")          # subscribe to everything (locally)
    xsub.send(b"upstream?")     # not a subscription: nothing can carry it; dropped
    with deadline(10):
        # The link drops it on its engine's hub (at once in-hub; soon on an I/O thread).
        while any(pipe.pending_out() for pipe in xsub._pipes):
            gevent.sleep(0.01)
        pub.send(b"down")
        assert xsub.recv() == b"down"


def test_maxmsgsize_drops_only_the_oversized_message(gctx, mcnet, deadline):
    pub, sub, _ = _pair(gctx, mcnet, 5616, MAXMSGSIZE=1000)
    with deadline(10):
        pub.send(b"small-1")
        pub.send(b"x" * 3000)
        pub.send(b"small-2")
        assert [sub.recv(), sub.recv()] == [b"small-1", b"small-2"]


def test_closing_publisher_still_answers_naks_for_its_tail(gctx, mcnet, deadline):
    """After the LINGER flush the source stays a moment: a receiver that lost the last packet
    (it learns from the heartbeat SPMs) can still NAK it and get the RDATA."""
    from gevent import socket
    from gzmq.pgm import Data, Nak, parse
    from gzmq.pgm.packets import encode_nak

    mcnet.loss(0)
    port = 5617
    ep = endpoint("epgm", mcnet.a, port)
    with mcnet.a.enter():
        listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listen.bind((GROUP, port))
        listen.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                          socket.inet_aton(GROUP) + socket.inet_aton(mcnet.a.address))
        nak = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        nak.bind((mcnet.a.address, 0))
        pub = gctx.socket(gzmq.PUB)
        pub.bind(ep)
    try:
        pub.send(b"the last word")
        pub.close()
        with deadline(10):
            while not isinstance(odata := parse(listen.recv(65535)), Data):
                pass
            request = encode_nak(odata.tsi, port, [odata.sqn], mcnet.a.address, GROUP)
            nak.sendto(request, (mcnet.a.address, port))
            answers = []
            while not any(isinstance(p, Data) and p.repair for p in answers):
                answers.append(parse(listen.recv(65535)))
        ncf = next(p for p in answers if isinstance(p, Nak))
        rdata = next(p for p in answers if isinstance(p, Data) and p.repair)
        assert ncf.ncf and ncf.sqns == (odata.sqn,)
        assert (rdata.sqn, rdata.payload) == (odata.sqn, odata.payload)
    finally:
        listen.close()
        nak.close()
