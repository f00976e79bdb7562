"""PUSH/PULL pipeline (the introduction's divide-and-conquer): a ventilator PUSHes tasks,
workers PULL them, do the work and PUSH results to a sink, which PULLs them all.

Run everything in one process (greenlets):      python examples/intro/pipeline.py --tasks 100
or each role in its own process:
    python examples/intro/pipeline.py --role sink
    python examples/intro/pipeline.py --role worker      (start several)
    python examples/intro/pipeline.py --role ventilator --tasks 100
The ventilator asks you to press Enter once the workers run; with --workers N (or without a
terminal) it does not ask: it waits until N workers have connected (or sends at once).
"""
import argparse
import json
import os
import sys

import gevent

import gzmq as zmq
from gzmq.utils.monitor import recv_monitor_message

TASKS = "tcp://127.0.0.1:5557"
RESULTS = "tcp://127.0.0.1:5558"


def ventilator(tasks, endpoint=TASKS, workers=None):
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PUSH)
    if workers:
        # Wait until every worker has connected, or the first one would get every task: the
        # socket's monitor reports each finished handshake.
        monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    sock.bind(endpoint)
    if workers:
        for _ in range(workers):
            recv_monitor_message(monitor)
        sock.disable_monitor()
        monitor.close()
    for n in range(tasks):
        sock.send_json({"task": n, "work": n % 7})
    sock.close()  # LINGER: queued tasks are still delivered


def worker(name, endpoint_in=TASKS, endpoint_out=RESULTS, count=None):
    ctx = zmq.Context.instance()
    tasks = ctx.socket(zmq.PULL)
    tasks.connect(endpoint_in)
    results = ctx.socket(zmq.PUSH)
    results.connect(endpoint_out)
    done = 0
    try:
        while count is None or done < count:
            task = tasks.recv_json()
            results.send_json({"task": task["task"], "result": task["work"] ** 2, "worker": name})
            done += 1
    finally:
        tasks.close(linger=0)
        results.close()


def sink(tasks, endpoint=RESULTS):
    ctx = zmq.Context.instance()
    sock = ctx.socket(zmq.PULL)
    sock.bind(endpoint)
    per_worker = {}
    total = 0
    for _ in range(tasks):
        result = sock.recv_json()
        per_worker[result["worker"]] = per_worker.get(result["worker"], 0) + 1
        total += result["result"]
    sock.close()
    return total, per_worker


def run_all(tasks=100, workers=3):
    """Everything in one process over tcp: returns (sum of results, tasks per worker)."""
    ctx = zmq.Context.instance()
    probe = ctx.socket(zmq.PULL)
    port_in = probe.bind_to_random_port("tcp://127.0.0.1")
    probe.close()
    tasks_ep = f"tcp://127.0.0.1:{port_in}"
    results_sock = ctx.socket(zmq.PULL)
    results_ep = f"tcp://127.0.0.1:{results_sock.bind_to_random_port('tcp://127.0.0.1')}"
    results_sock.close()
    sink_g = gevent.spawn(sink, tasks, results_ep)
    workers_g = [gevent.spawn(worker, f"w{i}", tasks_ep, results_ep) for i in range(workers)]
    vent_g = gevent.spawn(ventilator, tasks, tasks_ep, workers)
    total, per_worker = sink_g.get()
    vent_g.get()
    gevent.killall(workers_g)
    return total, per_worker


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=["all", "ventilator", "worker", "sink"], default="all")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None,
                        help="all: how many worker greenlets (3); ventilator: wait until this many connected")
    parser.add_argument("--tasks-endpoint", default=TASKS, help=f"ventilator binds, workers connect ({TASKS})")
    parser.add_argument("--results-endpoint", default=RESULTS, help=f"sink binds, workers connect ({RESULTS})")
    args = parser.parse_args(argv)
    if args.role == "all":
        total, per_worker = run_all(args.tasks, args.workers or 3)
        print(f"sum of results: {total}; tasks per worker: {per_worker}")
    elif args.role == "ventilator":
        if args.workers is None:
            if sys.stdin.isatty():
                input("Press Enter when the workers are ready (or give --workers N): ")
            else:
                print("stdin is not a terminal: sending to the workers connected so far "
                      "(--workers N waits for N)", flush=True)
        ventilator(args.tasks, args.tasks_endpoint, args.workers)
    elif args.role == "worker":
        worker(f"worker-{os.getpid()}", args.tasks_endpoint, args.results_endpoint)
    else:
        total, per_worker = sink(args.tasks, args.results_endpoint)
        print(f"sum of results: {total}; tasks per worker: {json.dumps(per_worker)}")


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
