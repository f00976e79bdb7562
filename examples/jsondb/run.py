"""jsondb for `make demo` (bridge.demo's example hook): the database and its HTTP adapter.

backend_commands() starts examples/jsondb/server.py (requests on REQUESTS, changes on WATCH)
and examples/jsondb/http.py (a req-envelope backend on HTTP_BACKEND); bridge_args() routes
PREFIX to the adapter. Run by hand:

    python examples/jsondb/run.py      # prints the commands, then: see http.py's docstring
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX = "/jsondb/"
REQUESTS = "tcp://127.0.0.1:5590"
WATCH = "tcp://127.0.0.1:5591"
HTTP_BACKEND = "tcp://127.0.0.1:5592"


def backend_commands(python=sys.executable):
    return [
        [python, os.path.join(HERE, "server.py"), "--bind", REQUESTS, "--watch", WATCH],
        [python, "-m", "examples.jsondb.http", HTTP_BACKEND, REQUESTS],
    ]


def bridge_args(prefix=PREFIX):
    return ["--route", f"{prefix}=req:{HTTP_BACKEND},timeout=5"]


if __name__ == "__main__":
    for cmd in backend_commands():
        print(" ".join(cmd))
    print("python -m bridge " + " ".join(bridge_args()))
