"""GreenletAuthenticator: the ZAP handler running in a greenlet (pyzmq's ThreadAuthenticator
and AsyncioAuthenticator, for gevent).

    auth = GreenletAuthenticator(ctx)
    auth.start()
    auth.allow("127.0.0.1")
    auth.configure_curve(domain="*", location=public_keys_dir)   # or CURVE_ALLOW_ANY
    ...
    auth.stop()

The greenlet lives on the hub of the thread that called start(), like the sockets it
serves, and handles one request at a time. Policy changes (allow, configure_*) take effect
for the next request. If the Context is terminated while it runs, it closes its socket so
that term() can finish. ThreadAuthenticator (gzmq.auth.thread) is this class under pyzmq's
name.
"""
from __future__ import annotations

from typing import Any

from ..engine import tasks
from ..error import ContextTerminated, ZMQError
from .base import Authenticator


class GreenletAuthenticator(Authenticator):
    """Authenticator whose request loop runs in a greenlet; see the module docstring."""

    def __init__(self, context: Any = None, encoding: str = "utf-8", log: Any = None) -> None:
        super().__init__(context=context, encoding=encoding, log=log)
        self.greenlet: Any = None

    def start(self) -> None:
        """Bind the ZAP socket and start answering requests."""
        super().start()
        self.greenlet = tasks.spawn(self._run, self.zap_socket)

    def stop(self) -> None:
        """Stop answering and close the ZAP socket. Safe to call more than once."""
        greenlet, self.greenlet = self.greenlet, None
        if greenlet is not None and greenlet is not tasks.current():
            greenlet.kill(block=True)
        super().stop()

    def is_alive(self) -> bool:
        """Is the ZAP greenlet running?"""
        return bool(self.greenlet is not None and not self.greenlet.dead)

    def _run(self, sock):
        while True:
            try:
                msg = sock.recv_multipart()
            except ContextTerminated:
                sock.close(linger=0)
                return
            except ZMQError:
                return  # the socket was closed under us
            try:
                self.handle_zap_message(msg)
            except Exception:
                # A REP socket owes a reply before it can read the next request; without one
                # every later handshake would hang. Refuse this peer and carry on.
                self.log.exception("ZAP handler failed on %r", msg[:6])
                self._reply_after_failure(sock, msg)



__all__ = ["GreenletAuthenticator"]
