"""The rule for real peers (pyzmq, mongrel2, chromium, Debian's libzmq with OpenPGM ...).

A peer the tests need must be present: its absence is a failure, never a skip. `make test`
installs every peer (tools/install-peers.sh); a missing one means the machine was not set up,
and a green run without it would prove nothing.
"""
import pytest


def require_peer(name, found):
    if not found:
        pytest.fail(f"real peer {name!r} is missing: run `make peers` (as root) to install it")
