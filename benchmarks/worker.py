"""Worker process entry point: run one role of one scenario with one implementation.

    python -m benchmarks.worker '{"impl": "green", "role": "benchmarks.scenarios.pushpull:receiver",
                                  "params": {...}}'

A fresh interpreter per role keeps gevent, pyzmq and gzmq state from leaking between
implementations. The role is called as role(env, **params); env.lib is the imported module
(zmq, zmq.green, gzmq, socket, gevent.socket or None).

Protocol with the orchestrator (benchmarks.process), one JSON object per line:
  stdout  {"event": "ready", ...}    the role is listening (env.ready)
          {"event": <other>, ...}    whatever else a role reports on the way (env.send)
          {"event": "result", ...}   the role's return value; the process then exits 0
          {"event": "error", "error": ..., "traceback": ...}   and exit status 1
  stdin   messages from the orchestrator ("go", "stop", "close"), read by env.receive / env.poll.
Anything a role or a library prints goes to stderr, so it cannot corrupt the protocol.
"""
import faulthandler
import importlib
import json
import os
import signal
import sys
import time
import traceback

from benchmarks.impls import IMPLS


class Env:
    """What a role may use besides its library: clock, tasks, sleeps and the orchestrator link.

    Under gevent, tasks are greenlets and waits go through the hub; otherwise tasks are threads.
    The clock is time.monotonic, which on Linux is CLOCK_MONOTONIC: system-wide, so times taken
    in different worker processes can be compared (PUB/SUB does).
    """

    clock = staticmethod(time.monotonic)

    def __init__(self, impl, protocol_out):
        self.impl = impl
        self.lib = None
        self._out = protocol_out
        self._inbox = None
        if impl.gevent:
            import gevent
            self._gevent = gevent
            self.sleep = gevent.sleep
        else:
            self._gevent = None
            self.sleep = time.sleep

    # -- talking to the orchestrator --

    def send(self, event, **fields):
        self._out.write(json.dumps(dict(fields, event=event)) + "\n")
        self._out.flush()

    def ready(self, **info):
        """Tell the orchestrator this role is set up (and, e.g., which endpoint it bound)."""
        self.send("ready", **info)

    def receive(self):
        """Block (cooperatively) until the orchestrator sends a message; return it as a dict."""
        return self._messages().get()

    def poll(self):
        """Return the orchestrator's next message, or None if none has arrived yet."""
        inbox = self._messages()
        return inbox.get() if not inbox.empty() else None

    def _messages(self):
        if self._inbox is None:
            self._inbox = self._start_reader()
        return self._inbox

    def _start_reader(self):
        # Lines from stdin are read by a background task and queued, so a role can poll for
        # "go"/"stop" between sends without blocking its own loop.
        if self._gevent:
            from gevent.fileobject import FileObjectPosix
            from gevent.queue import Queue
            stdin = FileObjectPosix(sys.stdin.fileno(), "rb", close=False)
        else:
            from queue import Queue
            stdin = sys.stdin.buffer
        inbox = Queue()

        def read():
            for line in stdin:
                inbox.put(json.loads(line))

        self.spawn(read, daemon=True)
        return inbox

    # -- concurrency: greenlets under gevent, threads otherwise --

    def spawn(self, function, *args, daemon=False):
        """Start function(*args) as a greenlet or a thread; return a Task to join."""
        return Task(function, args, self._gevent, daemon)


class Task:
    """A greenlet or a thread whose return value (or exception) join() hands back."""

    def __init__(self, function, args, gevent, daemon):
        if gevent:
            self._greenlet = gevent.spawn(function, *args)
            self._thread = None
        else:
            import threading
            self._greenlet = None
            self._outcome = None
            self._thread = threading.Thread(target=self._run, args=(function, args), daemon=daemon)
            self._thread.start()

    def _run(self, function, args):
        try:
            self._outcome = (True, function(*args))
        except BaseException as exc:  # handed to join()
            self._outcome = (False, exc)

    def join(self):
        if self._greenlet is not None:
            return self._greenlet.get()
        self._thread.join()
        ok, value = self._outcome
        if not ok:
            raise value
        return value


def resolve(role):
    module, _, name = role.partition(":")
    return getattr(importlib.import_module(module), name)


def install_stack_dumps(impl):
    """On SIGUSR1 print every thread's stack, on SIGUSR2 every greenlet's, to stderr.

    The orchestrator sends both to a worker that timed out, so the report says where it hung.
    """
    faulthandler.register(signal.SIGUSR1, all_threads=True, chain=False)
    if impl.gevent:
        import gevent
        # Runs in the hub, so it answers when the loop is idle (the usual kind of hang).
        gevent.signal_handler(signal.SIGUSR2, print_greenlet_stacks)
    else:
        signal.signal(signal.SIGUSR2, signal.SIG_IGN)


def print_greenlet_stacks():
    import gc

    from greenlet import greenlet
    for candidate in gc.get_objects():
        if isinstance(candidate, greenlet) and candidate.gr_frame is not None:
            print(f"Greenlet {candidate!r}:", file=sys.stderr)
            traceback.print_stack(candidate.gr_frame, file=sys.stderr)
    sys.stderr.flush()


def main():
    spec = json.loads(sys.argv[1])
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr
    env = Env(IMPLS[spec["impl"]], protocol_out)
    install_stack_dumps(env.impl)
    try:
        env.lib = env.impl.load()
        result = resolve(spec["role"])(env, **spec["params"])
    except BaseException as exc:
        env.send("error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
        status = 1
    else:
        env.send("result", **(result or {}))
        status = 0
    # The result is out: leave without running finalizers, so that a library's exit-time
    # cleanup (a context waiting on LINGER, a stuck thread) cannot turn a result into a timeout.
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
