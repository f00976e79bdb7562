"""HTTP through the bridge and its baselines: wrk (Debian) against servers on loopback.

Columns (server setups), all driven by the same wrk command (one wrk thread, keep-alive,
CONNECTIONS concurrent connections, --latency), all answering GET / with "Hello World":
- bridge: `python -m bridge` (gzmq) with a Mongrel2-protocol route to m2_handler on gzmq;
- mongrel2: Debian's Mongrel2 with the very same m2_handler, on pyzmq;
- hello: a bottle app on gevent's WSGIServer, TCP_NODELAY on accepted sockets;
- green-fwd: the same server and app, but each request is forwarded over zmq.green (one DEALER
  shared by all requests, replies matched by a request id) to a ROUTER handler on pyzmq.
The bottle baselines monkey-patch nothing: gevent.pywsgi and zmq.green need no patching and
bottle does no I/O of its own (the bridge patches, as its entry point does).
To add a setup: write start_<setup>(trial) -> port, and add it to SETUPS and WEB.columns.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from benchmarks.process import TrialError
from benchmarks.registry import Family, Metric, Scenario, Unavailable, register

CONNECTIONS = (1, 10, 100)
BODY = b"Hello World"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


# -- worker side (impl "gevent-app" for the bottle fronts; handlers on pyzmq or gzmq) --

def make_server(app):
    from gevent import socket
    from gevent.pywsgi import WSGIServer

    class NoDelayWSGIServer(WSGIServer):
        def handle(self, sock, address):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().handle(sock, address)

    return NoDelayWSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)


def hello_app(env):
    import bottle
    app = bottle.Bottle()

    @app.route("/")
    def hello():
        return BODY

    server = make_server(app)
    server.start()
    env.ready(port=server.server_port)
    server.serve_forever()


def forwarding_app(env, backend):
    import itertools

    import bottle
    import zmq.green as zmq
    from gevent import spawn
    from gevent.event import AsyncResult

    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.connect(backend)
    pending = {}                # request id -> AsyncResult of the handler's reply
    request_ids = itertools.count()

    def dispatch_replies():
        while True:
            reply = dealer.recv()
            pending.pop(reply[:8]).set(reply[8:])

    app = bottle.Bottle()

    @app.route("/")
    def forward():
        request_id = next(request_ids).to_bytes(8, "big")
        reply = pending[request_id] = AsyncResult()
        # One frame per request: frames of a multipart message sent from several greenlets on
        # one zmq.green socket could interleave.
        dealer.send(request_id + bottle.request.method.encode() + b" " + bottle.request.path.encode())
        return reply.get()

    spawn(dispatch_replies)
    server = make_server(app)
    server.start()
    env.ready(port=server.server_port)
    server.serve_forever()


def router_handler(env, spec):
    from benchmarks.scenarios.zmq_base import bind
    zmq = env.lib
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    env.ready(endpoint=bind(zmq, router, spec))
    while True:
        identity, request = router.recv_multipart()
        router.send_multipart([identity, request[:8] + BODY])


def m2_handler(env, send_spec, recv_spec):
    """A Mongrel2-protocol handler: requests from PULL, replies on PUB (json headers). The specs
    may be lists (a bridge with several workers: one PUSH/SUB pair each)."""
    zmq = env.lib
    context = zmq.Context()
    requests = context.socket(zmq.PULL)
    replies = context.socket(zmq.PUB)
    for spec in [send_spec] if isinstance(send_spec, str) else send_spec:
        requests.connect(spec)
    for spec in [recv_spec] if isinstance(recv_spec, str) else recv_spec:
        replies.connect(spec)
    env.ready()
    while True:
        # UUID ID PATH SIZE:HEADERS,SIZE:BODY,
        sender, connection_id, _path, rest = requests.recv().split(b" ", 3)
        size, _, rest = rest.partition(b":")
        if b'"METHOD":"JSON"' in rest[:int(size)]:
            continue                    # a disconnect notice: nothing to answer
        replies.send(b"%s %d:%s, %s" % (sender, len(connection_id), connection_id, RESPONSE))


# -- orchestrator side --

def wait_until_serving(trial, port):
    """GET / until it answers BODY (handlers connect, and subscriptions travel, asynchronously)."""
    last_error = None
    while trial.remaining() > 1:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                body = response.read()
            if body == BODY:
                return port
            last_error = f"GET / answered {body[:60]!r}"
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.05)
    raise TrialError(f"port {port} never served GET /: {last_error}")


def free_port():
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return probe_socket.getsockname()[1]


def start_bridge(trial, workers=None, handler_impl="gzmq"):
    command = [sys.executable, "-m", "bridge", "--listen", "127.0.0.1:0", "--log-level", "warning",
               "--route", "/=mongrel2:tcp://127.0.0.1:*,tcp://127.0.0.1:*"]
    if workers is not None:
        command += ["--workers", str(workers)]
    bridge = trial.start_command("bridge", command)
    line = bridge.readline()
    while not line.startswith(b"bridge ready "):
        line = bridge.readline()
    info = json.loads(line[len(b"bridge ready "):])
    routes = [w["routes"][0] for w in info["workers"]] if "workers" in info else info["routes"][:1]
    trial.start(m2_handler, impl=handler_impl, send_spec=[r["send"] for r in routes],
                recv_spec=[r["recv"] for r in routes]).expect("ready")
    port = int(info["listen"].rsplit(":", 1)[1])
    wait_until_serving(trial, port)
    if len(routes) > 1:
        wait_all_workers_serving(trial, port, len(routes))
    return port


def wait_all_workers_serving(trial, port, count):
    """GET / on fresh connections until every worker has answered one (the handler connects to
    each worker's sockets asynchronously; a worker it has not reached yet answers 503)."""
    served, last_error = set(), None
    while trial.remaining() > 1 and len(served) < count:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_bridge/health", timeout=1) as response:
                worker = json.loads(response.read())["worker"]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                if response.read() == BODY:
                    served.add(worker)
        except OSError as exc:
            last_error = str(exc)
            time.sleep(0.05)
    if len(served) < count:
        raise TrialError(f"only workers {sorted(served)} of {count} served GET /: {last_error}")


M2_SERVER_UUID = "f400bf85-4538-4f7a-8908-67e313d515c2"
M2_CONFIG = """
handler = Handler(send_spec='tcp://127.0.0.1:{send}', send_ident='54c6755b-9628-40a4-9a2d-cc82a816345e',
                  recv_spec='tcp://127.0.0.1:{recv}', recv_ident='')
main = Server(uuid="{uuid}", chroot="./", access_log="/logs/access.log", error_log="/logs/error.log",
              pid_file="/run/mongrel2.pid", default_host="localhost", name="main",
              bind_addr="127.0.0.1", port={http}, hosts=[Host(name="localhost", routes={{'/': handler}})])
settings = {{"zeromq.threads": 1}}
servers = [main]
"""


def start_mongrel2(trial, handler_impl="pyzmq"):
    if not (shutil.which("mongrel2") and shutil.which("m2sh")):
        raise Unavailable("mongrel2/m2sh not installed (Debian package mongrel2-core)")
    # Mongrel2 chroots into its directory and wants run/, logs/ and tmp/ there; it daemonizes,
    # leaving our process group, so it is stopped by the pid it writes.
    work = trial.scratch_dir()
    for directory in ("run", "logs", "tmp"):
        os.makedirs(os.path.join(work, directory), exist_ok=True)
    http, send, recv = free_port(), free_port(), free_port()
    with open(os.path.join(work, "mongrel2.conf"), "w") as config:
        config.write(M2_CONFIG.format(send=send, recv=recv, http=http, uuid=M2_SERVER_UUID))
    trial.at_close(lambda: stop_daemon(os.path.join(work, "run", "mongrel2.pid")))
    for command in (["m2sh", "load", "-config", "mongrel2.conf", "-db", "config.sqlite"],
                    ["mongrel2", "config.sqlite", M2_SERVER_UUID]):
        # Output to a file: the daemon keeps its inherited stdout open, a pipe would never end.
        with open(os.path.join(work, "logs", "stdout.log"), "a+") as log:
            done = subprocess.run(command, cwd=work, stdout=log, stderr=subprocess.STDOUT,
                                  timeout=20, env=dict(os.environ, LOGNAME=os.environ.get("LOGNAME", "bench")))
            if done.returncode:
                log.seek(0)
                raise TrialError(f"{' '.join(command)}: {log.read().strip()[-500:]}")
    trial.start(m2_handler, impl=handler_impl, send_spec=f"tcp://127.0.0.1:{send}",
                recv_spec=f"tcp://127.0.0.1:{recv}").expect("ready")
    return wait_until_serving(trial, http)


def stop_daemon(pid_file):
    for _ in range(40):                 # the pid file appears once the daemon has forked
        if os.path.exists(pid_file):
            break
        time.sleep(0.05)
    else:
        return
    with open(pid_file) as pid_text:
        pid = int(pid_text.read().strip())
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        for _ in range(40):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


def start_hello(trial):
    port = trial.start(hello_app, impl="gevent-app").expect("ready")["port"]
    return wait_until_serving(trial, port)


def start_green_forward(trial):
    handler = trial.start(router_handler, impl="pyzmq", spec=trial.bind_spec("tcp"))
    backend = handler.expect("ready")["endpoint"]
    port = trial.start(forwarding_app, impl="gevent-app", backend=backend).expect("ready")["port"]
    return wait_until_serving(trial, port)


SETUPS = {"bridge": start_bridge, "mongrel2": start_mongrel2,
          "hello": start_hello, "green-fwd": start_green_forward}


DESCRIPTIONS = {
    "bridge": "python -m bridge (gzmq), Mongrel2-protocol route to a gzmq handler",
    "mongrel2": "Mongrel2 (Debian) with the same handler on pyzmq",
    "hello": "bottle hello world on gevent.pywsgi, TCP_NODELAY",
    "green-fwd": "bottle on gevent.pywsgi forwarding over zmq.green to a pyzmq handler",
}


def probe(trial):
    if shutil.which("wrk") is None:
        raise Unavailable("wrk not installed (Debian package wrk)")
    try:
        SETUPS[trial.column](trial)
    except TrialError as exc:
        raise Unavailable(str(exc).split("\n")[0]) from None
    return {"description": DESCRIPTIONS[trial.column]}


WEB = Family(name="web", columns=("bridge", "mongrel2", "hello", "green-fwd"), probe=probe,
             ratios=(("bridge", "green-fwd"), ("bridge", "hello"), ("bridge", "mongrel2")))


_LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_SECONDS = {"us": 1, "ms": 1e3, "s": 1e6}


def wrk(port, connections, seconds, timeout):
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency",
               f"http://127.0.0.1:{port}/"]
    try:
        output = subprocess.run(command, capture_output=True, text=True, check=True,
                                timeout=timeout).stdout
    except subprocess.CalledProcessError as exc:
        raise TrialError(f"wrk failed: {exc.stderr.strip() or exc.stdout.strip()}") from None
    except subprocess.TimeoutExpired:
        raise TrialError("wrk timed out") from None
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if rate is None or errors:
        raise TrialError(f"wrk reported errors or no rate:\n{output}")
    latency = {p: float(value) * _SECONDS[unit] for p, value, unit in _LATENCY.findall(output)}
    return {"req_per_s": float(rate.group(1)), "median_us": latency["50"], "p99_us": latency["99"]}


def http_load(connections):
    def run(trial):
        port = SETUPS[trial.column](trial)
        seconds = max(1, round(trial.duration))     # wrk takes whole seconds
        return wrk(port, connections, seconds, timeout=max(1.0, trial.remaining()))
    return run


# -- workers: the bridge with 1 and 2 worker processes (issue 23), beside Mongrel2 ------------
# Every column's handler is the same pyzmq m2_handler (libzmq does its I/O in its own thread),
# so the columns differ only in the front. On 2 cores, wrk and the handler share them with the
# workers: more cores would leave the workers more.

WORKER_SETUPS = {"bridge-1w": lambda trial: start_bridge(trial, None, "pyzmq"),
                 "bridge-2w": lambda trial: start_bridge(trial, 2, "pyzmq"),
                 "mongrel2": start_mongrel2}


def probe_workers(trial):
    if shutil.which("wrk") is None:
        raise Unavailable("wrk not installed (Debian package wrk)")
    try:
        WORKER_SETUPS[trial.column](trial)
    except TrialError as exc:
        raise Unavailable(str(exc).split("\n")[0]) from None
    return {"description": {"bridge-1w": "python -m bridge (one process), Mongrel2 route, pyzmq handler",
                            "bridge-2w": "python -m bridge --workers 2, the same route and handler "
                                         "(connected to both workers)",
                            "mongrel2": "Mongrel2 (Debian) with the same pyzmq handler"}[trial.column]}


WORKERS = Family(name="workers", columns=("bridge-1w", "bridge-2w", "mongrel2"), probe=probe_workers,
                 ratios=(("bridge-2w", "bridge-1w"), ("bridge-2w", "mongrel2"), ("bridge-1w", "mongrel2")))


def workers_load(trial):
    port = WORKER_SETUPS[trial.column](trial)
    seconds = max(1, round(trial.duration))
    return wrk(port, 100, seconds, timeout=max(1.0, trial.remaining()))


for connections in CONNECTIONS:
    register(Scenario(
        name=f"http c={connections}", group="HTTP GET / with wrk (1 thread, keep-alive)",
        family=WEB, run=http_load(connections),
        metrics=(Metric("req_per_s", "req/s"),
                 Metric("median_us", "us median", higher_is_better=False, headline=False),
                 Metric("p99_us", "us p99", higher_is_better=False, headline=False)),
        details={"connections": connections, "wrk_threads": 1}))


register(Scenario(
    name="http workers c=100", group="HTTP GET / on a Mongrel2 route with wrk: bridge workers",
    family=WORKERS, run=workers_load,
    metrics=(Metric("req_per_s", "req/s"),
             Metric("median_us", "us median", higher_is_better=False, headline=False),
             Metric("p99_us", "us p99", higher_is_better=False, headline=False)),
    details={"connections": 100, "wrk_threads": 1, "handler": "pyzmq m2_handler"}))
