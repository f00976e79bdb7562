"""Shadows: a second Python handle on the same Context or Socket (pyzmq's `shadow`).

pyzmq makes one with `Socket.shadow(sock_or_address)`, `Socket(other_socket)`,
`Context.shadow(...)`, `Context(other_context)` or `copy.copy(obj)`: another Python object
over the same libzmq handle, whose `underlying` is the same address. gzmq's contexts and
sockets are plain Python objects, so a shadow is a proxy: attribute reads and writes go to
the original, methods run bound to the original (so the engine only ever sees the
original), and `isinstance()` sees the original's class. Only `_shadow` (True) and
`_shadow_obj` (what the shadow was made from) are its own. Dropping a shadow closes nothing.

Addresses are the `underlying` values of live gzmq objects (their id); an address that names
no live gzmq Context or Socket raises ZMQError(EFAULT). Called by Context and SocketBase.
"""
import weakref

from .constants import Errno
from .error import ZMQError

_LIVE: "weakref.WeakValueDictionary[int, object]" = weakref.WeakValueDictionary()   # underlying address -> live Context or Socket


def register(obj):
    """Make `obj` reachable by its address (called from Context/Socket __init__)."""
    _LIVE[id(obj)] = obj


def resolve(source, kind):
    """The original object that `source` (an address, a shadow or an original) stands for."""
    if isinstance(source, Shadow):
        return object.__getattribute__(source, "_shadow_target")
    address = source if isinstance(source, int) else getattr(source, "underlying", None)
    target = _LIVE.get(address) if isinstance(address, int) else None
    if target is None or not isinstance(target, kind):
        raise ZMQError(Errno.EFAULT, f"no live gzmq {kind.__name__} at {source!r}")
    return target


def make_shadow(source, kind):
    target = resolve(source, kind)
    # A class whose methods differ from the blocking API (gzmq.asyncio's) says which proxy
    # gives its objects that API back.
    return getattr(type(target), "_blocking_shadow", Shadow)(target, source)


class Shadow:
    """A proxy sharing all state with its original; see the module docstring."""

    __slots__ = ("_shadow_target", "_shadow_obj")

    def __init__(self, target, source):
        object.__setattr__(self, "_shadow_target", target)
        object.__setattr__(self, "_shadow_obj", source)

    def __getattribute__(self, name):
        if name in ("_shadow_obj", "_shadow_target"):
            return object.__getattribute__(self, name)
        if name == "_shadow":
            return True
        return getattr(object.__getattribute__(self, "_shadow_target"), name)

    def __setattr__(self, name, value):
        setattr(object.__getattribute__(self, "_shadow_target"), name, value)

    def __delattr__(self, name):
        delattr(object.__getattribute__(self, "_shadow_target"), name)

    # Special methods are looked up on the type, not through __getattribute__.
    def __dir__(self):
        return dir(object.__getattribute__(self, "_shadow_target"))

    def __repr__(self):
        return repr(object.__getattribute__(self, "_shadow_target"))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return object.__getattribute__(self, "_shadow_target").__exit__(*exc)

    def __copy__(self, memo=None):
        return Shadow(object.__getattribute__(self, "_shadow_target"), self)

    __deepcopy__ = __copy__
