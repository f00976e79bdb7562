"""ws:// and wss://: ZeroMQ over WebSocket (ZWS 2.0, RFC 45), for every socket type.

Endpoints as libzmq's: `ws://HOST:PORT/PATH` (bind: HOST may be `*`, PORT `*` or 0; PATH
defaults to `/`, and the resolved endpoint keeps it, `ws://127.0.0.1:5555/`), `wss://` the
same over TLS. The server takes any path, as libzmq does.

A ws connection is a tcp connection that first does the HTTP upgrade (gzmq.zws.handshake),
bounded by HANDSHAKE_IVL, with the subprotocol naming the mechanism (`ZWS2.0/NULL`,
`ZWS2.0/PLAIN`, `ZWS2.0/CURVE`, or the bare `ZWS2.0` JSZMQ speaks); after it, every ZMTP frame
is one binary WebSocket message with a flag byte. The session (gzmq.engine.session) is the
same as for tcp: it speaks ZMTP 3 over one end of a socketpair, and a relay of two greenlets
translates between that stream and the WebSocket (gzmq.zws.translate), so every socket type,
mechanism, heartbeat and limit works as over tcp. The relay costs a copy each way; it keeps
the session free of WebSocket knowledge.

Options: MAXMSGSIZE bounds each WebSocket frame from its head (close 1009, the peer dropped);
HANDSHAKE_IVL bounds the upgrade; WS_ALLOWED_ORIGINS (gzmq's, a list of origins separated by
spaces or commas) makes a binding refuse (403) a browser whose Origin is not listed. wss://
uses Python's ssl: WSS_CERT_PEM and WSS_KEY_PEM (the PEM texts, as libzmq) on bind;
WSS_TRUST_PEM (CA PEM text) and/or WSS_TRUST_SYSTEM, and WSS_HOSTNAME (default: the endpoint's
host), on connect; the server's certificate is always verified. A peer that breaks the
upgrade, RFC 6455 or RFC 45 is logged and dropped; the socket carries on.
"""
import logging
import os
import socket as _stdsocket
import ssl
import tempfile
import weakref

import gevent
from gevent import socket as gsocket
from gevent.event import Event
from gevent import ssl as gssl      # cooperative TLS on the engine hub

from ..constants import Errno, SecurityMechanism, SocketOption
from ..error import ZMQError
from ..engine.endpoints import Listener
from ..zws import frames
from ..zws.frames import ZWSError
from ..zws.handshake import BARE, ClientHandshake, HandshakeError, ServerHandshake, refusal
from ..zws.translate import PING, ZMTP_COMMAND, ZmtpReader, ZmtpWriter
from . import tcp

log = logging.getLogger("gzmq")
O = SocketOption

READ_SIZE = 256 * 1024
CLOSE_WAIT = 5.0      # seconds a closing relay waits for the peer's close frame or EOF
_MECHANISM_NAMES = {SecurityMechanism.NULL: b"NULL", SecurityMechanism.PLAIN: b"PLAIN",
                    SecurityMechanism.CURVE: b"CURVE"}
_peer_addresses: "weakref.WeakKeyDictionary[object, str]" = weakref.WeakKeyDictionary()  # session-side socket -> the peer's IP


def _split_path(address, endpoint):
    slash = address.find("/", address.find("]") + 1 if address.startswith("[") else 0)
    if slash < 0:
        return address, "/"
    return address[:slash], address[slash:]


def _settings(options):
    """(mechanism name, as_server, handshake seconds, maxmsgsize, values) from EngineOptions."""
    eo = options["engine_options"]
    values = eo.values
    as_server = bool(values[O.PLAIN_SERVER] or values[O.CURVE_SERVER])
    return _MECHANISM_NAMES.get(eo.mechanism, b"NULL"), as_server, eo.handshake_ivl, eo.maxmsgsize, values


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else (value or "")


class WsNet:
    """The network half StreamTransport drives (as gzmq.transports.tcp), for ws or wss."""

    ASYNC_CONNECT = True

    def __init__(self, tls):
        self.tls = tls
        self.scheme = "wss" if tls else "ws"

    # -- bind ------------------------------------------------------------------------------
    def listen(self, address, endpoint, options):
        hostport, path = _split_path(address, endpoint)
        if self.tls:
            _server_context(options["engine_options"].values, endpoint)   # fail bind() early
        lsock, tcp_endpoint, _ = tcp.listen(hostport, endpoint, options)
        return lsock, f"{self.scheme}://{tcp_endpoint[len('tcp://'):]}{path}", None

    @property
    def Listener(self):
        return WsListener

    # -- connect ---------------------------------------------------------------------------
    def parse_connect(self, address, endpoint, options):
        hostport, path = _split_path(address, endpoint)
        return tcp.parse_connect(hostport, endpoint, options), hostport, path

    def connect(self, target, endpoint, options, timeout=None):
        tcp_target, hostport, path = target
        sock = tcp.connect(tcp_target, endpoint, options, timeout)
        try:
            tcp.configure(sock, options)
            mechanism, as_server, handshake_s, maxmsgsize, values = _settings(options)
            with gevent.Timeout(handshake_s or None, OSError(f"{endpoint}: WebSocket upgrade timed out")):
                if self.tls:
                    host = _text(values[O.WSS_HOSTNAME]) or tcp_target[0]
                    sock = _client_context(values).wrap_socket(sock, server_hostname=host)
                hs = ClientHandshake(hostport, path, mechanism)
                sock.sendall(hs.request())
                while hs.receive_data(_recv(sock)) is None:
                    pass
        except HandshakeError as exc:
            sock.close()
            log.warning("%s: WebSocket upgrade failed: %s", endpoint, exc)
            raise OSError(Errno.EPROTO, str(exc)) from None
        except BaseException as exc:
            exc.gzmq_fd = -1
            sock.close()
            raise
        return _start_relay(sock, hs.protocol, hs.rest, mechanism, as_server, maxmsgsize,
                            client=True, endpoint=endpoint)

    def configure(self, sock, options):
        # The tcp connection is configured where it is made; the session's end is a socketpair.
        if sock.family in (_stdsocket.AF_INET, _stdsocket.AF_INET6):
            tcp.configure(sock, options)

    def peer_address(self, sock):
        return _peer_addresses.get(sock, "")


def _recv(sock):
    data = sock.recv(4096)
    if not data:
        raise OSError(Errno.ECONNRESET, "connection closed during the WebSocket upgrade")
    return data


def _server_context(values, endpoint):
    cert, key = values[O.WSS_CERT_PEM], values[O.WSS_KEY_PEM]
    if not cert or not key:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: wss:// bind needs WSS_CERT_PEM and WSS_KEY_PEM")
    ctx = gssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # ssl loads a certificate chain from files only: hand it the PEM texts through a private
    # temporary file, removed at once.
    fd, path = tempfile.mkstemp(prefix="gzmq-wss-", suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(_pem(cert) + b"\n" + _pem(key))
        ctx.load_cert_chain(path)
    except ssl.SSLError as exc:
        raise ZMQError(Errno.EINVAL, f"{endpoint}: WSS_CERT_PEM/WSS_KEY_PEM: {exc}") from None
    finally:
        os.unlink(path)
    return ctx


def _pem(value):
    return value.encode("ascii") if isinstance(value, str) else bytes(value)


def _client_context(values):
    ctx = gssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if values[O.WSS_TRUST_PEM]:
        ctx.load_verify_locations(cadata=_pem(values[O.WSS_TRUST_PEM]).decode("ascii"))
    if values[O.WSS_TRUST_SYSTEM] or not values[O.WSS_TRUST_PEM]:
        ctx.load_default_certs()
    return ctx


class WsListener(Listener):
    """Accepts as tcp's, then upgrades each connection in a greenlet of its own (bounded by
    HANDSHAKE_IVL) before its session starts; a failed upgrade drops only that connection."""

    def __init__(self, *args, **kwargs):
        self._upgrades = set()
        super().__init__(*args, **kwargs)
        self.tls_context = None
        values = self.engine.options.values
        if self.transport.tls:
            self.tls_context = _server_context(values, self.endpoint)

    def accepted(self, sock):
        g = gevent.spawn(self._upgrade, sock)
        self._upgrades.add(g)
        g.link(self._upgrades.discard)

    def _upgrade(self, sock):
        engine = self.engine
        options = engine.options.transport
        mechanism, as_server, handshake_s, maxmsgsize, values = _settings(options)
        origins = _text(values.get(O.WS_ALLOWED_ORIGINS, b"")).replace(",", " ").split()
        peer = tcp.peer_address(sock)
        hs = ServerHandshake(mechanism, origins)
        try:
            with gevent.Timeout(handshake_s or None, HandshakeError("upgrade not completed within HANDSHAKE_IVL")):
                if self.tls_context is not None:
                    sock = self.tls_context.wrap_socket(sock, server_side=True)
                try:
                    while hs.receive_data(_recv(sock)) is None:
                        pass
                except HandshakeError as exc:
                    try:
                        sock.sendall(refusal(exc))
                    except OSError:
                        pass
                    raise
                sock.sendall(hs.response())
        except (HandshakeError, OSError, ssl.SSLError) as exc:
            log.warning("%s: dropping peer %s: WebSocket upgrade failed: %s", self.endpoint, peer, exc)
            sock.close()
            return
        inner = _start_relay(sock, hs.protocol, hs.rest, mechanism, as_server, maxmsgsize,
                             client=False, endpoint=self.endpoint, peer=peer)
        if self.closed:
            inner.close()
            return
        engine.accepted(inner, self.endpoint, self.transport)

    def close(self):
        for g in list(self._upgrades):
            g.kill(block=False)
        super().close()


def _start_relay(ws_sock, protocol, rest, mechanism, as_server, maxmsgsize, client, endpoint, peer=None):
    """The session's end of a socketpair whose other end the relay joins to the WebSocket."""
    session_end, relay_end = gsocket.socketpair()
    if peer is None:
        peer = tcp.peer_address(ws_sock)
    _peer_addresses[session_end] = peer
    relay = Relay(ws_sock, relay_end, protocol == BARE, mechanism, not as_server, maxmsgsize,
                  client, endpoint, peer)
    relay.start(rest)
    return session_end


def join(ws_sock, zmtp_sock, protocol, leftover=b"", maxmsgsize=-1, label="zws", peer=""):
    """Relay an accepted ZWS connection to a ZMTP byte stream until either side ends (the
    calling greenlet waits). For a front that did the WebSocket upgrade itself (the bridge's
    zws: route): `ws_sock` is the browser's socket after the 101 with `protocol`, `leftover`
    what it read past the request, `zmtp_sock` a tcp/ipc connection to a ZeroMQ peer, which
    gets a greeting in the browser's name (NULL, as a client) and then its frames; the
    browser's READY (or, bare, its routing id) and the peer's answer pass end to end."""
    relay = Relay(ws_sock, zmtp_sock, protocol == BARE, b"NULL", False, maxmsgsize, False, label, peer)
    relay.start(leftover)
    gevent.joinall(relay.greenlets)


class Relay:
    """Two greenlets between a WebSocket and a session's socketpair end. Either side closing
    ends both: the peer's close (or bad input) closes the session's stream, the session's end
    sends a WebSocket close. Owned by the connection: it ends when the session does."""

    def __init__(self, ws_sock, inner, bare, mechanism, peer_as_server, maxmsgsize, client, endpoint, peer):
        self.ws = ws_sock
        self.inner = inner
        self.client = client
        self.endpoint = endpoint
        self.peer = peer
        self.decoder = frames.FrameDecoder(require_mask=not client, max_payload=maxmsgsize)
        self.reader = ZmtpReader(bare)
        self.writer = ZmtpWriter(mechanism, peer_as_server, bare)
        self.greenlets = []
        self.done = False
        self.close_sent = False
        self.zmtp_started = Event()

    def start(self, rest):
        self.greenlets = [gevent.spawn(self._down, rest), gevent.spawn(self._up)]

    def _mask(self):
        return frames.new_mask() if self.client else None

    def _down(self, rest):
        """WebSocket -> session."""
        reason = None
        try:
            self.inner.sendall(self.writer.greeting())
            data = rest
            while True:
                if data:
                    out = []
                    for ev in self.decoder.receive_data(data):
                        if type(ev) is frames.Ping:
                            self.ws.sendall(frames.encode_frame(frames.PONG, ev.payload, self._mask()))
                        elif type(ev) is frames.Close:
                            if out:       # what came before the close is delivered first
                                self.inner.sendall(b"".join(out))
                            if not self.close_sent:
                                self._send_close(frames.NORMAL)
                            return
                        else:
                            data = self.writer.convert(ev)
                            if data and not data[0] & ZMTP_COMMAND and not self.zmtp_started.is_set():
                                # A message before the ZMTP side's handshake (its READY) came:
                                # libzmq would take it for a handshake command and drop us.
                                # The ZWS peer may send at once; hold it until then.
                                if out:
                                    self.inner.sendall(b"".join(out))
                                    out = []
                                self.zmtp_started.wait()
                            out.append(data)
                    if out:
                        self.inner.sendall(b"".join(out))
                data = self.ws.recv(READ_SIZE)
                if not data:
                    return
        except ZWSError as exc:
            reason = exc
            log.warning("%s: dropping peer %s: %s", self.endpoint, self.peer, exc)
            self._send_close(exc.code)
        except (OSError, ssl.SSLError):
            pass
        except gevent.GreenletExit:
            pass
        finally:
            self._end(reason)

    def _up(self):
        """Session -> WebSocket."""
        try:
            while True:
                data = self.inner.recv(READ_SIZE)
                if not data:
                    # The session is done (closed, or flushed its linger): close the WebSocket
                    # properly, so everything sent is read before the connection goes, and
                    # give the peer a moment to answer (the reader ends at its close or EOF).
                    self._send_close(frames.NORMAL)
                    self.greenlets[0].join(timeout=CLOSE_WAIT)
                    return
                out = []
                items = self.reader.receive_data(data)
                if items:
                    self.zmtp_started.set()     # the ZMTP side's first frame (its READY)
                for item in items:
                    if item is PING:
                        out.append(frames.encode_frame(frames.PING, b"", self._mask()))
                    else:
                        out.append(frames.encode_zmtp_frame(item[0], item[1], self._mask()))
                if out:
                    self.ws.sendall(b"".join(out))
        except (OSError, ssl.SSLError, gevent.GreenletExit):
            pass
        except Exception:
            log.exception("%s: internal error in the WebSocket relay", self.endpoint)
        finally:
            self._end(None)

    def _send_close(self, code):
        self.close_sent = True
        try:
            self.ws.sendall(frames.encode_close(code, mask=self._mask()))
        except (OSError, ssl.SSLError):
            pass

    def _end(self, reason):
        if self.done:
            return
        self.done = True
        current = gevent.getcurrent()
        for g in self.greenlets:
            if g is not current:
                g.kill(block=False)
        for s in (self.inner, self.ws):
            try:
                s.close()
            except OSError:
                pass
