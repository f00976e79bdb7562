"""NULL security mechanism (RFC 23 §NULL, RFC 37).

Each side sends READY with its metadata straight after the greeting, without waiting for the
peer's (libzmq does the same). With a ZAP domain set, the side that consults ZAP sends READY
only after a 200 reply, and ERROR with the status code otherwise (300: just close).
"""
from ...constants import (PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY,
                          PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND)
from ...error import ZMTPError
from ..commands import ERROR, READY, command, encode_metadata, error, parse_metadata
from ..events import ZapRequest
from .base import HandshakeRefused, Mechanism, parse_error_command


class NullMechanism(Mechanism):
    name = b"NULL"

    def __init__(self, zap=False):
        super().__init__()
        self._zap = zap
        self._sent_ready = False
        self._got_ready = False

    @property
    def zap_enabled(self):
        return self._zap

    def start(self):
        if self._zap:
            # The handler decides before we say READY; the request carries no credentials.
            return []
        self._sent_ready = True
        return [command(READY, encode_metadata(self.properties))]

    def zap_request(self):
        """Events to emit at start (the ZAP request, when a domain is set)."""
        return [ZapRequest(b"NULL", ())] if self._zap else []

    def receive_command(self, name, data):
        if name == READY and not self._got_ready:
            try:
                self.peer_metadata = parse_metadata(data)
            except ZMTPError as exc:
                raise ZMTPError(f"malformed READY: {exc}", PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_READY)
            self._got_ready = True
            self.done = self._sent_ready
            return [], []
        if name == ERROR:
            reason = parse_error_command(data)
            raise HandshakeRefused(f"peer refused the handshake: ERROR {reason!r}", reason)
        raise ZMTPError(f"unexpected command {name!r} during the NULL handshake",
                        PROTOCOL_ERROR_ZMTP_UNEXPECTED_COMMAND)

    def zap_reply(self, status, status_text=b"", user_id=b"", metadata=None):
        if status == b"200":
            self.user_id = user_id
            self.zap_metadata = metadata or {}
            self._sent_ready = True
            self.done = self._got_ready
            return [command(READY, encode_metadata(self.properties))], []
        if status == b"300":
            raise HandshakeRefused("ZAP handler answered 300 (temporary failure)", status)
        return [error(status)], [HandshakeRefused(f"ZAP handler refused the peer: {status!r}", status)]
