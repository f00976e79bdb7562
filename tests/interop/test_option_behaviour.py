"""The socket and context options issue 20 made real, each doing what libzmq's does, against
real pyzmq peers: accept filters (TCP_ACCEPT_FILTER, IPC_FILTER_*), TOS, TCP_MAXRT and
BINDTODEVICE on the OS socket, ROUTER_NOTIFY, METADATA reaching the peer's Frame.get(),
SOCKS_PROXY through a small SOCKS5 server, USE_FD, and the context's IPV6, BLOCKY and
MAX_SOCKETS. (tests/lifecycle/test_option_sweep.py checks acceptance and read-back of all.)
"""
import errno
import os
import socket as _stdsocket
import struct

import gevent
import pytest
from gevent import socket as gsocket
from gevent.server import StreamServer

import gzmq
from gzmq.utils.monitor import recv_monitor_message

from .support import bind, recv_within


def wait_event(mon, event, timeout=10):
    """The value of the next `event` on a gzmq monitor (others skipped)."""
    with gevent.Timeout(timeout, AssertionError(f"no {gzmq.Event(event).name} event")):
        while True:
            ev = recv_monitor_message(mon)
            if ev["event"] == event:
                return ev["value"]


def round_trip(req, rep):
    req.send(b"ping")
    assert recv_within(rep) == [b"ping"]
    rep.send(b"pong")
    assert recv_within(req) == [b"pong"]


# -- accept filters ------------------------------------------------------------------------------
def test_tcp_accept_filter(gctx, lctx, green, deadline):
    rep = gctx.socket(gzmq.REP)
    rep.linger = 0
    with pytest.raises(gzmq.ZMQError) as info:
        rep.setsockopt(gzmq.TCP_ACCEPT_FILTER, b"not-an-address")
    assert info.value.errno == errno.EINVAL
    rep.setsockopt(gzmq.TCP_ACCEPT_FILTER, b"10.9.9.9")
    mon = rep.get_monitor_socket()
    ep = bind(rep, "tcp://127.0.0.1:*")
    req = lctx.socket(green.REQ)
    req.linger = 0
    req.connect(ep)
    with deadline(10):
        # 127.0.0.1 is not 10.9.9.9: refused (libzmq reports EAGAIN as the value)
        assert wait_event(mon, gzmq.EVENT_ACCEPT_FAILED) == errno.EAGAIN
    # A matching filter (a network, added to the list) admits the next attempt.
    rep.setsockopt(gzmq.TCP_ACCEPT_FILTER, b"127.0.0.0/8")
    with deadline(10):
        round_trip(req, rep)
    rep.setsockopt(gzmq.TCP_ACCEPT_FILTER, b"")         # an empty value clears the filters


@pytest.mark.parametrize("allowed", [True, False])
def test_ipc_filter_uid(gctx, lctx, green, ipc_dir, allowed, deadline):
    rep = gctx.socket(gzmq.REP)
    rep.linger = 0
    rep.setsockopt(gzmq.IPC_FILTER_UID, os.getuid() if allowed else os.getuid() + 1)
    mon = rep.get_monitor_socket()
    ep = bind(rep, f"ipc://{ipc_dir}/filtered")
    req = lctx.socket(green.REQ)
    req.linger = 0
    req.connect(ep)
    with deadline(10):
        if allowed:
            round_trip(req, rep)
        else:
            wait_event(mon, gzmq.EVENT_ACCEPT_FAILED)


def test_ipc_filter_gid_supplementary_group(gctx, ipc_dir, deadline):
    """A group the peer's user belongs to admits it, primary or supplementary (libzmq)."""
    import pwd
    user = pwd.getpwuid(os.getuid())
    groups = os.getgrouplist(user.pw_name, user.pw_gid)
    rep = gctx.socket(gzmq.REP)
    rep.linger = 0
    rep.setsockopt(gzmq.IPC_FILTER_GID, groups[-1])
    ep = bind(rep, f"ipc://{ipc_dir}/bygid")
    req = gctx.socket(gzmq.REQ)
    req.linger = 0
    req.connect(ep)
    with deadline(10):
        round_trip(req, rep)


def test_ipc_filter_pid(gctx, ipc_dir, deadline):
    rep = gctx.socket(gzmq.REP)
    rep.linger = 0
    rep.setsockopt(gzmq.IPC_FILTER_PID, os.getpid())
    ep = bind(rep, f"ipc://{ipc_dir}/bypid")
    req = gctx.socket(gzmq.REQ)
    req.linger = 0
    req.connect(ep)
    with deadline(10):
        round_trip(req, rep)


# -- options on the OS socket ----------------------------------------------------------------
def _sockopt(fd, level, option, size=None):
    dup = _stdsocket.socket(fileno=os.dup(fd))
    try:
        return dup.getsockopt(level, option, size) if size else dup.getsockopt(level, option)
    finally:
        dup.close()


def test_tos_maxrt_bindtodevice_reach_the_os_socket(gctx, lctx, green, deadline):
    router = lctx.socket(green.ROUTER)
    router.linger = 0
    ep = bind(router, "tcp://127.0.0.1:*")
    dealer = gctx.socket(gzmq.DEALER)
    dealer.linger = 0
    dealer.tos = 0x28
    dealer.tcp_maxrt = 1500
    dealer.setsockopt(gzmq.BINDTODEVICE, b"lo")
    mon = dealer.get_monitor_socket()
    dealer.connect(ep)
    with deadline(10):
        fd = wait_event(mon, gzmq.EVENT_CONNECTED)
        assert _sockopt(fd, _stdsocket.IPPROTO_IP, _stdsocket.IP_TOS) == 0x28
        assert _sockopt(fd, _stdsocket.IPPROTO_TCP, _stdsocket.TCP_USER_TIMEOUT) == 1500
        device = _sockopt(fd, _stdsocket.SOL_SOCKET, _stdsocket.SO_BINDTODEVICE, 16)
        assert device.rstrip(b"\0") == b"lo"
        dealer.send(b"over lo")
        assert recv_within(router)[1:] == [b"over lo"]


def test_tos_on_accepted_connections(gctx, lctx, green, deadline):
    rep = gctx.socket(gzmq.REP)
    rep.linger = 0
    rep.tos = 0x10
    mon = rep.get_monitor_socket()
    ep = bind(rep, "tcp://127.0.0.1:*")
    req = lctx.socket(green.REQ)
    req.linger = 0
    req.connect(ep)
    with deadline(10):
        fd = wait_event(mon, gzmq.EVENT_ACCEPTED)
        assert _sockopt(fd, _stdsocket.IPPROTO_IP, _stdsocket.IP_TOS) == 0x10
        round_trip(req, rep)


def test_bindtodevice_unknown_device_fails_bind(gctx):
    if os.geteuid() != 0:
        pytest.skip("SO_BINDTODEVICE needs root (CAP_NET_RAW)")
    pub = gctx.socket(gzmq.PUB)
    pub.linger = 0
    pub.setsockopt(gzmq.BINDTODEVICE, b"nosuchdev0")
    with pytest.raises(gzmq.ZMQError) as info:
        pub.bind("tcp://127.0.0.1:*")
    assert info.value.errno == errno.ENODEV


def test_use_fd(gctx, lctx, green, deadline):
    listener = _stdsocket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    rep = gctx.socket(gzmq.REP)
    rep.linger = 0
    rep.setsockopt(gzmq.USE_FD, listener.detach())
    assert bind(rep, f"tcp://127.0.0.1:{port}") == f"tcp://127.0.0.1:{port}"
    req = lctx.socket(green.REQ)
    req.linger = 0
    req.connect(f"tcp://127.0.0.1:{port}")
    with deadline(10):
        round_trip(req, rep)


# -- ROUTER_NOTIFY, METADATA ------------------------------------------------------------------
def test_router_notify_connect_and_disconnect(gctx, lctx, green, deadline):
    router = gctx.socket(gzmq.ROUTER)
    router.linger = 0
    router.router_notify = gzmq.NOTIFY_CONNECT | gzmq.NOTIFY_DISCONNECT
    assert router.router_notify == 3
    ep = bind(router, "tcp://127.0.0.1:*")
    dealer = lctx.socket(green.DEALER)
    dealer.linger = 0
    dealer.setsockopt(green.ROUTING_ID, b"d1")
    dealer.connect(ep)
    with deadline(10):
        assert recv_within(router) == [b"d1", b""]        # connected
        dealer.send(b"hi")
        assert recv_within(router) == [b"d1", b"hi"]
        dealer.close()
        assert recv_within(router) == [b"d1", b""]        # disconnected


def test_metadata_reaches_the_peer_both_ways(gctx, lctx, green, deadline):
    req = gctx.socket(gzmq.REQ)
    req.linger = 0
    req.setsockopt(gzmq.METADATA, b"X-Hello:world")
    rep = lctx.socket(green.REP)
    rep.linger = 0
    rep.setsockopt(green.METADATA, b"X-Answer:42")
    ep = bind(rep, "tcp://127.0.0.1:*")
    req.connect(ep)
    with deadline(10):
        req.send(b"q")
        assert rep.recv(copy=False).get("X-Hello") == "world"
        rep.send(b"a")
        assert req.recv(copy=False).get("X-Answer") == "42"


# -- SOCKS5 ---------------------------------------------------------------------------------
class Socks5Server:
    """A small SOCKS5 proxy (RFC 1928/1929) in greenlets: CONNECT only, and username/password
    when `users` is given. Records each CONNECT target."""

    def __init__(self, users=None):
        self.users = users
        self.targets = []
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.address = f"127.0.0.1:{self.server.server_port}".encode()

    def _exact(self, conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError("client left")
            data += chunk
        return data

    def _handle(self, conn, _addr):
        try:
            version, count = self._exact(conn, 2)
            methods = self._exact(conn, count)
            want = 0x02 if self.users is not None else 0x00
            if version != 5 or want not in methods:
                conn.sendall(b"\x05\xff")
                return
            conn.sendall(bytes((5, want)))
            if want == 0x02:
                _, ulen = self._exact(conn, 2)
                user = self._exact(conn, ulen)
                (plen,) = self._exact(conn, 1)
                password = self._exact(conn, plen)
                ok = self.users.get(user) == password
                conn.sendall(b"\x01" + (b"\x00" if ok else b"\x01"))
                if not ok:
                    return
            _, cmd, _, atyp = self._exact(conn, 4)
            if atyp == 1:
                host = _stdsocket.inet_ntoa(self._exact(conn, 4))
            elif atyp == 3:
                (n,) = self._exact(conn, 1)
                host = self._exact(conn, n).decode()
            else:
                host = _stdsocket.inet_ntop(_stdsocket.AF_INET6, self._exact(conn, 16))
            (port,) = struct.unpack(">H", self._exact(conn, 2))
            self.targets.append((host, port))
            upstream = gsocket.create_connection((host, port))
            conn.sendall(b"\x05\x00\x00\x01" + _stdsocket.inet_aton("127.0.0.1") + struct.pack(">H", port))
            gevent.joinall([gevent.spawn(self._pipe, conn, upstream),
                            gevent.spawn(self._pipe, upstream, conn)])
        except (ConnectionError, OSError, ValueError):
            pass
        finally:
            conn.close()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(_stdsocket.SHUT_WR)
            except OSError:
                pass

    def close(self):
        self.server.stop(timeout=1)


@pytest.mark.parametrize("auth", [False, True], ids=["no-auth", "user-pass"])
def test_socks5_proxy(gctx, lctx, green, auth, deadline):
    proxy = Socks5Server({b"alice": b"secret"} if auth else None)
    rep = lctx.socket(green.REP)
    rep.linger = 0
    port = int(bind(rep, "tcp://127.0.0.1:*").rsplit(":", 1)[1])
    req = gctx.socket(gzmq.REQ)
    req.linger = 0
    req.socks_proxy = proxy.address
    if auth:
        req.socks_username = b"alice"
        req.socks_password = b"secret"
    assert req.socks_proxy == proxy.address
    try:
        req.connect(f"tcp://localhost:{port}")     # a name: the proxy resolves it
        with deadline(10):
            round_trip(req, rep)
        assert proxy.targets == [("localhost", port)]
    finally:
        req.close()
        proxy.close()


def test_socks5_wrong_password_never_connects(gctx, lctx, green, deadline):
    proxy = Socks5Server({b"alice": b"secret"})
    req = gctx.socket(gzmq.REQ)
    req.linger = 0
    req.socks_proxy = proxy.address
    req.socks_username = b"alice"
    req.socks_password = b"wrong"
    mon = req.get_monitor_socket()
    try:
        req.connect("tcp://127.0.0.1:9")
        with deadline(10):
            wait_event(mon, gzmq.EVENT_CONNECT_RETRIED)    # refused by the proxy: retried later
        assert proxy.targets == []
    finally:
        req.close()
        proxy.close()


# -- context options -------------------------------------------------------------------------
def test_context_ipv6_blocky_max_sockets(deadline):
    ctx = gzmq.Context()
    try:
        ctx.set(gzmq.IPV6, 1)
        ctx.set(gzmq.BLOCKY, 0)
        assert ctx.get(gzmq.IPV6) == 1 and ctx.get(gzmq.BLOCKY) == 0
        s = ctx.socket(gzmq.PUSH)
        assert s.ipv6 == 1 and s.getsockopt(gzmq.IPV4ONLY) == 0
        assert s.linger == 0                      # BLOCKY 0: new sockets do not linger
        s.connect("tcp://127.0.0.1:9")
        s.send(b"never delivered")
        s.close()
        ctx.set(gzmq.MAX_SOCKETS, 2)
        a = ctx.socket(gzmq.PAIR)
        b = ctx.socket(gzmq.PAIR)
        with pytest.raises(gzmq.ZMQError) as info:
            ctx.socket(gzmq.PAIR)
        assert info.value.errno == errno.EMFILE
        a.close()
        b.close()
    finally:
        with deadline(10):
            ctx.term()                            # returns at once: nothing lingers


# -- ROUTER_HANDOVER, next to libzmq's ROUTER ------------------------------------------------
def handover_scenario(zmq, ctx, green, lctx, handover):
    """Two libzmq DEALERs with one routing id; returns who gets the ROUTER's reply and
    whether the second one's message was delivered."""
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.setsockopt(zmq.ROUTER_HANDOVER, handover)
    ep = bind(router, "tcp://127.0.0.1:*")
    dealers = []
    for name in (b"from-d1", b"from-d2"):
        d = lctx.socket(green.DEALER)
        d.linger = 0
        d.setsockopt(green.ROUTING_ID, b"dup")
        d.connect(ep)
        d.send(name)
        dealers.append(d)
        if name == b"from-d1":
            assert recv_within(router) == [b"dup", b"from-d1"]
    second_delivered = bool(router.poll(500)) and router.recv_multipart() == [b"dup", b"from-d2"]
    router.send_multipart([b"dup", b"reply"])
    got = [bool(d.poll(500)) for d in dealers]
    for d in dealers:
        d.close()
    router.close()
    return got, second_delivered


@pytest.mark.parametrize("handover", [0, 1])
def test_router_handover_as_libzmq(gctx, lctx, green, handover, deadline):
    with deadline(20):
        ours = handover_scenario(gzmq, gctx, green, lctx, handover)
        theirs = handover_scenario(green, lctx, green, lctx, handover)
    assert ours == theirs
    assert ours == (([False, True], True) if handover else ([True, False], False))
