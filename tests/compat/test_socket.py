"""Socket, Frame and constants behaviour that code written for pyzmq relies on.

Found by running pyzmq's own suite (tests/test_socket.py, test_message.py, test_constants.py,
test_imports.py) against gzmq; each case names the pyzmq behaviour it pins down.
"""
import copy
from array import array
from unittest import mock

import pytest

import gzmq
import gzmq.green


def pair(ctx, a_type=gzmq.PAIR, b_type=gzmq.PAIR, name="compat"):
    a = ctx.socket(a_type)
    a.bind(f"inproc://{name}")
    b = ctx.socket(b_type)
    b.connect(f"inproc://{name}")
    return a, b


def test_closed_socket_is_enotsock_whatever_its_type(ctx):
    for kind in (gzmq.PUB, gzmq.PUSH, gzmq.SUB, gzmq.PULL):
        s = ctx.socket(kind)
        s.close()
        for call in (s.recv, lambda: s.send(b"x"), lambda: s.bind("inproc://x")):
            with pytest.raises(gzmq.ZMQError) as info:
                call()
            assert info.value.errno == gzmq.ENOTSOCK, (kind, info.value)


def test_unknown_option_errors(ctx):
    s = ctx.socket(gzmq.PUB)
    with pytest.raises(gzmq.ZMQError) as info:
        s.setsockopt(9999, 5)
    assert info.value.errno == gzmq.EINVAL
    with pytest.raises(TypeError):           # pyzmq passes only ints through to libzmq
        s.setsockopt(9999, b"5")


def test_unicode_option_aliases(ctx):
    s = ctx.socket(gzmq.SUB)
    s.setsockopt_unicode(gzmq.IDENTITY, "tést", "utf16")
    assert s.getsockopt_unicode(gzmq.IDENTITY, "utf16") == "tést"
    with pytest.raises(TypeError):
        s.setsockopt(gzmq.SUBSCRIBE, "str is not bytes")


# pyzmq: `sock.subscribe = b"x"` sets the option even though subscribe() is a method.
def test_subscribe_by_assignment(ctx):
    pub, sub = pair(ctx, gzmq.PUB, gzmq.SUB)
    sub.subscribe = "c"
    sub.unsubscribe = b"nothing-yet"          # harmless, and must not replace the method
    assert callable(sub.subscribe) and callable(sub.unsubscribe)
    pub.send(b"other")
    pub.send(b"canary")
    assert sub.poll(5000) and sub.recv() == b"canary"


# pyzmq turns EINVAL from an option read through an attribute into AttributeError, so
# getattr(sock, name, default), hasattr() and mock.Mock(spec=sock) work.
def test_unreadable_options_are_attribute_errors(ctx):
    s = ctx.socket(gzmq.SUB)
    assert getattr(s, "subscribe_option_does_not_exist", None) is None
    assert getattr(s, "busy_poll", "unreadable") == "unreadable"
    assert isinstance(s.fd, int)              # zmq.FD (readable when EVENTS may change)
    mock.Mock(spec=s)


def test_recv_into(ctx, deadline):
    a, b = pair(ctx)
    a.send_multipart([b"hello", b"there world", b"part 3", b"rest"])
    with deadline(5):
        buf = array("Q", [0])                 # itemsize 8: counted in bytes
        assert b.recv_into(buf) == 5 and buf.tobytes()[:5] == b"hello"
        buf = bytearray(4)
        assert b.recv_into(buf) == 11 and buf == b"ther"     # truncated; full length returned
        buf = bytearray(10)
        assert b.recv_into(buf, nbytes=4) == 6 and buf == b"part" + bytes(6)
        assert b.recv_into(memoryview(bytearray(10))[:0]) == 4
    with pytest.raises(ValueError):
        b.recv_into(bytearray(10), nbytes=-1)
    with pytest.raises(ValueError):
        b.recv_into(bytearray(10), nbytes=11)
    with pytest.raises(BufferError):
        b.recv_into(memoryview(bytearray(10))[::2])
    with pytest.raises(BufferError):
        b.recv_into(memoryview(b"readonly"))
    with pytest.raises(TypeError):
        b.recv_into(object())
    with pytest.raises(gzmq.Again):
        b.recv_into(bytearray(5), flags=gzmq.DONTWAIT)


# pyzmq's shadows: Socket.shadow(sock or address), Socket(sock), copy.copy(sock).
def test_socket_shadows(ctx, deadline):
    push, pull = pair(ctx, gzmq.PUSH, gzmq.PULL)
    for shadow in (gzmq.Socket.shadow(pull), gzmq.Socket.shadow(pull.underlying),
                   gzmq.Socket(pull), copy.copy(pull), copy.deepcopy(pull)):
        assert shadow._shadow and not pull._shadow
        assert shadow.underlying == pull.underlying and shadow.context is ctx
        assert isinstance(shadow, gzmq.Socket)
        push.send(b"hi")
        with deadline(5):
            assert shadow.recv() == b"hi"
        del shadow
        assert not pull.closed
    assert gzmq.Socket(pull)._shadow_obj is pull


# libzmq's SUB drops non-matching messages when polled (xsub_t::xhas_in), so POLLIN means a
# recv() succeeds, even for a message sent before the publisher saw an unsubscribe.
def test_sub_poll_ignores_messages_no_subscription_matches(ctx, deadline):
    # tcp: over inproc the publisher sees the unsubscribe at once, and nothing is in flight.
    pub = ctx.socket(gzmq.PUB)
    pub.bind("tcp://127.0.0.1:*")
    sub = ctx.socket(gzmq.SUB)
    sub.connect(pub.last_endpoint)
    sub.subscribe(b"a")
    with deadline(5):
        while not sub.poll(10):
            pub.send(b"a-warmup")
        sub.recv()
    sub.unsubscribe(b"a")
    pub.send(b"a-late")                       # may still pass the publisher's filter
    assert sub.poll(100) == 0
    assert sub.getsockopt(gzmq.EVENTS) & gzmq.POLLIN == 0
    with pytest.raises(gzmq.Again):
        sub.recv(gzmq.DONTWAIT)


def test_trackers_as_pyzmq(ctx):
    push = ctx.socket(gzmq.PUSH)
    push.connect("inproc://trackers")
    # Small frames are copied: pyzmq hands back its one shared, finished tracker.
    t = push.send(b"small", copy=False, track=True)
    assert t is gzmq._FINISHED_TRACKER and t.done
    # A tracked Frame's tracker comes back even without track=True.
    frame = gzmq.Frame(b"x" * 100_000, track=True)
    assert push.send(frame, copy=False) is frame.tracker
    # track=True needs a tracked Frame.
    with pytest.raises(ValueError):
        push.send(gzmq.Frame(b"untracked"), copy=False, track=True)


def test_tracked_frame_is_done_once_gone(ctx):
    """pyzmq's test_tracker: a tracked Frame's tracker (and those of its copy=False sends) is
    done only once the Frame is gone, copies included, and the sends are released."""
    import copy
    import gc
    pull = ctx.socket(gzmq.PULL)
    pull.bind("inproc://tracked")
    push = ctx.socket(gzmq.PUSH)
    push.connect("inproc://tracked")
    frame = gzmq.Frame(b"again", copy=False, track=True)
    assert frame.tracker.done is False
    p1 = push.send(frame, copy=False)
    p2 = push.send(frame, copy=False)
    assert pull.recv() == b"again" and pull.recv() == b"again"
    assert (p1.done, p2.done) == (False, False)
    twin = copy.copy(frame)
    assert twin.tracker is frame.tracker
    del frame
    gc.collect()
    assert p1.done is False          # the copy still holds the data
    del twin
    gc.collect()
    assert p1.done is True and p2.done is True
    combined = gzmq.MessageTracker(gzmq.Frame(b"x", track=True))
    gc.collect()
    assert combined.done             # its Frame was a temporary


def test_frame_buffers():
    f = gzmq.Frame(b"data")
    assert f.buffer is f.buffer and f.buffer.tobytes() == b"data"
    with pytest.raises(BufferError):
        gzmq.Frame(memoryview(bytearray(10))[::2])
    with pytest.raises(TypeError):
        gzmq.Frame(5)


def test_constants_surface():
    assert gzmq.IDENTITY._opt_type is gzmq.constants._OptType.bytes
    assert gzmq.AFFINITY._opt_type is gzmq.constants._OptType.int64
    assert gzmq.FD._opt_type is gzmq.constants._OptType.fd
    assert "ALL_V1" in repr(gzmq.Event.ALL)    # pyzmq's canonical name for 0xFFFF
    for name in ("SocketOption", "SocketType", "Event", "ContextOption"):
        assert name in gzmq.__all__ and name in gzmq.green.__all__
        assert getattr(gzmq.green, name) is getattr(gzmq, name)


# pyzmq (and zmq.green) report an object registered by its fileno() as that fd, in poll() and
# select() alike; gzmq sockets come back as themselves.
def test_poll_and_select_report_fileno_objects_by_fd(ctx, deadline):
    import os
    r, w = os.pipe()
    reader = os.fdopen(r, "rb")
    try:
        pull = ctx.socket(gzmq.PULL)
        poller = gzmq.Poller()
        poller.register(reader, gzmq.POLLIN)
        poller.register(pull, gzmq.POLLIN)
        os.write(w, b"x")
        with deadline(5):
            assert dict(poller.poll(1000)) == {reader.fileno(): gzmq.POLLIN}
            assert gzmq.select([reader, pull], [], [], 1) == ([reader.fileno()], [], [])
    finally:
        reader.close()
        os.close(w)


def test_jsonapi_names_its_json_module():
    import json

    from gzmq.utils import jsonapi
    assert jsonapi.jsonmod is json and jsonapi.loads(jsonapi.dumps({"a": 1})) == {"a": 1}


# pyzmq returns the same PAIR from get_monitor_socket() while it is open (test_monitor_repeat).
def test_get_monitor_socket_twice_returns_the_same_socket(ctx, deadline):
    from gzmq.utils.monitor import recv_monitor_message
    s = ctx.socket(gzmq.PULL)
    mon = s.get_monitor_socket()
    assert s.get_monitor_socket() is mon
    s.disable_monitor()
    with deadline(5):
        assert recv_monitor_message(mon)["event"] == gzmq.EVENT_MONITOR_STOPPED
    mon.close()
    again = s.get_monitor_socket()
    assert again is not mon and not again.closed


# pyzmq's received frames are writable memory (test_noncopying_memoryview): numpy arrays made
# from them can be modified in place.
def test_received_frame_buffers_are_writable(ctx, deadline):
    a, b = pair(ctx, name="writable")
    for size in (10, 100_000):
        a.send(b"\0" * size, copy=False)
        with deadline(5):
            frame = b.recv(copy=False)
        view = frame.buffer
        assert not view.readonly and view is frame.buffer
        view[0] = 0xFF
        assert frame.bytes[:1] == b"\xff" and len(frame.bytes) == size


# Option defaults as libzmq 4.3.5 reports them through pyzmq.
def test_option_defaults_as_libzmq(ctx):
    for kind in (gzmq.SUB, gzmq.XSUB):
        assert ctx.socket(kind).linger == 0        # libzmq xsub_t: subscribers do not linger
    pub = ctx.socket(gzmq.PUB)
    assert pub.linger == -1
    assert pub.reconnect_stop == 0 and pub.socks_proxy == b"" and pub.socks_username == b""


def test_bind_to_an_unresolvable_host_is_enodev(ctx):
    import errno
    s = ctx.socket(gzmq.PUB)
    with pytest.raises(gzmq.ZMQError) as info:
        s.bind("tcp://no.such.host.invalid:5555")     # libzmq: taken for an interface name
    assert info.value.errno == errno.ENODEV and "no.such.host.invalid" in str(info.value)


def test_routing_id_may_start_with_a_zero_byte(ctx, deadline):
    # libzmq's docs reserve such ids but libzmq 4.3.5 (hence pyzmq) accepts them.
    router = ctx.socket(gzmq.ROUTER)
    router.bind("inproc://zero-id")
    dealer = ctx.socket(gzmq.DEALER)
    dealer.identity = b"\x00mine"
    dealer.connect("inproc://zero-id")
    dealer.send(b"hi")
    with deadline(5):
        assert router.recv_multipart() == [b"\x00mine", b"hi"]


def test_monitor_endpoint_must_be_inproc_and_context_options_known(ctx):
    s = ctx.socket(gzmq.PUB)
    with pytest.raises(gzmq.ZMQError) as info:
        s.monitor("tcp://127.0.0.1:5555")
    assert info.value.errno == gzmq.EPROTONOSUPPORT
    with pytest.raises(gzmq.ZMQError) as info:
        ctx.set(999, 1)
    assert info.value.errno == gzmq.EINVAL
