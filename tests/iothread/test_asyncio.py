"""gzmq.asyncio (pyzmq's zmq.asyncio): Futures from send, recv and poll on asyncio's own loop,
with plain pyzmq (libzmq) on the other side; and the authenticators an asyncio program uses.

Each test runs one asyncio.run() bounded by asyncio.wait_for; the gzmq contexts are in
I/O-thread mode, whatever the run's default (asyncio's loop does not turn gevent's hub).
"""
import asyncio
import socket
import threading

import pytest

import gzmq
import gzmq.asyncio
from gzmq.auth.asyncio import AsyncioAuthenticator
from gzmq.auth.thread import ThreadAuthenticator
from gzmq.utils.monitor import recv_monitor_message

BOUND = 20.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, BOUND))


@pytest.fixture
def actx():
    ctx = gzmq.asyncio.Context()
    assert ctx.io_mode == "thread"          # whatever the run's default: asyncio needs it
    yield ctx
    ctx.destroy(linger=0)


def bound(sock):
    return f"tcp://127.0.0.1:{sock.bind_to_random_port('tcp://127.0.0.1')}"


def test_rep_serves_a_pyzmq_req_client_in_another_thread(pyzmq, zctx, actx):
    rep = actx.socket(gzmq.REP)
    endpoint = bound(rep)
    assert isinstance(rep, gzmq.asyncio.Socket) and isinstance(rep, gzmq.Socket)

    def client():
        req = zctx.socket(pyzmq.REQ)
        req.connect(endpoint)
        answers = []
        for i in range(200):
            req.send_multipart([b"q", b"%d" % i])
            answers.append(req.recv_multipart())
        req.close(0)
        return answers

    async def main():
        async def serve():
            for _ in range(200):
                request = await rep.recv_multipart()
                await rep.send_multipart([b"a"] + request[1:])
        server = asyncio.ensure_future(serve())
        answers = await asyncio.get_running_loop().run_in_executor(None, client)
        await server
        return answers

    assert run(main()) == [[b"a", b"%d" % i] for i in range(200)]


def test_waiting_receives_finish_in_order_and_a_cancelled_one_takes_nothing(pyzmq, zctx, actx):
    pull = actx.socket(gzmq.PULL)
    endpoint = bound(pull)
    push = zctx.socket(pyzmq.PUSH)
    push.connect(endpoint)

    async def main():
        first, cancelled, second = pull.recv(), pull.recv(), pull.recv_string()
        cancelled.cancel()
        assert len(pull._recv_futures) == 3          # (dropped from the queue when its callback runs)
        await asyncio.sleep(0)
        assert len(pull._recv_futures) == 2
        push.send(b"one")
        push.send(b"two")
        assert await first == b"one" and await second == "two"
        assert cancelled.cancelled() and pull._recv_futures == []

    run(main())


def test_sends_past_the_hwm_wait_their_turn_and_all_arrive(pyzmq, zctx, actx):
    push = actx.socket(gzmq.PUSH)
    push.sndhwm = 1
    endpoint = bound(push)
    pull = zctx.socket(pyzmq.PULL)
    pull.rcvhwm = 1
    pull.connect(endpoint)
    count, size = 40, 1 << 20       # far more than both HWMs and the kernel's buffers hold

    async def main():
        sends = [push.send(b"%03d" % i + bytes(size)) for i in range(count)]
        assert not sends[-1].done()                      # held back until the reader reads
        got = await asyncio.get_running_loop().run_in_executor(
            None, lambda: [pull.recv()[:3] for _ in range(count)])
        await asyncio.gather(*sends)
        return got

    assert run(main()) == [b"%03d" % i for i in range(count)]


def test_timeouts_dontwait_and_closing(actx):
    pull = actx.socket(gzmq.PULL)
    bound(pull)

    async def main():
        with pytest.raises(gzmq.Again):
            await pull.recv(gzmq.NOBLOCK)
        pull.rcvtimeo = 50
        with pytest.raises(gzmq.Again):
            await pull.recv_multipart()
        pull.rcvtimeo = -1
        waiting, polling = pull.recv(), pull.poll(timeout=10_000)
        pull.close()
        await asyncio.sleep(0)
        assert waiting.cancelled() and polling.cancelled()

    run(main())


def test_poller_mixes_sockets_and_a_raw_descriptor(pyzmq, zctx, actx):
    pull = actx.socket(gzmq.PULL)
    endpoint = bound(pull)
    push = zctx.socket(pyzmq.PUSH)
    push.connect(endpoint)
    reader, writer = socket.socketpair()

    async def main():
        poller = gzmq.asyncio.Poller()
        poller.register(pull, gzmq.POLLIN)
        poller.register(reader, gzmq.POLLIN)
        assert await poller.poll(50) == []
        push.send(b"x")
        assert await poller.poll(10_000) == [(pull, gzmq.POLLIN)]
        assert await pull.recv() == b"x"
        writer.send(b"!")
        assert await poller.poll(10_000) == [(reader.fileno(), gzmq.POLLIN)]
        assert await pull.poll(timeout=0) == 0

    try:
        run(main())
    finally:
        reader.close()
        writer.close()


def test_from_socket_shadow_and_instance(pyzmq, zctx):
    sync_ctx = gzmq.Context(io_mode="thread")
    try:
        actx = gzmq.asyncio.Context(sync_ctx)
        assert actx.underlying == sync_ctx.underlying
        router = actx.socket(gzmq.ROUTER)
        assert isinstance(router, gzmq.asyncio.Socket)
        plain = sync_ctx.socket(gzmq.PULL)
        handle = gzmq.asyncio.Socket.from_socket(plain)
        assert isinstance(handle, gzmq.asyncio.Socket) and handle.underlying == plain.underlying
        # and back: the blocking API over an asyncio socket
        blocking = gzmq.Socket.shadow(router)
        assert not isinstance(blocking, gzmq.asyncio.Socket)
        dealer = zctx.socket(pyzmq.DEALER)
        dealer.routing_id = b"d"
        dealer.connect(bound(router))
        pusher = zctx.socket(pyzmq.PUSH)
        pusher.connect(bound(plain))

        async def main():
            dealer.send_multipart([b"", b"hi"])
            assert await router.recv_multipart() == [b"d", b"", b"hi"]
            pusher.send(b"via shadow")
            assert await handle.recv() == b"via shadow"
            blocking.send_multipart([b"d", b"", b"back"])       # returns at once, no Future
            return await asyncio.get_running_loop().run_in_executor(None, dealer.recv_multipart)

        assert run(main()) == [b"", b"back"]
        assert gzmq.asyncio.Context.instance() is gzmq.asyncio.Context.instance()
        assert gzmq.asyncio.Context.instance() is not gzmq.Context.instance()
        for s in (router, plain):
            s.close(0)
    finally:
        sync_ctx.destroy(linger=0)


def test_monitor_events_are_awaitable(pyzmq, zctx, actx):
    rep = zctx.socket(pyzmq.REP)
    endpoint = f"tcp://127.0.0.1:{rep.bind_to_random_port('tcp://127.0.0.1')}"
    req = actx.socket(gzmq.REQ)
    monitor = req.get_monitor_socket()

    async def main():
        req.connect(endpoint)
        seen = []
        while gzmq.EVENT_HANDSHAKE_SUCCEEDED not in seen:
            seen.append((await recv_monitor_message(monitor))["event"])
        return seen

    seen = run(main())
    assert gzmq.EVENT_CONNECTED in seen


def curve_pair(pyzmq, zctx, actx, client_public, client_secret, server_public, server_secret):
    server = actx.socket(gzmq.PULL)
    server.curve_server = True
    server.curve_secretkey = server_secret
    server.curve_publickey = server_public
    endpoint = bound(server)
    client = zctx.socket(pyzmq.PUSH)
    client.curve_serverkey = server_public
    client.curve_publickey = client_public
    client.curve_secretkey = client_secret
    client.linger = 0
    client.connect(endpoint)
    return server, client


def test_asyncio_authenticator_awaits_a_coroutine_credentials_callback(pyzmq, zctx, actx):
    server_public, server_secret = gzmq.curve_keypair()
    good_public, good_secret = gzmq.curve_keypair()
    bad_public, bad_secret = gzmq.curve_keypair()

    class Provider:
        asked = []

        async def callback(self, domain, key):
            await asyncio.sleep(0.01)           # a real await on the program's loop
            self.asked.append(key)
            return key == good_public

    async def main():
        auth = AsyncioAuthenticator(actx)
        auth.start()
        auth.configure_curve_callback("*", credentials_provider=Provider())
        try:
            good_server, good = curve_pair(pyzmq, zctx, actx, good_public, good_secret, server_public, server_secret)
            good.send(b"welcome")
            assert await good_server.recv() == b"welcome"
            bad_server, bad = curve_pair(pyzmq, zctx, actx, bad_public, bad_secret, server_public, server_secret)
            monitor = bad.get_monitor_socket()
            loop = asyncio.get_running_loop()
            while True:
                event = await loop.run_in_executor(None, recv_monitor_message, monitor)
                if event["event"] == pyzmq.EVENT_HANDSHAKE_FAILED_AUTH:
                    break
            # (libzmq's client retries after a refusal: the bad key may have been asked again)
            assert Provider.asked[0] == good_public and set(Provider.asked[1:]) == {bad_public}
        finally:
            auth.stop()
        assert not auth.is_alive()

    run(main())


def test_thread_authenticator_answers_while_the_program_blocks_natively(pyzmq, zctx):
    """A pyzmq program's ThreadAuthenticator is a thread: handshakes go on while the main
    thread waits in something that is not gzmq (here a threading.Event)."""
    ctx = gzmq.Context(io_mode="thread")
    auth = ThreadAuthenticator(ctx)
    auth.start()
    try:
        assert isinstance(auth.thread, threading.Thread) and auth.is_alive()
        auth.configure_curve("*", gzmq.auth.CURVE_ALLOW_ANY)
        server_public, server_secret = gzmq.curve_keypair()
        client_public, client_secret = gzmq.curve_keypair()
        server = ctx.socket(gzmq.PULL)
        server.curve_server = True
        server.curve_secretkey = server_secret
        endpoint = bound(server)
        client = zctx.socket(pyzmq.PUSH)
        client.curve_serverkey, client.curve_publickey, client.curve_secretkey = (
            server_public, client_public, client_secret)
        client.linger = 0
        monitor = client.get_monitor_socket()
        client.connect(endpoint)
        shook_hands = threading.Event()

        def watch():
            while recv_monitor_message(monitor)["event"] != pyzmq.EVENT_HANDSHAKE_SUCCEEDED:
                pass
            shook_hands.set()

        threading.Thread(target=watch, daemon=True).start()
        assert shook_hands.wait(BOUND)
        client.send(b"in")
        assert server.recv() == b"in"
        server.close(0)
    finally:
        auth.stop()
        ctx.destroy(linger=0)
    assert not auth.is_alive()


def test_zmqstream_given_an_asyncio_socket_uses_its_blocking_shadow(pyzmq, zctx, actx):
    from gzmq.eventloop.zmqstream import ZMQStream     # (tornado: a test dependency)
    pull = actx.socket(gzmq.PULL)
    endpoint = bound(pull)
    push = zctx.socket(pyzmq.PUSH)
    push.connect(endpoint)

    async def main():
        with pytest.warns(RuntimeWarning, match="blocking API"):
            stream = ZMQStream(pull)
        got = asyncio.get_running_loop().create_future()
        stream.on_recv(lambda frames: got.done() or got.set_result(frames))
        push.send_multipart([b"a", b"b"])
        assert await got == [b"a", b"b"]
        stream.close()

    run(main())
    assert pull.closed


def test_no_reader_is_left_on_the_loop_for_a_closed_socket(actx):
    """An asyncio socket's close takes its FD off the loop; a from_socket() handle on a
    blocking socket, which may be closed through the blocking API, leaves the FD on the loop
    only while a Future waits."""
    pull = actx.socket(gzmq.PULL)
    bound(pull)
    plain = actx.socket(gzmq.PULL, socket_class=gzmq.Socket)
    bound(plain)
    handle = gzmq.asyncio.Socket.from_socket(plain)

    async def main():
        loop = asyncio.get_running_loop()
        pull_fd, plain_fd = pull.FD, plain.FD
        for waiting in (pull.recv(), handle.recv()):
            waiting.cancel()
        await asyncio.sleep(0)
        assert loop.remove_reader(plain_fd) is False        # (nothing to remove)
        pull.close()
        assert loop.remove_reader(pull_fd) is False

    run(main())


def test_term_from_another_thread_ends_a_waiting_receive():
    """As libzmq's: term() reaches the socket through zmq.FD, where EVENTS then raises ETERM,
    so the waiting Future ends with ContextTerminated and the program can close the socket
    that term() waits for."""
    ctx = gzmq.asyncio.Context(io_mode="thread")
    pull = ctx.socket(gzmq.PULL)
    bound(pull)

    async def main():
        waiting = pull.recv()
        terminating = asyncio.get_running_loop().run_in_executor(None, ctx.term)
        with pytest.raises(gzmq.ContextTerminated):
            await waiting
        pull.close()
        await terminating

    run(main())
    assert ctx.closed
