"""Decorators that hand a function a Context or a Socket for the duration of a call
(pyzmq's zmq.decorators):

    @context()
    @socket(zmq.PUSH)
    def work(ctx, push): ...

Each call gets fresh objects, used as context managers: the socket is closed and the context
destroyed when the function returns or raises. The object is appended to the positional
arguments, or passed as a keyword if the decorator is given a name (`@context("myctx")` or
`name="myctx"`); a call that already passes that keyword is a TypeError. Remaining decorator
arguments go to Context(...) or ctx.socket(...). @socket takes its context from the keyword
`context_name` ("context"), else the first Context among the positional arguments, else
Context.instance().
"""
import functools

import gzmq

__all__ = ["context", "socket"]


def _split_name(args, kwargs):
    """(keyword name or None, args, kwargs) from a decorator's own arguments."""
    if isinstance(kwargs.get("name"), str):
        return kwargs.pop("name"), args, kwargs
    if args and isinstance(args[0], str):
        return args[0], args[1:], kwargs
    return None, args, kwargs


def _inject(func, name, make):
    """Wrap func so each call runs inside `with make(args, kwargs) as obj`, obj passed in."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with make(args, kwargs) as obj:
            if name is None:
                args = args + (obj,)
            elif name in kwargs:
                raise TypeError(f"{func.__name__}() got multiple values for argument {name!r}")
            else:
                kwargs[name] = obj
            return func(*args, **kwargs)
    return wrapper


def context(*args, **kwargs):
    """Pass a new Context(*args, **kwargs) to the decorated function."""
    name, args, kwargs = _split_name(args, dict(kwargs))
    return lambda func: _inject(func, name, lambda a, kw: gzmq.Context(*args, **kwargs))


def socket(*args, **kwargs):
    """Pass a new socket, ctx.socket(*args, **kwargs), to the decorated function."""
    name, args, kwargs = _split_name(args, dict(kwargs))
    context_name = kwargs.pop("context_name", "context")

    def find_context(call_args, call_kwargs):
        ctx = call_kwargs.get(context_name)
        if isinstance(ctx, gzmq.Context):
            return ctx
        for arg in call_args:
            if isinstance(arg, gzmq.Context):
                return arg
        return gzmq.Context.instance()

    return lambda func: _inject(
        func, name, lambda a, kw: find_context(a, kw).socket(*args, **kwargs))
