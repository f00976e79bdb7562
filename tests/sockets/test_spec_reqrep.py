"""REQ, REP, DEALER, ROUTER against RFC 28 (REQREP), per transport (inproc, ipc, tcp).

Modelled on libzmq's tests/test_spec_req.cpp, test_spec_rep.cpp, test_spec_dealer.cpp and
test_spec_router.cpp: each check has the RFC's SHALL sentence above it.
"""
import pytest

from .support import nothing_within, raises_again, recv_within, settle, wait_until

SERVICES = 3


# ===================================== REQ =========================================
def test_req_round_robin_out(sock, bound, deadline):
    # The REQ socket SHALL route outgoing messages to connected peers using a round-robin
    # strategy.
    req = sock("REQ")
    reps = [sock("REP") for _ in range(SERVICES)]
    for rep in reps:
        req.connect(bound(rep))
    with deadline(10):
        for round_ in range(2):
            for i, rep in enumerate(reps):
                req.send(b"%d" % (round_ * SERVICES + i))
                assert recv_within(rep) == [b"%d" % (round_ * SERVICES + i)]
                rep.send(b"ok")
                assert recv_within(req) == [b"ok"]


def test_req_message_format(sock, bound, deadline):
    # The REQ socket SHALL prefix the outgoing message with an empty delimiter frame.
    # For incoming messages it SHALL remove the empty delimiter frame and pass the rest to
    # the application.
    router = sock("ROUTER")
    req = sock("REQ", routing_id=b"REQ-A")
    req.connect(bound(router))
    with deadline(10):
        req.send_multipart([b"ABC", b"DEF"])
        assert recv_within(router) == [b"REQ-A", b"", b"ABC", b"DEF"]
        router.send_multipart([b"REQ-A", b"", b"GHI", b""])
        assert recv_within(req) == [b"GHI", b""]


def test_req_blocks_on_send_with_no_peers(sock, z):
    # The REQ socket SHALL block on sending, or return a suitable error, when it has no
    # connected peers.
    req = sock("REQ")
    with pytest.raises(z.Again):
        req.send(b"x", z.DONTWAIT)


def test_req_only_listens_to_current_peer(sock, bound, deadline):
    # The REQ socket SHALL accept an incoming message only from the last peer that it sent
    # a request to. The REQ socket SHALL discard silently any messages received from other
    # peers.
    req = sock("REQ", routing_id=b"A")
    routers = [sock("ROUTER") for _ in range(SERVICES)]
    for r in routers:
        req.connect(bound(r))
    with deadline(10):
        for i, target in enumerate(routers):
            # Let stale WRONG replies of the previous round arrive before the next request
            # (libzmq's test waits 10 ms here): the REQ discards them when it sends.
            settle()
            req.send(b"%d" % i)
            assert recv_within(target) == [b"A", b"", b"%d" % i]
            # Every router answers; only the one asked is heard, the others are dropped.
            for r in routers:
                if r is not target:
                    r.send_multipart([b"A", b"", b"WRONG"])
            target.send_multipart([b"A", b"", b"GOOD"])
            assert recv_within(req) == [b"GOOD"]


def test_req_strict_alternation(sock, bound, z, deadline):
    # (libzmq) A REQ socket sends then receives, strictly; anything else is EFSM.
    rep = sock("REP")
    req = sock("REQ")
    req.connect(bound(rep))
    with pytest.raises(z.ZMQError) as info:
        req.recv(z.DONTWAIT)
    assert info.value.errno == z.EFSM
    with deadline(10):
        req.send(b"1")
        with pytest.raises(z.ZMQError) as info:
            req.send(b"2")
        assert info.value.errno == z.EFSM
        assert recv_within(rep) == [b"1"]
        rep.send(b"r1")
        assert recv_within(req) == [b"r1"]
        req.send(b"3")  # alternation restored


# ===================================== REP =========================================
def test_rep_fair_queue_in(sock, bound, deadline):
    # The REP socket SHALL receive incoming messages from its peers using a fair-queuing
    # strategy.
    rep = sock("REP")
    ep = bound(rep)
    reqs = [sock("REQ", routing_id=b"R%d" % i) for i in range(SERVICES)]
    for r in reqs:
        r.connect(ep)
    with deadline(10):
        # Round 1 sets up every connection (and empties the queues).
        for r in reqs:
            r.send(b"hello")
            assert recv_within(rep) == [b"hello"]
            rep.send(b"hi")
            assert recv_within(r) == [b"hi"]
        for i, r in enumerate(reqs):
            r.send(b"%d" % i)
        settle()
        # Each peer has one request queued; fair queuing serves each once in turn, and the
        # reply goes back to the one that asked.
        seen = []
        for _ in reqs:
            (body,) = recv_within(rep)
            seen.append(int(body))
            rep.send(b"re %d" % seen[-1])
        assert sorted(seen) == list(range(SERVICES))
        for i, r in enumerate(reqs):
            assert recv_within(r) == [b"re %d" % i]


def test_rep_envelope(sock, bound, deadline):
    # For an incoming message the REP socket SHALL remove and store all leading frames up to
    # and including the empty delimiter frame and pass the remaining frames to the caller.
    # For an outgoing reply it SHALL prefix the stored envelope and send it to the peer the
    # request came from.
    rep = sock("REP")
    dealer = sock("DEALER")
    dealer.connect(bound(rep))
    with deadline(10):
        dealer.send_multipart([b"X", b"Y", b"", b"BODY", b"", b"TAIL"])
        assert recv_within(rep) == [b"BODY", b"", b"TAIL"]
        rep.send_multipart([b"REPLY"])
        assert recv_within(dealer) == [b"X", b"Y", b"", b"REPLY"]


def test_rep_drops_request_without_delimiter(sock, bound, deadline):
    # (libzmq) A request with no empty delimiter frame is malformed: the REP socket drops it
    # and keeps the connection.
    rep = sock("REP")
    dealer = sock("DEALER")
    dealer.connect(bound(rep))
    with deadline(10):
        dealer.send_multipart([b"no", b"delimiter"])
        dealer.send_multipart([b"", b"good"])
        assert recv_within(rep) == [b"good"]


def test_rep_strict_alternation(sock, bound, z, deadline):
    rep = sock("REP")
    req = sock("REQ")
    req.connect(bound(rep))
    with pytest.raises(z.ZMQError) as info:
        rep.send(b"unasked")
    assert info.value.errno == z.EFSM
    with deadline(10):
        req.send(b"q")
        assert recv_within(rep) == [b"q"]
        with pytest.raises(z.ZMQError) as info:
            rep.recv(z.DONTWAIT)
        assert info.value.errno == z.EFSM


# ==================================== DEALER =======================================
def test_dealer_round_robin_out(sock, bound, deadline):
    # The DEALER socket SHALL route outgoing messages to available peers using a round-robin
    # strategy.
    dealer = sock("DEALER")
    reps = [sock("REP") for _ in range(SERVICES)]
    for rep in reps:
        dealer.connect(bound(rep))
    with deadline(10):
        for i in range(2 * SERVICES):
            dealer.send_multipart([b"", b"%d" % i])
        for i, rep in enumerate(reps):
            for k in range(2):
                assert recv_within(rep) == [b"%d" % (i + k * SERVICES)]
                rep.send(b"ok")


def test_dealer_fair_queue_in(sock, bound, deadline):
    # The DEALER socket SHALL receive incoming messages from its peers using a fair-queuing
    # strategy.
    receiver = sock("DEALER")
    senders = [sock("DEALER") for _ in range(SERVICES)]
    for s in senders:
        receiver.connect(bound(s))
    with deadline(10):
        # The receiver's round-robin reaches each sender once: every connection is then up.
        for s in senders:
            receiver.send(b"hello")
        for s in senders:
            assert recv_within(s) == [b"hello"]
        for s in senders:
            s.send(b"A")
        for s in senders:
            s.send(b"B")
        settle()
        got = [recv_within(receiver)[0] for _ in range(2 * SERVICES)]
        assert got == [b"A"] * SERVICES + [b"B"] * SERVICES


def test_dealer_blocks_on_send_with_no_peers(sock, z):
    # The DEALER socket SHALL block on sending, or return a suitable error, when it has no
    # connected peers.
    dealer = sock("DEALER")
    with pytest.raises(z.Again):
        dealer.send(b"x", z.DONTWAIT)


def test_dealer_destroys_queue_on_disconnect(sock, bound, z, deadline):
    # When a DEALER socket disconnects from a peer, it SHALL destroy its double queue and
    # SHALL discard any messages it contains.
    a = sock("DEALER")
    ep = bound(a)
    b = sock("DEALER")
    b.connect(ep)
    with deadline(10):
        b.send(b"from b")
        assert recv_within(a) == [b"from b"]  # connected both ways
        a.send(b"queued for b")
        settle()
        b.disconnect(ep)
        settle()
        # b's queue from a is gone with the connection; a has no peer to send to.
        with pytest.raises(z.Again):
            b.recv(z.DONTWAIT)
        # (a notices the disconnect asynchronously; gzmq by the time settle() returns.)
        wait_until(lambda: raises_again(z, a.send, b"nobody", z.DONTWAIT), what="a without peers")


# ==================================== ROUTER =======================================
def test_router_fair_queue_in(sock, bound, deadline):
    # The ROUTER socket SHALL receive incoming messages from its peers using a fair-queuing
    # strategy. For each message it SHALL prefix the routing id of the originating peer.
    router = sock("ROUTER")
    ep = bound(router)
    dealers = [sock("DEALER", routing_id=b"D%d" % i) for i in range(SERVICES)]
    for d in dealers:
        d.connect(ep)
    with deadline(10):
        for d in dealers:
            d.send(b"hello")
        hellos = sorted(recv_within(router)[0] for _ in dealers)
        assert hellos == [b"D%d" % i for i in range(SERVICES)]
        for d in dealers:
            d.send(b"A")
        for d in dealers:
            d.send(b"B")
        settle()
        got = [recv_within(router) for _ in range(2 * SERVICES)]
        assert [m[1] for m in got] == [b"A"] * SERVICES + [b"B"] * SERVICES
        assert sorted(m[0] for m in got[:SERVICES]) == [b"D%d" % i for i in range(SERVICES)]


def test_router_routes_by_id(sock, bound, deadline):
    # When receiving a message the ROUTER socket SHALL remove the first frame and use it as
    # the routing id of the peer to send the remaining frames to.
    router = sock("ROUTER")
    ep = bound(router)
    dealers = [sock("DEALER", routing_id=b"D%d" % i) for i in range(SERVICES)]
    for d in dealers:
        d.connect(ep)
    with deadline(10):
        for d in dealers:
            d.send(b"hello")
        for _ in dealers:
            recv_within(router)
        for i in reversed(range(SERVICES)):
            router.send_multipart([b"D%d" % i, b"for", b"D%d" % i])
        for i, d in enumerate(dealers):
            assert recv_within(d) == [b"for", b"D%d" % i]


def test_router_auto_routing_ids(sock, bound, deadline):
    # (libzmq) A peer that sends no routing id gets a generated one: 5 bytes, a zero byte
    # then a 32-bit counter, unique per connection.
    router = sock("ROUTER")
    ep = bound(router)
    dealers = [sock("DEALER") for _ in range(SERVICES)]
    for d in dealers:
        d.connect(ep)
    with deadline(10):
        for i, d in enumerate(dealers):
            d.send(b"%d" % i)
        ids = {}
        for _ in dealers:
            rid, body = recv_within(router)
            assert len(rid) == 5 and rid[0] == 0
            ids[rid] = body
        assert len(ids) == SERVICES
        for rid, body in ids.items():
            router.send_multipart([rid, b"re " + body])
        for i, d in enumerate(dealers):
            assert recv_within(d) == [b"re %d" % i]


def test_router_drops_unroutable(sock, bound, deadline):
    # If the routing id does not name a connected peer, the ROUTER socket SHALL silently
    # discard the message (unless ROUTER_MANDATORY is set).
    router = sock("ROUTER")
    dealer = sock("DEALER", routing_id=b"known")
    dealer.connect(bound(router))
    with deadline(10):
        dealer.send(b"hi")
        assert recv_within(router) == [b"known", b"hi"]
        router.send_multipart([b"unknown", b"lost"])
        router.send_multipart([b"known", b"delivered"])
        assert recv_within(dealer) == [b"delivered"]
        assert nothing_within(dealer)


def test_router_mandatory(sock, bound, z, deadline):
    # (libzmq) With ROUTER_MANDATORY an unroutable message fails with EHOSTUNREACH.
    router = sock("ROUTER", router_mandatory=1)
    with pytest.raises(z.ZMQError) as info:
        router.send_multipart([b"unknown", b"x"])
    assert info.value.errno == z.EHOSTUNREACH
    dealer = sock("DEALER", routing_id=b"known")
    dealer.connect(bound(router))
    with deadline(10):
        dealer.send(b"hi")
        assert recv_within(router) == [b"known", b"hi"]
        router.send_multipart([b"known", b"ok"])
        assert recv_within(dealer) == [b"ok"]


def test_router_destroys_queue_on_disconnect(sock, bound, z, deadline):
    # When a ROUTER socket loses a peer it SHALL destroy that peer's double queue and SHALL
    # discard any messages it contains.
    router = sock("ROUTER", router_mandatory=1)
    ep = bound(router)
    dealer = sock("DEALER", routing_id=b"X")
    dealer.connect(ep)
    with deadline(10):
        dealer.send(b"hi")
        assert recv_within(router) == [b"X", b"hi"]
        router.send_multipart([b"X", b"queued"])
        settle()
        dealer.disconnect(ep)
        settle()
        with pytest.raises(z.Again):
            dealer.recv(z.DONTWAIT)
