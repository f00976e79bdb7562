"""Fixtures for the embedded bridge (bridge.embed, issue 23): examples/embed/app.py as a process
(bottle on gevent's pywsgi with gevent-websocket's WebSocketHandler), independent peers."""
import json
import os
import signal
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "bridge_ws"))

from wskit import REPO, _readline  # noqa: E402

APP = os.path.join(REPO, "examples", "embed", "app.py")


class EmbedApp:
    def __init__(self, *flags):
        env = dict(os.environ, PYTHONPATH=REPO, PYTHONUNBUFFERED="1")
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, APP, "--listen", "127.0.0.1:0", *flags], cwd=REPO, env=env,
                                     stdout=subprocess.PIPE, stderr=self.stderr, start_new_session=True)
        line = _readline(self.proc, 20.0)
        assert line.startswith("embed ready "), line
        self.info = json.loads(line[len("embed ready "):])
        self.port = int(self.info["listen"].rsplit(":", 1)[1])

    def route(self, prefix):
        return next(r for r in self.info["routes"] if r["prefix"] == prefix)

    def ws(self, path="/live/"):
        import websocket
        return websocket.create_connection(f"ws://127.0.0.1:{self.port}{path}", timeout=10)

    def log(self):
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc.stdout.close()
        self.stderr.close()


@pytest.fixture
def zctx(pyzmq):
    ctx = pyzmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture(scope="module")
def embed_app():
    app = EmbedApp()
    yield app
    app.stop()


@pytest.fixture
def start_app():
    started = []

    def start(*flags):
        app = EmbedApp(*flags)
        started.append(app)
        return app

    yield start
    for app in reversed(started):
        app.stop()
