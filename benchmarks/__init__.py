"""Benchmarks for gzmq and the bridge, side by side with pyzmq, zmq.green and friends (issue 10).

Run ``python -m benchmarks.run`` (``make bench``); see benchmarks/README.md for the method.
The orchestrator (run.py) never imports an implementation under test: every trial runs its
roles in fresh interpreters started through benchmarks.worker.
"""
