"""``make demo`` / ``python -m bridge.demo``: the bridge and example backends in one command.

Starts, all on 127.0.0.1 (backends on free ports):
  - the soccer publisher of the ZeroMQ introduction (examples/pubsub/soccer_publisher.py,
    unchanged) behind ``/live/=pubsub:...``: the live events page, pick your countries;
  - the chat service (examples/bridge/chat.py) behind ``/chat/=pubsub:SUB,PUB`` and its
    history behind ``/chat-api/=req:...``: the chat room;
  - the echo service (examples/bridge/echo_req.py) behind ``/echo/=req:...``: over HTTP, and
    over the WebSocket with the request op;
  - ``/zmq/soccer=zws:...`` and ``/zmq/echo=zws:...`` on the same two backends: zmq.html, where
    the browser itself is a SUB of the publisher and a REQ of echo (ZeroMQ over WebSocket);
  - the BigPipe page of examples/bigpipe (its four pagelet backends) at ``/bigpipe/``;
  - the jsondb service over HTTP at ``/jsondb/``, once examples/jsondb provides the hook;
  - the bridge, serving the pages of examples/bridge/www at ``/`` and bridge.js.
Then it prints the URLs. Ctrl-C (or SIGTERM) stops everything it started.

Hook for other examples (BigPipe and jsondb use it): a module ``examples.NAME.run`` with
``backend_commands() -> [argv, ...]`` (processes to start; each may print one line when ready)
and ``bridge_args() -> [flags]`` (the bridge's --route/--static flags), and optionally
``PREFIX`` (the URL path to print). A missing module is reported and skipped.
"""
import argparse
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES = os.path.join(REPO, "examples")
WWW = os.path.join(EXAMPLES, "bridge", "www")

# Optional examples started through the hook above: (module, label, default prefix).
HOOKS = [
    ("examples.bigpipe.run", "BigPipe page", "/bigpipe/"),
    ("examples.jsondb.run", "jsondb over HTTP", "/jsondb/"),   # HOOK: examples/jsondb (issue 5)
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_free(host, port):
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class Children:
    """The processes the demo started; stopped (SIGTERM, then SIGKILL) in reverse order."""

    def __init__(self):
        self.procs = []
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
        self.env = env

    def start(self, name, argv, wait_line=True):
        # A session of its own: the terminal's Ctrl-C reaches only the demo, which then stops
        # the children in order (the bridge first, so browsers see a clean close).
        proc = subprocess.Popen(argv, cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        self.procs.append(proc)
        first = proc.stdout.readline().rstrip("\n") if wait_line else ""
        threading.Thread(target=self._forward, args=(name, proc), daemon=True).start()
        return proc, first

    @staticmethod
    def _forward(name, proc):
        for line in proc.stdout:
            print(f"[{name}] {line.rstrip()}", flush=True)

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def load_hook(module_name):
    # The hooks live in the repository's examples/ package: importable from any directory.
    if REPO not in sys.path:
        sys.path.insert(0, REPO)
    try:
        module = importlib.import_module(module_name)
        return module, module.backend_commands(), module.bridge_args()
    except (ImportError, AttributeError, OSError, ValueError) as e:
        return None, str(e), None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bridge.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:8080",
                        help="where the bridge listens (default 127.0.0.1:8080, or a free port if taken)")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    if int(port) and not port_free(host, int(port)):
        print(f"{args.listen} is taken; using a free port", flush=True)
        port = "0"
    listen = f"{host}:{port}"

    # Ctrl-C and SIGTERM stop the demo whatever its parent ignored: a shell's background job or
    # nohup starts it with SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
    # (A handled signal is reset to the default in the children at exec, an ignored one is not.)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    children = Children()
    py = sys.executable
    ep = {name: f"tcp://127.0.0.1:{free_port()}" for name in ("soccer", "chat_pub", "chat_sub", "chat_rep", "echo")}
    try:
        children.start("soccer", [py, os.path.join(EXAMPLES, "pubsub", "soccer_publisher.py"),
                                  "--bind", ep["soccer"], "--rate", "4"])
        children.start("chat", [py, os.path.join(EXAMPLES, "bridge", "chat.py"), "--pub", ep["chat_pub"],
                                "--sub", ep["chat_sub"], "--rep", ep["chat_rep"]])
        children.start("echo", [py, os.path.join(EXAMPLES, "bridge", "echo_req.py"), ep["echo"]], wait_line=False)
        flags = ["--route", f"/live/=pubsub:{ep['soccer']}",
                 "--route", f"/chat/=pubsub:{ep['chat_pub']},{ep['chat_sub']}",
                 "--route", f"/chat-api/=req:{ep['chat_rep']}",
                 "--route", f"/echo/=req:{ep['echo']}",
                 # The browser as a ZeroMQ peer (ZWS 2.0): a SUB of the publisher, a REQ of echo.
                 "--route", f"/zmq/soccer=zws:{ep['soccer']}",
                 "--route", f"/zmq/echo=zws:{ep['echo']}"]
        extras = []
        for module_name, label, prefix in HOOKS:
            module, commands, bridge_flags = load_hook(module_name)
            if module is None:
                extras.append((label, None, f"not available yet ({module_name}: {commands})"))
                continue
            for i, command in enumerate(commands):
                children.start(f"{module_name.split('.')[1]}{i}", command)
            flags += bridge_flags
            extras.append((label, getattr(module, "PREFIX", prefix), None))
        flags += ["--static", f"/={WWW}"]
        bridge, ready = children.start("bridge", [py, "-m", "bridge", "--listen", listen, *flags])
        if not ready.startswith("bridge ready "):
            raise SystemExit(f"the bridge did not start: {ready}")
        base = "http://" + json.loads(ready[len("bridge ready "):])["listen"]
        print(f"\ngzmq bridge demo: {base}/", flush=True)
        print(f"  live soccer events   {base}/soccer.html   (pick countries; ?transport=sse or ?transport=poll)")
        print(f"  chat room            {base}/chat.html     (open it in two windows)")
        print(f"  echo over HTTP       {base}/echo/hello?x=1   (curl -d hi {base}/echo/)")
        print(f"  browser as a peer    {base}/zmq.html      (ZeroMQ over WebSocket: SUB + REQ)")
        for label, prefix, missing in extras:
            print(f"  {label:<20} " + (f"{base}{prefix}" if missing is None else missing))
        print(f"  metrics              {base}/_bridge/metrics")
        print("Ctrl-C stops everything.\n", flush=True)
        bridge.wait()
    except KeyboardInterrupt:
        pass
    finally:
        children.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
