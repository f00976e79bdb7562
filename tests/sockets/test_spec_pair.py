"""PAIR against RFC 31 (EXPAIR), per transport (inproc, ipc, tcp)."""
import pytest

import gzmq

from .support import fixed, nothing_within, recv_within


def test_pair_both_directions_multipart(sock, bound, deadline):
    # A PAIR socket SHALL send and receive whole multipart messages to and from its one peer.
    a, b = sock("PAIR"), sock("PAIR")
    b.connect(bound(a))
    with deadline(10):
        a.send_multipart([b"1", b"", b"3"])
        assert recv_within(b) == [b"1", b"", b"3"]
        b.send(b"x")
        assert recv_within(a) == [b"x"]


def test_pair_is_exclusive(sock, bound, deadline):
    # A PAIR socket SHALL be connected to at most one peer at a time; further peers are not
    # served (libzmq ignores them: their messages are never delivered).
    a = sock("PAIR")
    ep = bound(a)
    first, second = sock("PAIR"), sock("PAIR")
    first.connect(ep)
    with deadline(10):
        first.send(b"from first")
        assert recv_within(a) == [b"from first"]
        second.connect(ep)
        try:
            # Queued on its own pipe (tcp/ipc: before the refusal), or refused at once: over
            # inproc libzmq terminates the second pipe as soon as the PAIR sees it (EAGAIN).
            second.send(b"from second", gzmq.DONTWAIT)
        except gzmq.Again:
            pass
        a.send(b"to my peer")
        assert recv_within(first) == [b"to my peer"]
        assert nothing_within(a, 100)
        assert nothing_within(second, 0)


def test_pair_blocks_on_send_without_peer(sock, z):
    # A PAIR socket SHALL block on sending, or return a suitable error, when it has no peer.
    a = sock("PAIR")
    with pytest.raises(z.Again):
        a.send(b"x", z.DONTWAIT)


def test_pair_connect_before_bind(sock, address, deadline):
    # (libzmq) connect() creates the pipe at once: what is sent before the peer binds waits.
    a, b = sock("PAIR"), sock("PAIR")
    addr = fixed(address())
    b.connect(addr)
    b.send(b"early")
    with deadline(10):
        a.bind(addr)
        assert recv_within(a) == [b"early"]
