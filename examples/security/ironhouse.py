"""CURVE encryption with client authentication ("Ironhouse", as in pyzmq's examples/security).

Makes certificates for a server and a client (the same files pyzmq and czmq read and write),
starts a gzmq.auth.GreenletAuthenticator that admits only 127.0.0.1 and only the client keys
in the public-keys directory, then runs a CURVE REP server and a REQ client. A second client
whose key is not on the list is refused, and the first one carries on undisturbed. Every
byte between them is encrypted; the server sees who is talking in the User-Id property.

Any of the three parts can be pyzmq instead: the wire protocol and the certificate files are
libzmq's.

    python examples/security/ironhouse.py [--keys DIR]
"""
import argparse
import logging
import os
import tempfile

import gevent

import gzmq as zmq
import gzmq.auth
from gzmq.auth import GreenletAuthenticator


def make_certificates(base_dir):
    """server and client key pairs; the client's public certificate goes to public_keys/."""
    keys_dir = os.path.join(base_dir, "certificates")
    public_dir = os.path.join(base_dir, "public_keys")
    os.makedirs(keys_dir, exist_ok=True)
    os.makedirs(public_dir, exist_ok=True)
    gzmq.auth.create_certificates(keys_dir, "server")
    client_public, _ = gzmq.auth.create_certificates(keys_dir, "client")
    os.replace(client_public, os.path.join(public_dir, "client.key"))
    gzmq.auth.create_certificates(keys_dir, "stranger")   # never added to public_keys/
    return keys_dir, public_dir


def serve(server):
    """Echo every request back in upper case, naming the authenticated client."""
    while True:
        frame = server.recv(copy=False)
        print(f"server: {frame.bytes!r} from User-Id {frame.get('User-Id')}", flush=True)
        server.send(frame.bytes.upper())


def client_socket(ctx, keys_dir, name, server_public, endpoint):
    client = ctx.socket(zmq.REQ)
    client.curve_publickey, client.curve_secretkey = gzmq.auth.load_certificate(
        os.path.join(keys_dir, f"{name}.key_secret"))
    client.curve_serverkey = server_public     # the client must know the server's key
    client.rcvtimeo = 1000
    client.linger = 0
    client.connect(endpoint)
    return client


def run(base_dir):
    """Returns (reply to the known client, whether the stranger was refused)."""
    ctx = zmq.Context()
    auth = GreenletAuthenticator(ctx)
    auth.start()
    try:
        keys_dir, public_dir = make_certificates(base_dir)
        auth.allow("127.0.0.1")
        auth.configure_curve(domain="*", location=public_dir)

        server = ctx.socket(zmq.REP)
        server_public, server_secret = gzmq.auth.load_certificate(os.path.join(keys_dir, "server.key_secret"))
        server.curve_secretkey = server_secret
        server.curve_publickey = server_public
        server.curve_server = True
        server.linger = 0
        server.bind("tcp://127.0.0.1:*")
        endpoint = server.last_endpoint.decode()
        worker = gevent.spawn(serve, server)

        client = client_socket(ctx, keys_dir, "client", server_public, endpoint)
        client.send(b"hello, secure world")
        reply = client.recv()
        print(f"client: {reply!r}", flush=True)

        stranger = client_socket(ctx, keys_dir, "stranger", server_public, endpoint)
        stranger.send(b"let me in")
        try:
            stranger.recv()
            refused = False
        except zmq.Again:
            refused = True
            print("stranger: refused (its key is not in public_keys/)", flush=True)
        stranger.close()

        client.send(b"still here")
        print(f"client: {client.recv()!r}", flush=True)
        worker.kill()
        return reply, refused
    finally:
        auth.stop()
        ctx.destroy(linger=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", help="directory for the certificates (default: a temporary one)")
    args = parser.parse_args(argv)
    # gzmq logs every refused handshake at WARNING, and a refused client keeps retrying
    # (RECONNECT_IVL, as libzmq does): show only errors here.
    logging.basicConfig(format="%(name)s: %(message)s")
    logging.getLogger("gzmq").setLevel(logging.ERROR)
    if args.keys:
        run(args.keys)
    else:
        with tempfile.TemporaryDirectory() as base_dir:
            run(base_dir)


if __name__ == "__main__":
    gevent.get_hub().NOT_ERROR += (KeyboardInterrupt,)  # Ctrl-C: no traceback from the hub
    try:
        main()
    except KeyboardInterrupt:
        pass
