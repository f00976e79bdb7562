"""ZWS 2.0 (RFC 45, ZeroMQ over WebSocket), sans-IO: the WebSocket frames (frames.py), the HTTP
upgrade (handshake.py) and the translation between ZWS messages and the ZMTP stream a session
speaks (translate.py). The transport that drives them is gzmq.transports.ws."""
