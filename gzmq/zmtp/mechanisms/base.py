"""The interface every security mechanism implements (see the package docstring)."""
from ...constants import PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR
from ...error import ZMTPError


class HandshakeRefused(ZMTPError):
    """The peer sent ERROR (or ZAP refused it). `status` is the ZAP-style code if the reason
    is one ("300"/"400"/"500"), else 0, for the HANDSHAKE_FAILED_AUTH monitor event."""

    def __init__(self, message, reason=b"", protocol_error=0x10000000):
        super().__init__(message, protocol_error)
        self.reason = reason
        try:
            self.status = int(reason) if reason[:1].isdigit() else 0
        except ValueError:
            self.status = 0


def parse_error_command(data):
    """ERROR data = reason-size(1) reason. Returns the reason bytes."""
    if not data or len(data) != 1 + data[0]:
        raise ZMTPError("malformed ERROR command", PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_ERROR)
    return bytes(data[1:])


class Mechanism:
    """Base: subclasses set `name` and implement start() and receive_command()."""

    name = b"NULL"
    as_server = False
    encrypts = False

    @property
    def zap_enabled(self):
        """libzmq's session_base_t::zap_enabled(): any mechanism but NULL, or NULL with a ZAP
        domain. Such connections refuse ZMTP 1.0/2.0 peers, which cannot authenticate."""
        return self.name != b"NULL"

    def __init__(self):
        self.done = False
        self.peer_metadata = {}
        self.properties = []
        self.user_id = b""
        self.zap_metadata = {}

    def set_properties(self, properties):
        """Our own metadata (name, value) pairs to announce in READY/INITIATE."""
        self.properties = list(properties)

    def start(self):
        """Command frames to send right after our greeting. Returns list of bytes."""
        raise NotImplementedError

    def receive_command(self, name, data):
        """Handle one handshake command. Returns (frames_to_send, events)."""
        raise NotImplementedError

    def zap_reply(self, status, status_text=b"", user_id=b"", metadata=None):
        """The ZAP handler answered a ZapRequest. Returns (frames_to_send, events)."""
        raise ZMTPError(f"{self.name.decode()} mechanism did not ask ZAP")

    # Traffic transforms, only for mechanisms with `encrypts` set.
    def encrypt_frame(self, flags, body):
        raise NotImplementedError

    def decrypt_frame(self, body):
        raise NotImplementedError
