"""CURVE key pairs in Z85 text, as pyzmq's zmq.curve_keypair() and zmq.curve_public().

Both need PyNaCl (the `curve` extra) and raise ZMQError(ENOTSUP) without it, as pyzmq does
with a libzmq built without CURVE.
"""
from __future__ import annotations

from typing import Any, Tuple, Union

from ..constants import Errno
from ..error import ZMQError
from ..utils import z85


def _bindings() -> Any:
    try:
        from nacl import bindings
    except ImportError:
        raise ZMQError(Errno.ENOTSUP, "CURVE needs PyNaCl: pip install 'gzmq[curve]'") from None
    return bindings


def curve_keypair() -> Tuple[bytes, bytes]:
    """A new CURVE key pair: (public, secret), each 40 bytes of Z85."""
    public, secret = _bindings().crypto_box_keypair()
    return z85.encode(public), z85.encode(secret)


def curve_public(secret_key: Union[str, bytes]) -> bytes:
    """The public key (40 bytes of Z85) for a secret key given as 40 bytes (or str) of Z85."""
    if isinstance(secret_key, str):
        secret_key = secret_key.encode("utf8")
    if len(secret_key) != 40:
        raise ValueError("secret key must be a 40 byte z85 encoded string")
    return z85.encode(_bindings().crypto_scalarmult_base(z85.decode(secret_key)))
