"""Headless Chromium driven over the DevTools protocol with websocket-client (no other driver).

``Chromium(binary, directory)`` starts Debian's chromium headless on a fresh profile with
``--remote-debugging-port=0`` and reads the port it chose from DevToolsActivePort; ``page()``
attaches to its tab. ``Page.navigate`` and ``Page.evaluate`` (Runtime.evaluate, by value,
awaiting promises) are all the tests need; ``wait_for`` polls an expression until it is
truthy, bounded. ``stop()`` ends the browser's whole process group.
"""
import json
import os
import signal
import subprocess
import time
import urllib.request

import websocket

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-extensions", "--disable-dev-shm-usage", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0"]


class Chromium:
    def __init__(self, binary, directory, timeout=30.0, extra_flags=()):
        self.profile = os.path.join(directory, "profile")
        self.log = open(os.path.join(directory, "chromium.log"), "wb")
        self.proc = subprocess.Popen([binary, *FLAGS, *extra_flags, f"--user-data-dir={self.profile}",
                                      "about:blank"],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        end = time.monotonic() + timeout
        while True:
            try:
                with open(port_file) as f:
                    lines = f.read().split("\n")
                if len(lines) >= 2 and lines[0].isdigit():
                    self.port = int(lines[0])
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > end:
                self.stop()
                raise AssertionError(f"chromium did not start: {self.tail()}")
            time.sleep(0.05)

    def tail(self):
        with open(self.log.name, "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def page(self):
        end = time.monotonic() + 15
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as r:
                targets = [t for t in json.load(r) if t.get("type") == "page"]
            if targets:
                return Page(targets[0]["webSocketDebuggerUrl"])
            assert time.monotonic() < end, "chromium has no page target"
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()


class Page:
    def __init__(self, url):
        # DevTools refuses WebSocket clients that send an Origin it was not told to allow.
        self.ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self._id = 0
        self.console = []
        self.call("Runtime.enable")
        self.call("Page.enable")

    def call(self, method, **params):
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == "Runtime.consoleAPICalled":
                self.console.append(" ".join(str(a.get("value", a.get("description"))) for a in msg["params"]["args"]))
            elif msg.get("method") == "Runtime.exceptionThrown":
                self.console.append(json.dumps(msg["params"]["exceptionDetails"])[:500])
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]

    def navigate(self, url):
        result = self.call("Page.navigate", url=url)
        assert "errorText" not in result, result

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, timeout=20.0):
        end = time.monotonic() + timeout
        error = None
        while True:
            try:
                value = self.evaluate(expression)
            except AssertionError as e:         # the page is still loading (no document yet)
                value, error = None, e
            if value:
                return value
            if time.monotonic() > end:
                raise AssertionError(f"never true: {expression}; last error: {error}; "
                                     f"console: {self.console[-5:]}")
            time.sleep(0.05)

    def close(self):
        self.ws.close()
