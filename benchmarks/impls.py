"""The implementations a worker process can load, by name.

An Impl names a module to import in a fresh interpreter and says whether the worker runs under
gevent (greenlets for concurrency, gevent.sleep for waits) or with plain threads. Nothing is
monkey-patched: zmq.green and gzmq cooperate with gevent on their own, and pyzmq plain must not
see gevent at all. Used by benchmarks.worker (to load) and by the scenario families (to name
their columns).
"""
import importlib
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Optional, Tuple


@dataclass(frozen=True)
class Impl:
    name: str
    module: Optional[str]      # imported by the worker and handed to roles as env.lib
    gevent: bool               # concurrency through greenlets (True) or threads (False)
    description: str
    environ: Tuple[Tuple[str, str], ...] = ()   # set in the worker before the import
    path: Optional[str] = None  # import the module from this source tree (a baseline column)

    def load(self):
        os.environ.update(self.environ)
        if self.path:
            sys.path.insert(0, self.path)
        return importlib.import_module(self.module) if self.module else None


IMPLS = {impl.name: impl for impl in (
    # ZeroMQ: the same scenario code runs against each, as `zmq`.
    Impl("pyzmq", "zmq", False, "pyzmq/libzmq, threads"),
    Impl("green", "zmq.green", True, "pyzmq's zmq.green under gevent"),
    # gzmq in its two I/O modes (README, "Two I/O modes"): in the hub of the thread that uses
    # the socket (a gevent program), or on a background I/O thread (a plain pyzmq program).
    Impl("gzmq", "gzmq", True, "gzmq (pure Python on gevent), in-hub I/O",
         (("GZMQ_IO_MODE", "hub"),)),
    Impl("gzmq-io", "gzmq", False, "gzmq with a background I/O thread, threads",
         (("GZMQ_IO_MODE", "thread"),)),
    # Reference limits: the same socket code against the stdlib and gevent's cooperative socket.
    Impl("socket", "socket", False, "stdlib socket, blocking"),
    Impl("gevent", "gevent.socket", True, "gevent.socket"),
    # Pure computation, and the web servers' own processes (which import what they need).
    Impl("python", None, False, "plain Python, no I/O"),
    Impl("gevent-app", None, True, "a gevent process (web baselines)"),
)}

# Before/after in one run: GZMQ_BENCH_BASELINE=<a source tree of gzmq, e.g. a git worktree of
# the commit before a change> adds gzmq-base and gzmq-io-base, the same two I/O modes imported
# from that tree, measured interleaved with the others (benchmarks/README.md).
BASELINE = os.environ.get("GZMQ_BENCH_BASELINE") or None
if BASELINE:
    BASELINE = os.path.abspath(BASELINE)
    try:
        _commit = subprocess.run(["git", "-C", BASELINE, "rev-parse", "--short", "HEAD"],
                                 capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        _commit = ""
    _source = f"gzmq from {BASELINE}" + (f" (commit {_commit})" if _commit else "")
    IMPLS["gzmq-base"] = Impl("gzmq-base", "gzmq", True, f"{_source}, in-hub I/O",
                              (("GZMQ_IO_MODE", "hub"),), BASELINE)
    IMPLS["gzmq-io-base"] = Impl("gzmq-io-base", "gzmq", False, f"{_source}, I/O thread",
                                 (("GZMQ_IO_MODE", "thread"),), BASELINE)
