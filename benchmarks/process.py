"""Orchestrator side of a trial: start worker processes, talk to them, never hang.

A Trial is one measurement of one scenario for one column (an implementation or a server setup).
Scenario run() functions call trial.start(role, **params) to launch roles in fresh interpreters
(benchmarks.worker), wait for their "ready" and "result" lines, and return figures;
trial.start_command runs other programs (the bridge, Mongrel2's tools) the same way. Every wait
has the trial's deadline: a worker that hangs or dies raises TrialError, and close() kills
whatever is left (each worker is its own process group). Used by benchmarks.run.
"""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class TrialError(Exception):
    """A trial could not produce figures: a worker failed, hung, or reported nonsense."""


class ChildProcess:
    """A command in its own process group, whose stdout is read line by line before a deadline."""

    def __init__(self, label, argv, deadline, cwd=ROOT):
        self.label = label
        self._deadline = deadline
        self._buffer = b""
        # Append mode (O_APPEND): our reads move the shared offset, never where the child writes.
        self._stderr = tempfile.TemporaryFile(mode="a+b")
        self._process = subprocess.Popen(
            argv, cwd=cwd, env=dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            start_new_session=True)

    def readline(self):
        """The next line of stdout, without its newline; TrialError on exit or deadline."""
        fd = self._process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise TrialError(f"{self.label}: timed out{self._stderr_tail()}")
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 65536)
                if not chunk:
                    try:
                        self._process.wait(timeout=1)
                    except subprocess.TimeoutExpired:
                        pass
                    raise TrialError(f"{self.label}: closed its stdout, status "
                                     f"{self._process.returncode}{self._stderr_tail()}")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _read_available(self):
        fd = self._process.stdout.fileno()
        data = b""
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            data += chunk
        return data

    def _stderr_tail(self, limit=1500):
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return "\n" + text[-limit:] if text else ""

    def close(self):
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._stderr):
            try:
                stream.close()
            except OSError:
                pass


class WorkerProcess(ChildProcess):
    """One role running in its own interpreter; see benchmarks.worker for the protocol."""

    def __init__(self, impl, role, params, deadline):
        spec = {"impl": impl, "role": f"{role.__module__}:{role.__name__}", "params": params}
        super().__init__(f"{role.__module__.rsplit('.', 1)[-1]}.{role.__name__}[{impl}]",
                         [sys.executable, "-m", "benchmarks.worker", json.dumps(spec)], deadline)

    def expect(self, event):
        """Wait for the worker's next message, which must be `event`; return its fields."""
        message = json.loads(self.readline())
        if message["event"] == "error":
            raise TrialError(f"{self.label}: {message['error']}\n{message['traceback']}")
        if message["event"] != event:
            raise TrialError(f"{self.label}: expected {event!r}, got {message!r}")
        return message

    def result(self):
        """Wait for the role's return value (the worker exits right after sending it)."""
        result = self.expect("result")
        try:
            self._process.wait(max(0.1, self._deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass  # it has answered; close() will kill it
        return result

    def dump_stacks(self):
        """Ask a live worker to print its stacks (see worker.install_stack_dumps); return them.

        For a worker that has exited: its status, what it said last, and its stderr.
        """
        if self._process.poll() is not None:
            unread = self._buffer + self._read_available()
            said = f"\n{unread.decode(errors='replace')[-1500:]}" if unread else ""
            return (f"--- {self.label} exited with status {self._process.returncode}"
                    f"{said}{self._stderr_tail()}")
        for sig in (signal.SIGUSR1, signal.SIGUSR2):
            try:
                os.kill(self._process.pid, sig)
            except ProcessLookupError:
                return ""
        time.sleep(0.5)
        return f"--- {self.label} stacks:{self._stderr_tail(limit=6000)}"

    def tell(self, **message):
        """Send a message to the role (env.receive / env.poll on its side)."""
        try:
            self._process.stdin.write(json.dumps(message).encode() + b"\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            raise TrialError(f"{self.label}: exited early{self._stderr_tail()}") from None


class Trial:
    """One measurement: a scenario, a column, how long to measure and when to give up."""

    def __init__(self, column, duration, timeout, impl=None):
        self.column = column
        self.impl = impl if impl is not None else column
        self.duration = duration
        self.deadline = time.monotonic() + timeout
        self._children = []
        self._cleanups = []
        self._tmpdir = None

    def start(self, role, impl=None, **params):
        """Launch role(env, **params) in a fresh interpreter with this trial's implementation."""
        worker = WorkerProcess(impl or self.impl, role, params, self.deadline)
        self._children.append(worker)
        return worker

    def start_command(self, label, argv, cwd=ROOT):
        """Run another program (the bridge, wrk...) under this trial's deadline and cleanup."""
        child = ChildProcess(label, argv, self.deadline, cwd)
        self._children.append(child)
        return child

    def at_close(self, function):
        """Call function() when the trial closes (e.g. to stop a daemon that left our group)."""
        self._cleanups.append(function)

    def scratch_dir(self):
        """A private temporary directory, removed when the trial closes."""
        if self._tmpdir is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="gzmq-bench-")
        return self._tmpdir.name

    def bind_spec(self, transport):
        """An endpoint to bind: tcp on loopback with a free port, ipc in a private directory."""
        if transport == "tcp":
            return "tcp://127.0.0.1:*"
        if transport == "ipc":
            return f"ipc://{self.scratch_dir()}/{uuid.uuid4().hex[:8]}.ipc"
        if transport == "inproc":
            return f"inproc://bench-{uuid.uuid4().hex[:8]}"
        raise ValueError(f"unknown transport {transport!r}")

    def diagnose(self):
        """Stacks of the workers still running: where a trial that timed out was stuck."""
        dumps = [child.dump_stacks() for child in self._children if isinstance(child, WorkerProcess)]
        return "\n".join(dump for dump in dumps if dump)

    def remaining(self):
        return self.deadline - time.monotonic()

    def close(self):
        for child in self._children:
            child.close()
        for cleanup in reversed(self._cleanups):
            cleanup()
        if self._tmpdir is not None:
            self._tmpdir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
