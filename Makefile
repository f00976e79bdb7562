# gzmq / bridge: everything a fresh machine needs goes through these targets.
#   make demo   set up, then run the bridge with the example backends on 127.0.0.1
#   make test   set up (virtualenv, Python deps, real peers: pyzmq, mongrel2, chromium), run every test
#   make bench  set up, run the benchmarks side by side with pyzmq and zmq.green
#   make docs   build the documentation site into docs/_build/html (warnings are errors)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PYTEST := $(PY) -m pytest
STAMP  := $(VENV)/.installed

.PHONY: all setup peers demo test test-fast test-patched test-versions check-dist typecheck docs bench stress clean

all: test

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --prefer-binary -e '.[test,curve,bench,check,docs]'
	touch $(STAMP)

setup: $(STAMP)

# Real peers the tests talk to (Debian packages). Installs when run as root; otherwise reports what is missing.
peers:
	@sh tools/install-peers.sh

demo: setup
	$(PY) -m bridge.demo

# The packaging, type and docs checks; the whole suite unpatched (contexts default to I/O-thread
# mode there), then the socket-level suites again under gevent.monkey.patch_all() (in-hub mode, the
# default there), and a third time unpatched in in-hub mode (GZMQ_IO_MODE=hub): every I/O mode
# with and without patching; then the fast suite on every other Python version we claim
# (tools/test-versions.sh). Every pass runs even if one before it failed, and the last lines say
# which passed.
SOCKET_SUITES := tests/sockets tests/interop tests/lifecycle tests/pubsub tests/security tests/transports
test: setup peers
	@status=0; report=""; \
	run() { name=$$1; shift; echo "== make test: $$name"; \
	        if env "$$@"; then report="$$report  $$name: passed\n"; \
	        else report="$$report  $$name: FAILED\n"; status=1; fi; }; \
	run "packaging (build, twine check, classifiers)" $(PY) tools/check-dist.py; \
	run "types (mypy)" $(PY) -m mypy; \
	run "docs (sphinx -W)" $(MAKE) --no-print-directory docs; \
	run "whole suite, unpatched, $$($(PY) -V)" $(PYTEST) -q tests; \
	run "socket suites, patched" GZMQ_TEST_MONKEY=1 $(PYTEST) -q -m "not slow" $(SOCKET_SUITES); \
	run "socket suites, unpatched, in-hub" GZMQ_IO_MODE=hub $(PYTEST) -q -m "not slow" $(SOCKET_SUITES); \
	run "fast suite on the other Python versions" sh tools/test-versions.sh; \
	printf "make test:\n$$report"; exit $$status

# The fast suite on each other Python version we claim (pyenv's), each in its own .venv-3.N.
test-versions:
	sh tools/test-versions.sh

check-dist: setup
	$(PY) tools/check-dist.py

typecheck: setup
	$(PY) -m mypy

docs: setup
	$(PY) -m sphinx -q -W --keep-going -c docs -b html . docs/_build/html

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
	rm -rf $(VENV) .venv-3.* build dist *.egg-info .pytest_cache .hypothesis .mypy_cache docs/_build
