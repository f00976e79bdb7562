"""Z85 (ZeroMQ RFC 32): printable encoding of binary data in chunks of 4 bytes -> 5 chars.

The text form of CURVE keys (40 characters for a 32-byte key). Same functions as pyzmq's
zmq.utils.z85: encode(bytes) -> bytes, decode(bytes | str) -> bytes. Both raise ValueError
for a length that is not a multiple of 4 (encode) or 5 (decode), and decode also for a
character outside the Z85 alphabet or a group whose value does not fit 32 bits.
"""
from __future__ import annotations

import struct
from typing import Union

Z85CHARS = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
Z85MAP = {c: i for i, c in enumerate(Z85CHARS)}


def encode(rawbytes: bytes) -> bytes:
    """Encode bytes (length a multiple of 4) as Z85 bytes."""
    rawbytes = bytes(rawbytes)
    if len(rawbytes) % 4:
        raise ValueError(f"length must be multiple of 4, not {len(rawbytes)}")
    out = bytearray()
    for (v,) in struct.iter_unpack(">I", rawbytes):
        out += bytes((Z85CHARS[v // 52200625 % 85], Z85CHARS[v // 614125 % 85],
                      Z85CHARS[v // 7225 % 85], Z85CHARS[v // 85 % 85], Z85CHARS[v % 85]))
    return bytes(out)


def decode(z85bytes: Union[str, bytes]) -> bytes:
    """Decode Z85 (bytes or an ASCII str, length a multiple of 5) to bytes."""
    if isinstance(z85bytes, str):
        try:
            z85bytes = z85bytes.encode("ascii")
        except UnicodeEncodeError:
            raise ValueError("string argument should contain only ASCII characters") from None
    z85bytes = bytes(z85bytes)
    if len(z85bytes) % 5:
        raise ValueError(f"Z85 length must be multiple of 5, not {len(z85bytes)}")
    values = []
    for i in range(0, len(z85bytes), 5):
        value = 0
        for j in range(5):
            try:
                value = value * 85 + Z85MAP[z85bytes[i + j]]
            except KeyError:
                raise ValueError(f"invalid Z85 character {chr(z85bytes[i + j])!r} at {i + j}") from None
        if value > 0xFFFFFFFF:
            raise ValueError(f"invalid Z85 group at {i}: value exceeds 32 bits")
        values.append(value)
    return struct.pack(f">{len(values)}I", *values)
