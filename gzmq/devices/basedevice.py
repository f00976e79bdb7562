"""Devices: a proxy between two sockets the device creates itself, from socket types and
addresses (pyzmq's zmq.devices.basedevice).

    dev = GreenletDevice(gzmq.QUEUE, gzmq.ROUTER, gzmq.DEALER)
    dev.bind_in("tcp://127.0.0.1:5559")
    dev.bind_out("tcp://127.0.0.1:5560")
    dev.setsockopt_in(gzmq.RCVHWM, 10000)
    dev.start()            # returns at once; the proxy runs in a greenlet

The sockets are made where the device runs (gzmq sockets belong to one thread), so the
bind_*/connect_*/setsockopt_* calls only record what to do. Where it runs:

    Device          in the caller, start() blocks until the device stops (as pyzmq's)
    GreenletDevice  in a new greenlet of the caller's hub
    ThreadDevice    in a new OS thread with its own hub (sharing Context.instance())
    ProcessDevice   in a new process, started with multiprocessing's "spawn" method: a forked
                    child would inherit the parent's hub, whose greenlets and io watchers
                    would then read from the parent's sockets

A device stops when its context terminates or one of its sockets is closed (both are a clean
stop, as in pyzmq), or on TERMINATE for a steerable proxy. stop() does it for you: it closes
the device's sockets on their own thread (a process is terminated). join(timeout) waits
cooperatively, from any thread. Errors other than ETERM/ENOTSOCK are logged and end it.
"""
from __future__ import annotations

from typing import Any, Optional

from ..error import ZMQBindError  # noqa: F401  (pyzmq keeps it here too)
import atexit
import logging

from ..constants import DeviceType, Errno, SocketType
from ..context import Context
from ..engine import tasks
from ..engine.latch import Latch
from ..error import ZMQError
from ..proxy import proxy

log = logging.getLogger("gzmq")

QUEUE = DeviceType.QUEUE




class Device:
    """A proxy between an in socket and an out socket of the given types (pyzmq's Device).

    device_type: QUEUE, FORWARDER or STREAMER (all three are a proxy; kept for pyzmq code).
    in_type/out_type: socket types; an out_type < 0 uses the in socket for both sides.
    """

    # Where sockets come from: the shared Context.instance() in this process (ProcessDevice
    # overrides it with a fresh Context). Assign an instance attribute to use your own.
    context_factory = Context.instance

    def __init__(self, device_type: int = QUEUE, in_type: Optional[int] = None,
                 out_type: Optional[int] = None) -> None:
        if in_type is None:
            raise TypeError("in_type must be specified")
        if out_type is None:
            raise TypeError("out_type must be specified")
        self.device_type = device_type
        self.in_type = in_type
        self.out_type = out_type
        self._in_binds: list[Any] = []
        self._in_connects: list[Any] = []
        self._in_sockopts: list[Any] = []
        self._out_binds: list[Any] = []
        self._out_connects: list[Any] = []
        self._out_sockopts: list[Any] = []
        self._random_addrs: list[Any] = []
        self.daemon = True
        self.done = False
        self._sockets: list[Any] = []
        self._context = None
        self._stopping = False
        self._running = Latch()

    # -- configuration (recorded now, applied where the device runs) -----------------------
    def bind_in(self, addr: str) -> None:
        """Bind the in socket to `addr` when the device starts."""
        self._in_binds.append(addr)

    def bind_in_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        """Reserve a free port on `addr` (e.g. "tcp://127.0.0.1") for the in socket; returns it."""
        port = self._reserve_random_port(addr, *args, **kwargs)
        self.bind_in(f"{addr}:{port}")
        return port

    def connect_in(self, addr: str) -> None:
        self._in_connects.append(addr)

    def setsockopt_in(self, opt: int, value: Any) -> None:
        self._in_sockopts.append((opt, value))

    def bind_out(self, addr: str) -> None:
        self._out_binds.append(addr)

    def bind_out_to_random_port(self, addr: str, *args: Any, **kwargs: Any) -> int:
        port = self._reserve_random_port(addr, *args, **kwargs)
        self.bind_out(f"{addr}:{port}")
        return port

    def connect_out(self, addr: str) -> None:
        self._out_connects.append(addr)

    def setsockopt_out(self, opt: int, value: Any) -> None:
        self._out_sockopts.append((opt, value))

    def _reserve_random_port(self, addr, *args, **kwargs):
        # As pyzmq: bind a throwaway socket to a random port and give the port back. Another
        # process could take it before the device binds; pass a fixed port where that matters.
        ctx = Context()
        try:
            for _ in range(5):
                sock = ctx.socket(SocketType.PUSH)
                sock.linger = 0
                try:
                    port = sock.bind_to_random_port(addr, *args, **kwargs)
                finally:
                    sock.close()
                if f"{addr}:{port}" not in self._random_addrs:
                    self._random_addrs.append(f"{addr}:{port}")
                    return port
            raise ZMQBindError(f"{addr}: could not reserve a random port")
        finally:
            ctx.term()

    # -- running ---------------------------------------------------------------------------
    def _make_socket(self, ctx, socket_type, sockopts, binds, connects):
        sock = ctx.socket(socket_type)
        self._sockets.append(sock)
        for opt, value in sockopts:   # options first: ROUTING_ID must precede connect
            sock.setsockopt(opt, value)
        for addr in binds:
            sock.bind(addr)
        for addr in connects:
            sock.connect(addr)
        return sock

    def _setup_sockets(self):
        ctx = self.context_factory()
        self._context = ctx
        if self.out_type < 0:
            # One socket for both sides (pyzmq's out_type -1): the *_out settings apply to it too.
            ins = outs = self._make_socket(ctx, self.in_type, self._in_sockopts + self._out_sockopts,
                                           self._in_binds + self._out_binds,
                                           self._in_connects + self._out_connects)
        else:
            ins = self._make_socket(ctx, self.in_type, self._in_sockopts, self._in_binds,
                                    self._in_connects)
            outs = self._make_socket(ctx, self.out_type, self._out_sockopts, self._out_binds,
                                     self._out_connects)
        return ins, outs

    def run_device(self) -> None:
        """Make the sockets and run the proxy (what start() runs, wherever it runs)."""
        ins, outs = self._setup_sockets()
        self._check_stopping()
        proxy(ins, outs)

    def _check_stopping(self):
        # stop() may have come while the sockets were being made: it could not close those.
        if self._stopping:
            raise ZMQError(Errno.ENOTSOCK, "device stopped")

    def _close_sockets(self):
        for sock in self._sockets:
            if not sock.closed:
                sock.close()

    def run(self) -> None:
        """Run the device here until it stops; ETERM and ENOTSOCK count as a clean stop."""
        try:
            self.run_device()
        except ZMQError as exc:
            if exc.errno not in (Errno.ETERM, Errno.ENOTSOCK):
                raise
        finally:
            self.done = True
            self._close_sockets()

    def start(self) -> None:
        """Run the device in the calling greenlet (blocks until it stops), as pyzmq's Device."""
        self._running.add(self)
        try:
            return self.run()
        finally:
            self._running.discard(self)

    def stop(self) -> None:
        """Stop the device: close its sockets on their own thread. Returns at once."""
        self._stopping = True
        for sock in list(self._sockets):
            sock._mailbox.call(sock.close)

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait (cooperatively, from any thread) until the device has stopped: its greenlet,
        thread or process has finished."""
        self._running.wait(timeout)

    def __getstate__(self):
        # What a ProcessDevice sends to its child: the configuration only.
        state = self.__dict__.copy()
        for name in ("_running", "_sockets", "_context", "launcher"):
            state.pop(name, None)
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._sockets = []
        self._context = None
        self._running = None


class BackgroundDevice(Device):
    """Base of the devices that start() in the background and return at once."""

    launcher = None

    def start(self) -> None:
        self._running.add(self)
        try:
            self._launch()
        except BaseException:
            self._running.discard(self)
            raise

    def _run_logged(self):
        try:
            self.run()
        except Exception:
            log.exception("device %r failed", self)

    def _run_and_flush(self):
        """Body of a device thread or process: run, then let the closed sockets' sessions
        finish flushing (LINGER: a REP control socket's reply to TERMINATE, say). They run
        on this thread's hub, so keep it turning until they are done, as libzmq's I/O
        threads would."""
        self._run_logged()
        tasks.run_until_idle()

    def _finished(self, *_):
        self._running.discard(self)

    def _launch(self):
        raise NotImplementedError


class GreenletDevice(BackgroundDevice):
    """A Device running in a new greenlet of the caller's hub (gzmq's own addition)."""

    def _launch(self):
        self.launcher = tasks.spawn(self._run_logged)
        self.launcher.link(self._finished)


class ThreadDevice(BackgroundDevice):
    """A Device running in a new OS thread (with its own gevent hub).

    The thread is a native one even under gevent.monkey.patch_all() (a patched
    threading.Thread would be just another greenlet). It does not keep the process alive
    (`daemon` is accepted for pyzmq code and ignored), but a device thread still running
    when the interpreter exits is stopped and joined first (atexit, at most EXIT_TIMEOUT
    seconds): Python code running during interpreter shutdown can crash the process.
    """

    EXIT_TIMEOUT = 5.0
    _live: "set[object]" = set()

    def _launch(self):
        ThreadDevice._live.add(self)
        self.launcher = tasks.start_native_thread(self._thread_main, ())

    def _thread_main(self):
        try:
            self._run_and_flush()
        finally:
            ThreadDevice._live.discard(self)
            self._finished()

    @classmethod
    def _stop_all_at_exit(cls):
        for dev in list(cls._live):
            dev.stop()
        for dev in list(cls._live):
            dev.join(cls.EXIT_TIMEOUT)


class ProcessDevice(BackgroundDevice):
    """A Device running in a new process (multiprocessing, "spawn" start method).

    The device object is pickled to the child, so subclasses must be importable there (define
    them in a module, not in a script's __main__ without the usual `if __name__` guard).
    join() and `done` tell when the child has ended. Its `launcher.exitcode` stays None if
    something else reaped the child first: gevent does, for every child, once the program has
    started children through gevent.subprocess or gevent.os.fork.
    """

    context_factory = Context
    _mp_context = "spawn"

    def _launch(self):
        import multiprocessing
        process = multiprocessing.get_context(self._mp_context).Process(target=self._run_and_flush)
        process.daemon = self.daemon
        self.launcher = process
        process.start()
        watcher = tasks.spawn(self._reap, process)
        watcher.link(self._finished)

    @staticmethod
    def _reap(process):
        tasks.wait_readable(process.sentinel)   # readable once the child has exited; no polling
        process.join()

    def stop(self) -> None:
        """Terminate the device's process (SIGTERM)."""
        self._stopping = True
        if self.launcher is not None and self.launcher.is_alive():
            self.launcher.terminate()

    def join(self, timeout: Optional[float] = None) -> None:
        self._running.wait(timeout)
        if self.launcher is not None and self._running.is_done():
            self.done = True


atexit.register(ThreadDevice._stop_all_at_exit)

__all__ = ["Device", "GreenletDevice", "ThreadDevice", "ProcessDevice", "BackgroundDevice",
           "ZMQBindError"]
