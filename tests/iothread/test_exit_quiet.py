"""A program that connects and exits at once (ordinary pyzmq code) exits quietly: its I/O
thread's connecter must not need anything the interpreter refuses while it shuts down (a
resolver thread pool, an atexit registration)."""
import subprocess
import sys

import pytest

PROGRAM = """
import gzmq as zmq
c = zmq.Context()
s = c.socket(zmq.PUSH)
s.connect({endpoint!r})
"""


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:9", "tcp://localhost:9", "tcp://[::1]:9"])
def test_connect_then_exit_prints_nothing(endpoint):
    result = subprocess.run([sys.executable, "-c", PROGRAM.format(endpoint=endpoint)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stderr == ""
