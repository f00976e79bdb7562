"""Load balancing in action: a second handler started while the bridge runs takes a share.

    python examples/bridge/load_balance.py

Starts the bridge on 127.0.0.1 (free ports) with a Mongrel2 route and a req route, one hello
handler of each kind, sends a few requests (all answered by the one process), starts a second
handler of each kind, and sends more: the answers now come from both processes. Everything it
started is stopped at the end.

Requests go over one keep-alive connection. With a new connection per request, a Mongrel2
route would send each closed connection's ``@*`` disconnect message down the same PUSH
round-robin, so with two handlers every request could land on one handler and every
disconnect on the other (Mongrel2 does the same).
"""
import json
import os
import socket
import subprocess
import sys
import time
import http.client
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
ENV = dict(os.environ, PYTHONPATH=REPO, PYTHONUNBUFFERED="1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args):
    return subprocess.Popen([sys.executable, *args], env=ENV, stdout=subprocess.PIPE, text=True)


def tally(address, path, n=12):
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=2)
    counts = Counter()
    for _ in range(n):
        try:
            conn.request("GET", path)
            counts[conn.getresponse().read().decode().strip()] += 1
        except (OSError, http.client.HTTPException) as e:   # a slow joiner's lost reply
            counts[f"({type(e).__name__})"] += 1
            conn.close()
    conn.close()
    return counts


def main():
    req_ports = [free_port(), free_port()]
    procs = []
    try:
        bridge = start("-m", "bridge", "--listen", "127.0.0.1:0",
                       "--route", "/m2/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*",
                       "--route", "/req/=req:" + ",".join(f"tcp://127.0.0.1:{p}" for p in req_ports))
        procs.append(bridge)
        info = json.loads(bridge.stdout.readline().split(" ", 2)[2])
        m2 = info["routes"][0]
        print(f"bridge on http://{info['listen']}")
        for n in (1, 2):
            procs.append(start(os.path.join(HERE, "hello_m2.py"), m2["send"], m2["recv"]))
            procs.append(start(os.path.join(HERE, "hello_req.py"), f"tcp://127.0.0.1:{req_ports[n - 1]}"))
            time.sleep(1.0)                      # let the new handlers connect (demo only)
            print(f"\nwith {n} handler(s) of each kind:")
            print("  mongrel2 route:", dict(tally(info["listen"], "/m2/")))
            print("  req route:     ", dict(tally(info["listen"], "/req/")))
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(5)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
