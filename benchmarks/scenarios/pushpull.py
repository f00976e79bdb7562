"""PUSH/PULL throughput: one sender streams fixed-size messages to one receiver.

Two layouts, same sending and receiving code (zmq_base.send_stream / receive_stream):
- two processes over tcp and ipc: the receiver binds and says "ready", then the sender starts,
  connects and sends for the trial's duration;
- one process over inproc and tcp: sender and receiver are two tasks sharing a Context
  (greenlets under gevent, threads for pyzmq plain).
The figure is the receiver's: messages / (arrival of the end marker - arrival of the first).
"""
from benchmarks.registry import Metric, Scenario, register
from benchmarks.scenarios.zmq_base import (
    ZMQ, bind, check_counts, receive_stream, send_stream, set_hwm)
from benchmarks.units import size_label

SIZES = (16, 1024, 64 * 1024, 1024 * 1024)


# -- worker side: the measured code --

def receiver(env, spec, size, copy=None):
    zmq = env.lib
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    set_hwm(zmq, pull, size)
    env.ready(endpoint=bind(zmq, pull, spec))
    received, seconds = receive_stream(env, pull, size, copy)
    pull.close()
    context.term()
    return {"received": received, "seconds": seconds}


def sender(env, endpoint, size, duration, copy=None):
    zmq = env.lib
    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    set_hwm(zmq, push, size)
    push.connect(endpoint)
    sent = send_stream(env, push, size, duration, copy)
    # Stay connected until the receiver has everything: libzmq can drop what a PULL has not
    # read yet when its peer disconnects (seen over ipc), whatever LINGER says.
    env.send("sent", sent=sent)
    env.receive()
    push.close()
    context.term()
    return {"sent": sent}


def one_process(env, spec, size, duration):
    zmq = env.lib
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    set_hwm(zmq, pull, size)
    push = context.socket(zmq.PUSH)
    set_hwm(zmq, push, size)
    push.connect(bind(zmq, pull, spec))
    # Each socket is used by one task only; both are closed here once both tasks are done.
    receiving = env.spawn(receive_stream, env, pull, size)
    sending = env.spawn(send_stream, env, push, size, duration)
    sent = sending.join()
    received, seconds = receiving.join()
    push.close()
    pull.close()
    context.term()
    return {"received": received, "seconds": seconds, "sent": sent}


# -- orchestrator side --

def figures(received, seconds, size):
    rate = received / seconds
    return {"msg_per_s": rate, "mb_per_s": rate * size / 1e6}


def two_processes(transport, size, copy=None):
    def run(trial):
        receiving = trial.start(receiver, spec=trial.bind_spec(transport), size=size, copy=copy)
        endpoint = receiving.expect("ready")["endpoint"]
        sending = trial.start(sender, endpoint=endpoint, size=size, duration=trial.duration,
                              copy=copy)
        result = receiving.result()
        sent = sending.expect("sent")["sent"]
        sending.tell(close=True)
        check_counts(result["received"], sent)
        return figures(result["received"], result["seconds"], size)
    return run


def in_one_process(transport, size):
    def run(trial):
        result = trial.start(one_process, spec=trial.bind_spec(transport), size=size,
                             duration=trial.duration).result()
        check_counts(result["received"], result["sent"])
        return figures(result["received"], result["seconds"], size)
    return run


def metrics(size):
    # Small messages are about messages per second, large ones about bytes per second.
    small = size < 64 * 1024
    return (Metric("msg_per_s", "msg/s", headline=small),
            Metric("mb_per_s", "MB/s", headline=not small))


for transport in ("tcp", "ipc"):
    for size in SIZES:
        register(Scenario(
            name=f"pushpull {transport} {size_label(size)}",
            group="PUSH/PULL throughput, sender and receiver in two processes",
            family=ZMQ, run=two_processes(transport, size), metrics=metrics(size),
            details={"transport": transport, "size": size, "processes": 2}))

# The default path of plain programs: send(bytes) and recv() returning bytes, whatever the size.
for size in (1024, 64 * 1024, 1024 * 1024, 4 * 1024 * 1024):
    register(Scenario(
        name=f"pushpull-copy tcp {size_label(size)}",
        group="PUSH/PULL throughput with plain send(bytes) and recv() (copy=True), two processes",
        family=ZMQ, run=two_processes("tcp", size, copy=True), metrics=metrics(size),
        details={"transport": "tcp", "size": size, "processes": 2, "copy": True}))

for transport in ("inproc", "tcp"):
    for size in SIZES:
        register(Scenario(
            name=f"pushpull-1proc {transport} {size_label(size)}",
            group="PUSH/PULL throughput, one process (greenlets; threads for pyzmq)",
            family=ZMQ, run=in_one_process(transport, size), metrics=metrics(size),
            details={"transport": transport, "size": size, "processes": 1}))
