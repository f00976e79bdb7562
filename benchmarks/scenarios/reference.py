"""Reference limits, measured in the same run as the ZeroMQ figures.

- Raw TCP on loopback, two processes, same code on the stdlib `socket` module (blocking) and on
  `gevent.socket` (cooperative): streaming (one sendall() per message: for 16 B that is the
  system-call ceiling of a writer that does not batch; for 1 MiB the kernel's copy bandwidth),
  and 16-byte ping-pong round trips. TCP_NODELAY is set, as libzmq sets it.
- The pure-Python framing ceiling: benchmarks.minizmtp encoding 16-byte messages one at a time
  (joined into one buffer per 1000, as a batching writer would) and decoding such buffers.
"""
from benchmarks.impls import IMPLS
from benchmarks.minizmtp import decode_messages, encode_message
from benchmarks.registry import Family, Metric, Scenario, register
from benchmarks.scenarios.zmq_base import batch_for
from benchmarks.stats import percentile
from benchmarks.units import size_label

WARMUP = 100
PING_SIZE = 16
CODEC_SIZE = 16
CODEC_BATCH = 1000


# -- worker side: raw sockets (env.lib is `socket` or `gevent.socket`) --

def listen(env):
    socket = env.lib
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    env.ready(port=listener.getsockname()[1])
    connection, _ = listener.accept()
    listener.close()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def connect(env, port):
    socket = env.lib
    connection = socket.create_connection(("127.0.0.1", port))
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def stream_receiver(env):
    connection = listen(env)
    buffer = memoryview(bytearray(1 << 20))
    received = connection.recv_into(buffer)
    started = env.clock()
    while True:
        count = connection.recv_into(buffer)
        if not count:
            break
        received += count
    seconds = env.clock() - started
    connection.close()
    return {"bytes": received, "seconds": seconds}


def stream_sender(env, port, size, duration):
    connection = connect(env, port)
    message = b"x" * size
    batch = batch_for(size)
    sent = 0
    deadline = env.clock() + duration
    while env.clock() < deadline:
        for _ in range(batch):
            connection.sendall(message)
        sent += batch
    connection.close()
    return {"bytes": sent * size}


def receive_exactly(connection, size):
    data = connection.recv(size)
    while len(data) < size:
        more = connection.recv(size - len(data))
        if not more:
            return b""
        data += more
    return data


def echo_server(env):
    connection = listen(env)
    while True:
        data = receive_exactly(connection, PING_SIZE)
        if not data:
            break
        connection.sendall(data)
    connection.close()


def ping_client(env, port, duration):
    connection = connect(env, port)
    message = b"x" * PING_SIZE
    for _ in range(WARMUP):
        connection.sendall(message)
        receive_exactly(connection, PING_SIZE)
    clock = env.clock
    round_trips = []
    deadline = clock() + duration
    while True:
        started = clock()
        connection.sendall(message)
        receive_exactly(connection, PING_SIZE)
        finished = clock()
        round_trips.append(finished - started)
        if finished >= deadline:
            break
    connection.close()
    round_trips.sort()
    return {"round_trips": len(round_trips),
            "median_us": percentile(round_trips, 50) * 1e6,
            "p99_us": percentile(round_trips, 99) * 1e6}


# -- worker side: the framing ceiling (no I/O) --

def codec(env, duration):
    clock = env.clock
    message = [b"x" * CODEC_SIZE]
    encoded = 0
    started = clock()
    deadline = started + duration / 2
    while True:                 # at least once: `data` is decoded below
        data = b"".join([encode_message(message) for _ in range(CODEC_BATCH)])
        encoded += CODEC_BATCH
        if clock() >= deadline:
            break
    encode_seconds = clock() - started
    decoded = 0
    started = clock()
    deadline = started + duration / 2
    while True:
        messages, consumed = decode_messages(data)
        decoded += len(messages)
        if clock() >= deadline:
            break
    decode_seconds = clock() - started
    if consumed != len(data) or messages[-1] != message:
        raise ValueError("decode_messages(encode_message(...)) did not round-trip")
    return {"encode_per_s": encoded / encode_seconds, "decode_per_s": decoded / decode_seconds}


# -- orchestrator side --

def describe(trial):
    return {"description": IMPLS[trial.impl].description}


SOCKETS = Family(name="socket", columns=("socket", "gevent"), probe=describe,
                 ratios=(("gevent", "socket"),))
CODEC = Family(name="codec", columns=("python",), probe=describe)


def streaming(size):
    def run(trial):
        receiver = trial.start(stream_receiver)
        port = receiver.expect("ready")["port"]
        sent = trial.start(stream_sender, port=port, size=size, duration=trial.duration).result()
        result = receiver.result()
        if result["bytes"] != sent["bytes"]:
            raise ValueError(f"received {result['bytes']} bytes, sent {sent['bytes']}")
        rate = result["bytes"] / result["seconds"]
        return {"msg_per_s": rate / size, "mb_per_s": rate / 1e6}
    return run


def ping_pong(trial):
    server = trial.start(echo_server)
    port = server.expect("ready")["port"]
    result = trial.start(ping_client, port=port, duration=trial.duration).result()
    server.result()
    return {"median_us": result["median_us"], "p99_us": result["p99_us"]}


def framing(trial):
    return trial.start(codec, duration=trial.duration).result()


for size in (16, 1024 * 1024):
    register(Scenario(
        name=f"raw-socket stream {size_label(size)}",
        group="Reference: raw TCP socket on loopback, two processes",
        family=SOCKETS, run=streaming(size),
        metrics=(Metric("msg_per_s", "msg/s", headline=size < 1024),
                 Metric("mb_per_s", "MB/s", headline=size >= 1024)),
        details={"size": size, "one_sendall_per_message": True}))

register(Scenario(
    name="raw-socket ping-pong 16B",
    group="Reference: raw TCP socket on loopback, two processes",
    family=SOCKETS, run=ping_pong,
    metrics=(Metric("median_us", "us median", higher_is_better=False),
             Metric("p99_us", "us p99", higher_is_better=False)),
    details={"size": PING_SIZE, "warmup": WARMUP}))

register(Scenario(
    name="zmtp-framing 16B", group="Reference: pure-Python ZMTP framing ceiling (benchmarks/minizmtp.py)",
    family=CODEC, run=framing,
    metrics=(Metric("encode_per_s", "msg/s encoded"), Metric("decode_per_s", "msg/s decoded")),
    details={"size": CODEC_SIZE, "batch": CODEC_BATCH}))
