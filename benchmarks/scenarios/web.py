"""HTTP baselines for the bridge: wrk (Debian) against servers on loopback.

Columns (server setups), all driven by the same wrk command (one wrk thread, keep-alive,
CONNECTIONS concurrent connections, --latency):
- hello: a bottle "Hello World" app on gevent's WSGIServer, TCP_NODELAY on accepted sockets;
- green-fwd: the same server and app, but each request is forwarded over zmq.green (one DEALER
  shared by all requests, replies matched by a request id) to a handler process on pyzmq
  that answers "Hello World";
- bridge: our bridge to a gzmq handler. Not written yet (bridge/ is being built): its probe
  says so and the column reads "unavailable". To add it (or Mongrel2 with a pyzmq handler):
  write start_<setup>(trial) -> port below and put it in SETUPS and WEB.columns.
Nothing is monkey-patched: gevent.pywsgi and zmq.green need no patching, bottle does no I/O.
"""
import re
import shutil
import subprocess
import urllib.request

from benchmarks.process import TrialError
from benchmarks.registry import Family, Metric, Scenario, Unavailable, register

CONNECTIONS = (1, 10, 100)
BODY = b"Hello World"


# -- worker side (impl "gevent-app" for the fronts, "pyzmq" for the handler) --

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


def hello_handler(env, spec):
    from benchmarks.scenarios.zmq_base import bind
    zmq = env.lib
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    env.ready(endpoint=bind(zmq, router, spec))
    while True:
        identity, request = router.recv_multipart()
        router.send_multipart([identity, request[:8] + BODY])


# -- orchestrator side --

def start_hello(trial):
    return trial.start(hello_app, impl="gevent-app").expect("ready")["port"]


def start_green_forward(trial):
    handler = trial.start(hello_handler, impl="pyzmq", spec=trial.bind_spec("tcp"))
    backend = handler.expect("ready")["endpoint"]
    return trial.start(forwarding_app, impl="gevent-app", backend=backend).expect("ready")["port"]


def start_bridge(trial):
    raise Unavailable("bridge setup not written yet (see benchmarks/scenarios/web.py)")


SETUPS = {"hello": start_hello, "green-fwd": start_green_forward, "bridge": start_bridge}


def probe(trial):
    if shutil.which("wrk") is None:
        raise Unavailable("wrk not installed (Debian package wrk)")
    try:
        port = SETUPS[trial.column](trial)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as response:
            body = response.read()
    except (TrialError, OSError) as exc:
        raise Unavailable(str(exc).split("\n")[0]) from None
    if body != BODY:
        raise Unavailable(f"GET / answered {body[:60]!r}, expected {BODY!r}")
    return {}


WEB = Family(name="web", columns=("hello", "green-fwd", "bridge"), probe=probe,
             ratios=(("bridge", "green-fwd"), ("bridge", "hello")))


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
        # wrk takes whole seconds; a longer run than the ZeroMQ trials, as 100 connections ramp up.
        seconds = max(1, round(2 * trial.duration))
        return wrk(port, connections, seconds, timeout=max(1.0, trial.remaining()))
    return run


for connections in CONNECTIONS:
    register(Scenario(
        name=f"http c={connections}", group="HTTP GET / with wrk (1 thread, keep-alive)",
        family=WEB, run=http_load(connections),
        metrics=(Metric("req_per_s", "req/s"),
                 Metric("median_us", "us median", higher_is_better=False, headline=False),
                 Metric("p99_us", "us p99", higher_is_better=False, headline=False)),
        details={"connections": connections, "wrk_threads": 1}))
