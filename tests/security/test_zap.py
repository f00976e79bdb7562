"""ZAP (RFC 27) as libzmq 4.3.5 does it (ZMTP.md §10), with hand-written handlers so every
frame is visible: request contents, no-handler policy per mechanism, reply validation,
status codes, User-Id and metadata, several handshakes waiting at once, handler restarts.
"""
import os

import gevent
import pytest
from gevent.queue import Queue

import gzmq
import gzmq.auth
from gzmq.utils import z85
from gzmq.constants import Event
from gzmq.zmtp.commands import encode_metadata

from .conftest import bind_tcp, curve_client, curve_server, request

ZAP = "inproc://zeromq.zap.01"


class Handler:
    """A ZAP handler (REP) in a greenlet: records requests, answers with reply(request)."""

    def __init__(self, mod, ctx, reply):
        self.sock = ctx.socket(mod.REP)
        self.sock.linger = 0
        self.sock.bind(ZAP)
        self.reply = reply
        self.requests = Queue()
        self.greenlet = gevent.spawn(self._run)

    def _run(self):
        while True:
            req = self.sock.recv_multipart()
            self.requests.put(req)
            self.sock.send_multipart(self.reply(req))

    def close(self):
        self.greenlet.kill()
        self.sock.close(linger=0)


def answer(status, user_id=b"", metadata=b""):
    return lambda req: [b"1.0", req[1], status, b"text", user_id, metadata]


@pytest.fixture
def handlers():
    made = []

    def make(mod, ctx, reply):
        h = Handler(mod, ctx, reply)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()


@pytest.mark.parametrize("server_lib", ["gzmq", "libzmq"])
def test_request_frames_match_libzmq(libs, handlers, server_lib, server_keys, client_keys):
    """The same handshakes, served by gzmq and by libzmq, produce the same ZAP requests."""
    mod, ctx = libs[server_lib]
    handler = handlers(mod, ctx, answer(b"200"))
    # PLAIN, with a domain and the server's own routing id as "identity" (libzmq's choice).
    server = ctx.socket(mod.REP)
    server.plain_server = True
    server.zap_domain = b"global"
    server.routing_id = b"SRVID"
    client = libs["gzmq"][1].socket(gzmq.REQ)
    client.plain_username, client.plain_password = b"admin", b"secret"
    client.connect(bind_tcp(server))
    request(client, server)
    with gevent.Timeout(5):
        assert handler.requests.get() == [b"1.0", b"1", b"global", b"127.0.0.1", b"SRVID", b"PLAIN",
                                          b"admin", b"secret"]
    # CURVE: one credential, the client's 32-byte long-term public key.
    cserver = curve_server(ctx.socket(mod.REP), server_keys)
    cclient = curve_client(libs["libzmq"][1].socket(libs["libzmq"][0].REQ), client_keys, server_keys[0])
    cclient.connect(bind_tcp(cserver))
    request(cclient, cserver)
    with gevent.Timeout(5):
        assert handler.requests.get() == [b"1.0", b"1", b"", b"127.0.0.1", b"", b"CURVE",
                                          z85.decode(client_keys[0])]
    # NULL asks only with a ZAP domain.
    nserver = ctx.socket(mod.REP)
    nserver.zap_domain = b"dom"
    nclient = libs["libzmq"][1].socket(libs["libzmq"][0].REQ)
    nclient.connect(bind_tcp(nserver))
    request(nclient, nserver)
    with gevent.Timeout(5):
        assert handler.requests.get() == [b"1.0", b"1", b"dom", b"127.0.0.1", b"", b"NULL"]


def test_user_id_and_metadata_become_message_properties(libs, handlers, green):
    handler = handlers(gzmq, libs["gzmq"][1],
                       answer(b"200", b"alice", encode_metadata([("X-Role", b"admin")])))
    server = libs["gzmq"][1].socket(gzmq.REP)
    server.zap_domain = b"d"
    client = libs["libzmq"][1].socket(green.REQ)
    client.connect(bind_tcp(server))
    got = request(client, server)
    assert got.get("User-Id") == "alice"
    assert got.get("X-Role") == "admin"
    assert handler.requests.qsize() == 1


@pytest.mark.parametrize("client_lib", ["gzmq", "libzmq"])
def test_null_denied_gets_error_400(libs, handlers, events, client_lib):
    handlers(gzmq, libs["gzmq"][1], answer(b"400"))
    server = libs["gzmq"][1].socket(gzmq.REP)
    server.zap_domain = b"d"
    cmod, cctx = libs[client_lib]
    client = cctx.socket(cmod.REQ)
    client_events = events(client)
    client.connect(bind_tcp(server))
    assert client_events.wait(Event.HANDSHAKE_FAILED_AUTH) == 400
    client.close(linger=0)


def test_status_300_closes_without_error(libs, handlers, events, green):
    # 300 = temporary failure: no ERROR command, just close; the libzmq client cannot tell
    # it from a network drop and sees only a disconnect.
    handlers(gzmq, libs["gzmq"][1], answer(b"300"))
    server = libs["gzmq"][1].socket(gzmq.REP)
    server_events = events(server)
    server.zap_domain = b"d"
    client = libs["libzmq"][1].socket(green.REQ)
    client_events = events(client)
    client.connect(bind_tcp(server))
    assert server_events.wait(Event.HANDSHAKE_FAILED_AUTH) == 300
    client_events.wait(Event.DISCONNECTED)
    client.close(linger=0)


@pytest.mark.parametrize("reply,code", [
    (lambda req: [b"1.0", req[1], b"200", b"", b""], gzmq.PROTOCOL_ERROR_ZAP_MALFORMED_REPLY),
    (lambda req: [b"2.0", req[1], b"200", b"", b"", b""], gzmq.PROTOCOL_ERROR_ZAP_BAD_VERSION),
    (lambda req: [b"1.0", b"7", b"200", b"", b"", b""], gzmq.PROTOCOL_ERROR_ZAP_BAD_REQUEST_ID),
    (lambda req: [b"1.0", req[1], b"201", b"", b"", b""], gzmq.PROTOCOL_ERROR_ZAP_INVALID_STATUS_CODE),
    (lambda req: [b"1.0", req[1], b"200", b"", b"", b"\x05X"], gzmq.PROTOCOL_ERROR_ZAP_INVALID_METADATA),
])
def test_malformed_reply_drops_the_peer(libs, handlers, events, green, reply, code):
    handler = handlers(gzmq, libs["gzmq"][1], reply)
    server = libs["gzmq"][1].socket(gzmq.REP)
    server_events = events(server)
    server.zap_domain = b"d"
    client = libs["libzmq"][1].socket(green.REQ)
    client.connect(bind_tcp(server))
    assert server_events.wait(Event.HANDSHAKE_FAILED_PROTOCOL) == code
    # The ZAP path stays usable: a well-formed answer admits the next handshake.
    handler.reply = answer(b"200")
    request(client, server)


@pytest.mark.parametrize("mechanism", ["NULL", "CURVE"])
def test_no_handler_admits_null_and_curve(libs, green, mechanism, server_keys, client_keys):
    server = libs["gzmq"][1].socket(gzmq.REP)
    client = libs["libzmq"][1].socket(green.REQ)
    if mechanism == "NULL":
        server.zap_domain = b"d"
    else:
        curve_server(server, server_keys)
        curve_client(client, client_keys, server_keys[0])
    client.connect(bind_tcp(server))
    got = request(client, server)
    with pytest.raises(gzmq.ZMQError):
        got.get("User-Id")   # no ZAP, no user id (as libzmq)


def test_no_handler_with_zap_enforce_domain_refuses_curve(libs, events, green, server_keys, client_keys):
    server = curve_server(libs["gzmq"][1].socket(gzmq.REP), server_keys)
    server.setsockopt(gzmq.ZAP_ENFORCE_DOMAIN, 1)
    server_events = events(server)
    client = curve_client(libs["libzmq"][1].socket(green.REQ), client_keys, server_keys[0])
    client.connect(bind_tcp(server))
    server_events.wait(Event.HANDSHAKE_FAILED_NO_DETAIL)
    client.close(linger=0)


def test_router_handler_answering_out_of_order(libs, events, green, server_keys, client_keys, other_keys):
    """Two handshakes wait on ZAP at once; the handler answers the second one first. Each
    answer must reach its own connection (libzmq keeps one pipe per connection; so do we)."""
    gctx = libs["gzmq"][1]
    handler = gctx.socket(gzmq.ROUTER)
    handler.bind(ZAP)
    server = curve_server(gctx.socket(gzmq.REP), server_keys)
    endpoint = bind_tcp(server)
    good = curve_client(libs["libzmq"][1].socket(green.REQ), client_keys, server_keys[0])
    bad = curve_client(libs["libzmq"][1].socket(green.REQ), other_keys, server_keys[0])
    bad_events = events(bad)
    good.connect(endpoint)
    bad.connect(endpoint)
    good_key = z85.decode(client_keys[0])
    with gevent.Timeout(10):
        first = handler.recv_multipart()
        second = handler.recv_multipart()
        # RFC 27 over ROUTER: [peer id, empty delimiter, "1.0", "1", ...]; distinct peers.
        assert first[0] != second[0] and first[1] == second[1] == b""
        for req in (second, first):
            ok = req[-1] == good_key
            handler.send_multipart(req[:2] + [b"1.0", req[3], b"200" if ok else b"400", b"", b"", b""])
    assert bad_events.wait(Event.HANDSHAKE_FAILED_AUTH) == 400
    request(good, server)
    bad.close(linger=0)
    handler.close(linger=0)


def test_many_handshakes_in_flight(libs, green, server_keys):
    gctx = libs["gzmq"][1]
    auth = gzmq.auth.GreenletAuthenticator(gctx)
    auth.start()
    try:
        auth.configure_curve(domain="*", location=gzmq.auth.CURVE_ALLOW_ANY)
        server = curve_server(gctx.socket(gzmq.ROUTER), server_keys)
        endpoint = bind_tcp(server)
        clients = []
        for i in range(20):
            mod, ctx = (gzmq, gctx) if i % 2 else (green, libs["libzmq"][1])
            keys = gzmq.curve_keypair()
            c = curve_client(ctx.socket(mod.DEALER), keys, server_keys[0])
            c.connect(endpoint)
            c.send(b"%d" % i)
            clients.append((c, keys[0]))
        with gevent.Timeout(15):
            seen = {}
            for _ in clients:
                frames = server.recv_multipart(copy=False)
                seen[frames[1].bytes] = frames[1].get("User-Id")
        assert seen == {b"%d" % i: key.decode() for i, (_, key) in enumerate(clients)}
    finally:
        auth.stop()


def test_handler_restart(libs, green, server_keys, client_keys):
    gctx = libs["gzmq"][1]
    server = libs["gzmq"][1].socket(gzmq.REP)
    server.plain_server = True
    endpoint = bind_tcp(server)
    for user in (b"one", b"two"):
        auth = gzmq.auth.GreenletAuthenticator(gctx)
        auth.start()
        auth.configure_plain(passwords={user.decode(): "pw"})
        client = libs["libzmq"][1].socket(green.REQ)
        client.plain_username, client.plain_password = user, b"pw"
        client.connect(endpoint)
        assert request(client, server).get("User-Id") == user.decode()
        client.close(linger=0)
        auth.stop()
        assert not auth.is_alive()


def test_context_term_completes_after_zap(green, server_keys, client_keys):
    """The internal ZAP DEALERs must not keep Context.term() waiting."""
    ctx = gzmq.Context()
    lctx = green.Context()
    try:
        handler = Handler(gzmq, ctx, answer(b"200"))
        server = ctx.socket(gzmq.REP)
        server.zap_domain = b"d"
        client = lctx.socket(green.REQ)
        client.connect(bind_tcp(server))
        request(client, server)
        handler.close()
        server.close(linger=0)
        client.close(linger=0)
    finally:
        with gevent.Timeout(5, AssertionError("Context.term() hung on ZAP sockets")):
            ctx.term()
        lctx.destroy(linger=0)


def test_authenticator_survives_context_term(green):
    ctx = gzmq.Context()
    auth = gzmq.auth.GreenletAuthenticator(ctx)
    auth.start()
    with gevent.Timeout(5, AssertionError("Context.term() hung with a running authenticator")):
        ctx.term()
        auth.greenlet.join()
    assert not auth.is_alive()
    auth.stop()


@pytest.mark.parametrize("mechanism", ["CURVE", "NULL"])
def test_idle_peer_after_zap_outlives_handshake_ivl(libs, events, green, mechanism, server_keys, client_keys):
    """A handshake finished by the ZAP answer must disarm HANDSHAKE_IVL, even if the peer then
    stays silent. The clock is a second, mute connection: the server drops it when its
    HANDSHAKE_IVL expires, which is after the first connection's would have."""
    from gevent import socket as gsocket
    server = libs["gzmq"][1].socket(gzmq.REP)
    client = libs["libzmq"][1].socket(green.REQ)
    if mechanism == "CURVE":
        curve_server(server, server_keys)          # no handler bound: ZAP admits at once
        curve_client(client, client_keys, server_keys[0])
    else:
        server.zap_domain = b"d"
    server.handshake_ivl = 300
    server_events = events(server)
    endpoint = bind_tcp(server)
    client.connect(endpoint)
    server_events.wait(Event.HANDSHAKE_SUCCEEDED)
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    mute = gsocket.create_connection((host, int(port)))
    try:
        with gevent.Timeout(10, AssertionError("the mute connection was never dropped")):
            while mute.recv(4096):   # its greeting, then EOF: HANDSHAKE_IVL has passed
                pass
            # Only the mute connection ends (libzmq reports DISCONNECTED after a failed
            # handshake too, as the last event of that connection).
            seen = []
            while "DISCONNECTED" not in seen:
                seen.append(Event(server_events.next()[0]).name)
        seen += server_events.drain()
        assert seen == ["ACCEPTED", "HANDSHAKE_FAILED_NO_DETAIL", "DISCONNECTED"], seen
        request(client, server)
    finally:
        mute.close()


@pytest.mark.parametrize("server_lib", ["gzmq", "libzmq"])
def test_ipc_request_address_matches_libzmq(libs, handlers, cert_dir, server_lib, server_keys, client_keys):
    """Over ipc libzmq sends "localhost:UID:GID:PID" (the peer's SO_PEERCRED) as the address."""
    mod, ctx = libs[server_lib]
    handler = handlers(mod, ctx, answer(b"200"))
    server = curve_server(ctx.socket(mod.REP), server_keys)
    server.bind(f"ipc://{cert_dir}/zap.ipc")
    cmod, cctx = libs["gzmq" if server_lib == "libzmq" else "libzmq"]
    client = curve_client(cctx.socket(cmod.REQ), client_keys, server_keys[0])
    client.connect(f"ipc://{cert_dir}/zap.ipc")
    request(client, server)
    with gevent.Timeout(5):
        req = handler.requests.get()
    assert req[3] == f"localhost:{os.getuid()}:{os.getgid()}:{os.getpid()}".encode()
    assert req[5] == b"CURVE"
