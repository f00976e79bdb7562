"""gzmq against libzmq for every valid socket pair, each implementation in each role.

One table row per socket pair; each row runs with gzmq as side A (libzmq as B) and the
reverse, with A binding and with B binding, over tcp and over ipc. Every exchange carries
multipart messages (with an empty frame inside the body) and a 1 MiB frame, in each direction
the pattern allows. The libzmq side is zmq.green in this process (real libzmq on gevent's hub).
"""
import pytest

import gzmq

from .support import BIG, bind, publish_until_received, recv_skipping, recv_within

C = gzmq  # constants are libzmq's numbers in both implementations


# -- exchanges: (a, b) are A and B of the row, whoever implements them --------------------------
def x_pair(a, b):
    a.send_multipart([b"a1", b"", b"a1c"])
    assert recv_within(b) == [b"a1", b"", b"a1c"]
    b.send_multipart([b"b1", BIG])
    assert recv_within(a) == [b"b1", BIG]
    a.send_multipart([BIG, b"a2"])
    assert recv_within(b) == [BIG, b"a2"]


def x_req_rep(a, b):
    a.send_multipart([b"q1", b"", b"q1c"])
    # REP strips the envelope up to the first empty frame only: the body keeps its own.
    assert recv_within(b) == [b"q1", b"", b"q1c"]
    b.send_multipart([b"r1", BIG])
    assert recv_within(a) == [b"r1", BIG]
    a.send_multipart([BIG, b"q2"])
    assert recv_within(b) == [BIG, b"q2"]
    b.send(b"r2")
    assert recv_within(a) == [b"r2"]


def x_req_router(a, b):
    a.send_multipart([b"q1", b"q1b"])
    rid, *rest = recv_within(b)
    # REQ puts an empty delimiter in front; ROUTER puts the peer's routing id in front of that,
    # an auto id (0x00 + 4 bytes) because the REQ set no ROUTING_ID.
    assert rest == [b"", b"q1", b"q1b"]
    assert len(rid) == 5 and rid[0] == 0
    b.send_multipart([rid, b"", b"r1", BIG])
    assert recv_within(a) == [b"r1", BIG]
    a.send_multipart([BIG])
    assert recv_within(b) == [rid, b"", BIG]
    b.send_multipart([rid, b"", b"r2"])
    assert recv_within(a) == [b"r2"]


def x_dealer_rep(a, b):
    a.send_multipart([b"", b"q1", BIG])
    assert recv_within(b) == [b"q1", BIG]
    b.send_multipart([b"r1", b"r1b"])
    assert recv_within(a) == [b"", b"r1", b"r1b"]
    # A longer envelope (two hops of ids) comes back intact in front of the reply.
    a.send_multipart([b"hop1", b"hop2", b"", b"q2"])
    assert recv_within(b) == [b"q2"]
    b.send_multipart([BIG])
    assert recv_within(a) == [b"hop1", b"hop2", b"", BIG]


def x_dealer_router(a, b):
    a.send_multipart([b"d1", b"", b"d1c"])
    rid, *rest = recv_within(b)
    assert rest == [b"d1", b"", b"d1c"]
    assert len(rid) == 5 and rid[0] == 0
    b.send_multipart([rid, b"r1", BIG])
    assert recv_within(a) == [b"r1", BIG]
    a.send_multipart([BIG, b"d2"])
    assert recv_within(b) == [rid, BIG, b"d2"]


def x_dealer_dealer(a, b):
    a.send_multipart([b"a1", b"", b"a1c"])
    assert recv_within(b) == [b"a1", b"", b"a1c"]
    b.send_multipart([BIG, b"b1"])
    assert recv_within(a) == [BIG, b"b1"]
    a.send(BIG)
    assert recv_within(b) == [BIG]


def x_router_router(a, b):
    # Both set ROUTING_ID and PROBE_ROUTER (options below): on connecting, each side sends the
    # other an empty probe message, which tells each one the other's id and that it is there.
    assert recv_within(a) == [b"RB", b""]
    assert recv_within(b) == [b"RA", b""]
    a.send_multipart([b"RB", b"a1", b"", b"a1c"])
    assert recv_within(b) == [b"RA", b"a1", b"", b"a1c"]
    b.send_multipart([b"RA", BIG, b"b1"])
    assert recv_within(a) == [b"RB", BIG, b"b1"]


def x_push_pull(a, b):
    a.send_multipart([b"p1", b"", b"p1c"])
    a.send(BIG)
    a.send_multipart([b"p3"])
    assert recv_within(b) == [b"p1", b"", b"p1c"]
    assert recv_within(b) == [BIG]
    assert recv_within(b) == [b"p3"]


def _after_subscription(a, b):
    """The publisher `a` knows b's subscription to b"t": check filtering and delivery."""
    a.send_multipart([b"x-not-subscribed", b"dropped"])
    a.send_multipart([b"t1", b"", b"t1c"])
    a.send_multipart([b"t2", BIG])
    # Per-connection order holds, so an unfiltered b"x..." message would show up first.
    assert recv_skipping(b, [b"t-warm"]) == [b"t1", b"", b"t1c"]
    assert recv_within(b) == [b"t2", BIG]


def x_pub_sub(a, b):
    b.setsockopt(C.SUBSCRIBE, b"t")
    publish_until_received(a, b)
    _after_subscription(a, b)


def x_pub_xsub(a, b):
    b.send(b"\x01t")  # XSUB subscribes by sending the subscription as a message
    publish_until_received(a, b)
    _after_subscription(a, b)


def x_xpub_sub(a, b):
    b.setsockopt(C.SUBSCRIBE, b"t")
    # The subscription reaching the XPUB is the event that ends the slow-joiner race.
    assert recv_within(a) == [b"\x01t"]
    _after_subscription(a, b)
    b.setsockopt(C.UNSUBSCRIBE, b"t")
    assert recv_within(a) == [b"\x00t"]


def x_xpub_xsub(a, b):
    b.send(b"\x01t")
    assert recv_within(a) == [b"\x01t"]
    _after_subscription(a, b)
    b.send(b"\x00t")
    assert recv_within(a) == [b"\x00t"]


# (A, B, exchange, options for A, options for B)
PAIRS = [
    ("PAIR", "PAIR", x_pair, {}, {}),
    ("REQ", "REP", x_req_rep, {}, {}),
    ("REQ", "ROUTER", x_req_router, {}, {}),
    ("DEALER", "REP", x_dealer_rep, {}, {}),
    ("DEALER", "ROUTER", x_dealer_router, {}, {}),
    ("DEALER", "DEALER", x_dealer_dealer, {}, {}),
    ("ROUTER", "ROUTER", x_router_router,
     {C.ROUTING_ID: b"RA", C.PROBE_ROUTER: 1}, {C.ROUTING_ID: b"RB", C.PROBE_ROUTER: 1}),
    ("PUSH", "PULL", x_push_pull, {}, {}),
    ("PUB", "SUB", x_pub_sub, {}, {}),
    ("PUB", "XSUB", x_pub_xsub, {}, {}),
    ("XPUB", "SUB", x_xpub_sub, {}, {}),
    ("XPUB", "XSUB", x_xpub_xsub, {}, {}),
]

CASES = []
for _a, _b, _fn, _oa, _ob in PAIRS:
    for _gz in ("A", "B"):
        for _binder in ("A", "B"):
            for _tr in ("tcp", "ipc"):
                impl_a = "gzmq" if _gz == "A" else "libzmq"
                impl_b = "libzmq" if _gz == "A" else "gzmq"
                binds = impl_a if _binder == "A" else impl_b
                CASES.append(pytest.param(
                    _a, _b, _fn, _oa, _ob, _gz, _binder, _tr,
                    id=f"{_a}.{impl_a}-{_b}.{impl_b}-{binds}.binds-{_tr}"))


@pytest.mark.interop
@pytest.mark.parametrize("type_a,type_b,exchange,opts_a,opts_b,gzmq_side,binder,transport", CASES)
def test_pair_interop(gctx, lctx, green, endpoint, deadline,
                      type_a, type_b, exchange, opts_a, opts_b, gzmq_side, binder, transport):
    ctx_a, ctx_b = (gctx, lctx) if gzmq_side == "A" else (lctx, gctx)
    a = ctx_a.socket(getattr(C, type_a))
    b = ctx_b.socket(getattr(C, type_b))
    for sock, opts in ((a, opts_a), (b, opts_b)):
        sock.setsockopt(C.LINGER, 0)
        for opt, value in opts.items():
            sock.setsockopt(opt, value)
    with deadline(10):
        if binder == "A":
            b.connect(bind(a, endpoint(transport)))
        else:
            a.connect(bind(b, endpoint(transport)))
        exchange(a, b)
    a.close()
    b.close()

