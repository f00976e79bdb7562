"""Ctrl-C stops a running example quietly: no traceback (gevent's hub used to print 25 lines
of one), exit status 0."""
import os
import signal
import subprocess
import sys

import pytest

import gzmq
from gzmq.utils.monitor import recv_monitor_message

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ANY = "tcp://127.0.0.1:*"

# (script, arguments): each prints a line once it is running, and then runs until stopped.
EXAMPLES = [
    ("intro/echo_server.py", ["--bind", ANY]),
    ("pubsub/soccer_publisher.py", ["--bind", ANY, "--rate", "2"]),
    ("pubsub/forwarder.py", ["--frontend", ANY, "--backend", ANY]),
    ("jsondb/server.py", ["--bind", ANY, "--watch", ANY]),
    ("bridge/chat.py", ["--pub", ANY, "--sub", ANY, "--rep", ANY]),
    ("bridge/hello_req.py", [ANY]),
    ("bridge/hello_m2.py", ["{push}", "{sub}"]),      # connects to a bridge's PUSH and SUB
]


class FakeBridge:
    """What a Mongrel2-protocol handler connects to: a bound PUSH and SUB (as the bridge's); it
    waits until the handler's two connections have finished their handshakes."""

    def __init__(self):
        self.ctx = gzmq.Context()
        self.push, self.sub = self.ctx.socket(gzmq.PUSH), self.ctx.socket(gzmq.SUB)
        self.monitors = [s.get_monitor_socket(gzmq.EVENT_HANDSHAKE_SUCCEEDED) for s in (self.push, self.sub)]
        self.endpoints = {}
        for name, sock in (("push", self.push), ("sub", self.sub)):
            sock.bind("tcp://127.0.0.1:*")
            self.endpoints[name] = sock.last_endpoint.decode()

    def wait_connected(self):
        for monitor in self.monitors:
            monitor.rcvtimeo = 20000
            recv_monitor_message(monitor)

    def close(self):
        self.ctx.destroy(linger=0)


@pytest.mark.parametrize("script, args", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_ctrl_c_stops_an_example_without_a_traceback(script, args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    bridge = FakeBridge() if "{push}" in args else None
    if bridge is not None:
        args = [a.format(**bridge.endpoints) for a in args]
    # As in a terminal: SIGINT delivered, whatever the test runner's parent ignored.
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "examples", script), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stdout.readline()
        assert first and proc.poll() is None, first + proc.stdout.read()
        if bridge is not None:
            bridge.wait_connected()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if bridge is not None:
            bridge.close()
    output = first + rest
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert proc.returncode == 0, output
