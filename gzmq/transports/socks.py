"""SOCKS5 CONNECT (RFC 1928, RFC 1929) for tcp:// connects through SOCKS_PROXY, as libzmq's
socks_connecter_t does it.

libzmq offers exactly one method: "no authentication" without SOCKS_USERNAME, else
username/password (RFC 1929); it asks the proxy to CONNECT to the endpoint's host as given
(an IPv4 or IPv6 address, or a host name the proxy resolves) and port. Any refusal or
malformed answer is an OSError, so the connecter closes and retries as after any failed
connect. Called by gzmq.transports.tcp.connect with a connected (gevent) socket.
"""
import errno
import ipaddress

NO_AUTH = 0x00
USER_PASS = 0x02
NO_ACCEPTABLE = 0xFF
CONNECT = 0x01


class SocksError(ConnectionError):
    """The proxy refused or answered something that is not SOCKS5."""

    def __init__(self, message):
        super().__init__(errno.ECONNREFUSED, message)


def parse_proxy(value):
    """SOCKS_PROXY "host:port" (or "[v6]:port"; port 1080 if absent) -> (host, port)."""
    text = value.decode("ascii") if isinstance(value, bytes) else value
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else "1080"
    else:
        host, sep, port = text.rpartition(":")
        if not sep:
            host, port = text, "1080"
    return host, int(port)


def request(host, port):
    """The CONNECT request for host (address or name) and port."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        name = host.encode("idna")
        if len(name) > 255:
            raise SocksError(f"SOCKS5: host name too long: {host!r}") from None
        target = b"\x03" + bytes((len(name),)) + name
    else:
        target = (b"\x01" if address.version == 4 else b"\x04") + address.packed
    return b"\x05" + bytes((CONNECT, 0)) + target + port.to_bytes(2, "big")


def _recv_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise SocksError("SOCKS5 proxy closed the connection")
        data += chunk
    return data


def negotiate(sock, host, port, username=b"", password=b""):
    """Run the SOCKS5 exchange on `sock` (connected to the proxy) for host:port."""
    method = USER_PASS if username else NO_AUTH
    sock.sendall(bytes((5, 1, method)))
    version, chosen = _recv_exactly(sock, 2)
    if version != 5:
        raise SocksError(f"SOCKS5 proxy answered version {version}")
    if chosen != method:
        raise SocksError("SOCKS5 proxy accepts none of our authentication methods")
    if method == USER_PASS:
        sock.sendall(bytes((1, len(username))) + username + bytes((len(password),)) + password)
        _, status = _recv_exactly(sock, 2)
        if status != 0:
            raise SocksError("SOCKS5 proxy refused the username/password")
    sock.sendall(request(host, port))
    version, reply, _rsv, atyp = _recv_exactly(sock, 4)
    if version != 5:
        raise SocksError(f"SOCKS5 proxy answered version {version}")
    if reply != 0:
        raise SocksError(f"SOCKS5 proxy could not connect to {host}:{port} (reply {reply})")
    if atyp == 1:
        _recv_exactly(sock, 4 + 2)
    elif atyp == 4:
        _recv_exactly(sock, 16 + 2)
    elif atyp == 3:
        (n,) = _recv_exactly(sock, 1)
        _recv_exactly(sock, n + 2)
    else:
        raise SocksError(f"SOCKS5 proxy answered address type {atyp}")
