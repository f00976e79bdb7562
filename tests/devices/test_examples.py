"""The device examples run from the command line and do what their docstrings say."""
import os
import socket
import sys

from gevent import subprocess   # cooperative pipes: tests may wait on several processes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def example(name):
    return os.path.join(ROOT, "examples", "devices", name)


def free_endpoints(n):
    """n tcp endpoints on ports that are free right now."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [f"tcp://127.0.0.1:{s.getsockname()[1]}" for s in socks]
    finally:
        for s in socks:
            s.close()


def run(*args, timeout=60):
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def start(*args):
    return subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT)


def stop(*procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(10)


def test_queue_demo_second_server_takes_half_at_once():
    front, back = free_endpoints(2)
    out = run(example("queue_device.py"), "demo", "--frontend", front, "--backend", back)
    assert out.splitlines() == ["one server:  {'A': 10}", "two servers: {'A': 5, 'B': 5}"]


def test_queue_server_added_at_run_time_without_touching_clients():
    front, back = free_endpoints(2)
    device = start(example("queue_device.py"), "device", "--frontend", front, "--backend", back)
    servers = []
    try:
        assert "queue device" in device.stdout.readline()
        servers.append(start(example("queue_device.py"), "server", "--name", "A", "--backend", back))
        assert "server A" in servers[0].stdout.readline()
        client = [example("queue_device.py"), "client", "--frontend", front, "--requests", "4"]
        assert run(*client).splitlines() == [f"A: request {n}" for n in range(4)]
        servers.append(start(example("queue_device.py"), "server", "--name", "B", "--backend", back))
        assert "server B" in servers[1].stdout.readline()
        # The same client command, unchanged: once B has connected, it answers too.
        for _ in range(50):
            names = {line.split(":")[0] for line in run(*client).splitlines()}
            if names == {"A", "B"}:
                break
        assert names == {"A", "B"}
    finally:
        stop(*servers, device)


def test_forwarder_demo_filters_by_topic():
    front, back = free_endpoints(2)
    out = run(example("forwarder_device.py"), "demo", "--frontend", front, "--backend", back)
    assert out.strip() == "subscriber to 'weather' got 5 messages, topics ['weather']"


def test_forwarder_roles_in_separate_processes():
    front, back = free_endpoints(2)
    procs = []
    try:
        procs.append(start(example("forwarder_device.py"), "device", "--frontend", front, "--backend", back))
        assert "forwarder" in procs[0].stdout.readline()
        for topic in ("weather", "sports"):
            procs.append(start(example("forwarder_device.py"), "publisher", "--topic", topic,
                               "--frontend", front))
        out = run(example("forwarder_device.py"), "subscriber", "--topic", "sports", "--count", "3",
                  "--backend", back)
        lines = out.splitlines()
        assert len(lines) == 3 and all(line.startswith("sports ") for line in lines)
    finally:
        stop(*procs)


def test_streamer_demo_steers_and_counts():
    eps = free_endpoints(4)
    out = run(example("streamer_device.py"), "demo", "--frontend", eps[0], "--backend", eps[1],
              "--control", eps[2], "--results", eps[3])
    assert f"results: 30, sum {sum(n * n for n in range(30))}" in out
    assert "frontend recv msgs: 30" in out and "backend sent msgs: 30" in out


def test_streamer_control_role_terminates_the_device():
    front, back, control = free_endpoints(3)
    device = start(example("streamer_device.py"), "device", "--frontend", front, "--backend", back,
                   "--control", control)
    try:
        assert "streamer" in device.stdout.readline()
        out = run(example("streamer_device.py"), "control", "STATISTICS", "--control", control)
        assert "frontend recv msgs: 0" in out
        run(example("streamer_device.py"), "control", "TERMINATE", "--control", control)
        assert device.wait(10) == 0
    finally:
        stop(device)
