"""pyzmq's ThreadAuthenticator, for code written against zmq.auth.thread.

In I/O-thread mode (a program that does not monkey-patch with gevent) it is what pyzmq's is:
an OS thread answering ZAP requests, so handshakes go on while the program's own thread
blocks natively (time.sleep, a join, an asyncio loop). In a gevent program it is one more
greenlet on the hub of the thread that calls start() (GreenletAuthenticator), as the sockets
it serves are. `thread` is that thread or greenlet (it has join()); is_alive() works as in
pyzmq.
"""
from __future__ import annotations

import threading
from typing import Any

from .base import Authenticator
from .green import GreenletAuthenticator


class ThreadAuthenticator(GreenletAuthenticator):
    """ZAP requests answered on a thread of their own (a greenlet in a gevent program)."""

    _native: Any = None

    @property
    def thread(self) -> Any:
        return self._native or self.greenlet

    def start(self) -> None:
        if self.context.io_mode != "thread":
            super().start()
            return
        Authenticator.start(self)
        self._native = threading.Thread(target=self._run, args=(self.zap_socket,),
                                        name="gzmq-zap", daemon=True)
        self._native.start()

    def stop(self) -> None:
        native, self._native = self._native, None
        sock = self.zap_socket
        if native is not None and sock is not None and not sock.closed:
            # Closed on the thread that waits in it (the call wakes that wait); its recv then
            # raises and the thread ends.
            sock._mailbox.call(sock.close, 0)
            if native is not threading.current_thread():
                native.join(5)
        super().stop()

    def is_alive(self) -> bool:
        if self._native is not None:
            return self._native.is_alive()
        return super().is_alive()


__all__ = ["ThreadAuthenticator"]
