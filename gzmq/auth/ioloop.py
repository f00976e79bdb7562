"""pyzmq's deprecated zmq.auth.ioloop: tornado runs on asyncio, so IOLoopAuthenticator is
AsyncioAuthenticator (gzmq.auth.asyncio) with tornado's old io_loop argument."""
from __future__ import annotations

import warnings
from typing import Any

from .asyncio import AsyncioAuthenticator

warnings.warn("gzmq.auth.ioloop.IOLoopAuthenticator is deprecated: use "
              "gzmq.auth.asyncio.AsyncioAuthenticator", DeprecationWarning, stacklevel=2)


class IOLoopAuthenticator(AsyncioAuthenticator):
    """AsyncioAuthenticator under its old tornado name."""

    def __init__(self, context: Any = None, encoding: str = "utf-8", log: Any = None,
                 io_loop: Any = None) -> None:
        if io_loop is not None:
            warnings.warn(f"{type(self).__name__}(io_loop) is ignored: the running loop is used",
                          DeprecationWarning, stacklevel=2)
        super().__init__(context=context, encoding=encoding, log=log)


__all__ = ["IOLoopAuthenticator"]
