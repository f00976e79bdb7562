"""Connection options (issue 4): IMMEDIATE, TCP keep-alive settings, RECONNECT_IVL=-1."""
import socket

import pytest

import gzmq
from gzmq.utils.monitor import recv_monitor_message


def free_endpoint(ctx):
    s = ctx.socket(gzmq.PULL)
    s.bind("tcp://127.0.0.1:*")
    ep = s.last_endpoint.decode()
    s.close(linger=0)
    return ep


def test_immediate_queues_only_to_completed_connections(ctx, deadline):
    """IMMEDIATE: no pipe exists until the connection is up, so round-robin skips endpoints
    that are not there (without it, every other message would wait for the absent peer)."""
    pull = ctx.socket(gzmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    absent = free_endpoint(ctx)
    push = ctx.socket(gzmq.PUSH)
    push.immediate = 1
    push.sndtimeo = 2000
    mon = push.get_monitor_socket(gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    push.connect(absent)
    push.connect(pull.last_endpoint.decode())
    with deadline(10):
        mon.recv_multipart()                 # the live connection is up
        for i in range(10):
            push.send(b"%d" % i)
        assert sorted(int(pull.recv()) for _ in range(10)) == list(range(10))
    mon.close(linger=0)


def test_immediate_with_no_connection_would_block(ctx, deadline):
    push = ctx.socket(gzmq.PUSH)
    push.immediate = 1
    push.connect(free_endpoint(ctx))
    with deadline(5):
        with pytest.raises(gzmq.Again):
            push.send(b"nowhere", gzmq.DONTWAIT)


def test_without_immediate_messages_wait_for_the_absent_peer(ctx, deadline):
    pull = ctx.socket(gzmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    absent = free_endpoint(ctx)
    push = ctx.socket(gzmq.PUSH)
    mon = push.get_monitor_socket(gzmq.EVENT_HANDSHAKE_SUCCEEDED)
    push.connect(absent)
    push.connect(pull.last_endpoint.decode())
    with deadline(10):
        mon.recv_multipart()
        for i in range(10):
            push.send(b"%d" % i)
        got = [int(pull.recv()) for _ in range(5)]   # round-robin: half went to the absent peer's pipe
        assert pull.poll(200) == 0
        late = ctx.socket(gzmq.PULL)
        late.bind(absent)                            # it shows up: its share is delivered
        got += [int(late.recv()) for _ in range(5)]
        assert sorted(got) == list(range(10))
    mon.close(linger=0)


def session_socket(sock):
    sessions = list(sock._sessions)     # the live connections of the socket's engine
    assert len(sessions) == 1
    return sessions[0].sock


def test_tcp_keepalive_options_reach_the_os_socket(ctx, deadline):
    pull = ctx.socket(gzmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(gzmq.PUSH)
    push.tcp_keepalive = 1
    push.tcp_keepalive_idle = 30
    push.tcp_keepalive_intvl = 5
    push.tcp_keepalive_cnt = 4
    push.connect(pull.last_endpoint.decode())
    with deadline(5):
        push.send(b"x")
        assert pull.recv() == b"x"
    os_sock = session_socket(push)
    assert os_sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
    assert os_sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 30
    assert os_sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 5
    assert os_sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 4
    assert os_sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1


def test_reconnect_ivl_minus_one_never_reconnects(ctx, deadline):
    pull = ctx.socket(gzmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    ep = pull.last_endpoint.decode()
    push = ctx.socket(gzmq.PUSH)
    push.reconnect_ivl = -1
    mon = push.get_monitor_socket(gzmq.EVENT_CONNECTED | gzmq.EVENT_DISCONNECTED)
    push.connect(ep)
    with deadline(10):
        assert recv_monitor_message(mon)["event"] == gzmq.EVENT_CONNECTED
        pull.close(linger=0)
        assert recv_monitor_message(mon)["event"] == gzmq.EVENT_DISCONNECTED
        pull = ctx.socket(gzmq.PULL)
        pull.bind(ep)
        assert mon.poll(500) == 0            # no CONNECTED again: it stays away
    mon.close(linger=0)
