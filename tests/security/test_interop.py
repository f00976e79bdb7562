"""CURVE and PLAIN between gzmq and libzmq (pyzmq's zmq.green), both ways round, for REQ/REP
and PUB/SUB, with and without an authenticator; and the refusals: a wrong server key, a
client key not on the allow list, a wrong password. Each refusal is observed as an event,
and an honest client connected at the same time must be unaffected.

Authenticators: gzmq.auth.GreenletAuthenticator on the gzmq side, pyzmq's own
zmq.auth.thread.ThreadAuthenticator on the libzmq side.
"""
import os

import gevent
import pytest

import gzmq
import gzmq.auth
from gzmq.constants import Event

from .conftest import (bind_tcp, curve_client, curve_server, publish_until_received, request)

PAIRS = [("gzmq", "libzmq"), ("libzmq", "gzmq"), ("gzmq", "gzmq")]
PAIR_IDS = ["gzmq-server/libzmq-client", "libzmq-server/gzmq-client", "gzmq-both"]


def start_authenticator(kind, ctx):
    """An authenticator for the server's context: gzmq's, or pyzmq's thread authenticator."""
    if kind == "gzmq":
        auth = gzmq.auth.GreenletAuthenticator(ctx)
    else:
        from zmq.auth.thread import ThreadAuthenticator
        auth = ThreadAuthenticator(ctx)
    auth.start()
    return auth


@pytest.fixture
def authenticators():
    started = []

    def make(kind, ctx):
        auth = start_authenticator(kind, ctx)
        started.append(auth)
        return auth

    yield make
    for auth in started:
        auth.stop()


def write_public_cert(directory, name, public):
    """A public certificate in the shared (pyzmq/czmq) format, holding just `public`."""
    with open(os.path.join(directory, f"{name}.key"), "w") as f:
        f.write(f'metadata\ncurve\n    public-key = "{public.decode()}"\n')


# -- CURVE ------------------------------------------------------------------------------------
@pytest.mark.parametrize("server_lib,client_lib", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("with_auth", [False, True], ids=["no-auth", "authenticator"])
@pytest.mark.parametrize("transport", ["tcp", "ipc"])
def test_curve_req_rep(libs, authenticators, cert_dir, server_lib, client_lib, with_auth, transport,
                       server_keys, client_keys):
    smod, sctx = libs[server_lib]
    cmod, cctx = libs[client_lib]
    if with_auth:
        auth = authenticators(server_lib, sctx)
        auth.configure_curve(domain="*", location=gzmq.auth.CURVE_ALLOW_ANY)
    server = curve_server(sctx.socket(smod.REP), server_keys)
    client = curve_client(cctx.socket(cmod.REQ), client_keys, server_keys[0])
    if transport == "tcp":
        client.connect(bind_tcp(server))
    else:
        server.bind(f"ipc://{cert_dir}/curve.ipc")
        client.connect(f"ipc://{cert_dir}/curve.ipc")
    got = request(client, server, b"hello over curve")
    assert got.get("Socket-Type") == "REQ"
    if with_auth:
        # pyzmq's and gzmq's authenticators both name a CURVE user by its Z85 public key.
        assert got.get("User-Id") == client_keys[0].decode()
    # A multipart message, a large frame (long frames, 02 outer flags) and many round trips.
    with gevent.Timeout(10):
        big = os.urandom(300_000)
        client.send_multipart([b"a", b"", big])
        assert server.recv_multipart() == [b"a", b"", big]
        server.send_multipart([big, b"z"])
        assert client.recv_multipart() == [big, b"z"]
        for i in range(50):
            request(client, server, b"%d" % i)


@pytest.mark.parametrize("server_lib,client_lib", PAIRS, ids=PAIR_IDS)
@pytest.mark.parametrize("with_auth", [False, True], ids=["no-auth", "authenticator"])
def test_curve_pub_sub(libs, authenticators, cert_dir, server_lib, client_lib, with_auth,
                       server_keys, client_keys):
    smod, sctx = libs[server_lib]
    cmod, cctx = libs[client_lib]
    if with_auth:
        write_public_cert(cert_dir, "client", client_keys[0])
        auth = authenticators(server_lib, sctx)
        auth.allow("127.0.0.1")
        auth.configure_curve(domain="*", location=cert_dir)
    pub = curve_server(sctx.socket(smod.PUB), server_keys)
    sub = curve_client(cctx.socket(cmod.SUB), client_keys, server_keys[0])
    sub.setsockopt(cmod.SUBSCRIBE, b"weather")
    sub.connect(bind_tcp(pub))
    assert publish_until_received(pub, sub, [b"weather", b"sunny"]) == [b"weather", b"sunny"]
    with gevent.Timeout(10):
        pub.send_multipart([b"sports", b"not subscribed"])
        pub.send_multipart([b"weather", b"rain"])
        while True:
            msg = sub.recv_multipart()
            if msg != [b"weather", b"sunny"]:   # warm-ups still in flight
                break
        assert msg == [b"weather", b"rain"]


@pytest.mark.parametrize("server_lib,client_lib", PAIRS, ids=PAIR_IDS)
def test_curve_wrong_server_key_is_refused(libs, events, server_lib, client_lib,
                                           server_keys, client_keys, other_keys):
    smod, sctx = libs[server_lib]
    cmod, cctx = libs[client_lib]
    server = curve_server(sctx.socket(smod.REP), server_keys)
    server_events = events(server)
    endpoint = bind_tcp(server)
    honest = curve_client(cctx.socket(cmod.REQ), client_keys, server_keys[0])
    honest.connect(endpoint)
    request(honest, server, b"before")
    wrong = curve_client(cctx.socket(cmod.REQ), other_keys, other_keys[0])  # not the server's key
    wrong.connect(endpoint)
    # The server cannot open the HELLO box: libzmq's ZMTP_CRYPTOGRAPHIC, then a silent close.
    value = server_events.wait(Event.HANDSHAKE_FAILED_PROTOCOL)
    assert value == gzmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
    request(honest, server, b"after")
    wrong.close(linger=0)


@pytest.mark.parametrize("server_lib,client_lib", PAIRS, ids=PAIR_IDS)
def test_curve_key_not_on_allow_list_is_refused(libs, authenticators, events, cert_dir, server_lib,
                                                client_lib, server_keys, client_keys, other_keys):
    smod, sctx = libs[server_lib]
    cmod, cctx = libs[client_lib]
    write_public_cert(cert_dir, "client", client_keys[0])
    auth = authenticators(server_lib, sctx)
    auth.configure_curve(domain="*", location=cert_dir)
    server = curve_server(sctx.socket(smod.REP), server_keys)
    endpoint = bind_tcp(server)
    honest = curve_client(cctx.socket(cmod.REQ), client_keys, server_keys[0])
    honest.connect(endpoint)
    request(honest, server, b"before")
    stranger = curve_client(cctx.socket(cmod.REQ), other_keys, server_keys[0])
    stranger_events = events(stranger)
    stranger.connect(endpoint)
    # The server says ERROR "400"; the client reports an authentication failure with it.
    assert stranger_events.wait(Event.HANDSHAKE_FAILED_AUTH) == 400
    request(honest, server, b"after")
    stranger.close(linger=0)


# -- PLAIN ------------------------------------------------------------------------------------
def plain_server(sock, domain=b""):
    sock.plain_server = True
    if domain:
        sock.zap_domain = domain
    return sock


def plain_client(sock, user, password):
    sock.plain_username = user
    sock.plain_password = password
    return sock


@pytest.mark.parametrize("server_lib,client_lib", PAIRS, ids=PAIR_IDS)
def test_plain_req_rep_and_wrong_password(libs, authenticators, events, server_lib, client_lib):
    smod, sctx = libs[server_lib]
    cmod, cctx = libs[client_lib]
    auth = authenticators(server_lib, sctx)
    auth.configure_plain(domain="*", passwords={"admin": "secret"})
    server = plain_server(sctx.socket(smod.REP))
    endpoint = bind_tcp(server)
    honest = plain_client(cctx.socket(cmod.REQ), b"admin", b"secret")
    honest.connect(endpoint)
    got = request(honest, server, b"hello over plain")
    assert got.get("User-Id") == "admin"
    liar = plain_client(cctx.socket(cmod.REQ), b"admin", b"guess")
    liar_events = events(liar)
    liar.connect(endpoint)
    # gzmq sends libzmq 4.3's `5E 'RROR'`, so even a libzmq client sees an AUTH failure (400).
    assert liar_events.wait(Event.HANDSHAKE_FAILED_AUTH) == 400
    request(honest, server, b"after")
    liar.close(linger=0)


@pytest.mark.parametrize("server_lib,client_lib", PAIRS, ids=PAIR_IDS)
def test_plain_pub_sub(libs, authenticators, server_lib, client_lib):
    smod, sctx = libs[server_lib]
    cmod, cctx = libs[client_lib]
    auth = authenticators(server_lib, sctx)
    auth.configure_plain(domain="news", passwords={"reader": "pw"})
    pub = plain_server(sctx.socket(smod.PUB), domain=b"news")
    sub = plain_client(cctx.socket(cmod.SUB), b"reader", b"pw")
    sub.setsockopt(cmod.SUBSCRIBE, b"")
    sub.connect(bind_tcp(pub))
    assert publish_until_received(pub, sub, [b"headline"]) == [b"headline"]


@pytest.mark.parametrize("server_lib,client_lib", PAIRS, ids=PAIR_IDS)
def test_plain_without_authenticator_is_refused(libs, events, server_lib, client_lib):
    # libzmq: a PLAIN server needs a ZAP handler; without one it closes after HELLO.
    smod, sctx = libs[server_lib]
    cmod, cctx = libs[client_lib]
    server = plain_server(sctx.socket(smod.REP))
    server_events = events(server)
    client = plain_client(cctx.socket(cmod.REQ), b"admin", b"secret")
    client.connect(bind_tcp(server))
    server_events.wait(Event.HANDSHAKE_FAILED_NO_DETAIL)
    client.close(linger=0)


def test_plain_client_with_curve_server_mismatch(libs, events, server_keys):
    # Mechanisms must match exactly; the connection closes during the greeting.
    smod, sctx = libs["libzmq"]
    server = curve_server(sctx.socket(smod.REP), server_keys)
    server_events = events(server)
    client = plain_client(libs["gzmq"][1].socket(gzmq.REQ), b"a", b"b")
    client.connect(bind_tcp(server))
    assert server_events.wait(Event.HANDSHAKE_FAILED_PROTOCOL) == gzmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
    client.close(linger=0)
