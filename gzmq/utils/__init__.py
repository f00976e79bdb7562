"""Helpers that pyzmq code reaches as `zmq.utils.*`: `gzmq.utils.z85` (Z85, RFC 32) and
`gzmq.utils.monitor` (socket monitor messages)."""
