"""https and wss: ``--tls-cert/--tls-key`` on the real ``python -m bridge``, checked with curl,
Python's ssl client (ALPN, old protocol versions), websocket-client and headless Chromium.

The certificate is made here by the openssl command line (a P-256 key, CN and SAN for
localhost and 127.0.0.1), valid for a day. Chromium trusts it through --ignore-certificate-errors
(a fresh profile each time, as every browser test here)."""
import json
import socket
import ssl
import subprocess
import time

import pytest
import websocket

from bridge.server import tls_context
from cdp import Chromium
from wskit import Publisher, recv_json, send_json

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    key, crt = directory / "key.pem", directory / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(crt), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=30)
    return str(crt), str(key)


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "a.txt").write_text("over tls")
    (root / "ws.html").write_text("""<!doctype html><meta charset="utf-8"><title>wss</title><script>
window.got = [];
const ws = new WebSocket("wss://" + location.host + "/live/");
ws.onopen = () => { window.extensions = ws.extensions;
                    ws.send(JSON.stringify({op: "subscribe", topic: "t", id: 1})); };
ws.onmessage = (e) => window.got.push(JSON.parse(e.data));
</script>""")
    return root


def test_https_with_curl_and_alpn(cert, site, bridge_factory):
    crt, key = cert
    bridge = bridge_factory("--static", f"/={site}", "--tls-cert", crt, "--tls-key", key)
    assert bridge.info["scheme"] == "https"
    url = f"https://localhost:{bridge.port}/a.txt"
    out = subprocess.run(["curl", "-sS", "--cacert", crt, "--resolve", f"localhost:{bridge.port}:127.0.0.1",
                          "-w", "\\n%{http_code} %{http_version}", url, url],     # two on one connection
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n") == ["over tls", "200 1.1over tls", "200 1.1"]
    # ALPN: http/1.1 is chosen even when h2 is offered first.
    context = ssl.create_default_context(cafile=crt)
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", bridge.port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
    # Below TLS 1.2 is refused by the server's own setting (a client library of today would
    # refuse first, so ask the context rather than a handshake).
    assert tls_context(crt, key).minimum_version == ssl.TLSVersion.TLSv1_2


def test_tls_handshake_is_bounded_and_garbage_is_dropped(cert, site, bridge_factory):
    crt, key = cert
    bridge = bridge_factory("--static", f"/={site}", "--tls-cert", crt, "--tls-key", key, "--header-timeout", "1")
    silent = socket.create_connection(("127.0.0.1", bridge.port), timeout=10)
    plain = socket.create_connection(("127.0.0.1", bridge.port), timeout=10)
    plain.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")          # plain HTTP on the TLS port
    started = time.monotonic()
    assert silent.recv(10) == b""                                   # closed at the handshake timeout
    assert time.monotonic() - started < 5
    data = b""
    try:                                                            # a TLS alert at most, then closed
        while chunk := plain.recv(1000):
            data += chunk
    except ConnectionResetError:
        pass
    assert b"HTTP" not in data
    silent.close()
    plain.close()
    out = subprocess.run(["curl", "-sS", "-k", f"https://127.0.0.1:{bridge.port}/a.txt"], capture_output=True,
                         text=True, timeout=30)
    assert out.stdout == "over tls"                                 # still serving


def test_a_tls_browser_that_stops_reading_is_dropped_after_send_timeout(cert, site, bridge_factory, deadline):
    crt, key = cert
    (site / "big.bin").write_bytes(b"\0" * (16 << 20))
    bridge = bridge_factory("--static", f"/={site}", "--tls-cert", crt, "--tls-key", key, "--send-timeout", "1")
    context = ssl.create_default_context(cafile=crt)
    raw = socket.create_connection(("127.0.0.1", bridge.port), timeout=10)
    tls = context.wrap_socket(raw, server_hostname="localhost")
    tls.sendall(b"GET /big.bin HTTP/1.1\r\nHost: localhost\r\n\r\n")   # and never read
    tls.recv(100)                                                   # the response has started

    def open_connections():
        out = subprocess.run(["curl", "-sS", "--cacert", crt, "--resolve", f"localhost:{bridge.port}:127.0.0.1",
                              f"https://localhost:{bridge.port}/_bridge/metrics"], capture_output=True,
                             text=True, timeout=30).stdout
        return int(next(line.split()[1] for line in out.splitlines()
                        if line.startswith("bridge_open_connections ")))

    end = time.monotonic() + 15
    while open_connections() > 1:                                   # the metrics request itself
        assert time.monotonic() < end, "the stalled TLS connection was never dropped"
        time.sleep(0.2)
    tls.close()


def test_wss_with_compression_from_python_and_chromium(cert, site, pyzmq, zctx, bridge_factory, chromium_bin,
                                                       tmp_path, deadline):
    crt, key = cert
    publisher = Publisher(pyzmq, zctx)
    bridge = bridge_factory("--route", f"/live/=pubsub:{publisher.endpoint}", "--static", f"/={site}",
                            "--tls-cert", crt, "--tls-key", key)
    try:
        with deadline(60):
            # websocket-client cannot inflate, so it makes no offer; Chromium below does.
            ws = websocket.create_connection(f"wss://127.0.0.1:{bridge.port}/live/", timeout=10,
                                             sslopt={"ca_certs": crt, "check_hostname": False})
            send_json(ws, {"op": "subscribe", "topic": "t", "id": 1})
            assert recv_json(ws)["id"] == 1
            assert publisher.subscription() == (True, b"t")
            publisher.send(b"t", b"one")
            assert recv_json(ws)["data"] == "one"
            ws.close()
            assert publisher.subscription() == (False, b"t")
            browser = Chromium(chromium_bin, str(tmp_path), extra_flags=["--ignore-certificate-errors"])
            try:
                page = browser.page()
                page.navigate(f"https://127.0.0.1:{bridge.port}/ws.html")
                page.wait_for("window.got && window.got.length === 1")      # the subscribe's ack
                assert page.evaluate("window.extensions") == "permessage-deflate"
                assert publisher.subscription() == (True, b"t")
                for n in range(20):
                    publisher.send(b"t", json.dumps({"n": n, "text": "compressed " * 20}).encode())
                page.wait_for("window.got.length === 21")
                got = page.evaluate("window.got.slice(1).map(m => JSON.parse(m.data).n)")
                assert got == list(range(20))
                page.close()
            finally:
                browser.stop()
    finally:
        publisher.close()
