"""Request/reply: REQ/REP round-trip latency, and DEALER/ROUTER with requests kept in flight.

Client and server run in two processes. The server echoes every request; an empty request is the
last (echoed, then the server exits).
- REQ/REP: after WARMUP round trips (which include the connection handshake), the client times
  each round trip for the trial's duration; figures are the median and 99th percentile.
- DEALER/ROUTER: the client keeps IN_FLIGHT requests outstanding (one new request per reply)
  for the trial's duration, then collects the stragglers; the figure is replies per second.
"""
from benchmarks.registry import Metric, Scenario, register
from benchmarks.scenarios.zmq_base import ZMQ, bind
from benchmarks.stats import percentile

SIZE = 16
WARMUP = 100
IN_FLIGHT = 100


# -- worker side: the measured code --

def rep_server(env, spec):
    zmq = env.lib
    context = zmq.Context()
    rep = context.socket(zmq.REP)
    env.ready(endpoint=bind(zmq, rep, spec))
    while True:
        request = rep.recv()
        rep.send(request)
        if not request:
            break
    rep.close()
    context.term()


def req_client(env, endpoint, duration):
    zmq = env.lib
    context = zmq.Context()
    req = context.socket(zmq.REQ)
    req.connect(endpoint)
    request = b"x" * SIZE
    for _ in range(WARMUP):
        req.send(request)
        req.recv()
    clock = env.clock
    round_trips = []
    deadline = clock() + duration
    while True:
        started = clock()
        req.send(request)
        req.recv()
        finished = clock()
        round_trips.append(finished - started)
        if finished >= deadline:
            break
    req.send(b"")
    req.recv()
    req.close()
    context.term()
    round_trips.sort()
    return {"round_trips": len(round_trips),
            "median_us": percentile(round_trips, 50) * 1e6,
            "p99_us": percentile(round_trips, 99) * 1e6}


def router_server(env, spec):
    zmq = env.lib
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    env.ready(endpoint=bind(zmq, router, spec))
    while True:
        identity, request = router.recv_multipart()
        router.send_multipart([identity, request])
        if not request:
            break
    router.close()
    context.term()


def dealer_client(env, endpoint, duration):
    zmq = env.lib
    context = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.connect(endpoint)
    request = b"x" * SIZE
    clock = env.clock
    started = clock()
    for _ in range(IN_FLIGHT):
        dealer.send(request)
    replies = 0
    deadline = started + duration
    while clock() < deadline:
        for _ in range(IN_FLIGHT):
            dealer.recv()
            dealer.send(request)
        replies += IN_FLIGHT
    for _ in range(IN_FLIGHT):
        dealer.recv()
    replies += IN_FLIGHT
    seconds = clock() - started
    dealer.send(b"")
    dealer.recv()
    dealer.close()
    context.term()
    return {"replies": replies, "seconds": seconds}


# -- orchestrator side --

def latency(transport):
    def run(trial):
        server = trial.start(rep_server, spec=trial.bind_spec(transport))
        endpoint = server.expect("ready")["endpoint"]
        result = trial.start(req_client, endpoint=endpoint, duration=trial.duration).result()
        server.result()
        return {"median_us": result["median_us"], "p99_us": result["p99_us"],
                "round_trips": result["round_trips"]}
    return run


def pipelined(transport):
    def run(trial):
        server = trial.start(router_server, spec=trial.bind_spec(transport))
        endpoint = server.expect("ready")["endpoint"]
        result = trial.start(dealer_client, endpoint=endpoint, duration=trial.duration).result()
        server.result()
        return {"req_per_s": result["replies"] / result["seconds"]}
    return run


for transport in ("tcp", "ipc"):
    register(Scenario(
        name=f"reqrep {transport} 16B", group="REQ/REP round trip, two processes (lower is better)",
        family=ZMQ, run=latency(transport),
        metrics=(Metric("median_us", "us median", higher_is_better=False),
                 Metric("p99_us", "us p99", higher_is_better=False),
                 Metric("round_trips", "round trips", headline=False)),
        details={"transport": transport, "size": SIZE, "warmup": WARMUP}))

register(Scenario(
    name="dealer-router tcp 16B", group=f"DEALER/ROUTER, {IN_FLIGHT} requests in flight, two processes",
    family=ZMQ, run=pipelined("tcp"), metrics=(Metric("req_per_s", "req/s"),),
    details={"transport": "tcp", "size": SIZE, "in_flight": IN_FLIGHT}))
