"""Patterns of third-party pyzmq programs (the ZeroMQ Guide's examples) that gzmq must run
unchanged. Each test runs a small program of its own in a subprocess, bounded by a timeout."""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_program(source, timeout=20, patch=False, io_mode=None):
    code = textwrap.dedent(source)
    if patch:
        code = "from gevent import monkey; monkey.patch_all()\n" + code
    env = dict(os.environ, PYTHONPATH=ROOT)
    if io_mode:
        env["GZMQ_IO_MODE"] = io_mode
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


# The main thread owns a ROUTER and its last act is a send to a worker thread; then its code
# ends. Python joins the worker threads before atexit, so the main thread's hub must keep doing
# the socket's I/O meanwhile (libzmq's I/O thread does), or the worker waits forever.
MAIN_ENDS_AFTER_LAST_SEND = """
    import sys
    import threading
    import gzmq as zmq

    ctx = zmq.Context.instance()
    router = ctx.socket(zmq.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    endpoint = router.last_endpoint

    def worker(n):
        req = ctx.socket(zmq.REQ)
        req.connect(endpoint)
        got = 0
        while True:
            req.send(b"ready")
            if req.recv() == b"END":
                sys.stdout.write(f"worker {n} got {got}\\n")  # one write: threads interleave
                return
            got += 1

    for n in range(4):
        threading.Thread(target=worker, args=(n,)).start()
    for i in range(40):
        who, empty, _ = router.recv_multipart()
        router.send_multipart([who, b"", b"work" if i < 36 else b"END"])
"""


# In-hub and unpatched, the main thread's hub does the I/O while Python joins the workers: from
# threading's exit hook, where CPython 3.12.0-3.12.2 refuse to start a thread (gh-113964), so
# gzmq must not depend on starting one there (the program used to hang on 3.12.1).
@pytest.mark.parametrize("patch, io_mode", [(False, None), (True, None), (False, "hub")],
                         ids=["plain", "patched", "plain-in-hub"])
def test_main_thread_ends_while_workers_still_need_its_sockets(patch, io_mode):
    result = run_program(MAIN_ENDS_AFTER_LAST_SEND, patch=patch, io_mode=io_mode)
    assert result.returncode == 0, result.stderr
    lines = [l for l in result.stdout.splitlines() if l.startswith("worker")]
    assert len(lines) == 4, result.stdout + result.stderr
    assert sum(int(l.split()[-1]) for l in lines) == 36


# A publisher queues far more than the kernel buffers hold, then its program ends. libzmq (with
# pyzmq's default infinite LINGER) delivers all of it to a subscriber that keeps reading; gzmq's
# exit-time flush must go on while the queue shrinks, even though the writer is behind a full
# kernel buffer most of the time.
PUBLISHER_ENDS_WITH_A_FULL_QUEUE = """
    import gzmq as zmq

    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.sndhwm = 400000
    pub.bind("tcp://127.0.0.1:*")
    sync = ctx.socket(zmq.REP)
    sync.bind("tcp://127.0.0.1:*")
    print(pub.last_endpoint.decode(), sync.last_endpoint.decode(), flush=True)
    sync.recv()
    sync.send(b"")
    payload = b"x" * 200
    for i in range(300000):
        pub.send(payload)
    pub.send(b"END")
"""


def test_program_end_delivers_a_queue_bigger_than_the_kernel_buffers():
    import gevent
    import gzmq

    code = "\n".join(l for l in textwrap.dedent(PUBLISHER_ENDS_WITH_A_FULL_QUEUE).splitlines())
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT)
    ctx = gzmq.Context()
    try:
        pub_ep, sync_ep = proc.stdout.readline().split()
        sub = ctx.socket(gzmq.SUB)
        sub.rcvhwm = 100  # a small receive queue: the publisher's writer waits on TCP a lot
        sub.subscribe(b"")
        sub.connect(pub_ep)
        req = ctx.socket(gzmq.REQ)
        req.connect(sync_ep)
        with gevent.Timeout(30, AssertionError("the subscriber did not get END")):
            gevent.sleep(0.5)  # let the subscription reach the publisher (no event tells us)
            req.send(b"")
            req.recv()
            n = 0
            while sub.recv() != b"END":
                n += 1
        assert n == 300000
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        ctx.destroy(linger=0)


# A publisher that sends in a tight loop and never blocks: libzmq's I/O thread accepts and
# serves subscribers meanwhile; gzmq's hub must get turns from the dropped messages.
PUBLISHER_IN_A_TIGHT_LOOP = """
    import gzmq as zmq

    pub = zmq.Context().socket(zmq.PUB)
    pub.bind("tcp://127.0.0.1:*")
    print(pub.last_endpoint.decode(), flush=True)
    n = 0
    while True:
        n += 1
        pub.send_string("%05d %d" % (n % 100000, n))
"""


@pytest.mark.parametrize("patch", [False, True], ids=["plain", "patched"])
def test_publisher_that_never_blocks_still_serves_subscribers(ctx, patch):
    import gevent
    import gzmq

    code = textwrap.dedent(PUBLISHER_IN_A_TIGHT_LOOP)
    if patch:
        code = "from gevent import monkey; monkey.patch_all()\n" + code
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT)
    try:
        endpoint = proc.stdout.readline().strip()
        sub = ctx.socket(gzmq.SUB)
        sub.subscribe(b"")
        sub.connect(endpoint)
        with gevent.Timeout(20, AssertionError("the tight-loop publisher never served us")):
            for _ in range(100):
                sub.recv()
    finally:
        proc.kill()
        proc.wait()


# multiprocessing with the fork start method, after the parent already has sockets: the child
# must not serve the parent's inherited listeners or connections (it would accept the very
# connection it makes to its parent, or read from the parent's streams); it makes its own
# context and talks to the parent like any other peer, and the parent's own connection and
# ipc path survive the child.
FORK_AFTER_SOCKETS = """
    import multiprocessing
    import os
    import sys
    import tempfile

    from gevent.socket import wait_read
    import gzmq as zmq

    def child(endpoints, inherited):
        inherited.close()          # the parent's socket: nothing it shares may be touched
        ctx = zmq.Context.instance()
        for endpoint in endpoints:
            req = ctx.socket(zmq.REQ)
            req.rcvtimeo = 5000
            req.connect(endpoint)
            req.send(b"from child")
            assert req.recv() == b"ok"
            req.close()
        ctx.term()

    if __name__ == "__main__":
        ctx = zmq.Context.instance()
        router = ctx.socket(zmq.ROUTER)
        router.rcvtimeo = 10000
        router.bind("tcp://127.0.0.1:*")
        tcp = router.last_endpoint
        path = os.path.join(tempfile.mkdtemp(), "fork.ipc")
        router.bind("ipc://" + path)
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect(tcp)
        dealer.send(b"before")
        assert router.recv_multipart()[1] == b"before"
        process = multiprocessing.get_context("fork").Process(
            target=child, args=([tcp, "ipc://" + path], router))
        process.start()
        for _ in range(2):
            ident, empty, body = router.recv_multipart()
            assert body == b"from child", body
            router.send_multipart([ident, b"", b"ok"])
        wait_read(process.sentinel, timeout=15)   # cooperative: our hub keeps sending meanwhile
        process.join()
        assert process.exitcode == 0, process.exitcode
        assert os.path.exists(path)
        dealer.send(b"after")
        assert router.recv_multipart()[1] == b"after"
        print("OK")
"""


@pytest.mark.parametrize("patch", [False, True], ids=["plain", "patched"])
def test_fork_after_sockets(patch):
    result = run_program(FORK_AFTER_SOCKETS, timeout=40, patch=patch)
    assert result.returncode == 0 and result.stdout.strip() == "OK", result.stdout + result.stderr

