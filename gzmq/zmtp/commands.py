"""ZMTP commands (RFC 23 §Commands, RFC 37): bodies, metadata, and their parsers.

    command-body = name-size(1) name data
    metadata     = *(name-size(1) name value-size(4, big-endian) value)

We send property names exactly as libzmq does (`Socket-Type`, `Identity`) and read them
case-insensitively (RFC 37); libzmq compares case-sensitively, so sending the canonical
spelling matters. Parsers raise ZMTPError on truncation or trailing bytes.
"""
from ..constants import (PROTOCOL_ERROR_ZMTP_INVALID_METADATA,
                         PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED)
from ..error import ZMTPError
from .frames import encode_command_frame

READY = b"READY"
ERROR = b"ERROR"
PING = b"PING"
PONG = b"PONG"
SUBSCRIBE = b"SUBSCRIBE"
CANCEL = b"CANCEL"
JOIN = b"JOIN"      # RADIO/DISH (RFC 48)
LEAVE = b"LEAVE"
HELLO = b"HELLO"
WELCOME = b"WELCOME"
INITIATE = b"INITIATE"
MESSAGE = b"MESSAGE"

_VALID_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.+")


def command_body(name, data=b""):
    """name-size + name + data."""
    return bytes((len(name),)) + name + data


def command(name, data=b""):
    """A complete command frame (flags, size, body) ready for the wire."""
    return encode_command_frame(command_body(name, data))


def split_command(body):
    """Split a command frame body into (name, data)."""
    if not body:
        raise ZMTPError("empty command frame", PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED)
    n = body[0]
    if len(body) < 1 + n:
        raise ZMTPError(f"command name truncated: name-size {n}, {len(body) - 1} bytes follow",
                        PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_UNSPECIFIED)
    return bytes(body[1:1 + n]), bytes(body[1 + n:])


def encode_metadata(properties):
    """Encode (name, value) pairs; name str or bytes, value bytes or str (UTF-8)."""
    parts = []
    for name, value in properties:
        if isinstance(name, str):
            name = name.encode("ascii")
        if isinstance(value, str):
            value = value.encode("utf-8")
        if not 0 < len(name) < 256:
            raise ValueError(f"metadata name must be 1..255 bytes: {name!r}")
        parts.append(bytes((len(name),)) + name + len(value).to_bytes(4, "big") + value)
    return b"".join(parts)


def parse_metadata(data):
    """Parse a metadata block into {lower-cased name (str): value (bytes)}.

    Raises ZMTPError on truncated or trailing bytes (libzmq closes the connection too).
    """
    props = {}
    pos = 0
    n = len(data)
    while pos < n:
        name_len = data[pos]
        pos += 1
        if name_len == 0 or pos + name_len + 4 > n:
            raise ZMTPError(f"malformed metadata at byte {pos - 1}: property name truncated",
                            PROTOCOL_ERROR_ZMTP_INVALID_METADATA)
        name = bytes(data[pos:pos + name_len])
        if not set(name) <= _VALID_NAME_CHARS:
            raise ZMTPError(f"malformed metadata: invalid property name {name!r}",
                            PROTOCOL_ERROR_ZMTP_INVALID_METADATA)
        pos += name_len
        value_len = int.from_bytes(data[pos:pos + 4], "big")
        pos += 4
        if value_len > 0x7FFFFFFF or pos + value_len > n:
            raise ZMTPError(f"malformed metadata: value of {name.decode()!r} truncated "
                            f"({value_len} bytes declared, {n - pos} present)",
                            PROTOCOL_ERROR_ZMTP_INVALID_METADATA)
        props[name.decode("ascii").lower()] = bytes(data[pos:pos + value_len])
        pos += value_len
    return props


def ping(ttl_deciseconds=0, context=b""):
    """PING command frame: ttl in units of 100 ms (0 = none), context up to 16 bytes."""
    return command(PING, min(max(int(ttl_deciseconds), 0), 0xFFFF).to_bytes(2, "big") + context[:16])


def pong(context=b""):
    return command(PONG, context[:16])


def subscribe(topic):
    return command(SUBSCRIBE, topic)


def cancel(topic):
    return command(CANCEL, topic)


def error(reason):
    reason = reason[:255]
    return command(ERROR, bytes((len(reason),)) + reason)
