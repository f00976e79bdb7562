"""Helpers for the multicast tests: peer subprocesses and the shared message generator."""
import importlib.util
import json
import os
import subprocess

import gevent
import gevent.subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_SCRIPT = os.path.join(HERE, "peers", "mc_peer.py")
SYSTEM_PYTHON = "/usr/bin/python3"
GROUP = "239.192.77.1"

# mc_peer.py runs standalone under /usr/bin/python3; the tests share its message generator
# and checker so both sides agree on every byte.
_spec = importlib.util.spec_from_file_location("mc_peer", PEER_SCRIPT)
mc_peer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mc_peer)
make_message = mc_peer.make_message
Checker = mc_peer.Checker
WARMUP = mc_peer.WARMUP


def endpoint(scheme, host, port):
    return f"{scheme}://{host.address};{GROUP}:{port}"


class Peer:
    """mc_peer.py in a host: `python lib role endpoint count rate`."""

    def __init__(self, host, python, lib, role, endpoint, count, rate):
        self.name = f"{lib} {role} on {host.netns}"
        self.proc = gevent.subprocess.Popen(
            host.command(python, PEER_SCRIPT, lib, role, endpoint, str(count), str(rate)),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            universal_newlines=True)

    def line(self):
        text = self.proc.stdout.readline()
        if not text:
            self.proc.wait()
            raise AssertionError(f"{self.name} exited ({self.proc.returncode}): {self.proc.stderr.read()}")
        return text.strip()

    def expect(self, word):
        got = self.line()
        assert got == word, f"{self.name}: expected {word!r}, got {got!r}"

    def result(self):
        return json.loads(self.line())

    def tell(self, word):
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.tell("quit")
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except gevent.subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
