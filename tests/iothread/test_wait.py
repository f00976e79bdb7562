"""The one wait primitive (gzmq.engine.wait.wait_until) and how a connection's messages reach a
blocked recv(): what wakes whom, when, and how many greenlet switches it costs."""
import subprocess
import sys
import threading

import gevent
import greenlet
import pytest
from gevent import get_hub

import gzmq
from gzmq.engine.wait import Mailbox, Signal, hub_link, thread_ident, wait_until


class Switches:
    """Greenlet switches on this thread while the block runs (greenlet.settrace is per thread)."""

    def __enter__(self):
        self.count = 0
        self._previous = greenlet.settrace(self._trace)
        return self

    def _trace(self, event, args):
        if event in ("switch", "throw"):
            self.count += 1

    def __exit__(self, *exc):
        greenlet.settrace(self._previous)


def test_a_wake_before_the_block_returns_without_a_switch():
    # A greenlet about to block often fires its own signal (its inline flush drained a full
    # pipe): the wake-up is kept, and the block it was about to enter returns at once.
    signal = Signal()
    tries = []

    def ready():
        tries.append(len(tries))
        return len(tries) == 3

    def fire_just_before_blocking():
        if len(tries) == 2:         # (ready() is tried twice before the first block)
            signal.fire()

    hub_link()                      # (this thread's hub is started by its first HubLink)
    with Switches() as switches:
        assert wait_until(ready, 5, (signal,), fire_just_before_blocking)
    assert tries == [0, 1, 2]
    assert switches.count == 0
    assert not signal.waiters


def test_a_wake_from_a_hub_callback_runs_the_waiter_after_that_callback():
    # fire() happens in the middle of other work (a socket attaching a peer, then naming it):
    # the woken greenlet must not run before that work is finished.
    signal = Signal()
    order = []

    def attach_then_name():
        signal.fire()
        order.append("named")

    def ready():
        if not order:
            return None
        order.append("woken")
        return True

    get_hub().loop.run_callback(attach_then_name)
    assert wait_until(ready, 5, (signal,))
    assert order == ["named", "woken"]


def test_a_second_wake_is_harmless():
    signal = Signal()
    state = {"go": False}
    result = []
    waiter = gevent.spawn(lambda: result.append(wait_until(lambda: state["go"], 5, (signal,))))
    gevent.sleep(0)                 # (it runs, and blocks)
    state["go"] = True
    signal.fire()
    signal.fire()                   # before the first wake-up has run
    waiter.join(5)
    assert result == [True]
    assert not signal.waiters
    assert wait_until(lambda: None, 0.05, (signal,)) is None


def test_a_wake_from_another_thread():
    signal = Signal()
    flag = []

    def other():
        flag.append(True)
        signal.fire()

    gevent.spawn_later(0.01, lambda: threading.Thread(target=other).start())
    assert wait_until(lambda: bool(flag), 10, (signal,))


def test_a_mailbox_moves_to_the_thread_that_uses_its_socket():
    # pyzmq lets a program hand a socket to another thread. Its commands must then run on the
    # new thread only: the old one may still run its hub (blocked in another socket's recv),
    # and running them there as well would race with the socket's new owner.
    signal = Signal()
    box = Mailbox((signal,))            # made here, as by a socket made on this thread
    ran_on = {}

    def command(name):
        ran_on[name] = thread_ident()
        signal.fire()                   # (as read_activated tells a waiting recv)

    queued = threading.Thread(target=box.call, args=(command, "queued before the move"))
    queued.start()
    queued.join(10)                     # (posted to this thread's hub, which has not run)
    moved = threading.Event()
    new_owner = []

    def use_the_socket():
        new_owner.append(thread_ident())
        box.process()                   # its first call on this thread (send, recv, poll...)
        moved.set()
        assert wait_until(lambda: len(ran_on) == 3, 10, (signal,))

    worker = threading.Thread(target=use_the_socket)
    worker.start()
    assert moved.wait(10)
    box.call(command, "from the old thread")
    threading.Thread(target=box.call, args=(command, "from a third thread")).start()
    gevent.sleep(0.05)                  # the old thread's hub runs (its stale callback too)
    worker.join(10)
    assert not worker.is_alive()
    assert ran_on == dict.fromkeys(["queued before the move", "from the old thread",
                                    "from a third thread"], new_owner[0])
    assert box.thread == new_owner[0] and not box.commands


def test_a_timeout_ends_the_wait_and_leaves_no_waiter():
    signal = Signal()
    assert wait_until(lambda: None, 0.01, (signal,)) is None
    assert not signal.waiters


def until(condition):
    """Poll a condition that no event announces (a watcher's state) until it holds."""
    while not condition():
        gevent.sleep(0.005)


@pytest.fixture
def libzmq_echo(tmp_path):
    """A pyzmq (libzmq) REP in its own process, echoing; its endpoint."""
    endpoint = f"ipc://{tmp_path}/echo"
    code = ("import sys, zmq\n"
            "s = zmq.Context().socket(zmq.REP); s.bind(sys.argv[1]); print('ready', flush=True)\n"
            "while True:\n"
            "    m = s.recv(); s.send(m)\n"
            "    if not m: break\n")
    server = subprocess.Popen([sys.executable, "-c", code, endpoint], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "ready"
        yield endpoint
    finally:
        server.kill()
        server.wait(10)


def test_a_request_reply_round_trip_switches_only_into_the_hub_and_back(libzmq_echo):
    # In-hub, the reply is read by the connection's io callback in the hub and handed to the
    # blocked recv() by one switch; the request is written by the recv() that blocks next. So
    # a round trip costs the caller two switches (out to the hub, back), no reader or writer
    # greenlet.
    ctx = gzmq.Context(io_threads=0)
    req = ctx.socket(gzmq.REQ)
    try:
        req.connect(libzmq_echo)
        for _ in range(20):         # handshake and warm-up
            req.send(b"warm")
            assert req.recv() == b"warm"
        rounds = 200
        with Switches() as switches:
            for i in range(rounds):
                req.send(b"%d" % i)
                assert req.recv() == b"%d" % i
        # (Some slack for greenlets other tests left on this hub; a reader or writer greenlet
        # per message would add 2 * rounds.)
        assert switches.count <= 2 * rounds + 40
        req.send(b"")
        req.recv()
    finally:
        req.close(linger=0)
        ctx.term()


def test_the_reader_stops_at_rcvhwm_and_resumes_without_loss():
    # Back-pressure: once the socket's inbound queue reaches RCVHWM the connection's io
    # watcher stops (TCP then pushes back on the sender); draining it to half starts it again.
    ctx = gzmq.Context(io_threads=0)
    pull = ctx.socket(gzmq.PULL)
    push = ctx.socket(gzmq.PUSH)
    try:
        pull.rcvhwm = 10
        pull.bind("tcp://127.0.0.1:*")
        push.sndhwm = 100000
        push.connect(pull.last_endpoint.decode())
        count = 5000
        body = b"x" * 1000
        sender = gevent.spawn(lambda: [push.send(body + b"%d" % i) for i in range(count)])
        def reading_stopped():
            # (A session still in its handshake has no io watcher yet.)
            watch = next(iter(pull._sessions))._rwatch if pull._sessions else None
            return watch is not None and not watch.active

        with gevent.Timeout(30):
            until(reading_stopped)
            session = next(iter(pull._sessions))
            # Stopped with the queue at the mark or one read's batch past it, not everything.
            assert 10 <= session.pipe.pending_in() < count
            received = [pull.recv() for _ in range(count)]
        assert received == [body + b"%d" % i for i in range(count)]
        sender.join(10)
        assert sender.successful()
    finally:
        push.close(linger=0)
        pull.close(linger=0)
        ctx.term()
