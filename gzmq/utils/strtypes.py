"""pyzmq's deprecated zmq.utils.strtypes: str/bytes casts for code that still imports them."""
import warnings

bytes = bytes
unicode = str
basestring = (str,)


def cast_bytes(s, encoding="utf8", errors="strict"):
    """str or bytes -> bytes."""
    warnings.warn("zmq.utils.strtypes is deprecated", DeprecationWarning, stacklevel=2)
    if isinstance(s, bytes):
        return s
    if isinstance(s, str):
        return s.encode(encoding, errors)
    raise TypeError(f"Expected unicode or bytes, got {s!r}")


def cast_unicode(s, encoding="utf8", errors="strict"):
    """bytes or str -> str."""
    warnings.warn("zmq.utils.strtypes is deprecated", DeprecationWarning, stacklevel=2)
    if isinstance(s, bytes):
        return s.decode(encoding, errors)
    if isinstance(s, str):
        return s
    raise TypeError(f"Expected unicode or bytes, got {s!r}")


b = asbytes = cast_bytes
u = cast_unicode

__all__ = ["asbytes", "bytes", "unicode", "basestring", "b", "u", "cast_bytes", "cast_unicode"]
