"""Sans-IO PGM (RFC 3208) for gzmq's pgm:// and epgm:// transports, interoperable with
libzmq's OpenPGM-based transport.

Pure: no sockets, no gevent, no clocks (time is passed in). Bytes in, packets and messages out.

    packets   PGM packet codec: SPM, ODATA, RDATA, NAK, NCF, SPMR, options, checksum
    framing   libzmq's framing of ZeroMQ messages in APDUs (v1 frames + 2-byte offset)
    source    the sending state machine: transmit window, rate, SPM heartbeats, repairs
    receiver  per-source receive windows and NAK-based repair

Errors: malformed input raises PGMError (a ValueError) and nothing else; the engine
(gzmq.transports.pgm) logs it and drops that one datagram. README.md here records what
OpenPGM 5.3 / libzmq 4.3 send on the wire, as measured.
"""
from .framing import ApduReader, ApduWriter
from .packets import Data, Nak, PGMError, Spm, Spmr, Tsi, parse
from .receiver import Receiver
from .source import Source, window_sqns

__all__ = ["ApduReader", "ApduWriter", "Data", "Nak", "PGMError", "Receiver", "Source", "Spm",
           "Spmr", "Tsi", "parse", "window_sqns"]
