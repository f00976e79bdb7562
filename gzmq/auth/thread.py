"""pyzmq's ThreadAuthenticator name, for code written against zmq.auth.thread.

gzmq sockets are served by greenlets on their thread's hub, so the authenticator is one
more greenlet there (GreenletAuthenticator); no OS thread is started. `thread` is that
greenlet (it has join()), and is_alive() works as in pyzmq.
"""
from __future__ import annotations

from typing import Any

from .green import GreenletAuthenticator


class ThreadAuthenticator(GreenletAuthenticator):
    """GreenletAuthenticator under pyzmq's name."""

    @property
    def thread(self) -> Any:
        return self.greenlet


__all__ = ["ThreadAuthenticator"]
