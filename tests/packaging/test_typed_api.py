"""The public API is annotated (the package ships py.typed): every public function and method of
gzmq's pyzmq surface and of the bridge modules a program uses has a return annotation and
annotated parameters. mypy (make test) checks the annotations themselves and a program that
uses them (tests/typing/usage.py)."""
import inspect

import pytest

import bridge.adapters.envelope
import bridge.config
import bridge.handler
import bridge.m2wire
import bridge.server
import gzmq
import gzmq.auth
import gzmq.devices
import gzmq.utils.monitor
import gzmq.utils.z85

MODULES = [gzmq, gzmq.auth, gzmq.devices, gzmq.utils.monitor, gzmq.utils.z85, bridge.handler,
           bridge.m2wire, bridge.adapters.envelope, bridge.config, bridge.server]
# Inherited from the standard library, or pyzmq's deprecated spellings kept as plain aliases.
SKIP = {"with_traceback", "add_note"}


def public_callables():
    seen = set()
    for module in MODULES:
        names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj) and obj.__module__.split(".")[0] in ("gzmq", "bridge"):
                for attr, member in inspect.getmembers(obj):
                    if attr.startswith("_") and attr not in ("__init__", "__enter__", "__exit__"):
                        continue
                    fn = member.fget if isinstance(member, property) else member
                    fn = getattr(fn, "fn", fn)          # gzmq's assignable methods (subscribe)
                    if inspect.isfunction(fn) or inspect.ismethod(fn):
                        owner = fn.__module__.split(".")[0]
                        if owner in ("gzmq", "bridge") and attr not in SKIP and fn not in seen:
                            seen.add(fn)
                            yield f"{module.__name__}.{name}.{attr}", fn
            elif inspect.isfunction(obj) and obj.__module__.split(".")[0] in ("gzmq", "bridge") and obj not in seen:
                seen.add(obj)
                yield f"{module.__name__}.{name}", obj


CALLABLES = dict(public_callables())


@pytest.mark.parametrize("name", sorted(CALLABLES))
def test_public_callable_is_annotated(name):
    fn = CALLABLES[name]
    annotations = fn.__annotations__
    params = [p for p in inspect.signature(fn).parameters.values()
              if p.name not in ("self", "cls") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    missing = [p.name for p in params if p.name not in annotations]
    assert "return" in annotations and not missing, f"{name}: return or {missing} not annotated"


def test_the_surface_is_what_we_think():
    # A handful that must be among the checked ones (the walk above finds them all).
    for name in ("gzmq.Socket.recv", "gzmq.Socket.send_multipart", "gzmq.Socket.bind", "gzmq.Context.socket",
                 "gzmq.Poller.poll", "gzmq.Frame.bytes", "bridge.handler.Connection.reply_http"):
        assert name in CALLABLES, name
