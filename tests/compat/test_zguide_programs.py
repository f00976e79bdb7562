"""Patterns of third-party pyzmq programs (the ZeroMQ Guide's examples) that gzmq must run
unchanged. Each test runs a small program of its own in a subprocess, bounded by a timeout."""
import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_program(source, timeout=20, patch=False):
    code = textwrap.dedent(source)
    if patch:
        code = "from gevent import monkey; monkey.patch_all()\n" + code
    env = dict(os.environ, PYTHONPATH=ROOT)
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


@pytest.mark.parametrize("patch", [False, True], ids=["plain", "patched"])
def test_main_thread_ends_while_workers_still_need_its_sockets(patch):
    result = run_program(MAIN_ENDS_AFTER_LAST_SEND, patch=patch)
    assert result.returncode == 0, result.stderr
    lines = [l for l in result.stdout.splitlines() if l.startswith("worker")]
    assert len(lines) == 4, result.stdout + result.stderr
    assert sum(int(l.split()[-1]) for l in lines) == 36
