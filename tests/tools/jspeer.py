"""Node.js peers (tests/js): zeromq.js (libzmq 4.3.5 with the draft API and ws://) and jszmq.

`make test` installs them (tools/install-peers.sh runs `npm ci` in tests/js); a missing node
or node_modules fails the test that needs it (tests/tools/peers.py), never skips it.
A JsPeer runs one script role in a child process and reads its stdout lines cooperatively.
"""
import os
import shutil

from gevent import subprocess

from .peers import require_peer

JS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "js")


def require_js(package):
    node = shutil.which("node")
    require_peer("node (Node.js)", node)
    require_peer(f"{package} (npm, tests/js: run `make peers`)",
                 os.path.isdir(os.path.join(JS_DIR, "node_modules", package)))
    return node


class JsPeer:
    """`node tests/js/SCRIPT ARGS...`; the first line must be `ready ENDPOINT`."""

    def __init__(self, script, *args, package="zeromq"):
        node = require_js(package)
        self.proc = subprocess.Popen([node, os.path.join(JS_DIR, script), *map(str, args)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=JS_DIR)
        first = self.line()
        assert first.startswith("ready "), first
        self.endpoint = first.split(" ", 1)[1]

    def line(self):
        line = self.proc.stdout.readline().decode().rstrip("\n")
        if not line:
            err = self.proc.stderr.read().decode()
            raise AssertionError(f"node peer ended early: {err}")
        return line

    def lines(self, n):
        return [self.line() for _ in range(n)]

    def stop(self):
        """Close its stdin: roles that loop (radio, scatter) end on that."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()

    def finish(self):
        assert self.line() == "done"
        assert self.proc.wait(timeout=10) == 0

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if f and not f.closed:
                f.close()
