"""zmq.STREAM (issue 20) with real raw peers: a plain socket client, curl against a STREAM HTTP
server, a STREAM client of a real HTTP server (gevent's pywsgi), and pyzmq's STREAM both ways.

libzmq's semantics: every message is [routing id, data]; [id, b""] announces a connection and
its end (STREAM_NOTIFY, on by default); sending [id, b""] closes that connection after what
was sent before it; an unknown id is EHOSTUNREACH.
"""
import errno
import shutil

import gevent
import pytest
from gevent import socket as gsocket
from gevent import subprocess
from gevent.pywsgi import WSGIServer

import gzmq
from tests.tools.peers import require_peer

from .support import bind, recv_within


def stream_socket(gctx, **options):
    s = gctx.socket(gzmq.STREAM)
    s.linger = 0
    for name, value in options.items():
        setattr(s, name, value)
    return s


def host_port(endpoint):
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    return host, int(port)


def test_raw_client_notifications_data_and_close(gctx, deadline):
    server = stream_socket(gctx)
    ep = bind(server, "tcp://127.0.0.1:*")
    with deadline(10):
        client = gsocket.create_connection(host_port(ep))
        rid, empty = recv_within(server)                  # connected
        assert empty == b"" and len(rid) == 5 and rid[0] == 0
        client.sendall(b"hello")
        assert recv_within(server) == [rid, b"hello"]
        server.send_multipart([rid, b"world"])
        assert client.recv(100) == b"world"
        server.send_multipart([rid, b"bye"])
        server.send_multipart([rid, b""])                 # close it, after "bye"
        got = b""
        while True:
            chunk = client.recv(100)
            if not chunk:
                break
            got += chunk
        assert got == b"bye"
        client.close()
        with pytest.raises(gzmq.ZMQError) as info:        # the id is gone
            server.send_multipart([rid, b"late"])
        assert info.value.errno == errno.EHOSTUNREACH


def test_peer_disconnect_is_notified(gctx, deadline):
    server = stream_socket(gctx)
    ep = bind(server, "tcp://127.0.0.1:*")
    with deadline(10):
        client = gsocket.create_connection(host_port(ep))
        rid, _ = recv_within(server)
        client.sendall(b"x")
        assert recv_within(server) == [rid, b"x"]
        client.close()
        assert recv_within(server) == [rid, b""]          # disconnected


def test_stream_notify_off(gctx, deadline):
    server = stream_socket(gctx, stream_notify=0)
    ep = bind(server, "tcp://127.0.0.1:*")
    with deadline(10):
        client = gsocket.create_connection(host_port(ep))
        client.sendall(b"first")
        rid, data = recv_within(server)
        assert data == b"first"                           # no [id, b""] before it
        client.close()
        assert not server.poll(300)                       # nor after


def test_unknown_routing_id_is_ehostunreach(gctx):
    server = stream_socket(gctx)
    with pytest.raises(gzmq.ZMQError) as info:
        server.send_multipart([b"\x00nope", b"data"])
    assert info.value.errno == errno.EHOSTUNREACH


def test_curl_against_a_stream_http_server(gctx, deadline):
    curl = shutil.which("curl")
    require_peer("curl", curl)
    server = stream_socket(gctx)
    ep = bind(server, "tcp://127.0.0.1:*")
    host, port = host_port(ep)
    with deadline(30):
        proc = subprocess.Popen([curl, "-s", "-i", f"http://{host}:{port}/hello"],
                                stdout=subprocess.PIPE, text=True)
        rid, _ = recv_within(server)                       # connected
        request = b""
        while b"\r\n\r\n" not in request:
            got_rid, data = recv_within(server)
            assert got_rid == rid
            request += data
        assert request.startswith(b"GET /hello HTTP/1.1\r\n")
        body = b"Hello from a STREAM socket\n"
        server.send_multipart([rid, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                               b"Content-Length: %d\r\n\r\n" % len(body) + body])
        server.send_multipart([rid, b""])                  # close, as an HTTP/1.0-style server
        out, _ = proc.communicate()
    assert proc.returncode == 0
    assert out.startswith("HTTP/1.1 200 OK") and out.endswith(body.decode())


def test_stream_client_of_a_real_http_server(gctx, deadline):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close")])
        return [b"served by pywsgi to " + environ["PATH_INFO"].encode()]

    http = WSGIServer(("127.0.0.1", 0), app, log=None)
    http.start()
    try:
        client = stream_socket(gctx)
        client.setsockopt(gzmq.CONNECT_ROUTING_ID, b"web")
        client.connect(f"tcp://127.0.0.1:{http.server_port}")
        with deadline(20):
            assert recv_within(client) == [b"web", b""]      # connected
            client.send_multipart([b"web", b"GET /page HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"])
            response = b""
            while True:
                rid, data = recv_within(client)
                assert rid == b"web"
                if not data:
                    break                                     # the server closed: notified
                response += data
        assert response.startswith(b"HTTP/1.1 200 OK")
        assert response.endswith(b"served by pywsgi to /page")
    finally:
        http.stop(timeout=1)


@pytest.mark.parametrize("gzmq_binds", [True, False], ids=["gzmq-binds", "pyzmq-binds"])
def test_pyzmq_stream_interop(gctx, lctx, green, gzmq_binds, deadline):
    ours = stream_socket(gctx)
    theirs = lctx.socket(green.STREAM)
    theirs.linger = 0
    if gzmq_binds:
        server, client = ours, theirs
        ep = bind(ours, "tcp://127.0.0.1:*")
        theirs.connect(ep)
    else:
        server, client = theirs, ours
        ep = bind(theirs, "tcp://127.0.0.1:*")
        ours.connect(ep)
    with deadline(10):
        client_rid, empty = recv_within(client)             # each side sees the other connect
        assert empty == b""
        server_rid, empty = recv_within(server)
        assert empty == b""
        client.send_multipart([client_rid, b"ping"])
        assert recv_within(server) == [server_rid, b"ping"]
        server.send_multipart([server_rid, b"pong"])
        assert recv_within(client) == [client_rid, b"pong"]
        server.send_multipart([server_rid, b""])             # the server closes it
        assert recv_within(client) == [client_rid, b""]      # the client is told
