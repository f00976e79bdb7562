"""STREAMER device: a pipeline's stable middle (PULL <-> PUSH), here steerable.

A ventilator pushes tasks into the device's frontend; workers connect to its backend and each
takes the next task in turn; their results go to a sink. Workers can join at any time. The
device runs gzmq.proxy_steerable with a control socket, so it can be paused, resumed, asked
for statistics and terminated while it runs.

    python examples/devices/streamer_device.py device        # tasks in :5580, out :5581, control :5582
    python examples/devices/streamer_device.py sink --tasks 30
    python examples/devices/streamer_device.py worker --name w1     (start several)
    python examples/devices/streamer_device.py ventilator --tasks 30
    python examples/devices/streamer_device.py control STATISTICS   (or PAUSE, RESUME, TERMINATE)
    python examples/devices/streamer_device.py demo

The demo runs all of it in one process with three workers and prints who did what, the
proxy's statistics and the sum of the results.
"""
import argparse
import collections
import struct

import gevent

import gzmq as zmq

FRONTEND = "tcp://127.0.0.1:5580"
BACKEND = "tcp://127.0.0.1:5581"
CONTROL = "tcp://127.0.0.1:5582"
RESULTS = "tcp://127.0.0.1:5583"
STAT_NAMES = ["frontend recv msgs", "frontend recv bytes", "frontend sent msgs", "frontend sent bytes",
              "backend recv msgs", "backend recv bytes", "backend sent msgs", "backend sent bytes"]


def device(frontend, backend, control):
    """Run the steerable streamer here until TERMINATE."""
    ctx = zmq.Context.instance()
    tasks_in, tasks_out, ctrl = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH), ctx.socket(zmq.REP)
    tasks_in.bind(frontend)
    tasks_out.bind(backend)
    ctrl.bind(control)
    try:
        return zmq.proxy_steerable(tasks_in, tasks_out, None, ctrl)
    finally:
        for sock in (tasks_in, tasks_out, ctrl):
            sock.close()


def command(control, name):
    """Send one control command; STATISTICS returns the 8 counters, others an empty reply."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.connect(control)
    try:
        sock.send_string(name)
        reply = sock.recv_multipart()
    finally:
        sock.close()
    if name == "STATISTICS":
        return dict(zip(STAT_NAMES, (struct.unpack("@Q", f)[0] for f in reply)))
    return None


def ventilator(frontend, tasks):
    sock = zmq.Context.instance().socket(zmq.PUSH)
    sock.connect(frontend)
    for n in range(tasks):
        sock.send_json({"task": n})
    sock.close()          # LINGER: queued tasks are still delivered


def worker(name, backend, results, count=None):
    """Square each task's number and send the result on."""
    ctx = zmq.Context.instance()
    tasks, out = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    tasks.connect(backend)
    out.connect(results)
    try:
        done = 0
        while count is None or done < count:
            task = tasks.recv_json()
            out.send_json({"task": task["task"], "result": task["task"] ** 2, "worker": name})
            done += 1
    finally:
        tasks.close(linger=0)
        out.close()


def sink(results, tasks):
    sock = zmq.Context.instance().socket(zmq.PULL)
    sock.bind(results)
    try:
        return [sock.recv_json() for _ in range(tasks)]
    finally:
        sock.close()


def report(got):
    print(f"results: {len(got)}, sum {sum(r['result'] for r in got)}", flush=True)
    print(f"per worker: {dict(sorted(collections.Counter(r['worker'] for r in got).items()))}", flush=True)


def demo(frontend, backend, control, results, tasks):
    proxy = gevent.spawn(device, frontend, backend, control)
    collector = gevent.spawn(sink, results, tasks)
    workers = [gevent.spawn(worker, f"w{n}", backend, results) for n in range(3)]
    # Steering: hold the tasks in the device while the workers connect, then let them go.
    command(control, "PAUSE")
    ventilator(frontend, tasks)
    command(control, "RESUME")
    got = collector.get()
    report(got)
    for name, value in command(control, "STATISTICS").items():
        print(f"  {name}: {value}", flush=True)
    command(control, "TERMINATE")
    proxy.get()
    gevent.killall(workers)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["device", "sink", "worker", "ventilator", "control", "demo"])
    parser.add_argument("command", nargs="?", default="STATISTICS",
                        choices=["PAUSE", "RESUME", "TERMINATE", "STATISTICS"], help="for `control`")
    parser.add_argument("--frontend", default=FRONTEND, help="the ventilator connects here (PULL)")
    parser.add_argument("--backend", default=BACKEND, help="workers connect here (PUSH)")
    parser.add_argument("--control", default=CONTROL, help="control commands (REP)")
    parser.add_argument("--results", default=RESULTS, help="the sink binds here, workers connect")
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--name", default="worker")
    args = parser.parse_args(argv)
    try:
        if args.role == "device":
            print(f"streamer: tasks in {args.frontend}, out {args.backend}, control {args.control}",
                  flush=True)
            device(args.frontend, args.backend, args.control)
        elif args.role == "sink":
            report(sink(args.results, args.tasks))
        elif args.role == "worker":
            worker(args.name, args.backend, args.results)
        elif args.role == "ventilator":
            ventilator(args.frontend, args.tasks)
        elif args.role == "control":
            stats = command(args.control, args.command)
            for name, value in (stats or {}).items():
                print(f"{name}: {value}", flush=True)
        else:
            demo(args.frontend, args.backend, args.control, args.results, args.tasks)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
