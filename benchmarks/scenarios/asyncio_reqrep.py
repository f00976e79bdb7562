"""asyncio: REQ/REP round trip with zmq.asyncio on both sides, two processes.

The same coroutines run on pyzmq's zmq.asyncio (libzmq's I/O thread) and on gzmq.asyncio (gzmq's
I/O thread, what a program without gevent gets): `await sock.send()` / `await sock.recv()` on
asyncio's default loop. Figures as reqrep's: median and 99th percentile of the timed round trips
after WARMUP.
"""
import asyncio
import importlib

from benchmarks.registry import Family, Metric, Scenario, register
from benchmarks.scenarios.reqrep import SIZE, WARMUP
from benchmarks.scenarios.zmq_base import bind, probe
from benchmarks.stats import percentile


def futures_module(zmq):
    return importlib.import_module(zmq.__name__ + ".asyncio")


# -- worker side: the measured code --

def rep_server(env, spec):
    zmq = env.lib
    aio = futures_module(zmq)

    async def serve():
        context = aio.Context()
        rep = context.socket(zmq.REP)
        env.ready(endpoint=bind(zmq, rep, spec))
        while True:
            request = await rep.recv()
            await rep.send(request)
            if not request:
                break
        rep.close()
        context.term()

    asyncio.run(serve())


def req_client(env, endpoint, duration):
    zmq = env.lib
    aio = futures_module(zmq)
    clock = env.clock

    async def ask():
        context = aio.Context()
        req = context.socket(zmq.REQ)
        req.connect(endpoint)
        request = b"x" * SIZE
        for _ in range(WARMUP):
            await req.send(request)
            await req.recv()
        round_trips = []
        deadline = clock() + duration
        while True:
            started = clock()
            await req.send(request)
            await req.recv()
            finished = clock()
            round_trips.append(finished - started)
            if finished >= deadline:
                break
        await req.send(b"")
        await req.recv()
        req.close()
        context.term()
        return round_trips

    round_trips = sorted(asyncio.run(ask()))
    return {"round_trips": len(round_trips),
            "median_us": percentile(round_trips, 50) * 1e6,
            "p99_us": percentile(round_trips, 99) * 1e6}


# -- orchestrator side --

def latency(trial):
    server = trial.start(rep_server, spec=trial.bind_spec("tcp"))
    endpoint = server.expect("ready")["endpoint"]
    result = trial.start(req_client, endpoint=endpoint, duration=trial.duration).result()
    server.result()
    return {"median_us": result["median_us"], "p99_us": result["p99_us"],
            "round_trips": result["round_trips"]}


# Programs on asyncio's loop: pyzmq's zmq.asyncio, and gzmq.asyncio with its I/O thread
# (asyncio's loop does not turn gevent's hub, so there is no in-hub column).
ASYNCIO = Family(name="asyncio", columns=("pyzmq", "gzmq-io"), probe=probe,
                 ratios=(("gzmq-io", "pyzmq"),))

register(Scenario(
    name="asyncio reqrep tcp 16B", group="REQ/REP round trip with zmq.asyncio, two processes (lower is better)",
    family=ASYNCIO, run=latency,
    metrics=(Metric("median_us", "us median", higher_is_better=False),
             Metric("p99_us", "us p99", higher_is_better=False),
             Metric("round_trips", "round trips", headline=False)),
    details={"transport": "tcp", "size": SIZE, "warmup": WARMUP}))
