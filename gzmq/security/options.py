"""setsockopt/getsockopt rules for the security options, as libzmq 4.3 applies them.

check_option(option, value) -> value to store, or ZMQError(EINVAL):
  CURVE_PUBLICKEY/SECRETKEY/SERVERKEY  32 raw bytes, or 40 Z85 characters (41 with a trailing
                                       NUL, as C strings arrive); stored as the 32 raw bytes
  CURVE_SERVER, CURVE_*KEY             need PyNaCl (the `curve` extra)
  PLAIN_USERNAME/PASSWORD, ZAP_DOMAIN  at most 255 bytes
curve_key_text(raw) -> the key as getsockopt returns it: 40 Z85 characters (what libzmq hands
out for a 41-byte buffer, NUL stripped; an unset key reads as the zero key, as in libzmq).
"""
from ..constants import Errno, SocketOption
from ..error import ZMQError
from ..utils import z85

O = SocketOption
CURVE_KEYS = frozenset({O.CURVE_PUBLICKEY, O.CURVE_SECRETKEY, O.CURVE_SERVERKEY})
SECURITY_OPTIONS = CURVE_KEYS | {O.CURVE_SERVER, O.PLAIN_USERNAME, O.PLAIN_PASSWORD, O.ZAP_DOMAIN}


def have_curve():
    try:
        import nacl.bindings  # noqa: F401
    except ImportError:
        return False
    return True


def _require_curve(option):
    if not have_curve():
        raise ZMQError(Errno.EINVAL, f"{option.name}: CURVE security needs PyNaCl "
                                     "(pip install 'gzmq[curve]')")


def decode_key(value):
    """A CURVE key given as 32 raw bytes or 40 (or 41, NUL-terminated) Z85 characters -> raw."""
    if isinstance(value, str):
        value = value.encode("ascii", "replace")
    value = bytes(value)
    if len(value) == 32:
        return value
    if len(value) == 41 and value[40] == 0:
        value = value[:40]
    if len(value) == 40:
        try:
            return z85.decode(value)
        except ValueError:
            pass
    raise ValueError(f"a CURVE key is 32 bytes or 40 Z85 characters, got {len(value)} bytes")


def check_option(option, value):
    if option in CURVE_KEYS:
        _require_curve(option)
        try:
            return decode_key(value)
        except ValueError as exc:
            raise ZMQError(Errno.EINVAL, f"{option.name}: {exc}") from None
    if option == O.CURVE_SERVER:
        if value:
            _require_curve(option)
        return value
    if len(value) > 255:
        raise ZMQError(Errno.EINVAL, f"{option.name} must be at most 255 bytes")
    return value


def curve_key_text(raw):
    """getsockopt's view of a stored CURVE key: 40 Z85 bytes."""
    return z85.encode(raw or b"\x00" * 32)
