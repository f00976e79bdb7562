"""A KeyboardInterrupt (Ctrl-C) can land on any line of Python, the hub's included. Two places
where it once broke gzmq for good, run in a thread of their own so each starts a fresh hub."""
import signal
import subprocess
import sys
import threading

import gevent
from gevent import get_hub

import gzmq
from gzmq.engine.wait import Signal, call_and_wait, hub_link, wait_until


def run_in_fresh_thread(fn):
    outcome = []
    thread = threading.Thread(target=lambda: outcome.append(fn()))
    thread.start()
    thread.join(30)
    assert not thread.is_alive()
    return outcome[0]


def test_the_first_socket_of_a_thread_starts_its_hub():
    # Ctrl-C landing on the first lines of Hub.run() kills the hub: every later switch to it
    # returns at once (close() then failed with InvalidSwitchError). The hub must already run
    # when a program's first wait comes, which is where Ctrl-C lands.
    def first_socket():
        ctx = gzmq.Context()
        try:
            started_before = bool(get_hub())
            sock = ctx.socket(gzmq.PUB)
            started_after = bool(get_hub()) and not get_hub().dead
            sock.close(linger=0)
            return started_before, started_after
        finally:
            ctx.term()

    started_before, started_after = run_in_fresh_thread(first_socket)
    assert not started_before
    assert started_after


def test_calls_queued_behind_an_interrupted_one_still_run():
    # A KeyboardInterrupt raised while the hub runs queued cross-thread calls goes to the main
    # greenlet; the calls queued behind it must still run, or a wake-up (the end of a close,
    # a socket's commands) is lost until some other thread happens to post again.
    def interrupted_drain():
        get_hub().NOT_ERROR += (KeyboardInterrupt,)     # (no traceback from the hub)
        link = hub_link()
        ran, done = [], Signal()

        def interrupt():
            raise KeyboardInterrupt

        def after():
            ran.append(True)
            done.fire()

        poster = threading.Thread(target=lambda: (link.call(interrupt), link.call(after)))
        poster.start()
        poster.join()
        interrupted = False
        try:
            gevent.sleep(5)
        except KeyboardInterrupt:
            interrupted = True
        return interrupted, wait_until(lambda: ran, 10, (done,))

    interrupted, ran = run_in_fresh_thread(interrupted_drain)
    assert interrupted
    assert ran == [True]


def test_gzmq_threads_never_take_the_programs_signals():
    # A signal sent to the process goes to any thread that does not block it; one taken by an
    # I/O thread ran no handler there while the main thread slept on (libzmq's threads block
    # every signal, and so do gzmq's).
    ctx = gzmq.Context(io_mode="thread")
    try:
        sock = ctx.socket(gzmq.PULL)
        sock.bind("tcp://127.0.0.1:*")
        (thread,) = ctx._io_threads
        blocked = call_and_wait(thread.link, signal.pthread_sigmask, signal.SIG_BLOCK, [])
        sock.close(linger=0)
    finally:
        ctx.term()
    assert {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD} <= blocked
    assert signal.SIGSEGV not in blocked
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # (this thread's)


WAKEUP_FD = """
import signal, socket, sys
own = None
if sys.argv[1] == "own":
    a, b = socket.socketpair()
    b.setblocking(False)
    own = b.fileno()
    signal.set_wakeup_fd(own)
import gzmq
ctx = gzmq.Context()
sock = ctx.socket(gzmq.PULL)
sock.bind("tcp://127.0.0.1:*")
current = signal.set_wakeup_fd(-1)
print("own" if current == own else "gzmq" if current != -1 else "none")
sock.close(linger=0)
ctx.term()
"""


def test_a_signal_wakes_the_main_threads_hub():
    # gevent runs Python's signal handlers just before its loop polls: a signal landing after
    # that check left a program asleep in recv() with Ctrl-C unhandled. A wake-up fd (as
    # asyncio uses) ends the poll; a program's own wake-up fd is left in place.
    for who in ("gzmq", "own"):
        result = subprocess.run([sys.executable, "-c", WAKEUP_FD, who], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == who
