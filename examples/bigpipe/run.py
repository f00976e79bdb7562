"""BigPipe example: a page of four pagelets, each from its own backend process.

    python examples/bigpipe/run.py [--listen 127.0.0.1:8080]
    open http://127.0.0.1:8080/bigpipe/            (?nojs=1: assembled on the server)
    python examples/bigpipe/timing.py http://127.0.0.1:8080/bigpipe/

Starts four pagelet backends (examples/bigpipe/pagelet.py, endpoints from page.json) and the
bridge with ``--route '/bigpipe/=page:examples/bigpipe/page.json'`` and the pagelets' CSS/JS
under ``/bigpipe/assets/``. The backends differ on purpose:

    nav              0.05 s, required (without it the page is an error page)
    feed             0.4 s, with CSS and JS
    recommendations  2.0 s (the slow one; its timeout is 3 s)
    ads              fails with status 500: the page shows its fallback

The skeleton is on screen at once, nav and feed follow, and the page is complete after about
2 s (the slowest pagelet), not after the sum of the latencies. Ctrl-C stops everything.

bridge.demo (``make demo``) starts the same processes with backend_commands() and
bridge_args().
"""
import argparse
import json
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.join(HERE, "page.json")
ASSETS = os.path.join(HERE, "assets")
PREFIX = "/bigpipe/"

# Per-pagelet behaviour of the example backends (pagelet.py flags).
BEHAVIOUR = {
    "nav": ["--delay", "0.05"],
    "feed": ["--delay", "0.4"],
    "recommendations": ["--delay", "2.0"],
    "ads": ["--delay", "0.2", "--fail"],
}


def backend_commands(page_file=PAGE, python=sys.executable, behaviour=None):
    """One argv per pagelet backend, bound to the endpoints the page file names."""
    behaviour = BEHAVIOUR if behaviour is None else behaviour
    with open(page_file, encoding="utf-8") as f:
        pagelets = json.load(f)["pagelets"]
    return [[python, os.path.join(HERE, "pagelet.py"), p["id"], endpoint, *behaviour.get(p["id"], [])]
            for p in pagelets for endpoint in p["endpoints"]]


def bridge_args(page_file=PAGE, prefix=PREFIX):
    """The bridge flags that serve the page at ``prefix`` and its assets below it."""
    return ["--route", f"{prefix}=page:{page_file}", "--static", f"{prefix}assets/={ASSETS}"]


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run the BigPipe example (four backends and the bridge).")
    parser.add_argument("--listen", default="127.0.0.1:8080")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))     # stop the children on SIGTERM too
    procs = []
    try:
        for command in backend_commands():
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
            procs.append(proc)
            print(proc.stdout.readline().strip(), flush=True)          # "ready NAME ENDPOINT"
        bridge = subprocess.Popen([sys.executable, "-m", "bridge", "--listen", args.listen, *bridge_args()],
                                  stdout=subprocess.PIPE, text=True)
        procs.append(bridge)
        ready = bridge.stdout.readline()
        if not ready.startswith("bridge ready "):
            raise SystemExit(f"the bridge did not start: {ready!r}")
        listen = json.loads(ready[len("bridge ready "):])["listen"]
        print(f"open http://{listen}{PREFIX}  (server-assembled: http://{listen}{PREFIX}?nojs=1)", flush=True)
        bridge.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
