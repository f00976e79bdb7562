"""Ctrl-C stops a running example quietly: no traceback (gevent's hub used to print 25 lines
of one), exit status 0."""
import os
import signal
import subprocess
import sys

import pytest

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
    ("bridge/hello_m2.py", ["tcp://127.0.0.1:9", "tcp://127.0.0.1:9"]),   # connects; nobody there
]


@pytest.mark.parametrize("script, args", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_ctrl_c_stops_an_example_without_a_traceback(script, args):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # As in a terminal: SIGINT delivered, whatever the test runner's parent ignored.
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "examples", script), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stdout.readline()
        assert first and proc.poll() is None, first + proc.stdout.read()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = first + rest
    assert "Traceback" not in output and "KeyboardInterrupt" not in output, output
    assert proc.returncode == 0, output
