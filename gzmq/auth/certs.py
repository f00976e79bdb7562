"""CURVE certificate files, interchangeable with pyzmq's and czmq's (ZPL text, keys in Z85).

    create_certificates(key_dir, name, metadata=None) -> (public_file, secret_file)
        writes NAME.key (public key only: hand it out) and NAME.key_secret (both keys, mode 0600)
    load_certificate(filename) -> (public_key, secret_key or None), 40-byte Z85 bytes
    load_certificates(directory) -> {public_key: True} for every *.key file in it

The layout is the one pyzmq and czmq write:

    #   comment lines
    metadata
        name = "value"
    curve
        public-key = "<40 Z85 characters>"
        secret-key = "<40 Z85 characters>"

load_certificate raises OSError for a missing file and ValueError if it has no public key.
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple, Union

import datetime
import glob
import os

from ..security.keys import curve_keypair

_SECRET_BANNER = """#   ****  Generated on {0} by gzmq  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

"""

_PUBLIC_BANNER = """#   ****  Generated on {0} by gzmq  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange. Store public certificates in your home
#   directory, in the .curve subdirectory.

"""


def _text(value, encoding="utf-8"):
    return value.decode(encoding) if isinstance(value, bytes) else str(value)


def _write_key_file(filename, banner, public_key, secret_key=None, metadata=None):
    lines = [banner.format(datetime.datetime.now()), "metadata\n"]
    for key, value in (metadata or {}).items():
        lines.append(f"    {_text(key)} = {_text(value)}\n")
    lines.append("curve\n")
    lines.append(f'    public-key = "{_text(public_key)}"\n')
    if secret_key:
        lines.append(f'    secret-key = "{_text(secret_key)}"\n')
    # A secret certificate is readable by its owner only (created so, not chmod-ed later).
    mode = 0o600 if secret_key else 0o644
    fd = os.open(filename, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with open(fd, "w", encoding="utf-8") as f:
        f.write("".join(lines))


def create_certificates(key_dir: Union[str, os.PathLike[str]], name: str,
                        metadata: Optional[Dict[str, str]] = None) -> Tuple[str, str]:
    """Create a new key pair as NAME.key and NAME.key_secret in key_dir; returns both paths."""
    public_key, secret_key = curve_keypair()
    base = os.path.join(key_dir, name)
    public_file = f"{base}.key"
    secret_file = f"{base}.key_secret"
    _write_key_file(public_file, _PUBLIC_BANNER, public_key)
    _write_key_file(secret_file, _SECRET_BANNER, public_key, secret_key, metadata)
    return public_file, secret_file


def load_certificate(filename: Union[str, os.PathLike[str]]) -> Tuple[bytes, Optional[bytes]]:
    """(public_key, secret_key) from a certificate file, as Z85 bytes; secret_key is None for a
    public certificate. Raises OSError if the file does not exist, ValueError without a public key."""
    if not os.path.exists(filename):
        raise OSError(f"Invalid certificate file: {filename}")
    public_key = secret_key = None
    with open(filename, "rb") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith(b"#") or b"=" not in line:
                continue
            name, _, value = line.partition(b"=")
            name = name.strip()
            value = value.strip(b" \t'\"")
            if name == b"public-key":
                public_key = value
            elif name == b"secret-key":
                secret_key = value
    if public_key is None:
        raise ValueError(f"No public key found in {filename}")
    return public_key, secret_key


def load_certificates(directory: Union[str, os.PathLike[str]] = ".") -> Dict[bytes, bool]:
    """{public_key: True} for every public certificate (``*.key``) in `directory`."""
    if not os.path.isdir(directory):
        raise OSError(f"Invalid certificate directory: {directory}")
    certs = {}
    for filename in glob.glob(os.path.join(directory, "*.key")):
        public_key, _ = load_certificate(filename)
        certs[public_key] = True
    return certs


__all__ = ["create_certificates", "load_certificate", "load_certificates"]
