"""WebSocket for the bridge (issue 8): RFC 6455 on the bridge's own HTTP loop.

frames.py     sans-IO frame codec (frame heads, unmasking, limits, UTF-8, RSV1 for compression)
deflate.py    sans-IO permessage-deflate (RFC 7692): offer negotiation, compressing, bounded inflating
handshake.py  the opening handshake: checks, compression negotiation, 101, refusals as bytes
session.py    one upgraded connection: reader loop, close handshake, pings, idle timeout
topics.py     the JSON ops of pubsub: routes over a WebSocket
mongrel2.py   Mongrel2's WEBSOCKET_HANDSHAKE / WEBSOCKET pass-through for mongrel2: routes
"""
