"""gzmq.devices: pyzmq-shaped background devices in a greenlet, an OS thread and a process.

Each device makes its own sockets from types and addresses; the test talks to it with gzmq
and libzmq sockets and stops it with stop(), its context's term(), or TERMINATE.
"""
import select
import struct

import gevent
import pytest

import gzmq
from gzmq import devices

from .support import IMPLS, recv_within
from .test_proxy import rep_worker

ADDR = "tcp://127.0.0.1"


def queue_roundtrips(make, impl, front_ep, n=10):
    client = make(impl, "REQ")
    client.connect(front_ep)
    for i in range(n):
        client.send(b"q%d" % i)
        assert recv_within(client) == [b"w:q%d" % i]
    client.close(linger=0)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("kind", ["greenlet", "thread"])
def test_queue_device_in_background(kind, impl, make, greenlets, deadline):
    cls = {"greenlet": devices.GreenletDevice, "thread": devices.ThreadDevice}[kind]
    dev = cls(gzmq.QUEUE, gzmq.ROUTER, gzmq.DEALER)
    dev.context_factory = gzmq.Context          # its own context, not the shared instance
    front = dev.bind_in_to_random_port(ADDR)
    back = dev.bind_out_to_random_port(ADDR)
    dev.setsockopt_in(gzmq.RCVHWM, 100)
    dev.setsockopt_out(gzmq.SNDHWM, 100)
    dev.start()
    worker = make(impl, "REP")
    worker.connect(f"{ADDR}:{back}")
    greenlets(rep_worker, worker, b"w")
    with deadline(15):
        queue_roundtrips(make, impl, f"{ADDR}:{front}")
        assert not dev.done
        dev.stop()
        dev.join()
    assert dev.done


def test_thread_device_stops_when_its_context_terminates(make, deadline):
    ctx = gzmq.Context()
    dev = devices.ThreadDevice(gzmq.STREAMER, gzmq.PULL, gzmq.PUSH)
    dev.context_factory = lambda: ctx
    front = dev.bind_in_to_random_port(ADDR)
    back = dev.bind_out_to_random_port(ADDR)
    dev.start()
    source, sink = make("libzmq", "PUSH"), make("gzmq", "PULL")
    source.connect(f"{ADDR}:{front}")
    sink.connect(f"{ADDR}:{back}")
    with deadline(15):
        source.send(b"through a thread")
        assert recv_within(sink) == [b"through a thread"]
        ctx.term()          # from this thread: the device's proxy sees ETERM and closes
        dev.join()
    assert dev.done


@pytest.mark.parametrize("impl", IMPLS)
def test_process_device_forwarder(impl, make, deadline):
    dev = devices.ProcessDevice(gzmq.FORWARDER, gzmq.XSUB, gzmq.XPUB)
    front = dev.bind_in_to_random_port(ADDR)
    back = dev.bind_out_to_random_port(ADDR)
    dev.start()
    try:
        pub, sub = make(impl, "PUB"), make("gzmq" if impl == "libzmq" else "libzmq", "SUB")
        pub.connect(f"{ADDR}:{front}")
        sub.setsockopt(gzmq.SUBSCRIBE, b"news")
        sub.connect(f"{ADDR}:{back}")
        with deadline(30):     # includes starting a fresh interpreter
            while True:
                pub.send(b"news probe")
                if sub.poll(50):
                    break
            pub.send(b"weather: ignored")
            pub.send(b"news: done")
            while True:
                msg = recv_within(sub)
                if msg != [b"news probe"]:
                    break
            assert msg == [b"news: done"]
    finally:
        dev.stop()
        with deadline(10):
            dev.join()
    assert dev.done
    # The child has ended: its sentinel is readable. (Its exit code may be unknown: once this
    # process has run gevent.subprocess children, gevent's SIGCHLD handler reaps every child,
    # and multiprocessing's own waitpid then finds nothing to reap.)
    assert select.select([dev.launcher.sentinel], [], [], 0)[0]


@pytest.mark.parametrize("kind", ["greenlet", "thread"])
def test_monitored_queue_device(kind, make, greenlets, deadline):
    cls = {"greenlet": devices.GreenletMonitoredQueue, "thread": devices.ThreadMonitoredQueue}[kind]
    dev = cls(gzmq.ROUTER, gzmq.DEALER, gzmq.PUSH, b"in", b"out")
    dev.context_factory = gzmq.Context
    front = dev.bind_in_to_random_port(ADDR)
    back = dev.bind_out_to_random_port(ADDR)
    mon = dev.bind_mon_to_random_port(ADDR)
    dev.start()
    watcher = make("libzmq", "PULL")
    watcher.connect(f"{ADDR}:{mon}")
    worker = make("libzmq", "REP")
    worker.connect(f"{ADDR}:{back}")
    greenlets(rep_worker, worker, b"w")
    client = make("gzmq", "REQ")
    client.routing_id = b"me"
    client.connect(f"{ADDR}:{front}")
    with deadline(15):
        client.send(b"hi")
        assert client.recv() == b"w:hi"
        assert recv_within(watcher) == [b"in", b"me", b"", b"hi"]
        assert recv_within(watcher) == [b"out", b"me", b"", b"w:hi"]
        dev.stop()
        dev.join()


@pytest.mark.parametrize("kind", ["greenlet", "thread"])
def test_proxy_device_with_monitor(kind, make, deadline):
    cls = {"greenlet": devices.GreenletProxy, "thread": devices.ThreadProxy}[kind]
    dev = cls(gzmq.PULL, gzmq.PUSH, gzmq.PUSH)
    dev.context_factory = gzmq.Context
    front = dev.bind_in_to_random_port(ADDR)
    back = dev.bind_out_to_random_port(ADDR)
    mon = dev.bind_mon_to_random_port(ADDR)
    dev.start()
    source, sink, watcher = make("gzmq", "PUSH"), make("libzmq", "PULL"), make("gzmq", "PULL")
    source.connect(f"{ADDR}:{front}")
    sink.connect(f"{ADDR}:{back}")
    watcher.connect(f"{ADDR}:{mon}")
    with deadline(15):
        for i in range(20):
            source.send_multipart([b"job", b"%d" % i])
        assert [recv_within(sink) for _ in range(20)] == [[b"job", b"%d" % i] for i in range(20)]
        assert [recv_within(watcher) for _ in range(20)] == [[b"job", b"%d" % i] for i in range(20)]
        dev.stop()
        dev.join()


@pytest.mark.parametrize("commander_impl", IMPLS)
@pytest.mark.parametrize("kind", ["greenlet", "thread"])
def test_steerable_proxy_device_terminates(kind, commander_impl, make, deadline):
    cls = {"greenlet": devices.GreenletProxySteerable, "thread": devices.ThreadProxySteerable}[kind]
    dev = cls(gzmq.PULL, gzmq.PUSH, gzmq.PUB, gzmq.REP)
    dev.context_factory = gzmq.Context
    front = dev.bind_in_to_random_port(ADDR)
    back = dev.bind_out_to_random_port(ADDR)
    dev.bind_mon_to_random_port(ADDR)
    ctrl = dev.bind_ctrl_to_random_port(ADDR)
    dev.start()
    source, sink, commander = make("gzmq", "PUSH"), make("libzmq", "PULL"), make(commander_impl, "REQ")
    source.connect(f"{ADDR}:{front}")
    sink.connect(f"{ADDR}:{back}")
    commander.connect(f"{ADDR}:{ctrl}")
    with deadline(15):
        source.send(b"abc")
        assert recv_within(sink) == [b"abc"]
        commander.send(b"STATISTICS")
        counts = [struct.unpack("@Q", f)[0] for f in recv_within(commander)]
        assert counts == [1, 3, 0, 0, 0, 0, 1, 3]
        commander.send(b"TERMINATE")
        assert recv_within(commander) == [b""]
        dev.join()
    assert dev.done


def test_foreground_device_runs_in_the_caller(gctx, deadline):
    dev = devices.Device(gzmq.STREAMER, gzmq.PULL, gzmq.PUSH)
    dev.context_factory = lambda: gctx      # inproc endpoints live in one context
    dev.bind_in("inproc://fg-in")
    dev.bind_out("inproc://fg-out")
    runner = gevent.spawn(dev.start)         # start() blocks its caller, as pyzmq's Device
    source, sink = gctx.socket(gzmq.PUSH), gctx.socket(gzmq.PULL)
    source.connect("inproc://fg-in")
    sink.connect("inproc://fg-out")
    with deadline(5):
        source.send(b"x")
        assert sink.recv() == b"x"
        assert not runner.ready()
        dev.stop()
        runner.get()
    assert dev.done


def test_device_needs_socket_types():
    with pytest.raises(TypeError):
        devices.Device(gzmq.QUEUE, gzmq.ROUTER)


def test_pyzmq_names_exist():
    import zmq.devices
    missing = [name for name in zmq.devices.__all__ if not hasattr(devices, name)]
    assert not missing


EXIT_WHILE_BUSY = """
import gzmq
from gzmq import devices
dev = devices.ThreadDevice(gzmq.STREAMER, gzmq.PULL, gzmq.PUSH)
front = dev.bind_in_to_random_port("tcp://127.0.0.1")
back = dev.bind_out_to_random_port("tcp://127.0.0.1")
dev.start()
ctx = gzmq.Context()
push, pull = ctx.socket(gzmq.PUSH), ctx.socket(gzmq.PULL)
push.connect(f"tcp://127.0.0.1:{front}")
pull.connect(f"tcp://127.0.0.1:{back}")
for i in range(2000):
    push.send(b"x" * 1000)
pull.recv()            # the device thread is busy forwarding the rest: exit now
print("busy", flush=True)
"""


def test_process_exits_cleanly_with_a_device_thread_still_running():
    """Python code still running in a thread during interpreter shutdown can crash it
    (SIGSEGV in greenlet, most runs): device threads are stopped and joined at exit."""
    import sys
    from gevent import subprocess
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", EXIT_WHILE_BUSY], capture_output=True,
                              text=True, timeout=30)
        assert done.returncode == 0 and done.stdout == "busy\n", (done.returncode, done.stderr)
