"""What every ZeroMQ scenario shares: the family of columns, its smoke probe, and the worker-side
helpers that send and receive a timed stream of messages.

Worker-side functions (those taking `env`) are the code being measured. They use only pyzmq's
public API on `zmq = env.lib`, so the very same lines run on pyzmq, zmq.green and gzmq. Rules
they all follow, whatever the implementation:
- a message is `size` bytes; sizes from ZERO_COPY_FROM up are sent and received with
  copy=False (what pyzmq does on its own above zmq.COPY_THRESHOLD, and what its docs advise),
  except in the "copying" rows, which use plain send(bytes) and recv() as most programs do;
- high-water marks are set explicitly (HWM_BYTES worth of messages, at most libzmq's default
  1000), so large messages cannot pile up gigabytes in queues;
- a stream ends with a message of another length (an empty one for PUSH/PULL), and receivers
  time from the arrival of the first message to the arrival of that end marker.
"""
from benchmarks.impls import BASELINE, IMPLS
from benchmarks.process import TrialError
from benchmarks.registry import Family, Unavailable

ZERO_COPY_FROM = 64 * 1024
HWM_BYTES = 64 * 1024 * 1024
BATCH_BYTES = 256 * 1024       # senders look at the clock once per batch of about this many bytes


def copy_for(size):
    return size < ZERO_COPY_FROM


def set_hwm(zmq, socket, size):
    hwm = max(16, min(1000, HWM_BYTES // size))
    socket.setsockopt(zmq.SNDHWM, hwm)
    socket.setsockopt(zmq.RCVHWM, hwm)


def bind(zmq, socket, spec):
    """Bind to spec (tcp port `*` picks a free one) and return the endpoint actually bound."""
    socket.bind(spec)
    endpoint = socket.getsockopt(zmq.LAST_ENDPOINT)
    return endpoint.decode() if isinstance(endpoint, bytes) else endpoint


def batch_for(size):
    return max(1, min(100, BATCH_BYTES // size))


def send_stream(env, socket, size, duration, copy=None):
    """Send size-byte messages for `duration` seconds, then the empty end marker. Returns the
    count. copy: as copy_for(size) unless given (True: the default path of plain programs)."""
    copy = copy_for(size) if copy is None else copy
    message = b"x" * size
    batch = batch_for(size)
    sent = 0
    deadline = env.clock() + duration
    while env.clock() < deadline:
        for _ in range(batch):
            socket.send(message, copy=copy)
        sent += batch
    socket.send(b"")
    return sent


def receive_stream(env, socket, size, copy=None):
    """Receive size-byte messages until the end marker.

    Returns (messages, seconds): the count, and the time from the first message's arrival to the
    end marker's (that interval holds count - 1 messages plus the marker: count receives).
    """
    copy = copy_for(size) if copy is None else copy
    first = socket.recv(copy=copy)
    started = env.clock()
    if len(first) != size:
        raise ValueError(f"expected a {size}-byte message first, got {len(first)} bytes")
    received = 1
    while len(socket.recv(copy=copy)) == size:
        received += 1
    return received, env.clock() - started


def check_counts(received, sent):
    if received != sent:
        raise TrialError(f"receiver got {received} messages, sender sent {sent}")


# -- the family --

def smoke(env):
    """Can this implementation move one message over inproc and tcp? Report its versions."""
    zmq = env.lib
    context = zmq.Context()
    for spec in ("inproc://smoke", "tcp://127.0.0.1:*"):
        pull = context.socket(zmq.PULL)
        push = context.socket(zmq.PUSH)
        push.connect(bind(zmq, pull, spec))
        push.send(b"ping")
        if pull.recv() != b"ping":
            raise ValueError(f"{spec}: sent b'ping', received something else")
        push.close()
        pull.close()
    context.term()
    return {"version": str(getattr(zmq, "__version__", "?")),
            "libzmq": zmq.zmq_version() if hasattr(zmq, "zmq_version") else None,
            "description": env.impl.description}


def probe(trial):
    try:
        return trial.start(smoke).result()
    except TrialError as exc:
        raise Unavailable(str(exc).split("\n")[0]) from None


# gzmq in both I/O modes: in-hub ("gzmq", what a gevent program gets) and with a background
# I/O thread ("gzmq-io", what a plain pyzmq program gets by default).
ZMQ = Family(
    name="zmq",
    columns=("pyzmq", "green", "gzmq", "gzmq-io") + (("gzmq-base", "gzmq-io-base") if BASELINE else ()),
    probe=probe,
    ratios=(("gzmq", "green"), ("gzmq", "pyzmq"), ("gzmq-io", "pyzmq"))
    + ((("gzmq", "gzmq-base"), ("gzmq-io", "gzmq-io-base")) if BASELINE else ()),
)

assert all(column in IMPLS for column in ZMQ.columns)
