"""PyNaCl is optional (the `curve` extra) and pyzmq is a test-only dependency."""
import subprocess
import sys
import textwrap


def run_python(code):
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_without_pynacl_curve_fails_clearly_and_the_rest_works():
    run_python("""
        import sys
        sys.modules["nacl"] = None          # as if PyNaCl were not installed
        import gevent, gzmq, gzmq.auth
        assert not gzmq.has("curve")
        s = gzmq.Context().socket(gzmq.REP)
        try:
            s.curve_server = True
        except gzmq.ZMQError as exc:
            assert exc.errno == gzmq.EINVAL and "PyNaCl" in str(exc), exc
        else:
            raise AssertionError("CURVE_SERVER accepted without PyNaCl")
        try:
            gzmq.curve_keypair()
        except gzmq.ZMQError as exc:
            assert exc.errno == gzmq.ENOTSUP and "PyNaCl" in str(exc), exc
        else:
            raise AssertionError("curve_keypair worked without PyNaCl")
        try:
            import gzmq.zmtp.mechanisms.curve
        except ImportError as exc:
            assert "pip install 'gzmq[curve]'" in str(exc), exc
        # PLAIN with the authenticator needs no PyNaCl.
        ctx = gzmq.Context()
        auth = gzmq.auth.GreenletAuthenticator(ctx)
        auth.start()
        auth.configure_plain(passwords={"u": "p"})
        server = ctx.socket(gzmq.REP)
        server.plain_server = True
        server.bind("tcp://127.0.0.1:*")
        client = ctx.socket(gzmq.REQ)
        client.plain_username, client.plain_password = b"u", b"p"
        client.connect(server.last_endpoint.decode())
        with gevent.Timeout(10):
            client.send(b"hi")
            assert server.recv(copy=False).get("User-Id") == "u"
        auth.stop()
        ctx.destroy(linger=0)
    """)


def test_gzmq_security_never_imports_pyzmq():
    run_python("""
        import sys
        import gzmq, gzmq.auth, gzmq.auth.thread, gzmq.security, gzmq.security.zap
        import gzmq.zmtp.mechanisms.curve, gzmq.zmtp.mechanisms.plain, gzmq.utils.z85
        gzmq.curve_keypair()
        assert "zmq" not in sys.modules, "gzmq imported pyzmq"
    """)
