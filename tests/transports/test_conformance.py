"""Every registered transport behaves as a transport (gzmq.transports): what bind(), connect(),
unbind(), disconnect() and close() promise, whatever the scheme.

The SCHEMES table says, per scheme, which socket types carry messages over it and how to
make an address; a transport registered without an entry here fails the first test, so a
new transport cannot skip the suite. Cases that cannot apply to a transport (multicast has no
connect-before-bind: bind and connect are the same there) are not generated for it.
"""
import errno
import itertools

import pytest

import gzmq
from gzmq import transports
from gzmq.constants import Errno

from tests.multicast.support import GROUP

_ports = itertools.count(5700)


class Scheme:
    def __init__(self, name, sender, receiver, both_ways, connect_first, multicast=False,
                 datagram=False):
        self.name = name
        self.sender = sender          # socket types that carry messages sender -> receiver
        self.receiver = receiver
        self.both_ways = both_ways    # the receiver can answer
        self.connect_first = connect_first
        self.multicast = multicast
        self.datagram = datagram      # lossy until the receiver listens (udp)

    def __repr__(self):
        return self.name


SCHEMES = {
    "tcp": Scheme("tcp", gzmq.PAIR, gzmq.PAIR, True, True),
    "ipc": Scheme("ipc", gzmq.PAIR, gzmq.PAIR, True, True),
    "inproc": Scheme("inproc", gzmq.PAIR, gzmq.PAIR, True, True),
    "pgm": Scheme("pgm", gzmq.PUB, gzmq.SUB, False, False, multicast=True),
    "epgm": Scheme("epgm", gzmq.PUB, gzmq.SUB, False, False, multicast=True),
    "udp": Scheme("udp", gzmq.RADIO, gzmq.DISH, False, False, datagram=True),
    "ws": Scheme("ws", gzmq.PAIR, gzmq.PAIR, True, True),
    "wss": Scheme("wss", gzmq.PAIR, gzmq.PAIR, True, True),
}

_tls = {}


def tls_options(role):
    """wss://: a self-signed certificate for 127.0.0.1 (openssl, made once); the receiver
    (which binds) presents it, the sender trusts it."""
    if not _tls:
        import subprocess
        import tempfile
        d = tempfile.mkdtemp(prefix="gzmq-wss-")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", f"{d}/key.pem", "-out", f"{d}/cert.pem", "-days", "1",
                        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True, timeout=30)
        _tls["cert"] = open(f"{d}/cert.pem", "rb").read()
        _tls["key"] = open(f"{d}/key.pem", "rb").read()
    if role == "receiver":
        return {gzmq.WSS_CERT_PEM: _tls["cert"], gzmq.WSS_KEY_PEM: _tls["key"]}
    return {gzmq.WSS_TRUST_PEM: _tls["cert"]}


def make(ctx, scheme, role):
    """A socket of the scheme's sender or receiver type, set up for it."""
    sock = ctx.socket(getattr(scheme, role))
    if scheme.name == "wss":
        for option, value in tls_options(role).items():
            sock.setsockopt(option, value)
    if role == "receiver" and scheme.receiver == gzmq.SUB:
        sock.setsockopt(gzmq.SUBSCRIBE, b"")
    if role == "receiver" and scheme.receiver == gzmq.DISH:
        sock.join(b"")                # the group a RADIO's plain send() goes to
    return sock


def applicable(**capability):
    return [pytest.param(s, id=s.name) for s in SCHEMES.values()
            if all(getattr(s, k) == v for k, v in capability.items())]


@pytest.fixture
def net(request):
    """The multicast test hosts for pgm/epgm; nothing for the others."""
    scheme = request.getfixturevalue("scheme")
    if scheme.multicast:
        net = request.getfixturevalue("mcnet")
        net.loss(0)
        with net.a.enter():
            yield net
    else:
        yield None


@pytest.fixture
def address(scheme, net, tmp_path):
    """A fresh address to bind (multicast: to join) for the scheme."""
    if scheme.name == "tcp":
        return "tcp://127.0.0.1:*"
    if scheme.name == "ipc":
        return f"ipc://{tmp_path}/conformance.sock"
    if scheme.name == "inproc":
        return f"inproc://conformance-{next(_ports)}"
    if scheme.name == "udp":
        return "udp://127.0.0.1:*"
    if scheme.name in ("ws", "wss"):
        return f"{scheme.name}://127.0.0.1:*/conformance"
    return f"{scheme.name}://{net.a.address};{GROUP}:{next(_ports)}"


def pair(ctx, scheme, address, connect_first=False):
    """(sender, receiver, endpoint): the receiver binds, the sender connects."""
    receiver = make(ctx, scheme, "receiver")
    sender = make(ctx, scheme, "sender")
    if connect_first:
        sender.connect(address)
        receiver.bind(address)
        return sender, receiver, address
    receiver.bind(address)
    endpoint = receiver.last_endpoint.decode()
    sender.connect(endpoint)
    return sender, receiver, endpoint


def deliver(sender, receiver, scheme, count=5, prefix=b"m"):
    """Send until the receiver hears (multicast and tcp joins take a moment), then `count`
    numbered messages; returns what arrived, in order."""
    if scheme.multicast or scheme.datagram or scheme.name in ("tcp", "ipc", "ws", "wss"):
        while True:
            sender.send(prefix + b"probe")
            if receiver.poll(50):
                break
        while receiver.poll(50):
            receiver.recv()
    for i in range(count):
        sender.send(prefix + b"%d" % i)
    return [receiver.recv() for _ in range(count)]


def test_every_registered_scheme_is_in_the_suite():
    assert set(transports.schemes()) == set(SCHEMES)


@pytest.mark.parametrize("scheme", applicable())
def test_bind_reports_its_endpoint_and_messages_arrive_in_order(gctx, scheme, address, deadline):
    with deadline(20):
        sender, receiver, endpoint = pair(gctx, scheme, address)
        assert "*" not in endpoint and endpoint.startswith(f"{scheme.name}://")
        assert deliver(sender, receiver, scheme) == [b"m%d" % i for i in range(5)]
        if scheme.both_ways:
            receiver.send(b"back")
            assert sender.recv() == b"back"


@pytest.mark.parametrize("scheme", applicable(connect_first=True))
def test_messages_sent_before_the_bind_wait_for_it(gctx, scheme, address, deadline):
    if scheme.name in ("tcp", "ws", "wss"):
        probe = gctx.socket(gzmq.PAIR)
        port = probe.bind_to_random_port('tcp://127.0.0.1')
        address = f"{scheme.name}://127.0.0.1:{port}/" if scheme.name != "tcp" else f"tcp://127.0.0.1:{port}"
        probe.close(linger=0)
    with deadline(20):
        sender = make(gctx, scheme, "sender")
        sender.connect(address)
        sender.send(b"early")
        receiver = make(gctx, scheme, "receiver")
        receiver.bind(address)
        assert receiver.recv() == b"early"


@pytest.mark.parametrize("scheme", applicable())
def test_unbind_frees_the_endpoint(gctx, scheme, address, deadline):
    with deadline(20):
        sender, receiver, endpoint = pair(gctx, scheme, address)
        deliver(sender, receiver, scheme, count=1)
        receiver.unbind(endpoint)
        with pytest.raises(gzmq.ZMQError) as info:
            receiver.unbind(endpoint)
        assert info.value.errno == Errno.ENOENT
        other = make(gctx, scheme, "receiver")
        other.bind(endpoint)        # the address is free again
        if not scheme.multicast:
            sender.disconnect(endpoint)
            sender.connect(endpoint)
        assert deliver(sender, other, scheme, count=2, prefix=b"again") == [b"again0", b"again1"]


@pytest.mark.parametrize("scheme", applicable())
def test_disconnect_stops_the_traffic(gctx, scheme, address, deadline):
    with deadline(20):
        sender, receiver, endpoint = pair(gctx, scheme, address)
        deliver(sender, receiver, scheme, count=1)
        sender.disconnect(endpoint)
        with pytest.raises(gzmq.ZMQError) as info:
            sender.disconnect(endpoint)
        assert info.value.errno == Errno.ENOENT
        try:
            sender.send(b"after", gzmq.DONTWAIT)   # no peer: dropped (PUB) or refused (PAIR)
        except gzmq.Again:
            pass
        assert receiver.poll(200) == 0


@pytest.mark.parametrize("scheme", applicable())
def test_close_with_linger_delivers_what_was_queued(gctx, scheme, address, deadline):
    with deadline(30):
        sender, receiver, endpoint = pair(gctx, scheme, address)
        deliver(sender, receiver, scheme, count=1)
        for i in range(50):
            sender.send(b"last%d" % i)
        sender.close()             # LINGER -1: what was queued still goes
        assert [receiver.recv() for _ in range(50)] == [b"last%d" % i for i in range(50)]


@pytest.mark.parametrize("scheme", applicable())
def test_term_returns_once_the_sockets_are_closed(scheme, address, deadline):
    ctx = gzmq.Context()
    with deadline(20):
        sender, receiver, endpoint = pair(ctx, scheme, address)
        deliver(sender, receiver, scheme, count=1)
        sender.close(linger=0)
        receiver.close(linger=0)
        ctx.term()
    assert ctx.closed


@pytest.mark.parametrize("scheme", applicable())
def test_a_malformed_address_is_refused_at_once(gctx, scheme):
    sock = gctx.socket(scheme.receiver)
    bad = {"tcp": "tcp://127.0.0.1:notaport", "ipc": "ipc://" + "x" * 200,
           "inproc": "inproc://", "pgm": "pgm://127.0.0.1;10.0.0.1:5555",
           "epgm": "epgm://127.0.0.1;239.1.1.1", "udp": "udp://127.0.0.1:notaport",
           "ws": "ws://127.0.0.1:notaport/", "wss": "wss://127.0.0.1:notaport/"}[scheme.name]
    with pytest.raises(gzmq.ZMQError) as info:
        sock.bind(bad)
    assert info.value.errno in (Errno.EINVAL, errno.ENAMETOOLONG)


def test_an_unknown_scheme_is_eprotonosupport(gctx):
    sock = gctx.socket(gzmq.PAIR)
    with pytest.raises(gzmq.ZMQError) as info:
        sock.connect("udp2://127.0.0.1:5555")
    assert info.value.errno == Errno.EPROTONOSUPPORT
