# gzmq / bridge: everything a fresh machine needs goes through these targets.
#   make demo   set up, then run the bridge with the example backends on 127.0.0.1
#   make test   set up (virtualenv, Python deps, real peers: pyzmq, mongrel2, chromium), run every test
#   make bench  set up, run the benchmarks side by side with pyzmq and zmq.green
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
STAMP  := $(VENV)/.installed

.PHONY: all setup peers demo test test-fast test-patched bench stress clean

all: test

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,curve,bench]'
	touch $(STAMP)

setup: $(STAMP)

# Real peers the tests talk to (Debian packages). Installs when run as root; otherwise reports what is missing.
peers:
	@sh tools/install-peers.sh

demo: setup
	$(PY) -m bridge.demo

# The whole suite unpatched (contexts default to I/O-thread mode there), then the socket-level
# suites again under gevent.monkey.patch_all() (in-hub mode, the default there), and a third
# time unpatched in in-hub mode (GZMQ_IO_MODE=hub): every I/O mode with and without patching.
SOCKET_SUITES := tests/sockets tests/interop tests/lifecycle tests/pubsub tests/security tests/transports
test: setup peers
	$(PYTEST) -q tests
	GZMQ_TEST_MONKEY=1 $(PYTEST) -q -m "not slow" $(SOCKET_SUITES)
	GZMQ_IO_MODE=hub $(PYTEST) -q -m "not slow" $(SOCKET_SUITES)

test-fast: setup
	$(PYTEST) -q -x -m "not slow" tests

bench: setup peers
	$(PY) -m benchmarks.run

# Reliability suite, long form (~25 min): fuzzing, hostile peers, faults, network faults, bridge
# abuse, a 10-minute soak; writes reliability/results/ and merges the fuzz corpus. (Its short form
# runs inside `make test`, from tests/reliability.)
stress: setup peers
	$(PY) -m reliability.run --long --update-corpus

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
