"""udp:// datagram formats (sans-IO); the transport is gzmq.transports.udp."""
