"""Request-reply details against libzmq, seen from both sides: ROUTER routing ids,
ROUTER_MANDATORY, REQ/REP envelopes and EFSM, round-robin over several servers."""
import collections

import pytest
import zmq

import gzmq

from .support import bind, recv_within, wait_until

C = gzmq
pytestmark = pytest.mark.interop
ZMQError = (gzmq.ZMQError, zmq.ZMQError)  # either implementation's

IMPLS = ["gzmq", "libzmq"]


@pytest.fixture
def make(gctx, lctx):
    """make(impl, type, **options) -> a socket of gzmq or libzmq, LINGER 0, options applied."""

    def factory(impl, socket_type, **options):
        ctx = gctx if impl == "gzmq" else lctx
        sock = ctx.socket(getattr(C, socket_type))
        sock.setsockopt(C.LINGER, 0)
        for name, value in options.items():
            sock.setsockopt(getattr(C, name.upper()), value)
        return sock

    return factory


def other(impl):
    return "libzmq" if impl == "gzmq" else "gzmq"


# -- routing ids ----------------------------------------------------------------------------------
@pytest.mark.parametrize("client_type", ["DEALER", "REQ"])
@pytest.mark.parametrize("router_impl", IMPLS)
def test_router_sees_peer_routing_id(make, deadline, router_impl, client_type):
    router = make(router_impl, "ROUTER")
    client = make(other(router_impl), client_type, routing_id=b"client-7")
    client.connect(bind(router, "tcp://127.0.0.1:*"))
    envelope = [b""] if client_type == "REQ" else []
    with deadline(10):
        client.send(b"hi")
        assert recv_within(router) == [b"client-7"] + envelope + [b"hi"]
        router.send_multipart([b"client-7"] + envelope + [b"hello client-7"])
        assert recv_within(client) == [b"hello client-7"]


@pytest.mark.parametrize("router_impl", IMPLS)
def test_router_auto_ids_are_five_bytes_from_zero_and_route_replies(make, deadline, router_impl):
    router = make(router_impl, "ROUTER")
    ep = bind(router, "tcp://127.0.0.1:*")
    clients = [make(other(router_impl), "DEALER") for _ in range(3)]
    for c in clients:
        c.connect(ep)
    with deadline(10):
        ids = {}
        for i, c in enumerate(clients):
            c.send(b"%d" % i)
        for _ in clients:
            rid, body = recv_within(router)
            # libzmq's auto id: 0x00 followed by a 4-byte counter.
            assert len(rid) == 5 and rid[0] == 0, rid
            ids[int(body)] = rid
        assert len(set(ids.values())) == 3
        for i, rid in ids.items():
            router.send_multipart([rid, b"for %d" % i])
        for i, c in enumerate(clients):
            assert recv_within(c) == [b"for %d" % i]


@pytest.mark.parametrize("router_impl", IMPLS)
def test_router_to_router_with_connect_routing_id(make, deadline, router_impl):
    # CONNECT_ROUTING_ID names the outgoing connection locally: the connecting ROUTER can
    # address the bound one right away, and the bound ROUTER sees the connecter's ROUTING_ID.
    server = make(other(router_impl), "ROUTER", routing_id=b"server")
    client = make(router_impl, "ROUTER", routing_id=b"client", router_mandatory=1)
    ep = bind(server, "tcp://127.0.0.1:*")
    client.setsockopt(C.CONNECT_ROUTING_ID, b"srv")
    client.connect(ep)
    with deadline(10):
        # Until the handshake is done the peer is unknown: EHOSTUNREACH with ROUTER_MANDATORY.
        while True:
            try:
                client.send_multipart([b"srv", b"hello"])
                break
            except ZMQError as exc:
                assert exc.errno == C.EHOSTUNREACH
                client.poll(10)
        assert recv_within(server) == [b"client", b"hello"]
        server.send_multipart([b"client", b"welcome"])
        assert recv_within(client) == [b"srv", b"welcome"]


# -- ROUTER_MANDATORY ---------------------------------------------------------------------------
@pytest.mark.parametrize("impl", IMPLS)
def test_router_mandatory_unknown_peer_is_ehostunreach(make, impl):
    router = make(impl, "ROUTER", router_mandatory=1)
    with pytest.raises(ZMQError) as info:
        router.send_multipart([b"nobody", b"x"])
    assert info.value.errno == C.EHOSTUNREACH


@pytest.mark.parametrize("impl", IMPLS)
def test_router_mandatory_fails_on_the_routing_id_frame(make, deadline, impl):
    # libzmq reports EHOSTUNREACH as soon as the id frame is sent with SNDMORE.
    router = make(impl, "ROUTER", router_mandatory=1)
    with deadline(2), pytest.raises(ZMQError) as info:
        router.send(b"nobody", C.SNDMORE)
        router.send(b"x")
    assert info.value.errno == C.EHOSTUNREACH


@pytest.mark.parametrize("impl", IMPLS)
def test_router_without_mandatory_drops_silently(make, impl):
    router = make(impl, "ROUTER")
    router.send_multipart([b"nobody", b"x"])  # no error, nothing happens


@pytest.mark.parametrize("router_impl", IMPLS)
def test_router_mandatory_with_peer_then_peer_gone(make, deadline, router_impl):
    router = make(router_impl, "ROUTER", router_mandatory=1)
    dealer = make(other(router_impl), "DEALER", routing_id=b"d1")
    dealer.connect(bind(router, "tcp://127.0.0.1:*"))
    with deadline(10):
        dealer.send(b"here")
        assert recv_within(router) == [b"d1", b"here"]
        router.send_multipart([b"d1", b"ok"])
        assert recv_within(dealer) == [b"ok"]
        dealer.close()

        def unreachable():
            try:
                router.send_multipart([b"d1", b"anyone?"])
            except ZMQError as exc:
                assert exc.errno == C.EHOSTUNREACH
                return True
            return False

        # The disconnect is noticed asynchronously; from then on the id is unknown.
        wait_until(unreachable, what="EHOSTUNREACH after the peer closed")


# -- REQ/REP envelopes and state machine -----------------------------------------------------------
@pytest.mark.parametrize("rep_impl", IMPLS)
def test_rep_drops_request_without_delimiter_and_keeps_connection(make, deadline, rep_impl):
    rep = make(rep_impl, "REP")
    dealer = make(other(rep_impl), "DEALER")
    dealer.connect(bind(rep, "tcp://127.0.0.1:*"))
    with deadline(10):
        dealer.send_multipart([b"no", b"delimiter"])
        dealer.send_multipart([b"", b"proper"])
        assert recv_within(rep) == [b"proper"]
        rep.send(b"answer")
        assert recv_within(dealer) == [b"", b"answer"]


@pytest.mark.parametrize("req_impl", IMPLS)
def test_req_only_accepts_reply_from_the_peer_it_asked(make, deadline, req_impl):
    # Two ROUTERs; the REQ asks the first; a reply arriving from the second is discarded.
    r1 = make(other(req_impl), "ROUTER")
    r2 = make(other(req_impl), "ROUTER")
    req = make(req_impl, "REQ", routing_id=b"req")
    req.connect(bind(r1, "tcp://127.0.0.1:*"))
    req.connect(bind(r2, "tcp://127.0.0.1:*"))
    with deadline(10):
        req.send(b"q")
        first, second = (r1, r2)
        msg = recv_within(first)
        assert msg == [b"req", b"", b"q"]
        second.send_multipart([b"req", b"", b"impostor"])   # unsolicited
        first.send_multipart([b"req", b"", b"genuine"])
        assert recv_within(req) == [b"genuine"]


@pytest.mark.parametrize("req_impl", IMPLS)
def test_req_reply_without_delimiter_drops_that_connection(make, deadline, req_impl):
    # libzmq treats a reply without the empty delimiter as a protocol error: it closes that
    # connection for good (no reconnect after a protocol error) and never shows the reply.
    # With REQ_RELAXED the REQ may ask again, and its other peer serves it from then on.
    bad = make(other(req_impl), "ROUTER", router_mandatory=1)
    good = make(other(req_impl), "ROUTER")
    req = make(req_impl, "REQ", routing_id=b"req", req_relaxed=1, reconnect_ivl=20)
    req.connect(bind(bad, "tcp://127.0.0.1:*"))
    req.connect(bind(good, "tcp://127.0.0.1:*"))
    with deadline(10):
        req.send(b"q1")  # the first connected pipe gets the first request
        assert recv_within(bad) == [b"req", b"", b"q1"]
        bad.send_multipart([b"req", b"malformed reply"])

        def gone():
            try:
                bad.send_multipart([b"req", b"", b"probe"])
            except ZMQError as exc:
                assert exc.errno == C.EHOSTUNREACH
                return True
            return False

        wait_until(gone, timeout=2, what="the REQ dropping the connection that sent a malformed reply")
        # The malformed reply was never readable.
        assert req.poll(0) == 0
        for i in range(3):
            req.send(b"q%d" % (i + 2))
            assert recv_within(good) == [b"req", b"", b"q%d" % (i + 2)]
            good.send_multipart([b"req", b"", b"a%d" % (i + 2)])
            assert recv_within(req) == [b"a%d" % (i + 2)]
        assert bad.poll(100) == 0  # no reconnect: nothing more reaches the bad peer


@pytest.mark.parametrize("impl", IMPLS)
def test_req_rep_efsm(make, deadline, impl):
    req = make(impl, "REQ")
    rep = make(other(impl), "REP")
    req.connect(bind(rep, "tcp://127.0.0.1:*"))
    with deadline(10):
        with pytest.raises(ZMQError) as info:
            req.recv()  # nothing asked yet
        assert info.value.errno == C.EFSM
        req.send(b"q")
        with pytest.raises(ZMQError) as info:
            req.send(b"q again")  # must wait for the reply
        assert info.value.errno == C.EFSM
        assert recv_within(rep) == [b"q"]
        rep.send(b"a")
        assert recv_within(req) == [b"a"]


@pytest.mark.parametrize("impl", IMPLS)
def test_rep_efsm(make, deadline, impl):
    rep = make(impl, "REP")
    req = make(other(impl), "REQ")
    req.connect(bind(rep, "tcp://127.0.0.1:*"))
    with deadline(10):
        with pytest.raises(ZMQError) as info:
            rep.send(b"unasked")
        assert info.value.errno == C.EFSM
        req.send(b"q")
        assert recv_within(rep) == [b"q"]
        with pytest.raises(ZMQError) as info:
            rep.recv(C.DONTWAIT)  # must reply first
        assert info.value.errno == C.EFSM
        rep.send(b"a")
        assert recv_within(req) == [b"a"]


# -- round robin over several servers ----------------------------------------------------------------
@pytest.mark.parametrize("client_impl", IMPLS)
def test_req_round_robins_over_two_rep_servers(make, ipc_dir, deadline, client_impl):
    servers = [make(other(client_impl), "REP"), make(other(client_impl), "REP")]
    eps = [bind(servers[0], "tcp://127.0.0.1:*"), bind(servers[1], f"ipc://{ipc_dir}/rep1")]
    req = make(client_impl, "REQ")
    for ep in eps:
        req.connect(ep)
    served = collections.Counter()
    order = []
    with deadline(10):
        for i in range(10):
            req.send(b"req %d" % i)
            # Whichever server got it answers; the REQ is strict, so one at a time.
            while True:
                for n, s in enumerate(servers):
                    if s.poll(0):
                        assert s.recv_multipart() == [b"req %d" % i]
                        s.send(b"from %d" % n)
                        served[n] += 1
                        order.append(n)
                        break
                else:
                    servers[0].poll(10)
                    continue
                break
            assert recv_within(req) == [b"from %d" % order[-1]]
    assert served == {0: 5, 1: 5}
    assert all(order[i] != order[i + 1] for i in range(9)), order


@pytest.mark.parametrize("pattern", [("DEALER", "ROUTER"), ("PUSH", "PULL")])
@pytest.mark.parametrize("client_impl", IMPLS)
def test_round_robin_over_two_servers(make, ipc_dir, deadline, client_impl, pattern):
    client_type, server_type = pattern
    servers = [make(other(client_impl), server_type), make(other(client_impl), server_type)]
    client = make(client_impl, client_type)
    client.connect(bind(servers[0], "tcp://127.0.0.1:*"))
    client.connect(bind(servers[1], f"ipc://{ipc_dir}/s1"))
    with deadline(10):
        # Connecting creates the pipes at once, so the split is exact from the first message.
        for i in range(10):
            client.send(b"%d" % i)
        got = []
        for s in servers:
            msgs = [recv_within(s)[-1] for _ in range(5)]
            assert s.poll(50) == 0
            got.append(msgs)
        assert sorted(got[0] + got[1]) == sorted(b"%d" % i for i in range(10))
        # Each server got every other message.
        assert {int(m) % 2 for m in got[0]} in ({0}, {1})
