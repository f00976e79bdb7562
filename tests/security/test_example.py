"""examples/security/ironhouse.py works: in process, and as the script its docstring shows."""
import os
import subprocess
import sys

import gevent

from examples.security.ironhouse import run  # noqa: the example is the code under test

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_ironhouse_in_process(cert_dir):
    with gevent.Timeout(20, AssertionError("example did not finish")):
        reply, refused = run(cert_dir)
    assert reply == b"HELLO, SECURE WORLD"
    assert refused
    files = sorted(os.listdir(os.path.join(cert_dir, "certificates")))
    assert files == ["client.key_secret", "server.key", "server.key_secret",
                     "stranger.key", "stranger.key_secret"]
    assert os.listdir(os.path.join(cert_dir, "public_keys")) == ["client.key"]


def test_ironhouse_script():
    out = subprocess.run([sys.executable, os.path.join("examples", "security", "ironhouse.py")],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "client: b'HELLO, SECURE WORLD'" in out.stdout
    assert "stranger: refused" in out.stdout
    assert "client: b'STILL HERE'" in out.stdout
