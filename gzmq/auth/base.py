"""Authenticator: a ZAP handler (RFC 27) with pyzmq's zmq.auth.Authenticator API and policy.

It binds a REP socket at inproc://zeromq.zap.01 in its Context; every PLAIN or CURVE server
socket of that Context (and every NULL socket with a ZAP_DOMAIN) then asks it about each
connecting peer. The policy is pyzmq's, so code written for zmq.auth behaves the same:

- allow(*ips) or deny(*ips) (not both): with an allow list, other addresses are refused;
  with a deny list, listed addresses are refused. NULL peers are admitted unless refused here.
- PLAIN: configure_plain(domain, {user: password}); ZAP domain "" means "*".
- CURVE: configure_curve(domain, directory) admits the public keys of the *.key certificates
  in that directory (call it again after the directory changed), configure_curve(domain,
  CURVE_ALLOW_ANY) admits any key, configure_curve_callback(domain, provider) asks
  provider.callback(domain, z85_key). The User-Id of a CURVE peer is curve_user_id(key).
- Replies 200 with a user id (the PLAIN user name, the Z85 key, or "anonymous"), or 400 with
  the reason. A request that is not RFC 27 gets 400 when it can be answered at all.

This class only answers requests handed to handle_zap_message(); GreenletAuthenticator
(gzmq.auth.green) runs that loop for you. Unlike pyzmq >= 25, handle_zap_message is a plain
method (gevent has no event loop to await in); a credentials provider's callback is called
directly and may block cooperatively. A callback that is a coroutine runs on an event loop of
its own, or, with AsyncioAuthenticator (gzmq.auth.asyncio), on the program's.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

import asyncio
import inspect
import logging
import os

from ..constants import SocketOption, SocketType
from ..context import Context
from ..error import ZMQError
from ..socket import Socket
from ..utils import z85
from .certs import load_certificates

CURVE_ALLOW_ANY = "*"
VERSION = b"1.0"
ZAP_ENDPOINT = "inproc://zeromq.zap.01"


class Authenticator:
    """ZAP policy and request handling; see the module docstring."""

    def __init__(self, context: Optional[Context] = None, encoding: str = "utf-8",
                 log: Optional[logging.Logger] = None) -> None:
        if context is None:
            context = Context.instance()
        self.context = context
        self.encoding = encoding
        self.allow_any = False
        self.credentials_providers: dict[Any, Any] = {}
        self.zap_socket: Any = None
        self._allowed: set[Any] = set()
        self._denied: set[Any] = set()
        self.passwords: dict[Any, Any] = {}   # domain -> {username: password}
        self.certs: dict[Any, Any] = {}       # domain -> {z85 public key (bytes): True}
        self.log = log or logging.getLogger("gzmq.auth")

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Create the ZAP socket and bind it at inproc://zeromq.zap.01."""
        # A blocking-API socket whatever the context's class (pyzmq's too): an asyncio
        # Context would make one whose recv returns a Future.
        self.zap_socket = self.context.socket(SocketType.REP, socket_class=Socket)
        self.zap_socket.setsockopt(SocketOption.LINGER, 1)
        self.zap_socket.bind(ZAP_ENDPOINT)
        self.log.debug("Starting")

    def stop(self) -> None:
        """Close the ZAP socket (servers then behave as with no handler bound)."""
        if self.zap_socket is not None:
            self.zap_socket.close()
        self.zap_socket = None

    # -- policy ----------------------------------------------------------------------------
    def allow(self, *addresses: str) -> None:
        """Admit only these IP addresses (they still have to authenticate for PLAIN/CURVE)."""
        if self._denied:
            raise ValueError("Only use allow or deny, not both")
        self.log.debug("Allowing %s", ",".join(addresses))
        self._allowed.update(addresses)

    def deny(self, *addresses: str) -> None:
        """Refuse these IP addresses; everyone else goes on to authenticate."""
        if self._allowed:
            raise ValueError("Only use a allow or deny, not both")
        self.log.debug("Denying %s", ",".join(addresses))
        self._denied.update(addresses)

    def configure_plain(self, domain: str = "*", passwords: Optional[Dict[str, str]] = None) -> None:
        """PLAIN: the {username: password} dict for `domain` ("*" covers requests without one)."""
        if passwords:
            self.passwords[domain] = passwords
        self.log.debug("Configure plain: %s", domain)

    def configure_curve(self, domain: str = "*", location: Union[str, os.PathLike[str]] = ".") -> None:
        """CURVE: admit the keys of the public certificates in directory `location`, or any key
        with location=CURVE_ALLOW_ANY. Call again whenever the directory's contents change."""
        self.log.debug("Configure curve: %s[%s]", domain, location)
        if location == CURVE_ALLOW_ANY:
            self.allow_any = True
            return
        self.allow_any = False
        try:
            self.certs[domain] = load_certificates(location)
        except Exception as exc:
            self.log.error("Failed to load CURVE certs from %s: %s", location, exc)

    def configure_curve_callback(self, domain: str = "*", credentials_provider: Any = None) -> None:
        """CURVE: decide with credentials_provider.callback(domain, z85_key) -> bool."""
        self.allow_any = False
        if credentials_provider is not None:
            self.credentials_providers[domain] = credentials_provider
        else:
            self.log.error("None credentials_provider provided for domain:%s", domain)

    def configure_gssapi(self, domain: str = "*", location: Optional[str] = None) -> None:
        """GSSAPI is not implemented by gzmq; accepted for API compatibility."""

    def curve_user_id(self, client_public_key: bytes) -> str:
        """The User-Id of an admitted CURVE client: its key in Z85 (override to map keys)."""
        return z85.encode(client_public_key).decode("ascii")

    # -- requests --------------------------------------------------------------------------
    def handle_zap_message(self, msg: List[Any]) -> None:
        """Answer one ZAP request (the frames a REP socket received) on zap_socket."""
        if len(msg) < 6:
            self.log.error("Invalid ZAP message, not enough frames: %r", msg)
            if len(msg) < 2:
                self.log.error("Not enough information to reply")
            else:
                self._send_zap_reply(msg[1], b"400", b"Not enough frames")
            return
        version, request_id, domain, address, identity, mechanism = msg[:6]
        credentials = msg[6:]
        domain = domain.decode(self.encoding, "replace")
        address = address.decode(self.encoding, "replace")
        if version != VERSION:
            self.log.error("Invalid ZAP version: %r", msg)
            self._send_zap_reply(request_id, b"400", b"Invalid version")
            return
        self.log.debug("version: %r, request_id: %r, domain: %r, address: %r, identity: %r, "
                       "mechanism: %r", version, request_id, domain, address, identity, mechanism)

        allowed, denied, reason = self._check_address(address)
        username = "anonymous"
        if not denied:
            if mechanism == b"NULL" and not allowed:
                self.log.debug("ALLOWED (NULL)")
                allowed = True
            elif mechanism == b"PLAIN":
                # Even an allowed address must authenticate.
                if len(credentials) != 2:
                    self.log.error("Invalid PLAIN credentials: %r", credentials)
                    self._send_zap_reply(request_id, b"400", b"Invalid credentials")
                    return
                username, password = (c.decode(self.encoding, "replace") for c in credentials)
                allowed, reason = self._authenticate_plain(domain, username, password)
            elif mechanism == b"CURVE":
                if len(credentials) != 1:
                    self.log.error("Invalid CURVE credentials: %r", credentials)
                    self._send_zap_reply(request_id, b"400", b"Invalid credentials")
                    return
                key = credentials[0]
                allowed, reason = self._authenticate_curve(domain, key)
                if allowed:
                    username = self.curve_user_id(key)
            elif mechanism == b"GSSAPI":
                if len(credentials) != 1:
                    self._send_zap_reply(request_id, b"400", b"Invalid credentials")
                    return
                username = credentials[0].decode("utf8")
                allowed, reason = self._authenticate_gssapi(domain, credentials[0])
        if allowed:
            self._send_zap_reply(request_id, b"200", b"OK", username)
        else:
            self._send_zap_reply(request_id, b"400", reason)

    def _check_address(self, address):
        """(allowed, denied, reason) from the allow/deny lists alone."""
        if self._allowed:
            if address in self._allowed:
                self.log.debug("PASSED (allowed) address=%s", address)
                return True, False, b"NO ACCESS"
            self.log.debug("DENIED (not allowed) address=%s", address)
            return False, True, b"Address not allowed"
        if self._denied:
            if address in self._denied:
                self.log.debug("DENIED (denied) address=%s", address)
                return False, True, b"Address denied"
            self.log.debug("PASSED (not denied) address=%s", address)
            return True, False, b"NO ACCESS"
        return False, False, b"NO ACCESS"

    def _authenticate_plain(self, domain, username, password):
        if not self.passwords:
            self.log.debug("DENIED (PLAIN) No passwords defined")
            return False, b"No passwords defined"
        domain = domain or "*"
        if domain not in self.passwords:
            reason = b"Invalid domain"
        elif username not in self.passwords[domain]:
            reason = b"Invalid username"
        elif password != self.passwords[domain][username]:
            reason = b"Invalid password"
        else:
            self.log.debug("ALLOWED (PLAIN) domain=%s username=%s", domain, username)
            return True, b""
        self.log.debug("DENIED %s", reason)
        return False, reason

    def _authenticate_curve(self, domain, client_key):
        if self.allow_any:
            self.log.debug("ALLOWED (CURVE allow any client)")
            return True, b"OK"
        domain = domain or "*"
        z85_key = z85.encode(client_key)
        if self.credentials_providers:
            provider = self.credentials_providers.get(domain)
            if provider is None:
                return False, b"Unknown domain"
            allowed = bool(self._ask_provider(provider, domain, z85_key))
        else:
            if domain not in self.certs:
                return False, b"Unknown domain"
            allowed = bool(self.certs[domain].get(z85_key))
        self.log.debug("%s (CURVE) domain=%s client_key=%s", "ALLOWED" if allowed else "DENIED",
                       domain, z85_key)
        return (True, b"OK") if allowed else (False, b"Unknown key")

    def _ask_provider(self, provider, domain, z85_key):
        """The provider's verdict on a CURVE key; a coroutine callback (pyzmq allows one) is
        run to its end here, on an event loop of its own."""
        verdict = provider.callback(domain, z85_key)
        if inspect.isawaitable(verdict):
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return asyncio.run(_awaited(verdict))
            raise RuntimeError("an async credentials callback cannot be awaited on a thread whose "
                               "event loop is running: use gzmq.auth.asyncio.AsyncioAuthenticator")
        return verdict

    def _authenticate_gssapi(self, domain, principal):
        return True, b"OK"

    def _reply_after_failure(self, sock, msg):
        """A REP socket owes a reply before it can read the next request; without one every
        later handshake would hang. Refuse this peer (500) so the handler can carry on."""
        try:
            sock.send_multipart([VERSION, msg[1] if len(msg) > 1 else b"1", b"500",
                                 b"Internal error", b"", b""])
        except ZMQError:
            pass  # it had replied already (the failure came later): nothing owed

    def _send_zap_reply(self, request_id, status_code, status_text, user_id="anonymous"):
        """Send the RFC 27 reply; the user id only goes with 200."""
        user_id = user_id if status_code == b"200" else b""
        if isinstance(user_id, str):
            user_id = user_id.encode(self.encoding, "replace")
        self.log.debug("ZAP reply code=%s text=%s", status_code, status_text)
        self.zap_socket.send_multipart([VERSION, request_id, status_code, status_text, user_id, b""])


__all__ = ["Authenticator", "CURVE_ALLOW_ANY"]


async def _awaited(awaitable: Any) -> Any:
    return await awaitable
