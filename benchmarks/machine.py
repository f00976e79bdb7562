"""What the figures came from: CPU, cores, load, OS, Python, library versions, git commit, date.

Versions come from package metadata, so the orchestrator imports none of the implementations;
the libzmq version each column really loaded is reported by its probe (see benchmarks.run).
"""
import datetime
import os
import platform
import subprocess
from importlib import metadata

from benchmarks.process import ROOT

PACKAGES = ("gevent", "greenlet", "pyzmq", "gzmq", "bottle", "gevent-websocket", "matplotlib")


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def command_output(*command):
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (result.stdout or result.stderr).strip() or None


def machine_info():
    wrk = command_output("wrk", "-v")
    commit = command_output("git", "rev-parse", "--short", "HEAD")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "load_average": os.getloadavg(),
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {name: package_version(name) for name in PACKAGES},
        "wrk": wrk.splitlines()[0] if wrk else None,
        "git_commit": commit,
    }
