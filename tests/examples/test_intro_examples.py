"""The introduction's examples run from the command line and do what they say."""
import os
import subprocess
import sys

import gzmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def example(*parts):
    return os.path.join(ROOT, "examples", *parts)


def free_tcp():
    ctx = gzmq.Context()
    s = ctx.socket(gzmq.PULL)
    s.bind("tcp://127.0.0.1:*")
    ep = s.last_endpoint.decode()
    s.close()
    ctx.term()
    return ep


def run(*args, timeout=30):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, check=True).stdout


def test_req_client_load_balances_over_two_echo_servers():
    ep1, ep2 = free_tcp(), free_tcp()
    # Each server exits after exactly 5 requests: 10 requests all answered means a 5/5 split.
    servers = [subprocess.Popen([sys.executable, example("intro", "echo_server.py"), "--bind", ep,
                                 "--count", "5"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
               for ep in (ep1, ep2)]
    try:
        for s in servers:
            assert "echo server on" in s.stdout.readline()
        out = run(example("intro", "echo_client.py"), "--connect", ep1, "--connect", ep2,
                  "--requests", "10")
        assert out.count("got 'hello") == 10
        # The split is in the output: each reply names its server, and the last line counts them.
        assert out.count(f"from {ep1}") == 5 and out.count(f"from {ep2}") == 5, out
        last = out.splitlines()[-1]
        assert last in (f"replies per server: {ep1} 5, {ep2} 5", f"replies per server: {ep2} 5, {ep1} 5"), out
        for s in servers:
            assert s.wait(timeout=10) == 0
    finally:
        for s in servers:
            s.kill()
            s.wait()


def test_pair_example():
    out = run(example("intro", "pair.py"), "--rounds", "3")
    assert out.split() == ["ping", "0", "pong", "0", "ping", "1", "pong", "1", "ping", "2", "pong", "2"]


def test_pipeline_example_all_tasks_processed_by_all_workers():
    out = run(example("intro", "pipeline.py"), "--tasks", "90", "--workers", "3")
    expected = sum((n % 7) ** 2 for n in range(90))
    assert f"sum of results: {expected};" in out
    assert "'w0': 30" in out and "'w1': 30" in out and "'w2': 30" in out


def test_soccer_subscriber_gets_only_its_countries():
    ep = free_tcp()
    sub = subprocess.Popen([sys.executable, example("pubsub", "soccer_subscriber.py"), "--connect", ep,
                            "--count", "30", "netherlands", "germany"],
                           stdout=subprocess.PIPE, text=True, cwd=ROOT)
    pub = subprocess.Popen([sys.executable, example("pubsub", "soccer_publisher.py"), "--bind", ep,
                            "--rate", "500"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        out, _ = sub.communicate(timeout=60)
        lines = out.splitlines()
        assert len(lines) == 30
        assert all(line.split()[0] in ("netherlands", "germany") for line in lines)
    finally:
        pub.kill()
        sub.kill()
        pub.wait()


def test_megaphone_topology_subscriber_binds():
    ep = free_tcp()
    sub = subprocess.Popen([sys.executable, example("pubsub", "soccer_subscriber.py"), "--bind", ep,
                            "--count", "10", "germany"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    pub = subprocess.Popen([sys.executable, example("pubsub", "soccer_publisher.py"), "--connect", ep,
                            "--rate", "500"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        out, _ = sub.communicate(timeout=60)
        assert [line.split()[0] for line in out.splitlines()] == ["germany"] * 10
    finally:
        pub.kill()
        sub.kill()
        pub.wait()


def test_pipeline_roles_in_separate_processes_without_a_terminal():
    # The ventilator used to ask for Enter before binding, and died with EOFError without a tty.
    tasks_ep, results_ep = free_tcp(), free_tcp()
    common = ["--tasks-endpoint", tasks_ep, "--results-endpoint", results_ep]
    sink = subprocess.Popen([sys.executable, example("intro", "pipeline.py"), "--role", "sink", "--tasks", "12",
                             *common], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, cwd=ROOT)
    worker = subprocess.Popen([sys.executable, example("intro", "pipeline.py"), "--role", "worker", *common],
                              stdin=subprocess.DEVNULL, cwd=ROOT)
    try:
        out = run(example("intro", "pipeline.py"), "--role", "ventilator", "--tasks", "12", "--workers", "1",
                  *common)
        assert "Press Enter" not in out
        sink_out, _ = sink.communicate(timeout=30)
        assert f"sum of results: {sum((n % 7) ** 2 for n in range(12))};" in sink_out
    finally:
        for p in (sink, worker):
            p.kill()
            p.wait()


def test_pipeline_ventilator_without_a_terminal_does_not_ask():
    tasks_ep = free_tcp()
    worker = subprocess.Popen([sys.executable, example("intro", "pipeline.py"), "--role", "worker",
                               "--tasks-endpoint", tasks_ep, "--results-endpoint", free_tcp()],
                              stdin=subprocess.DEVNULL, cwd=ROOT)
    try:
        out = subprocess.run([sys.executable, example("intro", "pipeline.py"), "--role", "ventilator",
                              "--tasks", "3", "--tasks-endpoint", tasks_ep], stdin=subprocess.DEVNULL,
                             capture_output=True, text=True, timeout=30, cwd=ROOT)
        assert out.returncode == 0, out.stderr
        assert "stdin is not a terminal" in out.stdout and "EOFError" not in out.stderr
    finally:
        worker.kill()
        worker.wait()
