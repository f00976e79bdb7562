"""ZAP authentication (RFC 27) for gzmq, shaped like pyzmq's zmq.auth.

    from gzmq.auth import GreenletAuthenticator, CURVE_ALLOW_ANY, create_certificates

Authenticator (base) holds the policy and answers requests; GreenletAuthenticator runs it in
a greenlet; ThreadAuthenticator is the same under pyzmq's name (also importable from
gzmq.auth.thread, as zmq.auth.thread). Certificate helpers are in gzmq.auth.certs and
read and write the same files as pyzmq and czmq.
"""
from .base import CURVE_ALLOW_ANY, Authenticator
from .certs import create_certificates, load_certificate, load_certificates
from .green import GreenletAuthenticator
from .thread import ThreadAuthenticator

__all__ = ["Authenticator", "CURVE_ALLOW_ANY", "GreenletAuthenticator", "ThreadAuthenticator",
           "create_certificates", "load_certificate", "load_certificates"]
