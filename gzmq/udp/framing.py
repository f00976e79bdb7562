"""udp:// datagrams as libzmq's udp_engine writes them (sans-IO: bytes in, bytes out).

RADIO/DISH: one datagram per message, `group length (1 byte) | group | body`. DGRAM: the
datagram is the body; the address frame is "IP:PORT" text. Malformed input raises
DatagramError and nothing else; the transport logs and drops that datagram.
"""
from ipaddress import ip_address

GROUP_MAX_LENGTH = 255


class DatagramError(ValueError):
    """A datagram or an address frame that cannot be used."""


def encode_radio(group, body):
    group = bytes(group)
    if len(group) > GROUP_MAX_LENGTH:
        raise DatagramError(f"group of {len(group)} bytes (limit {GROUP_MAX_LENGTH})")
    return bytes((len(group),)) + group + bytes(body)


def decode_radio(datagram):
    """datagram -> [group, body]."""
    if not datagram:
        raise DatagramError("empty datagram (no group length)")
    size = datagram[0]
    if len(datagram) < 1 + size:
        raise DatagramError(f"datagram of {len(datagram)} bytes is shorter than its group ({size} bytes)")
    return [bytes(datagram[1:1 + size]), bytes(datagram[1 + size:])]


def parse_peer(frame):
    """A DGRAM address frame b"IP:PORT" -> (ip, port)."""
    try:
        text = bytes(frame).decode("ascii")
        host, sep, port = text.rpartition(":")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        ip_address(host)
        port = int(port)
    except (UnicodeDecodeError, ValueError):
        raise DatagramError(f"address frame {bytes(frame)[:40]!r} is not IP:PORT") from None
    if not sep or not 0 < port < 65536:
        raise DatagramError(f"address frame {bytes(frame)[:40]!r} is not IP:PORT")
    return host, port


def format_peer(sockaddr):
    return f"{sockaddr[0]}:{sockaddr[1]}".encode("ascii")
