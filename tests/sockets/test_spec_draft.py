"""The draft socket types (libzmq 4.3 with the draft API; RFC 41 CLIENT/SERVER, RFC 48
RADIO/DISH, RFC 49 SCATTER/GATHER), per transport (inproc, ipc, tcp), gzmq to gzmq.
zeromq.js is their libzmq peer in tests/interop/test_draft_zeromqjs.py; PEER and CHANNEL,
which zeromq.js lacks, are checked only here. Modelled on libzmq's test_client_server.cpp,
test_radio_dish.cpp, test_scatter_gather.cpp, test_peer.cpp and test_channel.cpp.
"""
import gevent
import pytest

from .support import nothing_within, recv_within


def test_has_draft(z):
    assert z.has("draft")
    assert z.DRAFT_API


def test_client_server_routing_ids(z, sock, bound, deadline):
    # SERVER: each message received carries the routing id of the client it came from, and
    # a reply sent with that routing id reaches that client only.
    server = sock("SERVER")
    ep = bound(server)
    clients = [sock("CLIENT") for _ in range(3)]
    for c in clients:
        c.connect(ep)
    with deadline(10):
        ids = {}
        for i, c in enumerate(clients):
            c.send(b"c%d" % i)
        for _ in clients:
            assert server.poll(5000)
            frame = server.recv(copy=False)
            assert isinstance(frame.routing_id, int) and frame.routing_id
            ids[frame.bytes] = frame.routing_id
        assert len(set(ids.values())) == 3
        for i, c in enumerate(clients):
            server.send(frame_for(z, b"to c%d" % i, ids[b"c%d" % i]))
        for i, c in enumerate(clients):
            assert recv_within(c) == [b"to c%d" % i]


def frame_for(z, data, routing_id):
    frame = z.Frame(data)
    frame.routing_id = routing_id
    return frame


def test_server_unknown_routing_id_is_ehostunreach(z, sock, bound):
    server = sock("SERVER")
    bound(server)
    with pytest.raises(z.ZMQError) as info:
        server.send(b"x", routing_id=42)
    assert info.value.errno == z.EHOSTUNREACH
    with pytest.raises(z.ZMQError) as info:
        server.send(b"x")               # no routing id at all
    assert info.value.errno == z.EHOSTUNREACH


@pytest.mark.parametrize("kind", ["CLIENT", "SERVER", "RADIO", "SCATTER", "CHANNEL", "PEER"])
def test_multipart_send_is_einval(z, sock, kind):
    # libzmq: "... sockets do not allow multipart data (ZMQ_SNDMORE)": EINVAL, nothing queued.
    s = sock(kind)
    with pytest.raises(z.ZMQError) as info:
        s.send(b"a", z.SNDMORE)
    assert info.value.errno == z.EINVAL
    with pytest.raises(z.ZMQError) as info:
        s.send_multipart([b"a", b"b"])
    assert info.value.errno == z.EINVAL


def test_wrong_direction_is_enotsup(z, sock):
    for kind, call in (("RADIO", "recv"), ("DISH", "send"), ("SCATTER", "recv"), ("GATHER", "send")):
        s = sock(kind)
        with pytest.raises(z.ZMQError) as info:
            getattr(s, call)(*([b"x"] if call == "send" else []), **({"flags": z.DONTWAIT} if call == "recv" else {}))
        assert info.value.errno == z.ENOTSUP, kind


def test_join_rules(z, sock):
    dish = sock("DISH")
    dish.join("g")
    with pytest.raises(z.ZMQError) as info:
        dish.join(b"g")                 # joined twice
    assert info.value.errno == z.EINVAL
    dish.leave("g")
    with pytest.raises(z.ZMQError) as info:
        dish.leave("g")                 # not joined
    assert info.value.errno == z.EINVAL
    with pytest.raises(z.ZMQError) as info:
        dish.join("x" * 256)            # longer than ZMQ_GROUP_MAX_LENGTH
    assert info.value.errno == z.EINVAL
    with pytest.raises(z.ZMQError) as info:
        sock("SUB").join("g")
    assert info.value.errno == z.ENOTSUP


def _radio_until_received(radio, dish, group, deadline_s=5):
    """A radio cannot know when a dish has joined: send until the dish has one."""
    with gevent.Timeout(deadline_s, AssertionError("the dish never received")):
        while not dish.poll(10):
            radio.send(b"warm", group=group)
    while dish.poll(0):
        dish.recv()


def test_radio_dish_groups(sock, bound, deadline):
    # A DISH receives the messages of the groups it joined, exactly (no prefix match), with
    # the group on the frame; after leave() it receives none of that group.
    radio = sock("RADIO")
    dish = sock("DISH")
    dish.connect(bound(radio))
    dish.join("movies")
    with deadline(10):
        _radio_until_received(radio, dish, "movies")
        radio.send(b"nope", group="movie")        # a prefix of the joined group
        radio.send(b"nope", group="tv")
        radio.send(b"Godfather", group="movies")
        frame = dish.recv(copy=False)
        assert (frame.bytes, frame.group) == (b"Godfather", "movies")
        dish.join("tv")
        dish.leave("movies")
        _radio_until_received(radio, dish, "tv")
        radio.send(b"nope", group="movies")
        radio.send(b"news", group="tv")
        frame = dish.recv(copy=False)
        assert (frame.bytes, frame.group) == (b"news", "tv")


def test_scatter_gather_round_robin(sock, bound, deadline):
    scatter = sock("SCATTER")
    ep = bound(scatter)
    gathers = [sock("GATHER") for _ in range(2)]
    for g in gathers:
        g.connect(ep)
    with deadline(10):
        for g in gathers:             # each gather's connection is up (the bound side's view)
            while not scatter.poll(10, 2):
                pass
        got = []
        for i in range(40):
            scatter.send(b"%d" % i)
        for g in gathers:
            while g.poll(200):
                got.append(int(g.recv()))
        assert sorted(got) == list(range(40))


def test_peer_connect_peer(z, sock, bound, deadline):
    # PEER: connect_peer() returns the routing id the new peer has on this socket.
    a = sock("PEER")
    b = sock("PEER")
    ep = bound(a)
    with deadline(10):
        rid = b.connect_peer(ep)
        assert isinstance(rid, int) and rid
        b.send(b"hi", routing_id=rid)
        frame = a.recv(copy=False)
        assert frame.bytes == b"hi"
        a.send(b"back", routing_id=frame.routing_id)
        frame = b.recv(copy=False)
        assert (frame.bytes, frame.routing_id) == (b"back", rid)


def test_channel_pair(sock, bound, deadline):
    a = sock("CHANNEL")
    b = sock("CHANNEL")
    b.connect(bound(a))
    with deadline(10):
        b.send(b"ping")
        assert recv_within(a) == [b"ping"]
        a.send(b"pong")
        assert recv_within(b) == [b"pong"]


def test_incompatible_peer_refused(z, sock, bound, transport):
    # A SERVER talks to CLIENTs only: a DEALER's connection is refused at the handshake.
    if transport == "inproc":
        pytest.skip("gzmq's inproc checks no socket types, for any type (not a draft matter)")
    server = sock("SERVER")
    dealer = sock("DEALER")
    dealer.connect(bound(server))
    dealer.send(b"hello")
    assert nothing_within(server, 300)


def test_dish_does_not_linger(z, ctx):
    # libzmq dish_t (as xsub_t): LINGER 0 by default, so a closing dish whose radio is gone
    # does not keep term() waiting to send it joins.
    dish = ctx.socket(z.DISH)
    assert dish.getsockopt(z.LINGER) == 0
    dish.close()
