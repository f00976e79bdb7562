"""pyzmq's zmq.auth.asyncio: ZAP requests answered by a task on the program's asyncio loop.

    auth = AsyncioAuthenticator(ctx)
    auth.start()                 # with the loop running (or about to run)
    auth.configure_curve_callback(credentials_provider=provider)

The policy is Authenticator's (gzmq.auth.base). A credentials provider's callback may be a
coroutine; it is awaited on this loop, one request at a time.
"""
from __future__ import annotations

import asyncio
import inspect
import warnings
from typing import Any, List, Optional

from ..asyncio import Socket as AsyncSocket
from ..error import ContextTerminated, ZMQError
from ..utils import z85
from .base import Authenticator


class AsyncioAuthenticator(Authenticator):
    """Authenticator whose request loop is an asyncio task; see the module docstring."""

    def __init__(self, context: Any = None, loop: Any = None, encoding: str = "utf-8",
                 log: Any = None) -> None:
        super().__init__(context, encoding, log)
        if loop is not None:
            warnings.warn("AsyncioAuthenticator(loop=...) is ignored: the running loop is used",
                          DeprecationWarning, stacklevel=2)
        self._task: Optional[asyncio.Future] = None
        self._requests: Any = None       # the ZAP socket's asyncio handle
        self._verdict: Any = None

    def start(self) -> None:
        """Bind the ZAP socket and start answering requests on the current loop."""
        super().start()
        self._requests = AsyncSocket.from_socket(self.zap_socket)
        self._task = asyncio.ensure_future(self._serve(self.zap_socket, self._requests))

    def stop(self) -> None:
        """Stop answering and close the ZAP socket."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        requests, self._requests = self._requests, None
        if requests is not None:
            requests.close()        # (so the loop stops reading its FD before that closes)
        super().stop()

    def is_alive(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _serve(self, sock: Any, requests: Any) -> None:
        while True:
            try:
                msg = await requests.recv_multipart()
            except ContextTerminated:
                sock.close(linger=0)
                return
            except ZMQError:
                return      # closed by stop()
            try:
                self._verdict = await self._provider_verdict(msg)
                self.handle_zap_message(msg)
            except Exception:
                self.log.exception("ZAP handler failed on %r", msg[:6])
                self._reply_after_failure(sock, msg)
            finally:
                self._verdict = None

    async def _provider_verdict(self, msg: List[bytes]) -> Any:
        """A CURVE request's verdict from its credentials provider, asked (and awaited) before
        the shared policy code runs, which then takes it from _ask_provider."""
        if len(msg) != 7 or msg[5] != b"CURVE" or self.allow_any or not self.credentials_providers:
            return None
        domain = msg[2].decode(self.encoding, "replace") or "*"
        provider = self.credentials_providers.get(domain)
        if provider is None:
            return None
        verdict = provider.callback(domain, z85.encode(msg[6]))
        return (await verdict) if inspect.isawaitable(verdict) else verdict

    def _ask_provider(self, provider: Any, domain: str, z85_key: bytes) -> Any:
        return self._verdict


__all__ = ["AsyncioAuthenticator"]
