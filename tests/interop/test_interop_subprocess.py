"""gzmq against a plain pyzmq peer in another process: interop across process boundaries,
with libzmq running its own threads and blocking calls, not zmq.green's hub integration."""
import os
import sys
import zlib

import pytest
from gevent import subprocess  # cooperative pipes, patched or not

import gzmq

from .support import BIG, bind, recv_within

pytestmark = pytest.mark.interop
PEER = os.path.join(os.path.dirname(__file__), "pyzmq_peer.py")


class Peer:
    """The pyzmq_peer.py process; lines() reads its stdout cooperatively."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, PEER, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        first = self.line()
        assert first.startswith("READY "), first
        self.endpoint = first.split(" ", 1)[1]

    def line(self):
        line = self.proc.stdout.readline().decode().rstrip("\n")
        if not line:
            err = self.proc.stderr.read().decode()
            raise AssertionError(f"pyzmq peer ended early: {err}")
        return line

    def finish(self):
        assert self.line() == "DONE"
        assert self.proc.wait(timeout=10) == 0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def peer():
    started = []

    def start(*args):
        p = Peer(*args)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_gzmq_req_to_pyzmq_rep_process(gctx, peer, ipc_dir, deadline, transport):
    with deadline(20):
        addr = "tcp://127.0.0.1:*" if transport == "tcp" else f"ipc://{ipc_dir}/rep"
        rep = peer("REP", "bind", addr, "echo", "3")
        req = gctx.socket(gzmq.REQ)
        req.connect(rep.endpoint)
        for body in ([b"a"], [b"b", b"", b"c"], [b"big", BIG]):
            req.send_multipart(body)
            assert recv_within(req, 10000) == body
        rep.finish()


def test_pyzmq_req_process_to_gzmq_rep(gctx, peer, ipc_dir, deadline):
    with deadline(20):
        rep = gctx.socket(gzmq.REP)
        ep = bind(rep, f"ipc://{ipc_dir}/rep")
        req = peer("REQ", "connect", ep, "ask", "3")
        for i in range(3):
            assert recv_within(rep, 10000) == [b"q", b"%d" % i]
            rep.send_multipart([b"a", b"%d" % i])
            assert req.line() == f"REPLY {b'a'.hex()} {(b'%d' % i).hex()}"
        req.finish()


def test_pyzmq_push_process_to_gzmq_pull(gctx, peer, deadline):
    with deadline(20):
        pull = gctx.socket(gzmq.PULL)
        ep = bind(pull, "tcp://127.0.0.1:*")
        push = peer("PUSH", "connect", ep, "push", "200")
        for i in range(199):
            assert recv_within(pull, 10000) == [b"%d" % i]
        assert recv_within(pull, 10000) == [b"199", BIG]
        push.finish()  # LINGER let the process deliver everything before it exited


def test_gzmq_push_to_pyzmq_pull_process(gctx, peer, deadline):
    with deadline(20):
        pull = peer("PULL", "bind", "tcp://127.0.0.1:*", "pull", "101")
        push = gctx.socket(gzmq.PUSH)
        push.connect(pull.endpoint)
        msgs = [[b"%d" % i, b"x" * i] for i in range(100)] + [[b"last", BIG]]
        for m in msgs:
            push.send_multipart(m)
        for m in msgs:
            lengths = ",".join(str(len(f)) for f in m)
            assert pull.line() == f"GOT {lengths} {zlib.crc32(b''.join(m))}"
        pull.finish()


def test_pyzmq_dealer_process_to_gzmq_router(gctx, peer, deadline):
    with deadline(20):
        router = gctx.socket(gzmq.ROUTER)
        ep = bind(router, "tcp://127.0.0.1:*")
        dealer = peer("DEALER", "connect", ep, "ask", "2", "proc-1")
        for i in range(2):
            assert recv_within(router, 10000) == [b"proc-1", b"q", b"%d" % i]
            router.send_multipart([b"proc-1", b"r", BIG if i else b""])
            expected = " ".join(f.hex() for f in [b"r", BIG if i else b""])
            assert dealer.line() == f"REPLY {expected}"
        dealer.finish()


def test_gzmq_close_with_linger_delivers_to_pyzmq_process(peer, deadline):
    # gzmq's side closes right after sending; LINGER (default -1) and term() still deliver all.
    with deadline(20):
        pull = peer("PULL", "bind", "tcp://127.0.0.1:*", "pull", "50")
        ctx = gzmq.Context()
        push = ctx.socket(gzmq.PUSH)
        push.connect(pull.endpoint)
        for i in range(50):
            push.send(b"%d" % i)
        push.close()
        ctx.term()
        for i in range(50):
            assert pull.line() == f"GOT {len(b'%d' % i)} {zlib.crc32(b'%d' % i)}"
        pull.finish()
