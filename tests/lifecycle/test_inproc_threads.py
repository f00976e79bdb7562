"""inproc between OS threads that each run their own gevent hub (issue 4).

The threads are real OS threads even when the suite runs under monkey.patch_all() (we start
them with the original thread primitives), so cross-hub wake-ups are really exercised.
"""
import time

import gevent
from gevent.monkey import get_original

import gzmq

start_new_thread = get_original("_thread", "start_new_thread")
allocate_lock = get_original("_thread", "allocate_lock")
N = 100_000


def run_in_thread(fn, *args):
    """Run fn in a new OS thread; returns a callable that waits (cooperatively) for the result."""
    result = {}
    done = allocate_lock()
    done.acquire()

    def body():
        try:
            result["value"] = fn(*args)
        except BaseException as exc:  # surfaced to the test
            result["error"] = exc
        finally:
            done.release()

    start_new_thread(body, ())

    def join(timeout=60):
        deadline = time.monotonic() + timeout
        while not done.acquire(False):
            if time.monotonic() > deadline:
                raise AssertionError("thread did not finish in time")
            gevent.sleep(0.01)   # the *test* thread polls; the threads under test never spin
        if "error" in result:
            raise result["error"]
        return result.get("value")

    return join


def both_ways(ctx, endpoint, bind):
    sock = ctx.socket(gzmq.PAIR)
    (sock.bind if bind else sock.connect)(endpoint)

    def sender():
        for i in range(N):
            sock.send(b"%d" % i)

    g = gevent.spawn(sender)
    received = 0
    for i in range(N):
        assert int(sock.recv()) == i
        received += 1
    g.get()
    sock.close()
    return received


def test_100k_messages_both_ways_between_threads():
    ctx = gzmq.Context()
    join_a = run_in_thread(both_ways, ctx, "inproc://threads", True)
    join_b = run_in_thread(both_ways, ctx, "inproc://threads", False)
    assert join_a() == N
    assert join_b() == N
    ctx.term()


def idle_receiver(ctx, ready_flag):
    sock = ctx.socket(gzmq.PULL)
    sock.connect("inproc://idle")
    ready_flag.release()
    msg = sock.recv()          # waits about a second with nothing to do
    sock.close()
    return msg


def test_idle_wait_across_threads_does_not_spin():
    ctx = gzmq.Context()
    push = ctx.socket(gzmq.PUSH)
    push.bind("inproc://idle")
    ready = allocate_lock()
    ready.acquire()
    join = run_in_thread(idle_receiver, ctx, ready)
    while not ready.acquire(False):
        gevent.sleep(0.01)
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    gevent.sleep(1.0)          # the receiver thread is blocked in recv() meanwhile
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - wall0
    push.send(b"wake up")
    assert join() == b"wake up"
    # A busy loop would burn ~1 s of CPU in that second; a proper wait burns almost none.
    assert cpu < 0.25 * wall, f"{cpu:.3f}s of CPU while idle for {wall:.3f}s"
    push.close()
    ctx.term()


def test_hwm_blocks_across_threads_and_resumes():
    ctx = gzmq.Context()
    pull = ctx.socket(gzmq.PULL)
    pull.rcvhwm = 10
    pull.bind("inproc://hwm")

    def producer():
        push = ctx.socket(gzmq.PUSH)
        push.sndhwm = 10
        push.connect("inproc://hwm")
        for i in range(5000):
            push.send(b"%d" % i)   # blocks at 20 queued until the other thread reads
        push.close()
        return True

    join = run_in_thread(producer)
    got = [int(pull.recv()) for _ in range(5000)]
    assert got == list(range(5000))
    assert join() is True
    pull.close()
    ctx.term()
