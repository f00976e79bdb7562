"""``gzmq-bridge --workers N``: several bridge processes behind one listening port.

One bridge process is one Python process, so one core. With ``--workers N`` (``auto``: the
number of cores) the command becomes a **supervisor** that starts N workers, each a whole
``python -m bridge`` with the same flags and config file, and:

- shares the listening port (and the admin port) among them: by default each worker binds its
  own socket with SO_REUSEPORT and the kernel spreads new connections over the workers; where
  SO_REUSEPORT is missing (or with ``--worker-socket inherit``) the supervisor binds and listens
  once and every worker accepts on the inherited socket. The supervisor keeps its socket for
  its whole life, so the port (``--listen 127.0.0.1:0`` included) survives worker restarts;
- restarts a worker that dies (after 0.2 s, doubling to 10 s while it keeps dying within 10 s
  of starting), logging why;
- passes SIGHUP on to every worker (each reads the config file again, bridge.server.Bridge.
  reload) and stops them all on SIGTERM or SIGINT (each closes its WebSockets with 1001), then
  exits; a worker whose supervisor is gone (its stdin pipe ends) stops too;
- prints one ``bridge ready {...}`` line once every worker is ready, with ``"workers"``: each
  worker's index, pid, sender UUID and routes (their bound endpoints).

What differs per worker (``for_worker``): each service kind may rewrite its target (only
``mongrel2:`` does: worker i binds its own PUSH/SUB endpoints and sends under its own UUID,
see ``Mongrel2Service.for_worker``), and connection ids are disjoint (worker i of N hands out
i+1, i+1+N, ...), so a handler that keys state by connection id alone stays right.

Metrics and health across workers (``Cluster``): every worker binds a ROUTER on
``ipc://DIR/worker-I.ipc`` in a private directory the supervisor makes (removed when it exits;
one left by a killed supervisor is removed by the next one to start), and answers
``metrics`` and ``health`` there. Whichever worker a scrape of /_bridge/metrics reaches asks
all of them and answers every series labelled ``worker="I"``, plus ``bridge_worker_up``;
/_bridge/health adds ``"worker"`` (the answering worker) and ``"workers"`` (each one's pid,
status and routes), and is ``degraded`` while any worker is down.

Entry points: ``Supervisor(args, argv).run()`` from bridge.__main__ when ``--workers`` is more
than 1; in a worker, ``worker_listener()``, ``for_worker()`` and ``Cluster``.
"""
import dataclasses
import itertools
import json
import logging
import os
import re
import shutil
import signal
import socket as stdsocket
import sys
import tempfile
import time

import gevent
import gevent.event
from gevent import subprocess

from bridge.config import MAX_WORKERS, parse_workers  # noqa: F401  (part of this module's API)
from bridge.routing import PORT_STEP, ConfigError, shift_endpoint, worker_uuid  # noqa: F401
from bridge.services import SERVICES
from bridge.zmqlib import zmq

__all__ = ["parse_workers", "for_worker", "shift_endpoint", "worker_listener", "Supervisor", "Cluster",
           "label_metrics", "SOCKET_MODES"]

log = logging.getLogger("bridge.workers")

SOCKET_MODES = ("auto", "reuseport", "inherit")
READY_TIMEOUT = 60.0            # a worker must print its ready line within this
STOP_TIMEOUT = 10.0             # then SIGKILL
ASK_TIMEOUT = 2.0               # a worker that does not answer a metrics/health query this fast is "down"


# ---------------------------------------------------------------------- per-worker configuration

def for_worker(config, index, count):
    """``config`` as worker ``index`` of ``count`` runs it: each route's service kind may rewrite
    its target (``for_worker`` on the service class), and the default sender UUID of worker
    i >= 1 is ``UUID-i``. The same config for ``count`` 1."""
    if count <= 1:
        return config
    routes = []
    for route in config.routes:
        target = SERVICES[route.target.scheme].for_worker(route.target, index, count, config.uuid)
        routes.append(route if target is route.target else dataclasses.replace(route, target=target))
    return dataclasses.replace(config, routes=routes, uuid=worker_uuid(config.uuid, index))


def check_bound(config, count):
    """ConfigError if two workers (or two routes) would bind the same endpoint."""
    seen = {}
    for index in range(count):
        for route in for_worker(config, index, count).routes:
            for endpoint in SERVICES[route.target.scheme].binds(route.target):
                if endpoint.endswith(":*"):
                    continue
                other = seen.setdefault(endpoint, (index, route.prefix))
                if other != (index, route.prefix) and other[0] != index:
                    raise ConfigError(f"{endpoint}: bound by worker {other[0]} (route {other[1]}) and "
                                      f"worker {index} (route {route.prefix}); worker i binds port "
                                      f"+ {PORT_STEP} * i, so keep a route's ports less than "
                                      f"{PORT_STEP} apart from other routes' or use tcp://HOST:*")


def connection_ids(index, count):
    """Connection ids for worker ``index`` of ``count``: disjoint across workers."""
    return itertools.count(index + 1, max(count, 1)).__next__


def _bound_socket(address, reuse_port, listen):
    host, port = address
    family = stdsocket.AF_INET6 if ":" in host else stdsocket.AF_INET
    sock = stdsocket.socket(family, stdsocket.SOCK_STREAM)
    try:
        sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(stdsocket.SOL_SOCKET, stdsocket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        if listen:
            sock.listen(1024)
    except OSError as e:
        sock.close()
        raise OSError(e.errno, f"{host}:{port}: {e.strerror or e}") from None
    return sock


def worker_listener(address, fd=None):
    """A worker's listening socket: the inherited ``fd``, or its own SO_REUSEPORT socket."""
    if fd is not None:
        sock = stdsocket.socket(fileno=fd)
        sock.setblocking(False)
        return sock
    return _bound_socket(address, True, True)


# ---------------------------------------------------------------------- the supervisor

class _Worker:
    def __init__(self, index):
        self.index = index
        self.proc = None
        self.info = None            # its ready line, parsed
        self.started = 0.0
        self.delay = 0.2            # before the next restart
        self.watcher = None


class Supervisor:
    """Starts, watches and stops the workers (see the module docstring)."""

    def __init__(self, args, argv, config, count, mode="auto"):
        self.args = args
        self.argv = list(argv)
        self.config = config
        self.count = count
        check_bound(config, count)
        if mode == "auto":
            mode = "reuseport" if hasattr(stdsocket, "SO_REUSEPORT") else "inherit"
        if mode == "reuseport" and not hasattr(stdsocket, "SO_REUSEPORT"):
            raise ConfigError("--worker-socket reuseport: this system has no SO_REUSEPORT")
        self.mode = mode
        self.workers = [_Worker(i) for i in range(count)]
        self.sockets = {}           # "listen"/"admin" -> the supervisor's own socket
        self.directory = None
        self.stopping = False
        self.done = gevent.event.Event()

    # -- sockets

    def _prepare_sockets(self):
        """Bind the listener (and admin) once: reserved (SO_REUSEPORT, not listening: the
        kernel only hands connections to listening sockets) or listening, to be inherited."""
        listen = self.mode == "inherit"
        self.sockets["listen"] = _bound_socket(self.config.listen, not listen, listen)
        if isinstance(self.config.admin, tuple):
            self.sockets["admin"] = _bound_socket(self.config.admin, not listen, listen)

    def _address(self, name):
        host, port = self.sockets[name].getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def _command(self, worker):
        command = [sys.executable, "-m", "bridge", *self.argv, "--workers", "1",
                   "--uuid", self.config.uuid, "--listen", self._address("listen"),
                   "--worker-index", str(worker.index), "--worker-count", str(self.count),
                   "--worker-dir", self.directory]
        if "admin" in self.sockets:
            command += ["--admin", self._address("admin")]
        if self.mode == "inherit":
            command += ["--listen-fd", str(self.sockets["listen"].fileno())]
            if "admin" in self.sockets:
                command += ["--admin-fd", str(self.sockets["admin"].fileno())]
        return command

    # -- lifecycle

    def run(self):
        """Start every worker, print the ready line, supervise until stopped; the exit status."""
        try:
            self._prepare_sockets()
        except OSError as e:
            print(f"gzmq-bridge: {e}", file=sys.stderr)
            return 2
        remove_stale_directories()
        self.directory = tempfile.mkdtemp(prefix=f"gzmq-bridge-{os.getpid()}-")
        watchers = [gevent.signal_handler(signal.SIGTERM, self.stop),
                    gevent.signal_handler(signal.SIGINT, self.stop),
                    gevent.signal_handler(signal.SIGHUP, self.reload)]
        try:
            for worker in self.workers:
                self._spawn(worker)
            failed = self._await_ready(self.workers)
            if failed is not None:
                self.stopping = True
                self._terminate()
                return failed
            print("bridge ready " + json.dumps(self.describe()), flush=True)
            for worker in self.workers:
                worker.watcher = gevent.spawn(self._watch, worker)
            self.done.wait()
            self._terminate()
            return 0
        finally:
            for watcher in watchers:
                watcher.cancel()
            for sock in self.sockets.values():
                sock.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def describe(self):
        first = self.workers[0].info
        info = dict(first)
        info.pop("worker", None)
        info.pop("pid", None)
        info["listen"] = self._address("listen")
        if "admin" in self.sockets:
            info["admin"] = self._address("admin")
        info["uuid"] = self.config.uuid
        info["pid"] = os.getpid()
        info["socket"] = self.mode
        info["workers"] = [{"worker": w.index, "pid": w.proc.pid, "uuid": w.info["uuid"],
                            "routes": w.info["routes"]} for w in self.workers]
        return info

    def _spawn(self, worker):
        fds = [s.fileno() for s in self.sockets.values()] if self.mode == "inherit" else []
        worker.info = None
        worker.started = time.monotonic()
        worker.proc = subprocess.Popen(self._command(worker), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       pass_fds=fds)
        log.debug("worker %d started: pid %d", worker.index, worker.proc.pid)

    def _read_ready(self, worker):
        """The worker's ready line (parsed), or None if it exits first; then drain its stdout."""
        for line in worker.proc.stdout:
            text = line.decode("utf-8", "replace").rstrip("\n")
            if text.startswith("bridge ready "):
                worker.info = json.loads(text[len("bridge ready "):])
                gevent.spawn(self._drain, worker.proc)
                return worker.info
            print(text, flush=True)
        return None

    @staticmethod
    def _drain(proc):
        for line in proc.stdout:
            sys.stdout.write(line.decode("utf-8", "replace"))
            sys.stdout.flush()

    def _await_ready(self, workers):
        """None once all are ready, else the exit status to leave with (a worker's own, such as
        2 for a bad configuration, or 1 for one that said nothing in READY_TIMEOUT)."""
        readers = [gevent.spawn(self._read_ready, w) for w in workers]
        # A SIGTERM while they start stops the wait too (run() then stops them).
        gevent.wait([self.done, gevent.spawn(gevent.joinall, readers)], timeout=READY_TIMEOUT, count=1)
        if self.done.is_set():
            gevent.killall(readers)
            return 0
        for worker, reader in zip(workers, readers):
            if reader.value is None:
                eof = reader.ready()            # its stdout ended: it is exiting, take its status
                reader.kill()
                try:
                    code = worker.proc.wait(5) if eof else worker.proc.poll()
                except subprocess.TimeoutExpired:
                    code = None
                log.error("worker %d %s", worker.index,
                          f"exited with status {code} before it was ready" if code is not None
                          else f"was not ready within {READY_TIMEOUT:.0f} s")
                return code if code not in (None, 0) and code > 0 else 1
        return None

    def _watch(self, worker):
        """Restart ``worker`` whenever it dies, until the supervisor stops."""
        while True:
            code = worker.proc.wait()
            if self.stopping:
                return
            lived = time.monotonic() - worker.started
            how = f"was killed by signal {-code}" if code < 0 else f"exited with status {code}"
            worker.delay = 0.2 if lived > 10 else min(worker.delay * 2, 10.0)
            log.warning("worker %d (pid %d) %s after %.1f s; restarting in %.1f s", worker.index,
                        worker.proc.pid, how, lived, worker.delay)
            gevent.sleep(worker.delay)
            if self.stopping:
                return
            self._spawn(worker)
            if self._read_ready(worker) is not None:
                log.warning("worker %d restarted: pid %d", worker.index, worker.proc.pid)

    def reload(self):
        """SIGHUP: every worker reloads its config."""
        log.info("SIGHUP: reloading %d workers", self.count)
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is None:
                worker.proc.send_signal(signal.SIGHUP)

    def stop(self):
        self.stopping = True
        self.done.set()

    def _terminate(self):
        procs = [w.proc for w in self.workers if w.proc is not None]
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        end = time.monotonic() + STOP_TIMEOUT
        for proc in procs:
            try:
                proc.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop within %.0f s: killed", proc.pid, STOP_TIMEOUT)
                proc.kill()
                proc.wait()
        for worker in self.workers:
            if worker.watcher is not None:
                worker.watcher.kill()
            if worker.proc is not None and worker.proc.stdin:
                worker.proc.stdin.close()


def remove_stale_directories():
    """Remove the ipc directories of supervisors that are gone (a SIGKILL leaves them)."""
    top = tempfile.gettempdir()
    for name in os.listdir(top):
        match = re.match(r"gzmq-bridge-(\d+)-", name)
        if match and not os.path.exists(f"/proc/{match.group(1)}") and os.path.isdir("/proc/self"):
            shutil.rmtree(os.path.join(top, name), ignore_errors=True)


def watch_supervisor(stop):
    """In a worker: call ``stop()`` once the supervisor is gone (our stdin pipe ends)."""
    from gevent import os as gos

    def run():
        fd = sys.stdin.fileno()
        gos.make_nonblocking(fd)
        try:
            while gos.nb_read(fd, 4096):
                pass
        except OSError:
            pass
        log.warning("the supervisor is gone: stopping")
        stop()

    return gevent.spawn(run)


# ---------------------------------------------------------------------- metrics and health across workers

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?(\s.*)$")


def label_metrics(texts):
    """Merge Prometheus texts from several workers ({index: text or None}) into one exposition,
    every sample labelled ``worker="I"``, each family's samples together under one HELP/TYPE,
    plus ``bridge_worker_up{worker}`` (0 for a worker that did not answer)."""
    families = {}               # name -> [header lines, samples]
    order = []
    for index in sorted(texts):
        text = texts[index]
        if text is None:
            continue
        current = None
        for line in text.splitlines():
            if line.startswith("# HELP ") or line.startswith("# TYPE "):
                name = line.split(" ", 3)[2]
                if name not in families:
                    families[name] = [[], []]
                    order.append(name)
                if index == min(i for i in texts if texts[i] is not None):
                    families[name][0].append(line)
                current = name
            elif line and not line.startswith("#"):
                match = _SAMPLE.match(line)
                if match is None or current is None:
                    continue
                name, labels, rest = match.groups()
                inner = labels[1:-1] if labels else ""
                labelled = f'{name}{{worker="{index}"' + ("," + inner if inner else "") + "}" + rest
                families[current][1].append(labelled)
    out = ["# HELP bridge_worker_up Whether the worker answered this scrape.",
           "# TYPE bridge_worker_up gauge"]
    out += [f'bridge_worker_up{{worker="{i}"}} {0 if texts[i] is None else 1}' for i in sorted(texts)]
    for name in order:
        head, samples = families[name]
        out += head + samples
    return "\n".join(out) + "\n"


class Cluster:
    """A worker's view of its siblings: answers ``metrics``/``health`` queries on its ipc
    ROUTER and asks the others (each over a fresh REQ socket, ASK_TIMEOUT at most)."""

    def __init__(self, context, index, count, directory):
        self.context = context
        self.index = index
        self.count = count
        self.directory = directory
        self.bridge = None
        self._greenlet = None
        path = self._path(index)
        if os.path.exists(path):            # left by this worker's previous life
            os.unlink(path)
        self.router = context.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.bind("ipc://" + path)

    def _path(self, index):
        return os.path.join(self.directory, f"worker-{index}.ipc")

    def start(self, bridge):
        self.bridge = bridge
        self._greenlet = gevent.spawn(self._serve)

    def close(self):
        if self._greenlet is not None:
            self._greenlet.kill()
        self.router.close()

    def local(self, kind):
        if kind == b"metrics":
            return self.bridge.metrics.render().encode()
        if kind == b"health":
            return json.dumps(self.bridge.local_health()).encode()
        return b""

    def _serve(self):
        while True:
            try:
                frames = self.router.recv_multipart()
            except zmq.ZMQError:
                return
            if len(frames) < 3:
                continue
            try:
                answer = self.local(frames[-1])
            except Exception:
                log.exception("worker %d: answering %r failed", self.index, frames[-1])
                answer = b""
            self.router.send_multipart(frames[:-1] + [answer])

    def ask(self, index, kind):
        """Worker ``index``'s answer to ``kind`` (bytes), or None if it does not answer."""
        if index == self.index:
            return self.local(kind)
        sock = self.context.socket(zmq.REQ)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVTIMEO, int(ASK_TIMEOUT * 1000))
            sock.connect("ipc://" + self._path(index))
            sock.send(kind)
            return sock.recv()
        except zmq.ZMQError:
            return None
        finally:
            sock.close()

    def gather(self, kind):
        jobs = {i: gevent.spawn(self.ask, i, kind) for i in range(self.count)}
        gevent.joinall(list(jobs.values()), timeout=ASK_TIMEOUT + 1)
        return {i: job.value if job.successful() else None for i, job in jobs.items()}

    def metrics(self):
        texts = self.gather(b"metrics")
        return label_metrics({i: t.decode() if t else None for i, t in texts.items()})

    def health(self, local):
        """``local`` (this worker's health) with the whole cluster's state."""
        answers = self.gather(b"health")
        workers = []
        for i in range(self.count):
            raw = answers.get(i)
            if i == self.index:
                doc = local
            else:
                try:
                    doc = json.loads(raw) if raw else None
                except ValueError:
                    doc = None
            if doc is None:
                workers.append({"worker": i, "status": "down", "why": "did not answer"})
                continue
            workers.append({"worker": i, "pid": doc.get("pid"), "status": doc.get("status"),
                            "uuid": doc.get("uuid"), "open_connections": doc.get("open_connections"),
                            "routes": [r["prefix"] for r in doc.get("routes", [])]})
        info = dict(local)
        info["worker"] = self.index
        info["workers"] = workers
        down = [w["worker"] for w in workers if w["status"] != "ok"]
        if down:
            info["status"] = "degraded"
            info["degraded_workers"] = down
        return info
