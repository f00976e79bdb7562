"""Regression tests from the reliability suite: its fuzz corpus, and the bugs it found.

- Every input in reliability/corpus/ (kept by libFuzzer -merge: each one adds coverage) and
  the generated seeds go through the codec oracle (only ZMTPError may escape; whole and cut
  feeds agree) and, over raw TCP, through live gzmq sockets (each connection ends, nothing
  leaks, an honest peer is still served).
- A message that never ends (MORE frames forever) is refused at MAX_MESSAGE_FRAMES.
- A closed socket no longer keeps its cross-thread wake-up watcher (and so itself) alive.
- The bridge answers 400 to a request with two Host headers.
"""
import gc
import glob
import os

import gevent
import pytest

import gzmq
from gzmq.engine import process
from gzmq.error import ZMTPError
from gzmq.zmtp import commands
from gzmq.zmtp.connection import MAX_MESSAGE_FRAMES, ZMTPConnection
from gzmq.zmtp.greeting import build_greeting

from reliability import fuzz, zmtp_cases
from reliability.engine_fuzz import EngineTarget
from reliability.report import ErrorWatch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _corpus():
    inputs = []
    for path in sorted(glob.glob(os.path.join(ROOT, "reliability", "corpus", "*", "*"))):
        with open(path, "rb") as f:
            inputs.append((os.path.relpath(path, ROOT), f.read()))
    inputs.extend((f"seed-{i}", data) for i, data in enumerate(fuzz.seeds()))
    return inputs


CORPUS = _corpus()


def test_corpus_through_codec():
    for name, data in CORPUS:
        try:
            zmtp_cases.check_codec(data)
        except Exception as exc:  # noqa: BLE001 - report which input
            pytest.fail(f"{name} ({data[:64].hex()}...): {exc!r}")


def test_corpus_through_live_engine(deadline):
    with deadline(120), ErrorWatch() as watch:
        target = EngineTarget()
        try:
            for name, data in CORPUS:
                target.feed(data)
                assert not watch.errors, f"{name}: {watch.errors[:3]}"
            assert target.check() == []
        finally:
            target.close()


def _null_peer():
    meta = commands.encode_metadata([("Socket-Type", b"DEALER")])
    return build_greeting() + commands.command(commands.READY, meta)


def test_endless_multipart_message_is_refused():
    conn = ZMTPConnection("ROUTER")
    conn.receive_data(_null_peer())
    frames = b"\x01\x00" * (MAX_MESSAGE_FRAMES - 1)
    assert conn.receive_data(frames) == []            # 65 535 frames with MORE: still allowed
    assert conn.receive_data(b"\x00\x00") == [[b""] * MAX_MESSAGE_FRAMES]
    with pytest.raises(ZMTPError, match="frames"):
        conn2 = ZMTPConnection("ROUTER")
        conn2.receive_data(_null_peer())
        conn2.receive_data(b"\x01\x00" * MAX_MESSAGE_FRAMES)


def test_closed_sockets_leave_nothing_behind():
    # Sockets once kept a libev watcher each, alive for the life of the process; now a thread
    # has one wake-up for all its sockets, and a closed socket (and its mailbox) is freed.
    from gzmq.engine.wait import HubLink, Mailbox
    ctx = gzmq.Context()
    try:
        def live(kind):
            gc.collect()
            return sum(1 for o in gc.get_objects() if type(o) is kind)

        def settle():
            gevent.sleep(0)
            # In I/O-thread mode a socket's engine closes on the I/O thread: let it finish.
            for thread in process.io_threads():
                thread.idle()

        ctx.socket(gzmq.DEALER).close()     # (the context's I/O hub and this thread's exist now)
        settle()
        before = live(Mailbox), live(HubLink)
        for _ in range(50):
            ctx.socket(gzmq.DEALER).close()
        settle()
        assert live(Mailbox) <= before[0] + 1
        assert live(HubLink) <= before[1] + 1
    finally:
        ctx.destroy(linger=0)


def test_bridge_refuses_two_host_headers():
    from bridge.http11 import HTTPError, RequestParser
    parser = RequestParser()
    parser.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    with pytest.raises(HTTPError) as info:
        parser.next_event()
    assert info.value.status == 400
