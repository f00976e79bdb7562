"""pyzmq's API surface on gzmq: Context, Socket, options, endpoints, errors.

Everything here is written against pyzmq's API, so GZMQ_SPEC_IMPL=libzmq runs it on
zmq.green as the reference; the few gzmq-only checks take the `gzmq_only` fixture.
"""
import json
import os

import gevent
import pytest

from .support import recv_within, wait_until


# -- Context -------------------------------------------------------------------------------------
def test_context_instance_is_shared(z):
    assert z.Context.instance() is z.Context.instance()


def test_context_instance_renewed_after_term(z):
    # A subclass has its own singleton: terminating the process-wide instance here could
    # hang or break other tests that share it.
    class Private(z.Context):
        _instance = None

    first = Private.instance()
    assert isinstance(first, Private) and Private.instance() is first
    first.term()
    second = Private.instance()
    assert second is not first and not second.closed
    second.term()


def test_context_manager_terms(z):
    with z.Context() as c:
        s = c.socket(z.PAIR)
        s.close()
    assert c.closed


def test_destroy_closes_sockets(z):
    c = z.Context()
    a, b = c.socket(z.PUSH), c.socket(z.PULL)
    c.destroy(linger=0)
    assert a.closed and b.closed and c.closed


def test_socket_after_term_is_an_error(z):
    c = z.Context()
    c.term()
    with pytest.raises(z.ZMQError) as info:
        c.socket(z.PAIR)
    # pyzmq says ENOTSUP (its context handle is gone); libzmq's C API says ETERM.
    assert info.value.errno in (z.ENOTSUP, z.ETERM)


def test_term_waits_for_sockets_to_close(z, gzmq_only, deadline):
    # Cooperatively: other greenlets run while term() waits (pyzmq's term blocks the thread).
    c = z.Context()
    s = c.socket(z.PAIR)
    done = []

    def term():
        c.term()
        done.append(True)

    with deadline(5):
        g = gevent.spawn(term)
        gevent.idle()
        assert not done  # blocked: a socket is still open
        s.close()
        g.join()
        assert done and c.closed


# -- Socket basics -------------------------------------------------------------------------------
def test_socket_type_and_repr(sock, z):
    s = sock("DEALER")
    assert s.type == z.DEALER == s.getsockopt(z.TYPE) == s.socket_type
    assert "DEALER" in repr(s)


def test_socket_context_manager_closes(ctx, z):
    with ctx.socket(z.PAIR) as s:
        assert not s.closed
    assert s.closed


def test_closed_socket_operations_are_enotsock(sock, z):
    s = sock("PAIR")
    s.close()
    assert s.closed
    s.close()  # closing twice is fine
    for call in (lambda: s.send(b"x"), lambda: s.recv(), lambda: s.bind("tcp://127.0.0.1:*"),
                 lambda: s.connect("tcp://127.0.0.1:5"), lambda: s.getsockopt(z.LINGER),
                 lambda: s.setsockopt(z.LINGER, 0)):
        with pytest.raises(z.ZMQError) as info:
            call()
        assert info.value.errno == z.ENOTSOCK


# -- options ---------------------------------------------------------------------------------------
def test_setsockopt_getsockopt_and_attributes(sock, z):
    s = sock("DEALER")
    s.setsockopt(z.SNDHWM, 42)
    assert s.getsockopt(z.SNDHWM) == 42 == s.sndhwm
    s.rcvhwm = 7
    assert s.getsockopt(z.RCVHWM) == 7
    s.linger = 0
    assert s.linger == 0 == s.getsockopt(z.LINGER)
    s.routing_id = b"me"
    assert s.identity == b"me" == s.getsockopt(z.ROUTING_ID)
    s.setsockopt_string(z.ROUTING_ID, "you")
    assert s.getsockopt_string(z.ROUTING_ID) == "you"
    s.reconnect_ivl = 50
    s.reconnect_ivl_max = 500
    assert (s.reconnect_ivl, s.reconnect_ivl_max) == (50, 500)
    s.maxmsgsize = 1 << 20
    assert s.maxmsgsize == 1 << 20
    assert s.rcvmore == 0


def test_set_hwm_sets_both(sock):
    s = sock("PAIR")
    s.hwm = 33
    assert (s.sndhwm, s.rcvhwm) == (33, 33)


def test_option_defaults_match_libzmq(sock, z):
    s = sock("DEALER")
    assert s.getsockopt(z.SNDHWM) == 1000 and s.getsockopt(z.RCVHWM) == 1000
    assert s.getsockopt(z.RCVTIMEO) == -1 and s.getsockopt(z.SNDTIMEO) == -1
    assert s.getsockopt(z.RECONNECT_IVL) == 100 and s.getsockopt(z.RECONNECT_IVL_MAX) == 0
    assert s.getsockopt(z.MAXMSGSIZE) == -1
    assert s.getsockopt(z.ROUTING_ID) == b""
    assert s.getsockopt(z.LAST_ENDPOINT) == b""


def test_bad_options(sock, z):
    s = sock("DEALER")
    with pytest.raises(z.ZMQError) as info:
        s.setsockopt(9999, 1)
    assert info.value.errno == z.EINVAL
    with pytest.raises(z.ZMQError) as info:
        s.getsockopt(9999)
    assert info.value.errno == z.EINVAL
    with pytest.raises(TypeError):
        s.setsockopt(z.ROUTING_ID, "text")  # str needs setsockopt_string
    with pytest.raises(TypeError):
        s.setsockopt(z.LINGER, "0")
    with pytest.raises(z.ZMQError) as info:
        s.setsockopt(z.ROUTING_ID, b"x" * 256)
    assert info.value.errno == z.EINVAL


def test_subscribe_only_on_sub(sock, z):
    with pytest.raises(z.ZMQError) as info:
        sock("PUB").setsockopt(z.SUBSCRIBE, b"")
    assert info.value.errno == z.EINVAL


# -- send/recv flavours -------------------------------------------------------------------------------
@pytest.fixture
def pair(sock, bound):
    a, b = sock("PAIR"), sock("PAIR")
    b.connect(bound(a))
    return a, b


def test_sndmore_and_rcvmore(pair, z, deadline):
    a, b = pair
    with deadline(10):
        a.send(b"1", z.SNDMORE)
        a.send(b"", z.SNDMORE)
        a.send(b"3")
        assert b.poll(5000)
        assert b.recv() == b"1" and b.getsockopt(z.RCVMORE) == 1
        assert b.recv() == b"" and b.rcvmore == 1
        assert b.recv() == b"3" and b.rcvmore == 0


def test_buffers_and_frames(pair, z, deadline):
    a, b = pair
    with deadline(10):
        a.send(bytearray(b"ba"))
        a.send(memoryview(b"mv"))
        a.send_multipart([b"x", bytearray(b"y"), memoryview(b"z")])
        a.send(b"nocopy", copy=False)
        assert recv_within(b) == [b"ba"]
        assert recv_within(b) == [b"mv"]
        assert recv_within(b) == [b"x", b"y", b"z"]
        frame = b.recv(copy=False)
        assert frame.bytes == b"nocopy" and bytes(frame.buffer) == b"nocopy" and not frame.more
        a.send_multipart([b"f1", b"f2"])
        frames = b.recv_multipart(copy=False)
        assert [f.bytes for f in frames] == [b"f1", b"f2"] and frames[0].more


def test_str_is_refused(pair, z):
    a, _ = pair
    with pytest.raises(TypeError):
        a.send("text")
    with pytest.raises(TypeError):
        a.send_multipart(["text"])


def test_serialization_helpers(pair, deadline):
    a, b = pair
    with deadline(10):
        a.send_string("héllo")
        assert b.recv_string() == "héllo"
        a.send_string("latin", encoding="latin-1")
        assert b.recv_string(encoding="latin-1") == "latin"
        a.send_json({"a": [1, 2, None]})
        assert b.recv_json() == {"a": [1, 2, None]}
        a.send_pyobj({"set": {1, 2}})
        assert b.recv_pyobj() == {"set": {1, 2}}
        a.send_serialized({"k": 1}, lambda m: [json.dumps(m).encode(), b"tail"])
        assert b.recv_serialized(lambda fs: (json.loads(fs[0]), fs[1])) == ({"k": 1}, b"tail")


def test_dontwait_and_noblock(pair, z):
    a, b = pair
    assert z.NOBLOCK == z.DONTWAIT
    with pytest.raises(z.Again):
        b.recv(z.NOBLOCK)
    with pytest.raises(z.Again):
        b.recv_multipart(z.DONTWAIT)


def test_poller_and_events(pair, z, deadline):
    a, b = pair
    poller = z.Poller()
    poller.register(b, z.POLLIN)
    assert poller.poll(0) == []
    assert not b.getsockopt(z.EVENTS) & z.POLLIN
    with deadline(10):
        a.send(b"x")
        assert dict(poller.poll(5000)) == {b: z.POLLIN}
        assert b.getsockopt(z.EVENTS) & z.POLLIN
        assert b.recv() == b"x"
    assert a.poll(0, z.POLLOUT) == z.POLLOUT


# -- endpoints -------------------------------------------------------------------------------------------
def test_last_endpoint_wildcard_port(sock):
    s = sock("PULL")
    s.bind("tcp://127.0.0.1:*")
    ep = s.last_endpoint.decode()
    host, port = ep.rsplit(":", 1)
    assert host == "tcp://127.0.0.1" and 0 < int(port) < 65536


def test_last_endpoint_ipv6(sock, deadline):
    s = sock("PULL")
    s.ipv6 = 1
    s.bind("tcp://[::1]:*")
    ep = s.last_endpoint.decode()
    assert ep.startswith("tcp://[::1]:")
    c = sock("PUSH")
    c.ipv6 = 1
    c.connect(ep)
    with deadline(10):
        c.send(b"over ipv6")
        assert recv_within(s) == [b"over ipv6"]


def test_bind_to_random_port(sock, deadline):
    s = sock("PULL")
    port = s.bind_to_random_port("tcp://127.0.0.1")
    assert s.last_endpoint == b"tcp://127.0.0.1:%d" % port
    port2 = s.bind_to_random_port("tcp://127.0.0.1", min_port=30000, max_port=40000)
    assert 30000 <= port2 < 40000
    c = sock("PUSH")
    c.connect("tcp://127.0.0.1:%d" % port2)
    with deadline(10):
        c.send(b"hi")
        assert recv_within(s) == [b"hi"]


def test_last_endpoint_ipc_and_inproc(sock, ipc_dir):
    s = sock("PULL")
    s.bind(f"ipc://{ipc_dir}/a")
    assert s.last_endpoint == f"ipc://{ipc_dir}/a".encode()
    s.bind("inproc://api-last-endpoint")
    assert s.last_endpoint == b"inproc://api-last-endpoint"
    c = sock("PUSH")
    c.connect("inproc://api-last-endpoint")
    assert c.last_endpoint == b"inproc://api-last-endpoint"


def test_ipc_file_removed_on_unbind_and_close(sock, ipc_dir, gzmq_only):
    # Issue 2 asks this of gzmq. (libzmq 4.3.5 removes only ipc://* temporary files and
    # otherwise leaves the file for the next bind to unlink.)
    s = sock("PULL")
    a, b = f"{ipc_dir}/unbind", f"{ipc_dir}/close"
    s.bind("ipc://" + a)
    s.bind("ipc://" + b)
    assert os.path.exists(a) and os.path.exists(b)
    s.unbind("ipc://" + a)
    wait_until(lambda: not os.path.exists(a), what="ipc file removed on unbind")
    assert os.path.exists(b)
    s.close()
    wait_until(lambda: not os.path.exists(b), what="ipc file removed on close")


def test_unbind_and_disconnect_stop_traffic(sock, bound, z, deadline):
    pull = sock("PULL")
    ep = bound(pull)
    push = sock("PUSH")
    push.connect(ep)
    with deadline(10):
        push.send(b"1")
        assert recv_within(pull) == [b"1"]
        push.disconnect(ep)
        wait_until(lambda: _raises_again(z, push), what="no peer after disconnect")
        push.connect(ep)
        push.send(b"2")
        assert recv_within(pull) == [b"2"]


def _raises_again(z, push):
    try:
        push.send(b"probe", z.DONTWAIT)
    except z.Again:
        return True
    return False


def test_bind_returns_context_manager(sock, address, z):
    s = sock("PULL")
    addr = address()
    with s.bind(addr):
        ep = s.last_endpoint.decode()
    # Leaving the block unbound it: the address can be bound again (libzmq releases it in its
    # I/O thread, a moment later).
    t = sock("PULL")

    def rebound():
        try:
            t.bind(ep)
        except z.ZMQError as exc:
            assert exc.errno == z.EADDRINUSE
            return False
        return True

    wait_until(rebound, what=f"{ep} free again after the with-block")


# -- errors ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("endpoint,errno_name", [
    ("foo://x", "EPROTONOSUPPORT"),
    ("tcp://127.0.0.1", "EINVAL"),
    ("tcp://127.0.0.1:notaport", "EINVAL"),
    ("127.0.0.1:5555", "EINVAL"),
])
def test_bad_endpoints(sock, z, endpoint, errno_name):
    s = sock("PULL")
    with pytest.raises(z.ZMQError) as info:
        s.bind(endpoint)
    assert info.value.errno == getattr(z, errno_name)


def test_address_in_use(sock, z):
    a, b = sock("PULL"), sock("PULL")
    a.bind("tcp://127.0.0.1:*")
    with pytest.raises(z.ZMQError) as info:
        b.bind(a.last_endpoint.decode())
    assert info.value.errno == z.EADDRINUSE
    a.bind("inproc://api-in-use")
    with pytest.raises(z.ZMQError) as info:
        b.bind("inproc://api-in-use")
    assert info.value.errno == z.EADDRINUSE


def test_unbind_disconnect_unknown_is_enoent(sock, z):
    s = sock("PULL")
    with pytest.raises(z.ZMQError) as info:
        s.unbind("tcp://127.0.0.1:5999")
    assert info.value.errno == 2  # ENOENT
    with pytest.raises(z.ZMQError) as info:
        s.disconnect("tcp://127.0.0.1:5999")
    assert info.value.errno == 2


def test_error_classes(z):
    assert issubclass(z.Again, z.ZMQError)
    assert issubclass(z.ContextTerminated, z.ZMQError)
    assert issubclass(z.ZMQError, z.ZMQBaseError)
    e = z.ZMQError(z.EFSM)
    assert e.errno == z.EFSM and e.strerror == str(e) == z.strerror(z.EFSM)
    assert z.Again().errno == z.EAGAIN
    assert z.ContextTerminated().errno == z.ETERM


def test_constants_are_libzmq_numbers(z):
    assert (z.PAIR, z.PUB, z.SUB, z.REQ, z.REP, z.DEALER, z.ROUTER, z.PULL, z.PUSH, z.XPUB,
            z.XSUB) == tuple(range(11))
    assert (z.DONTWAIT, z.SNDMORE, z.POLLIN, z.POLLOUT) == (1, 2, 1, 2)
    assert (z.EFSM, z.ETERM) == (156384763, 156384765)
    assert z.zmq_version_info()[:2] >= (4, 3)
