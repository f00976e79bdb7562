"""Fixtures for the multicast (pgm:// and epgm://) tests.

`mcnet` (tests/conftest.py): two namespaced hosts on one veth segment (mcnet.py), made once
per test session and removed after it. `libzmq_python`: Debian's /usr/bin/python3 with python3-zmq, whose libzmq
is built with OpenPGM: the real peer. Either one missing is a failure, never a skip
(`make peers` as root installs python3-zmq and nftables).

`peers.start(...)` runs a support.Peer (mc_peer.py inside a host) and stops it afterwards.
"""
import subprocess

import pytest

from tools.peers import require_peer

from .support import SYSTEM_PYTHON, Peer


def pytest_configure(config):
    config.addinivalue_line("markers", "multicast: runs PGM peers in network namespaces it "
                                       "creates (needs root, ip, nft, Debian python3-zmq)")


@pytest.fixture(scope="session")
def libzmq_python():
    """/usr/bin/python3 with Debian's python3-zmq, checked to have OpenPGM."""
    try:
        out = subprocess.run([SYSTEM_PYTHON, "-c", "import zmq; print(zmq.zmq_version(), zmq.has('pgm'))"],
                             capture_output=True, text=True, timeout=30).stdout.split()
    except (OSError, subprocess.TimeoutExpired):
        out = []
    require_peer("Debian python3-zmq (libzmq with OpenPGM) for /usr/bin/python3",
                 len(out) == 2 and out[1] == "True")
    return SYSTEM_PYTHON


@pytest.fixture
def peers():
    """Start peers with peers.start(...); all are stopped after the test."""
    started = []

    class Peers:
        @staticmethod
        def start(*args):
            peer = Peer(*args)
            started.append(peer)
            return peer

    yield Peers
    for peer in started:
        peer.close()

