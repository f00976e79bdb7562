"""Connection life cycle and flow control against libzmq: connect before bind, reconnect after
the peer restarts, fair queuing, HWM blocking, Again with DONTWAIT / SNDTIMEO / RCVTIMEO."""
import gevent
import pytest
import zmq

import gzmq
from tools.relay import Relay

from .support import bind, free_tcp_endpoint, recv_within

C = gzmq
pytestmark = pytest.mark.interop
IMPLS = ["gzmq", "libzmq"]


@pytest.fixture
def make(gctx, lctx):
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


def fixed_endpoint(transport, ipc_dir, name="ep"):
    return free_tcp_endpoint() if transport == "tcp" else f"ipc://{ipc_dir}/{name}"


# -- connect before bind -----------------------------------------------------------------------
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("pattern", [("PUSH", "PULL"), ("DEALER", "ROUTER"), ("REQ", "REP"), ("PAIR", "PAIR")])
@pytest.mark.parametrize("connecter_impl", IMPLS)
def test_connect_before_bind_messages_wait_for_the_peer(make, ipc_dir, deadline,
                                                        connecter_impl, pattern, transport):
    client_type, server_type = pattern
    ep = fixed_endpoint(transport, ipc_dir)
    client = make(connecter_impl, client_type)
    client.connect(ep)
    count = 1 if client_type == "REQ" else 3
    # connect() made the pipe at once: these sends queue in it, no peer exists yet.
    for i in range(count):
        client.send_multipart([b"early", b"%d" % i])
    with deadline(10):
        server = make(other(connecter_impl), server_type)
        server.bind(ep)
        for i in range(count):
            msg = recv_within(server)
            assert msg[-2:] == [b"early", b"%d" % i]
        if client_type in ("REQ", "DEALER", "PAIR"):
            reply = msg[:-2] + [b"reply"]
            server.send_multipart(reply)
            assert recv_within(client)[-1] == b"reply"


# -- reconnect after the peer restarts ------------------------------------------------------------
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("server_impl", IMPLS)
def test_reconnect_after_server_restarts(make, ipc_dir, deadline, server_impl, transport):
    ep = fixed_endpoint(transport, ipc_dir)
    server = make(server_impl, "ROUTER")
    server.bind(ep)
    client = make(other(server_impl), "DEALER", routing_id=b"client", reconnect_ivl=20)
    client.connect(ep)
    with deadline(10):
        client.send(b"first life")
        assert recv_within(server) == [b"client", b"first life"]
        server.close()
        server = make(server_impl, "ROUTER")
        # Same address, new socket: the client must find it again. (libzmq releases a closed
        # socket's address in its I/O thread, a moment after close() returns.)
        while True:
            try:
                server.bind(ep)
                break
            except (gzmq.ZMQError, zmq.ZMQError) as exc:
                assert exc.errno == C.EADDRINUSE
                gevent.sleep(0.01)
        # A message sent before the client noticed the restart may be lost with the old
        # connection (as in libzmq); keep sending until one arrives through the new one.
        n = 0
        while True:
            client.send(b"second life %d" % n)
            if server.poll(50):
                break
            n += 1
        rid, body = recv_within(server)
        assert rid == b"client" and body.startswith(b"second life")
        server.send_multipart([b"client", b"welcome back"])
        while True:
            msg = recv_within(client)
            if msg == [b"welcome back"]:
                break


# -- fair queuing -------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", [("PUSH", "PULL"), ("DEALER", "ROUTER")])
def test_fair_queuing_alternates_between_backlogged_peers(make, deadline, pattern):
    # gzmq receives from two libzmq senders. (libzmq as the receiver cannot be checked the
    # same way: its I/O thread reads the connections at its own pace, so there is no moment
    # at which both of its queues are known to be full.)
    # In-hub, so that the readers run exactly when this greenlet yields (gevent.idle below);
    # an I/O thread reads at its own pace, as libzmq's does.
    receiver_impl = "gzmq"
    sender_type, receiver_type = pattern
    hub_ctx = gzmq.Context(io_mode="hub")
    receiver = hub_ctx.socket(getattr(C, receiver_type))
    receiver.setsockopt(C.LINGER, 0)
    ep = bind(receiver, "tcp://127.0.0.1:*")
    relays = [Relay(ep), Relay(ep)]
    senders = [make(other(receiver_impl), sender_type), make(other(receiver_impl), sender_type)]
    try:
        with deadline(10):
            for s, r in zip(senders, relays):
                s.connect(r.endpoint)
            for n, s in enumerate(senders):
                s.send(b"%d-hello" % n)
            hellos = sorted(recv_within(receiver)[-1] for _ in senders)
            assert hellos == [b"0-hello", b"1-hello"]
            base = [r.count("up") for r in relays]
            for n, s in enumerate(senders):
                for i in range(20):
                    s.send(b"%d-%02d" % (n, i))
            # Each message is 6 bytes on the wire (flags, size, 4-byte body). Wait until all of
            # them went through both relays, so both peers are backlogged when reading starts.
            for r, b0 in zip(relays, base):
                r.wait_bytes("up", b0 + 20 * 6)
            # ...and let gzmq's connection readers take it in: recv() serves what is already
            # queued without yielding to the hub, so bytes still in the kernel would wait.
            gevent.idle()
            got = [recv_within(receiver)[-1] for _ in range(40)]
    finally:
        for r in relays:
            r.close()
        hub_ctx.destroy(linger=0)
    # Per peer, order is kept; between peers, the receiver takes one message from each in turn.
    for n in (0, 1):
        mine = [m for m in got if m.startswith(b"%d-" % n)]
        assert mine == [b"%d-%02d" % (n, i) for i in range(20)]
    firsts = [m[:1] for m in got[:20]]
    assert firsts.count(b"0") == 10 and firsts.count(b"1") == 10, got


# -- HWM, DONTWAIT, SNDTIMEO, RCVTIMEO ------------------------------------------------------------------
def _fill_until_again(sock, start=0, size=64 * 1024, limit=100000):
    """Send messages numbered from `start` with DONTWAIT until the socket stays unwritable
    (Again, and no POLLOUT within 50 ms); returns the next unused number."""
    pad = b"." * size
    i = start
    while i < start + limit:
        try:
            sock.send(b"%08d" % i + pad, C.DONTWAIT)
            i += 1
        except (gzmq.Again, zmq.Again):
            if not sock.poll(50, C.POLLOUT):
                return i
    raise AssertionError(f"{sock!r} never reached its high-water mark")


@pytest.mark.parametrize("sender_impl", IMPLS)
def test_push_blocks_at_hwm_and_loses_nothing(make, deadline, sender_impl):
    push = make(sender_impl, "PUSH", sndhwm=5, sndbuf=64 * 1024)
    pull = make(other(sender_impl), "PULL", rcvhwm=5, rcvbuf=64 * 1024)
    push.connect(bind(pull, "tcp://127.0.0.1:*"))
    with deadline(10):
        push.send(b"%08d" % 0 + b"hello")
        assert recv_within(pull)[0].startswith(b"00000000")
        sent = _fill_until_again(push, start=1)
        with pytest.raises((gzmq.Again, zmq.Again)):
            push.send(b"dontwait", C.DONTWAIT)
        if sender_impl == "gzmq":  # zmq.green ignores SNDTIMEO; libzmq proper honours it
            push.sndtimeo = 30
            with pytest.raises(gzmq.Again):
                push.send(b"timed out")
            push.sndtimeo = -1

        # A send blocked at the HWM is woken once the receiver drains the queue.
        g = gevent.spawn(push.send, b"%08d" % sent + b"last")
        try:
            gevent.sleep(0)
            assert not g.dead
            seen = 1
            while True:
                msg = recv_within(pull)[0]
                assert int(msg[:8]) == seen, f"message {seen} lost or reordered (got {msg[:8]!r})"
                if msg.endswith(b"last"):
                    break
                seen += 1
            g.get(timeout=5)
        finally:
            g.kill()
        assert seen == sent


@pytest.mark.parametrize("receiver_impl", IMPLS)
def test_reader_back_pressure_blocks_a_fast_sender(make, deadline, receiver_impl):
    # The receiver does not read: its RCVHWM fills, it stops reading the connection, TCP
    # pushes back, and the sender reaches SNDHWM. Then everything arrives, in order.
    pull = make(receiver_impl, "PULL", rcvhwm=5, rcvbuf=64 * 1024)
    push = make(other(receiver_impl), "PUSH", sndhwm=5, sndbuf=64 * 1024)
    push.connect(bind(pull, "tcp://127.0.0.1:*"))
    with deadline(10):
        total = _fill_until_again(push)
        assert total > 0
        for i in range(total):
            assert int(recv_within(pull)[0][:8]) == i


# Timeouts are checked on gzmq's side only: zmq.green ignores RCVTIMEO and SNDTIMEO (it
# waits on the hub without them), so it cannot serve as the reference for them.
def test_dontwait_and_rcvtimeo_raise_again(make, deadline):
    pull = make("gzmq", "PULL")
    push = make("libzmq", "PUSH")
    push.connect(bind(pull, "tcp://127.0.0.1:*"))
    with deadline(10):
        with pytest.raises(gzmq.Again) as info:
            pull.recv(C.DONTWAIT)
        assert info.value.errno == C.EAGAIN
        pull.rcvtimeo = 30
        with pytest.raises(gzmq.Again):
            pull.recv()
        push.send(b"now")
        pull.rcvtimeo = 5000
        assert pull.recv() == b"now"


def test_send_without_peers_dontwait_and_sndtimeo(make, deadline):
    # A DEALER with no connection at all cannot send: Again with DONTWAIT or after SNDTIMEO.
    dealer = make("gzmq", "DEALER")
    with deadline(10):
        with pytest.raises(gzmq.Again):
            dealer.send(b"x", C.DONTWAIT)
        dealer.sndtimeo = 30
        with pytest.raises(gzmq.Again):
            dealer.send(b"x")
        # ...and once a peer is there the same socket sends normally.
        router = make("libzmq", "ROUTER")
        dealer.connect(bind(router, "tcp://127.0.0.1:*"))
        dealer.sndtimeo = 5000
        dealer.send(b"finally")
        assert recv_within(router)[1] == b"finally"
