"""Z85, CURVE key options, key pairs and certificate files: the same results as pyzmq/libzmq."""
import os
import stat
import threading

import pytest

import gzmq
import gzmq.auth
from gzmq.auth.thread import ThreadAuthenticator
from gzmq.utils import z85

from .conftest import bind_tcp, curve_client, curve_server, request


# -- Z85 (RFC 32) ---------------------------------------------------------------------------
def test_z85_rfc_vector():
    raw = bytes([0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B])
    assert z85.encode(raw) == b"HelloWorld"
    assert z85.decode(b"HelloWorld") == raw
    assert z85.decode("HelloWorld") == raw


def test_z85_matches_pyzmq(pyzmq):
    from zmq.utils import z85 as pz
    for n in range(0, 64, 4):
        raw = os.urandom(n)
        assert z85.encode(raw) == pz.encode(raw)
        assert z85.decode(pz.encode(raw)) == raw
    assert z85.encode(b"\xff" * 4) == pz.encode(b"\xff" * 4)


@pytest.mark.parametrize("bad", [b"abc", b"Hello World", b"%%%%%"[:4], "Hellö"])
def test_z85_decode_rejects(bad):
    with pytest.raises(ValueError):
        z85.decode(bad)


def test_z85_rejects_overflowing_group_and_bad_length():
    with pytest.raises(ValueError):
        z85.decode(b"#####")          # 85^5 - 1 does not fit 32 bits
    with pytest.raises(ValueError):
        z85.encode(b"abc")


# -- key pairs --------------------------------------------------------------------------------
def test_curve_keypair_and_public(pyzmq):
    public, secret = gzmq.curve_keypair()
    assert len(public) == len(secret) == 40
    assert gzmq.curve_public(secret) == public
    assert gzmq.curve_public(secret.decode()) == public
    # libzmq agrees on the derivation.
    assert pyzmq.curve_public(secret) == public
    lpublic, lsecret = pyzmq.curve_keypair()
    assert gzmq.curve_public(lsecret) == lpublic
    with pytest.raises(ValueError):
        gzmq.curve_public(secret[:39])
    assert gzmq.has("curve")


# -- socket options -----------------------------------------------------------------------------
@pytest.mark.parametrize("option", ["CURVE_PUBLICKEY", "CURVE_SECRETKEY", "CURVE_SERVERKEY"])
def test_curve_key_options_accept_raw_and_z85(gctx, option):
    public, _ = gzmq.curve_keypair()
    raw = z85.decode(public)
    opt = getattr(gzmq, option)
    sock = gctx.socket(gzmq.DEALER)
    for value in (public, raw, public + b"\x00"):
        sock.setsockopt(opt, value)
        assert sock.getsockopt(opt) == public   # read back as Z85 text, whatever was given
    sock.setsockopt_string(opt, public.decode())
    assert sock.getsockopt_string(opt) == public.decode()
    for bad in (b"", b"x" * 31, b"x" * 33, public[:39], b"~" * 40):
        with pytest.raises(gzmq.ZMQError) as exc:
            sock.setsockopt(opt, bad)
        assert exc.value.errno == gzmq.EINVAL


def test_mechanism_option(gctx):
    public, secret = gzmq.curve_keypair()
    s = gctx.socket(gzmq.REP)
    assert s.mechanism == gzmq.NULL
    s.curve_server = True
    assert s.mechanism == gzmq.CURVE
    c = gctx.socket(gzmq.REQ)
    c.curve_serverkey = public
    assert c.mechanism == gzmq.CURVE and c.curve_server == 0
    p = gctx.socket(gzmq.REQ)
    p.plain_username = b"u"
    assert p.mechanism == gzmq.PLAIN
    with pytest.raises(gzmq.ZMQError):
        p.plain_password = b"x" * 256


def test_curve_keys_from_options_interop(libs, green, server_keys, client_keys):
    # Raw 32-byte keys on one side, Z85 on the other: the same keys.
    server = libs["gzmq"][1].socket(gzmq.REP)
    server.curve_server = True
    server.curve_secretkey = z85.decode(server_keys[1])
    client = curve_client(libs["libzmq"][1].socket(green.REQ), client_keys, server_keys[0])
    client.connect(bind_tcp(server))
    request(client, server)


# -- certificates ---------------------------------------------------------------------------------
def test_gzmq_certificates_load_in_pyzmq(pyzmq, cert_dir):
    import zmq.auth
    public_file, secret_file = gzmq.auth.create_certificates(cert_dir, "server", metadata={"name": "srv"})
    assert public_file.endswith("server.key") and secret_file.endswith("server.key_secret")
    public, secret = zmq.auth.load_certificate(secret_file)
    assert gzmq.curve_public(secret) == public
    assert zmq.auth.load_certificate(public_file) == (public, None)
    assert zmq.auth.load_certificates(cert_dir) == {public: True}
    assert gzmq.auth.load_certificate(secret_file) == (public, secret)
    # The secret certificate is private to its owner.
    assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600


def test_pyzmq_certificates_load_in_gzmq(pyzmq, cert_dir):
    import zmq.auth
    public_file, secret_file = zmq.auth.create_certificates(cert_dir, "client", metadata={"k": "v"})
    public, secret = gzmq.auth.load_certificate(secret_file)
    assert zmq.auth.load_certificate(secret_file) == (public, secret)
    assert gzmq.auth.load_certificate(public_file) == (public, None)
    assert gzmq.auth.load_certificates(cert_dir) == {public: True}
    assert gzmq.curve_public(secret) == public


def test_load_certificate_errors(cert_dir):
    with pytest.raises(OSError):
        gzmq.auth.load_certificate(os.path.join(cert_dir, "missing.key"))
    path = os.path.join(cert_dir, "empty.key")
    with open(path, "w") as f:
        f.write("# nothing\nmetadata\ncurve\n")
    with pytest.raises(ValueError):
        gzmq.auth.load_certificate(path)
    with pytest.raises(OSError):
        gzmq.auth.load_certificates(os.path.join(cert_dir, "no-such-dir"))


@pytest.mark.parametrize("maker", ["gzmq", "pyzmq"])
def test_certificate_directory_drives_the_authenticator(libs, green, cert_dir, maker):
    """Certificates made by either library authorise a libzmq client at a gzmq server."""
    import zmq.auth
    create = gzmq.auth.create_certificates if maker == "gzmq" else zmq.auth.create_certificates
    keys_dir = os.path.join(cert_dir, "keys")
    public_dir = os.path.join(cert_dir, "public")
    os.mkdir(keys_dir)
    os.mkdir(public_dir)
    _, server_secret_file = create(keys_dir, "server")
    client_public_file, client_secret_file = create(keys_dir, "client")
    os.rename(client_public_file, os.path.join(public_dir, "client.key"))
    gctx = libs["gzmq"][1]
    auth = ThreadAuthenticator(gctx)   # pyzmq's name works the same
    auth.start()
    try:
        auth.configure_curve(domain="*", location=public_dir)
        server_keys = gzmq.auth.load_certificate(server_secret_file)
        client_keys = zmq.auth.load_certificate(client_secret_file)
        server = curve_server(gctx.socket(gzmq.REP), server_keys)
        client = curve_client(libs["libzmq"][1].socket(green.REQ), client_keys, server_keys[0])
        client.connect(bind_tcp(server))
        assert request(client, server).get("User-Id") == client_keys[0].decode()
        assert auth.is_alive()
        # pyzmq's `thread`: an OS thread in I/O-thread mode, the greenlet in a gevent program
        if gctx.io_mode == "thread":
            assert isinstance(auth.thread, threading.Thread) and auth.greenlet is None
        else:
            assert auth.thread is auth.greenlet
    finally:
        auth.stop()


def test_configure_curve_can_change_the_setting(libs, events, green, cert_dir, server_keys, client_keys):
    """configure_curve again (pyzmq semantics): from allow-any to a directory without our key."""
    gctx = libs["gzmq"][1]
    auth = gzmq.auth.GreenletAuthenticator(gctx)
    auth.start()
    try:
        auth.configure_curve(domain="*", location=gzmq.auth.CURVE_ALLOW_ANY)
        server = curve_server(gctx.socket(gzmq.REP), server_keys)
        endpoint = bind_tcp(server)
        first = curve_client(libs["libzmq"][1].socket(green.REQ), client_keys, server_keys[0])
        first.connect(endpoint)
        request(first, server)
        auth.configure_curve(domain="*", location=cert_dir)   # empty: nobody allowed now
        second = curve_client(libs["libzmq"][1].socket(green.REQ), client_keys, server_keys[0])
        second_events = events(second)
        second.connect(endpoint)
        assert second_events.wait(gzmq.Event.HANDSHAKE_FAILED_AUTH) == 400
        request(first, server)   # an established session is not re-checked (as libzmq)
        second.close(linger=0)
    finally:
        auth.stop()


def test_allow_and_deny_are_exclusive(gctx):
    auth = gzmq.auth.Authenticator(gctx)
    auth.allow("127.0.0.1")
    with pytest.raises(ValueError):
        auth.deny("10.0.0.1")


def test_deny_address_refuses_null(libs, events, green):
    gctx = libs["gzmq"][1]
    auth = gzmq.auth.GreenletAuthenticator(gctx)
    auth.start()
    try:
        auth.deny("127.0.0.1")
        server = gctx.socket(gzmq.REP)
        server.zap_domain = b"global"
        client = libs["libzmq"][1].socket(green.REQ)
        client_events = events(client)
        client.connect(bind_tcp(server))
        assert client_events.wait(gzmq.Event.HANDSHAKE_FAILED_AUTH) == 400
        client.close(linger=0)
    finally:
        auth.stop()
