"""Security for gzmq sockets: PLAIN (RFC 24), CURVE (RFC 25/26) and ZAP (RFC 27).

The mechanisms themselves are sans-IO state machines in gzmq.zmtp.mechanisms; this package
is the glue to a socket:

    make_mechanism(options)             the Mechanism for one new connection, from the socket's
                                        options as its engine holds them (EngineOptions)
    options.check_option(option, value) setsockopt validation (CURVE keys: 32 raw bytes or
                                        40 Z85 characters, stored raw; EINVAL otherwise)
    zap.zap_request(socket, session, request)
                                        asks the ZAP handler bound at inproc://zeromq.zap.01
    keys.curve_keypair(), keys.curve_public()   pyzmq's zmq.curve_keypair/curve_public

Who is let in is decided by a ZAP handler (for example gzmq.auth.GreenletAuthenticator),
exactly as with libzmq: a PLAIN server refuses everyone while no handler is bound, a CURVE
server then admits any client that knows its public key, and NULL asks only when ZAP_DOMAIN
is set. CURVE needs PyNaCl (the `curve` extra), imported only when CURVE is used.
Called by gzmq.engine.session (make_mechanism) and gzmq.sockets (setsockopt).
"""
import logging

from ..constants import SecurityMechanism, SocketOption
from ..zmtp.mechanisms.plain import PlainClient, PlainServer

try:
    from ..zmtp.mechanisms.curve import CurveClient, CurveServer
except ImportError:     # no PyNaCl: CURVE options are refused at setsockopt (security.options)
    CurveClient = CurveServer = None  # type: ignore[misc, assignment]

log = logging.getLogger("gzmq")

O = SocketOption
_ZERO_KEY = b"\x00" * 32


def make_mechanism(options):
    """The PLAIN or CURVE Mechanism for a new connection (options: the socket's
    EngineOptions, which say which mechanism).

    Never raises for missing keys: like libzmq, an unset CURVE key is 32 zero bytes, and the
    handshake then fails on the wire (logged here so the cause is findable).
    """
    o = options.values
    if options.mechanism == SecurityMechanism.PLAIN:
        if o[O.PLAIN_SERVER]:
            return PlainServer()
        return PlainClient(o[O.PLAIN_USERNAME], o[O.PLAIN_PASSWORD])
    if options.mechanism == SecurityMechanism.CURVE:
        if o[O.CURVE_SERVER]:
            return CurveServer(_key(options, O.CURVE_SECRETKEY))
        return CurveClient(_key(options, O.CURVE_PUBLICKEY), _key(options, O.CURVE_SECRETKEY),
                           _key(options, O.CURVE_SERVERKEY))
    raise ValueError(f"unknown security mechanism {options.mechanism!r}")


def _key(options, option):
    key = options.values[option]
    if not key:
        log.warning("%s socket uses CURVE without %s: using a zero key as libzmq does, "
                    "so the handshake will fail", options.type_name, option.name)
        return _ZERO_KEY
    return key
