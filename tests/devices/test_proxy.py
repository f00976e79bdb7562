"""gzmq.proxy / proxy_steerable / device (libzmq's zmq_proxy semantics, src/proxy.cpp).

Every device type runs as a gzmq proxy with gzmq and libzmq (zmq.green) sockets on each side;
the capture socket must see every message in both directions; the control socket obeys
PAUSE, RESUME, TERMINATE and STATISTICS with their documented meaning.
"""
import struct

import gevent
import pytest

import gzmq

from .support import IMPLS, bind, recv_within, run_proxy


def rep_worker(sock, name):
    """A REP server answering name:request until killed."""
    while True:
        request = sock.recv()
        sock.send(name + b":" + request)


# -- QUEUE: REQ clients -> ROUTER | proxy | DEALER -> REP workers -----------------------------
@pytest.mark.parametrize("worker_impl", IMPLS)
@pytest.mark.parametrize("client_impl", IMPLS)
def test_queue_device(client_impl, worker_impl, gctx, make, greenlets, deadline):
    front = gctx.socket(gzmq.ROUTER)
    back = gctx.socket(gzmq.DEALER)
    front_ep, back_ep = bind(front), bind(back)
    proxy = greenlets(run_proxy, gzmq.device, gzmq.QUEUE, front, back)
    for n in range(2):
        worker = make(worker_impl, "REP")
        worker.connect(back_ep)
        greenlets(rep_worker, worker, b"w%d" % n)

    def client(n):
        sock = make(client_impl, "REQ")
        sock.connect(front_ep)
        replies = []
        for i in range(20):
            body = b"c%d-%d" % (n, i)
            sock.send(body)
            replies.append(sock.recv())
        sock.close(linger=0)
        return replies

    with deadline(20):
        clients = [gevent.spawn(client, n) for n in range(3)]
        gevent.joinall(clients, raise_error=True)
    for n, g in enumerate(clients):
        replies = g.value
        assert [r.split(b":", 1)[1] for r in replies] == [b"c%d-%d" % (n, i) for i in range(20)]
        assert {r.split(b":", 1)[0] for r in replies} <= {b"w0", b"w1"}
    front.close()
    with deadline(5):
        assert proxy.get() == gzmq.ENOTSOCK


# -- FORWARDER: PUB -> XSUB | proxy | XPUB -> SUB; subscriptions travel upstream --------------
@pytest.mark.parametrize("sub_impl", IMPLS)
@pytest.mark.parametrize("pub_impl", IMPLS)
def test_forwarder_device(pub_impl, sub_impl, gctx, make, greenlets, deadline):
    front = gctx.socket(gzmq.XSUB)
    back = gctx.socket(gzmq.XPUB)
    front_ep, back_ep = bind(front), bind(back)
    greenlets(run_proxy, gzmq.device, gzmq.FORWARDER, front, back)
    pub = make(pub_impl, "PUB")
    pub.connect(front_ep)
    sub = make(sub_impl, "SUB")
    sub.setsockopt(gzmq.SUBSCRIBE, b"A")
    sub.connect(back_ep)
    with deadline(20):
        # The subscription has reached the publisher once a probe comes through.
        while True:
            pub.send(b"A-probe")
            if sub.poll(50):
                break
        while sub.poll(100):
            assert sub.recv() == b"A-probe"
        for i in range(50):
            pub.send(b"A %d" % i)
            pub.send(b"B %d" % i)    # nobody subscribed: filtered out upstream
        pub.send(b"A-end")
        got = []
        while True:
            msg = recv_within(sub)[0]
            if msg == b"A-end":
                break
            got.append(msg)
    assert got == [b"A %d" % i for i in range(50)]


# -- STREAMER: PUSH -> PULL | proxy | PUSH -> PULL ---------------------------------------------
@pytest.mark.parametrize("sink_impl", IMPLS)
@pytest.mark.parametrize("source_impl", IMPLS)
def test_streamer_device(source_impl, sink_impl, gctx, make, greenlets, deadline):
    front = gctx.socket(gzmq.PULL)
    back = gctx.socket(gzmq.PUSH)
    front_ep, back_ep = bind(front), bind(back)
    greenlets(run_proxy, gzmq.device, gzmq.STREAMER, front, back)
    source = make(source_impl, "PUSH")
    source.connect(front_ep)
    sink = make(sink_impl, "PULL")
    sink.connect(back_ep)
    big = bytes(range(256)) * 4096       # 1 MiB with varied content
    messages = [[b"part-a-%d" % i, b"part-b" * i] for i in range(500)] + [[b"big", big]]
    with deadline(20):
        sender = gevent.spawn(lambda: [source.send_multipart(m) for m in messages])
        got = [recv_within(sink) for _ in messages]
        sender.get()
    assert got == messages


def test_device_rejects_unknown_type(gctx):
    a, b = gctx.socket(gzmq.PULL), gctx.socket(gzmq.PUSH)
    with pytest.raises(gzmq.ZMQError) as info:
        gzmq.device(42, a, b)
    assert info.value.errno == gzmq.EINVAL


def test_proxy_needs_gzmq_sockets(gctx, lctx, green):
    with pytest.raises(TypeError, match="gzmq socket"):
        gzmq.proxy(gctx.socket(gzmq.ROUTER), lctx.socket(green.DEALER))


def test_proxy_ends_on_context_term(deadline):
    ctx = gzmq.Context()
    front, back = ctx.socket(gzmq.ROUTER), ctx.socket(gzmq.DEALER)
    bind(front), bind(back)
    g = gevent.spawn(gzmq.proxy, front, back)
    terminator = gevent.spawn(ctx.term)
    with deadline(5):
        with pytest.raises(gzmq.ContextTerminated):
            g.get()
        front.close()
        back.close()
        terminator.get()


# -- capture: every message, both directions ---------------------------------------------------
@pytest.mark.parametrize("reader_impl", IMPLS)
def test_capture_sees_every_message(reader_impl, gctx, make, greenlets, deadline):
    front = gctx.socket(gzmq.ROUTER)
    back = gctx.socket(gzmq.DEALER)
    capture = gctx.socket(gzmq.PUSH)     # lossless, unlike PUB
    front_ep, back_ep, capture_ep = bind(front), bind(back), bind(capture)
    greenlets(run_proxy, gzmq.proxy, front, back, capture)
    reader = make(reader_impl, "PULL")
    reader.connect(capture_ep)
    worker = make(reader_impl, "REP")
    worker.connect(back_ep)
    greenlets(rep_worker, worker, b"w")
    client = make("gzmq" if reader_impl == "libzmq" else "libzmq", "REQ")
    client.connect(front_ep)
    n = 30
    with deadline(20):
        for i in range(n):
            client.send(b"q%d" % i)
            assert client.recv() == b"w:q%d" % i
        captured = [recv_within(reader) for _ in range(2 * n)]
        assert not reader.poll(100)
    # Requests as the ROUTER saw them (id, delimiter, body), then each reply on its way back.
    client_id = captured[0][0]
    assert captured[0::2] == [[client_id, b"", b"q%d" % i] for i in range(n)]
    assert captured[1::2] == [[client_id, b"", b"w:q%d" % i] for i in range(n)]


# -- steering ------------------------------------------------------------------------------------
def stats(control):
    control.send(b"STATISTICS")
    frames = recv_within(control)
    assert len(frames) == 8 and all(len(f) == 8 for f in frames)
    return [struct.unpack("@Q", f)[0] for f in frames]


@pytest.mark.parametrize("control_type", ["PAIR", "REP"])
@pytest.mark.parametrize("commander_impl", IMPLS)
def test_steering_commands(commander_impl, control_type, gctx, make, greenlets, deadline):
    front = gctx.socket(gzmq.PULL)
    back = gctx.socket(gzmq.PUSH)
    control = gctx.socket(getattr(gzmq, control_type))
    front_ep, back_ep, control_ep = bind(front), bind(back), bind(control)
    proxy = greenlets(run_proxy, gzmq.proxy_steerable, front, back, None, control)
    commander = make(commander_impl, "PAIR" if control_type == "PAIR" else "REQ")
    commander.connect(control_ep)
    source = make(commander_impl, "PUSH")
    source.connect(front_ep)
    sink = make(commander_impl, "PULL")
    sink.connect(back_ep)

    def command(name):
        commander.send(name)
        if control_type == "REP":    # REP answers every command with an empty frame
            assert recv_within(commander) == [b""]

    with deadline(20):
        assert stats(commander) == [0] * 8
        for i in range(5):
            source.send_multipart([b"m%d" % i, b"xyz"])
        assert [recv_within(sink) for _ in range(5)] == [[b"m%d" % i, b"xyz"] for i in range(5)]
        # Frames and payload bytes: received on the frontend, sent on the backend.
        assert stats(commander) == [10, 25, 0, 0, 0, 0, 10, 25]

        command(b"PAUSE")
        # Commands are handled in order: once STATISTICS is answered, PAUSE has been obeyed.
        # (Messages on the frontend travel another connection and could overtake PAUSE,
        # whenever the engines run on threads of their own, libzmq's as well as gzmq's.)
        assert stats(commander) == [10, 25, 0, 0, 0, 0, 10, 25]
        for i in range(5, 8):
            source.send_multipart([b"m%d" % i, b"xyz"])
        assert front.poll(5000)              # the messages are waiting inside the proxy...
        assert stats(commander) == [10, 25, 0, 0, 0, 0, 10, 25]   # ...and it did not take them
        assert not sink.poll(0)

        command(b"RESUME")
        assert [recv_within(sink) for _ in range(3)] == [[b"m%d" % i, b"xyz"] for i in range(5, 8)]
        assert stats(commander) == [16, 40, 0, 0, 0, 0, 16, 40]

        command(b"NONSENSE")                 # ignored (REP still gets its empty reply)
        command(b"TERMINATE")
        assert proxy.get() == 0


def test_statistics_count_both_directions(gctx, greenlets, deadline):
    front = gctx.socket(gzmq.ROUTER)
    back = gctx.socket(gzmq.DEALER)
    control = gctx.socket(gzmq.PAIR)
    front_ep, back_ep = bind(front), bind(back)
    control.bind("inproc://ctl")
    commander = gctx.socket(gzmq.PAIR)
    commander.connect("inproc://ctl")
    greenlets(run_proxy, gzmq.proxy_steerable, front, back, None, control)
    worker = gctx.socket(gzmq.REP)
    worker.connect(back_ep)
    greenlets(rep_worker, worker, b"w")
    client = gctx.socket(gzmq.REQ)
    client.routing_id = b"C"
    client.connect(front_ep)
    with deadline(10):
        client.send(b"hello")
        assert client.recv() == b"w:hello"
        # In: [b"C", b"", b"hello"] (3 frames, 6 bytes); out: [b"C", b"", b"w:hello"] (3, 8).
        assert stats(commander) == [3, 6, 3, 8, 3, 8, 3, 6]


def test_pause_holds_back_both_directions_until_resume(gctx, greenlets, deadline):
    front = gctx.socket(gzmq.PAIR)
    back = gctx.socket(gzmq.PAIR)
    control = gctx.socket(gzmq.PAIR)
    front.bind("inproc://front")
    back.bind("inproc://back")
    control.bind("inproc://control")
    left, right, commander = (gctx.socket(gzmq.PAIR) for _ in range(3))
    left.connect("inproc://front")
    right.connect("inproc://back")
    commander.connect("inproc://control")
    greenlets(run_proxy, gzmq.proxy_steerable, front, back, None, control)
    with deadline(10):
        commander.send(b"PAUSE")
        left.send(b"to the right")
        right.send(b"to the left")
        assert front.poll(5000) and back.poll(5000)
        assert stats(commander)[0::2] == [0, 0, 0, 0]
        commander.send(b"RESUME")
        assert recv_within(right) == [b"to the right"]
        assert recv_within(left) == [b"to the left"]


def test_proxy_waits_for_room_without_losing_messages(gctx, greenlets, deadline):
    """A full backend stops the flow (the message in hand is kept) until the sink drains."""
    front = gctx.socket(gzmq.PULL)
    back = gctx.socket(gzmq.PUSH)
    back.sndhwm = 5
    front.rcvhwm = 5
    front.bind("inproc://in")
    back_ep = bind(back)
    greenlets(run_proxy, gzmq.proxy, front, back)
    source = gctx.socket(gzmq.PUSH)
    source.connect("inproc://in")
    sink = gctx.socket(gzmq.PULL)
    sink.rcvhwm = 5
    sink.connect(back_ep)
    n = 2000
    with deadline(20):
        sender = gevent.spawn(lambda: [source.send(b"%d" % i) for i in range(n)])
        got = [sink.recv() for _ in range(n)]
        sender.get()
    assert got == [b"%d" % i for i in range(n)]


def test_monitored_queue_prefixes_and_router_router(gctx, greenlets, deadline):
    from gzmq.devices import monitored_queue
    front = gctx.socket(gzmq.ROUTER)
    back = gctx.socket(gzmq.DEALER)
    mon = gctx.socket(gzmq.PUSH)
    front_ep, back_ep, mon_ep = bind(front), bind(back), bind(mon)
    greenlets(run_proxy, monitored_queue, front, back, mon, b"IN", b"OUT")
    watcher = gctx.socket(gzmq.PULL)
    watcher.connect(mon_ep)
    worker = gctx.socket(gzmq.REP)
    worker.connect(back_ep)
    greenlets(rep_worker, worker, b"w")
    client = gctx.socket(gzmq.REQ)
    client.routing_id = b"C"
    client.connect(front_ep)
    with deadline(10):
        client.send(b"ping")
        assert client.recv() == b"w:ping"
        assert recv_within(watcher) == [b"IN", b"C", b"", b"ping"]
        assert recv_within(watcher) == [b"OUT", b"C", b"", b"w:ping"]


def test_proxy_moves_batches_and_sleeps_when_idle(gctx, greenlets, deadline):
    """Queued messages go through in bursts (a round per BURST, not per message), and an idle
    proxy does not run at all until a socket wakes it."""
    from gzmq.proxy import BURST, _Proxy
    front, back = gctx.socket(gzmq.PULL), gctx.socket(gzmq.PUSH)
    front.bind("inproc://batch-in")
    back.bind("inproc://batch-out")
    source, sink = gctx.socket(gzmq.PUSH), gctx.socket(gzmq.PULL)
    source.sndhwm = sink.rcvhwm = front.rcvhwm = back.sndhwm = 0      # no HWM: all queued at once
    source.connect("inproc://batch-in")
    sink.connect("inproc://batch-out")
    n = 3 * BURST
    for i in range(n):
        source.send(b"%d" % i)
    proxy = _Proxy(front, back)
    greenlets(run_proxy, proxy.run)
    with deadline(10):
        assert [sink.recv() for _ in range(n)] == [b"%d" % i for i in range(n)]
        gevent.idle()                        # the hub has nothing else to do: proxy waits
        assert proxy.rounds <= 5             # 3 bursts, then one that finds nothing and waits
        idle_rounds = proxy.rounds
        gevent.sleep(0.2)                    # a busy-waiting proxy would go round meanwhile
        assert proxy.rounds == idle_rounds
        source.send(b"one more")
        assert sink.recv() == b"one more"
        assert proxy.rounds <= idle_rounds + 2
