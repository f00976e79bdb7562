"""Fixtures for the bridge's end-to-end tests: a real Mongrel2, our bridge, and handlers.

``front`` runs the same behaviour tests three ways:
  - ``mongrel2+ours``: Debian's mongrel2 1.12 with a handler written with bridge.handler;
  - ``bridge+pyzmq``: our bridge (``python -m bridge``) with an independent pyzmq handler;
  - ``bridge+ours``: our bridge with the bridge.handler handler.
Mongrel2 is configured in a temporary directory (it chroots there and needs run/, logs/ and
tmp/ beside its config) and must be installed: its absence fails the tests, never skips them.
"""
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from types import SimpleNamespace

import pytest

from httpkit import BridgeProcess, Process, free_port, peer, wait_ready

M2_UUID = "54c6755b-9628-40a4-9a2d-cc82a816345e"

MONGREL2_CONF = """\
handler = Handler(send_spec='tcp://127.0.0.1:{send}', send_ident='{uuid}',
                  recv_spec='tcp://127.0.0.1:{recv}', recv_ident='')
main = Server(uuid="{server}", chroot="./", access_log="/logs/access.log",
              error_log="/logs/error.log", pid_file="/run/mongrel2.pid",
              default_host="localhost", name="main", bind_addr="127.0.0.1", port={port},
              hosts=[Host(name="localhost", routes={{'/m2/': handler}})])
settings = {{"zeromq.threads": 1}}
servers = [main]
"""


class Mongrel2:
    """A real mongrel2 process on a free loopback port, configured with m2sh in ``directory``."""

    def __init__(self, directory):
        for binary in ("mongrel2", "m2sh"):
            if not shutil.which(binary):
                pytest.fail(f"real peer {binary!r} is missing (Debian mongrel2-core): run `make peers`")
        self.directory = directory
        self.port, self.send, self.recv = free_port(), free_port(), free_port()
        server = str(uuid.uuid4())
        for sub in ("run", "logs", "tmp"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)
        with open(os.path.join(directory, "mongrel2.conf"), "w") as f:
            f.write(MONGREL2_CONF.format(send=self.send, recv=self.recv, uuid=M2_UUID,
                                         server=server, port=self.port))
        env = dict(os.environ, LOGNAME=os.environ.get("LOGNAME", "test"))
        subprocess.run(["m2sh", "load", "-config", "mongrel2.conf", "-db", "config.sqlite"],
                       cwd=directory, env=env, check=True, capture_output=True, timeout=30)
        self.process = Process(["mongrel2", "config.sqlite", server], cwd=directory)
        end = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.proc.poll() is not None or time.monotonic() > end:
                    log = open(os.path.join(directory, "logs", "error.log")).read() \
                        if os.path.exists(os.path.join(directory, "logs", "error.log")) else ""
                    pytest.fail(f"mongrel2 did not start listening on {self.port}: {log[-2000:]}")
                time.sleep(0.05)

    def stop(self):
        # mongrel2 daemonizes (new session, parent 1): the process we started is not the
        # server, so stop the pid from its pid file too.
        self.process.stop()
        try:
            with open(os.path.join(self.directory, "run", "mongrel2.pid")) as f:
                pid = int(f.read().strip())
        except (OSError, ValueError):
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            end = time.monotonic() + wait
            while time.monotonic() < end:
                if not _alive(pid):
                    return
                time.sleep(0.02)


def _alive(pid):
    """True while ``pid`` runs (a zombie left to an init that does not reap counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start_front(kind, tmp_path_factory):
    procs = []
    if kind == "mongrel2+ours":
        m2 = Mongrel2(str(tmp_path_factory.mktemp("mongrel2")))
        procs.append(m2)
        handler = Process(peer("m2_ours_handler.py", f"tcp://127.0.0.1:{m2.send}",
                               f"tcp://127.0.0.1:{m2.recv}"))
        procs.append(handler)
        port = m2.port
    else:
        bridge = BridgeProcess("--uuid", M2_UUID,
                               "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*")
        procs.append(bridge)
        route = bridge.route("/m2/")
        script = "m2_pyzmq_handler.py" if kind == "bridge+pyzmq" else "m2_ours_handler.py"
        procs.append(Process(peer(script, route["send"], route["recv"])))
        port = bridge.port
    return SimpleNamespace(kind=kind, port=port, prefix="/m2/", procs=procs)


@pytest.fixture(scope="module", params=["mongrel2+ours", "bridge+pyzmq", "bridge+ours"])
def front(request, tmp_path_factory):
    front = _start_front(request.param, tmp_path_factory)
    try:
        wait_ready(front.port, "/m2/pid", ok=lambda r: r.status == 200)
        yield front
    finally:
        for proc in reversed(front.procs):
            proc.stop()


@pytest.fixture
def processes():
    """Start processes with ``processes.start(Process|BridgeProcess)``; all stopped at the end."""
    started = []
    ns = SimpleNamespace(start=lambda p: started.append(p) or p)
    yield ns
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def zctx(pyzmq):
    """A pyzmq Context for handlers written against pyzmq (httpkit.PyzmqHandlerThread)."""
    ctx = pyzmq.Context()
    yield ctx
    ctx.destroy(linger=0)
